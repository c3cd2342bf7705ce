#!/usr/bin/python3
"""Wall time of fnwm's virtualenv operations, offline (pip from a local
wheelhouse built from tests/worker, as the e2e tests do).

  new_worker in a venv            request -> worker_created (median of N)
  activation with 3 upgrades      set_active -> set_worker, while funcnodes
                                  0.1.0 -> 0.2.0, funcnodes-core (absent)
                                  -> 0.2.0, fnwm-testdep 0.1.0 -> 0.2.0
                                  are really installed (median of N)
  activation, nothing to upgrade  the same three pip runs finding nothing
                                  newer (median of N)

Usage: bench/venv.py [--rounds N] [--fnwm PATH]   (default build/master/fnwm)
"""
import argparse
import asyncio
import contextlib
import io
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--fnwm", default=os.path.join(REPO, "build", "master",
                                                   "fnwm"))
    args = ap.parse_args()
    os.environ["FNWM_BIN"] = os.path.abspath(args.fnwm)

    import venv_util as vu  # after FNWM_BIN is set

    tmp = tempfile.mkdtemp(prefix="fnwm-bench-venv.")
    try:
        run_bench(vu, tmp, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fmt(xs):
    return "median %6.2f s   min %6.2f   max %6.2f   (n=%d)" % (
        statistics.median(xs), min(xs), max(xs), len(xs))


def run_bench(vu, tmp, args):
    ver = subprocess.run([vu.FNWM_BIN, "--version"], capture_output=True,
                         text=True).stdout.strip() or "?"
    pipver = subprocess.run([vu.PYTHON, "-m", "pip", "--version"],
                            capture_output=True, text=True,
                            env=vu.clean_env()).stdout.split(" from ")[0]
    print("machine: %d CPUs (nproc), %s, load %.2f %.2f %.2f"
          % (os.cpu_count(), platform.machine(), *os.getloadavg()))
    print("fnwm:    %s (%s)" % (ver, vu.FNWM_BIN))
    print("python:  %s %s, %s; venv + pip (uv not used)"
          % (vu.PYTHON, platform.python_version(), pipver))

    t = time.monotonic()
    wheels = vu.build_wheels(os.path.join(tmp, "wheels"))
    print("wheels:  %d built offline in %.1f s"
          % (len(wheels.built), time.monotonic() - t))

    h = vu.VenvHarness(os.path.join(tmp, "h"), wheels)
    os.makedirs(h.tmp, exist_ok=True)
    h.wh.base()
    h.start()
    try:
        create, upg, upg_prep, noop = asyncio.run(rounds(vu, h, args.rounds))
    finally:
        # finish() prints the master's stderr for pytest; not wanted here.
        with contextlib.redirect_stdout(io.StringIO()):
            problems = h.finish()
    print()
    print("new_worker in a venv (python -m venv + pip install funcnodes):")
    print("  " + fmt(create))
    print("activation with 3 real upgrades (set_active -> set_worker):")
    print("  " + fmt(upg))
    print("  of which the upgrades (-> 'Starting worker.'):")
    print("  " + fmt(upg_prep))
    print("activation, the same 3 upgrades finding nothing newer:")
    print("  " + fmt(noop))
    if problems:
        print("\nPROBLEMS:\n" + "\n".join(problems))
        sys.exit(1)


async def rounds(vu, h, n):
    dists = ("funcnodes", "funcnodes-core", "fnwm-testdep")
    c = await h.client("bench")
    create, upg, upg_prep, noop = [], [], [], []
    for i in range(n):
        # Creation sees only the 0.1.0 wheels.
        for d in dists:
            p = os.path.join(h.wh.path, os.path.basename(
                h.wh.wheels.path(d, vu.V2)))
            if os.path.exists(p):
                os.unlink(p)
        t0 = time.monotonic()
        uuid, _ = await h.new_worker(c, name="bench%d" % i)
        create.append(time.monotonic() - t0)
        venv = h.venv(uuid)
        vu.pip_install(venv, h.wh.path, "fnwm-testdep==%s" % vu.V1)
        h.update_doc(uuid, package_dependencies={
            "fnwm_testdep": {"package": "fnwm-testdep", "version": None}})
        h.wh.upgrades()

        m = c.mark()
        t0 = time.monotonic()
        tr, _ = await h.activated(c, uuid)
        upg.append(time.monotonic() - t0)
        k = await c.wait(lambda x: vu.is_progress(x, "Starting worker."),
                         1, m)
        upg_prep.append(c.times[k] - t0)
        errs = vu.error_progress(tr)
        assert not errs, errs
        for d in dists:
            assert vu.installed_version(venv, d) == vu.V2, d

        await h.stop_worker(c, uuid)
        await vu.async_wait_for(lambda: not vu.worker_pids(uuid), 30)
        t0 = time.monotonic()
        await h.activate(c, uuid)
        noop.append(time.monotonic() - t0)
        await h.stop_worker(c, uuid)
        await vu.async_wait_for(lambda: not vu.worker_pids(uuid), 30)
        print("  round %d: create %.2f s, 3 upgrades + start %.2f s, "
              "no-op upgrades + start %.2f s"
              % (i + 1, create[-1], upg[-1], noop[-1]), flush=True)
    await h.close_clients()
    return create, upg, upg_prep, noop


if __name__ == "__main__":
    main()
