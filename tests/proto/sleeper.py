"""A worker for the fnwm-monitor protocol tests: small and fast to start.

Run by the monitor as ``/usr/bin/python3 -S sleeper.py --dir D --uuid U
[options]``. It writes D/worker_U.p with its pid (as a FuncNodes worker
does), optionally prints to stdout and stderr, and then sleeps until
--exit-after seconds have passed (default: an hour), exiting with --code.

  --ignore-term     ignore SIGTERM (only SIGKILL ends it)
  --grandchild F    spawn a child that ignores SIGTERM and sleeps; write its
                    pid to F (atomically). The child stays in the worker's
                    process group and carries U in its command line.
  --no-p            do not write the .p file
  --runstate S      write S to D/worker_U.runstate (FuncNodes workers keep
                    their run state there)
  --stdout S / --stderr S   print S (and a newline) on that stream

Only the standard library; -S keeps the start-up short.
"""
import argparse
import os
import signal
import sys
import time


def atomic_write(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--uuid", required=True)
    ap.add_argument("--exit-after", type=float, default=3600.0)
    ap.add_argument("--code", type=int, default=0)
    ap.add_argument("--ignore-term", action="store_true")
    ap.add_argument("--grandchild")
    ap.add_argument("--no-p", action="store_true")
    ap.add_argument("--runstate")
    ap.add_argument("--stdout")
    ap.add_argument("--stderr")
    ap.add_argument("--pad", action="append", default=[],
                    help="ignored; lets a test make argv long")
    a = ap.parse_args()

    if a.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if a.grandchild:
        code = ("import signal, time\n"
                "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                "time.sleep(3600)\n")
        pid = os.fork()
        if pid == 0:
            os.execv(sys.executable, [sys.executable, "-S", "-c", code,
                                      "grandchild-of-" + a.uuid])
        atomic_write(a.grandchild, str(pid))
    if a.runstate is not None:
        atomic_write(os.path.join(a.dir, "worker_%s.runstate" % a.uuid),
                     a.runstate)
    if not a.no_p:
        atomic_write(os.path.join(a.dir, "worker_%s.p" % a.uuid),
                     str(os.getpid()))
    if a.stdout is not None:
        sys.stdout.write(a.stdout + "\n")
        sys.stdout.flush()
    if a.stderr is not None:
        sys.stderr.write(a.stderr + "\n")
        sys.stderr.flush()
    deadline = time.monotonic() + a.exit_after
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(left, 1.0))
    sys.exit(a.code)


if __name__ == "__main__":
    main()
