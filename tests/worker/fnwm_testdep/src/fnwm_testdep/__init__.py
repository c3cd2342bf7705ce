"""Dependency package for fnwm venv / upgrade tests (standard library only)."""

__version__ = "0.1.0"


def hello() -> str:
    return "fnwm_testdep %s" % __version__
