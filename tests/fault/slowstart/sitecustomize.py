"""Slow start-up of the FuncNodes worker double, for
tests/fault/test_regressions.py.

Python imports this module at start-up when this directory is on
PYTHONPATH. A worker (`... -m funcnodes ... worker ... start`) then sleeps
$FNWM_SLOWSTART_SECONDS (default 3) before it runs -- before it writes its
.p, but with the run lock its monitor took for it already held -- as long
as the file named by $FNWM_SLOWSTART_FLAG exists. Other processes, and
workers while the file is absent, are not affected.
"""
import os
import time


def _slow_start():
    flag = os.environ.get("FNWM_SLOWSTART_FLAG")
    if not flag or not os.path.exists(flag):
        return
    try:
        with open("/proc/self/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return
    if b"funcnodes" in argv and b"worker" in argv and b"start" in argv:
        time.sleep(float(os.environ.get("FNWM_SLOWSTART_SECONDS", "3")))


_slow_start()
