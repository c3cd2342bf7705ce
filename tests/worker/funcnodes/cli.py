"""Command line of the test ``funcnodes`` package (layout of the real CLI, spec 7.1)."""

from __future__ import annotations

import argparse
import json
import os
import textwrap

from . import __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Funcnodes Cli (fnwm test worker).")
    parser.add_argument("--dir", default=None, help="Funcnodes project directory")
    parser.add_argument("--profile", action="store_true", help="ignored")
    parser.add_argument(
        "--use-subprocess-monitor",
        default=os.environ.get("USE_SUBPROCESS_MONITOR", "1"),
        type=int,
        help="ignored",
    )
    parser.add_argument("--debug", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version="%(prog)s " + __version__)

    sub = parser.add_subparsers(dest="task")

    worker = sub.add_parser("worker", help="Manage workers")
    worker.add_argument("--uuid", default=None)
    worker.add_argument("--name", default=None)
    wsub = worker.add_subparsers(dest="workertask")
    start = wsub.add_parser("start", help="Start an existing worker")
    start.add_argument("--workertype", default=None, help="ignored")
    lst = wsub.add_parser("list", help="List all workers")
    lst.add_argument("--full", action="store_true")
    wmod = wsub.add_parser("modules", help="Manage modules")
    wmod.add_argument("moduletask")

    mod = sub.add_parser("modules", help="Manage modules")
    mod.add_argument("moduletask", help="Task to perform on modules")
    return parser


def config_dir_from(args_dir) -> str:
    """--dir > FUNCNODES_CONFIG_DIR > ~/.funcnodes, then custom_config_dir (spec 1.1)."""
    if args_dir:
        base = os.path.abspath(os.path.expanduser(args_dir))
        os.environ["FUNCNODES_CONFIG_DIR"] = base
    elif os.environ.get("FUNCNODES_CONFIG_DIR"):
        base = os.path.abspath(os.path.expanduser(os.environ["FUNCNODES_CONFIG_DIR"]))
    else:
        base = os.path.join(os.path.expanduser("~"), ".funcnodes")
    try:
        with open(os.path.join(base, "config.json"), "r", encoding="utf-8") as f:
            cfg = json.load(f)
        custom = cfg.get("custom_config_dir") if isinstance(cfg, dict) else None
        if custom:
            return os.path.abspath(os.path.expanduser(custom))
    except (OSError, ValueError):
        pass
    return base


def _entry_points(group: str):
    try:
        from importlib import metadata
    except ImportError:  # pragma: no cover
        return []
    eps = metadata.entry_points()
    if hasattr(eps, "select"):
        return list(eps.select(group=group))
    return list(eps.get(group, []))  # Python 3.9


def installed_modules() -> dict:
    """Modules registered under the ``funcnodes.module`` entry point group."""
    mods = {}
    for ep in _entry_points("funcnodes.module"):
        modname = ep.value.split(":", 1)[0].strip()
        dist = getattr(ep, "dist", None)
        version = None
        description = None
        distname = None
        if dist is not None:
            try:
                distname = dist.metadata["Name"]
                version = dist.version
                description = dist.metadata["Summary"]
            except Exception:  # pragma: no cover
                pass
        mods.setdefault(modname, {
            "name": modname,
            "distribution": distname,
            "version": version,
            "description": description,
            "entry_points": {},
        })["entry_points"][ep.name] = ep.value
    return mods


def _module_repr(m: dict) -> str:
    return "InstalledModule(name=%r, description=%r, entry_points=%r, version=%r)" % (
        m["name"], m["description"], m["entry_points"], m["version"])


def modules_task(task: str) -> int:
    if task != "list":
        raise Exception("Unknown moduletask: %s" % task)
    for k, v in installed_modules().items():
        value_str = _module_repr(v)
        indented = textwrap.indent(
            textwrap.fill(value_str, subsequent_indent="\t", width=80), "\t"
        )
        print("%s:\n%s" % (k, indented))
    return 0


def list_workers(config_dir: str, full: bool) -> int:
    wdir = os.path.join(config_dir, "workers")
    try:
        entries = sorted(os.listdir(wdir))
    except OSError:
        entries = []
    res = []
    for e in entries:
        if e.startswith("worker_") and e.endswith(".json"):
            try:
                with open(os.path.join(wdir, e), "r", encoding="utf-8") as f:
                    cfg = json.load(f)
            except (OSError, ValueError):
                continue
            if isinstance(cfg, dict) and "uuid" in cfg:
                res.append(cfg)
    if full:
        import pprint

        pprint.pprint(res, width=80)
    else:
        for cfg in res:
            print("%s\t%s" % (cfg["uuid"], cfg.get("name")))
    return 0


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.task is None:
        parser.print_help()
        return 0
    config_dir = config_dir_from(args.dir)
    if args.task == "modules":
        return modules_task(args.moduletask)
    if args.task == "worker":
        if args.workertask == "start":
            from ._worker import start_worker

            return start_worker(config_dir, args.uuid, args.name, args.debug)
        if args.workertask == "list":
            return list_workers(config_dir, args.full)
        if args.workertask == "modules":
            return modules_task(args.moduletask)
        parser.error("worker: a subcommand is required")
    parser.error("unknown task %r" % args.task)
    return 2
