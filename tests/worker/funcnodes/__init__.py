"""Test double of the ``funcnodes`` package for fnwm (the C worker manager).

This package only imitates what the worker manager relies on: the CLI layout
``python -m funcnodes [--debug] [--dir DIR] worker --uuid UUID start``, the per-worker
files (``.p``, ``.runstate``, ``.json``) and the worker WebSocket protocol.
It uses the standard library only (Python >= 3.9).
"""

__version__ = "0.1.0"

TESTWORKER = True
