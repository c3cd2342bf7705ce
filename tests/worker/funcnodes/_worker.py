"""The test worker: per-worker files, start-up sequence, WS protocol, stop paths.

See tests/worker/README.md for the behaviour switches.
"""

from __future__ import annotations

import asyncio
import json
import logging
import logging.handlers
import os
import signal
import sys
import tempfile
import uuid as uuidmod
from typing import Any, Dict, Optional

from . import __version__
from ._ws import WSClient, WSServer

STARTPORT_DEFAULT = 9382
ENDPORT_DEFAULT = 9582

# ---------------------------------------------------------------------------
# behaviour switches
# ---------------------------------------------------------------------------

# name -> (kind, default)
SWITCHES = {
    # misbehaviour
    "exit_at_once": ("int", None),  # exit with this code before writing .p
    "crash_after": ("float", None),  # seconds after the server is bound -> crash
    "crash_mode": ("str", "exit"),  # "exit" (os._exit(1)) or "kill" (SIGKILL self)
    "never_ready": ("bool", False),  # .p/runstate written, server never bound
    "ignore_stop": ("bool", False),  # stop_worker (WS and .p) acknowledged but ignored
    "ignore_sigterm": ("bool", False),  # SIGTERM set to SIG_IGN
    "no_broadcast_before_result": ("bool", False),
    "start_delay": ("float", 0.0),  # extra seconds in "starting\nLoading config"
    "answer_uuid": ("str", None),  # answer the uuid probe with this uuid
    "stop_reply_first": ("bool", False),  # reply result:true before stopping
    "exit_delay": ("float", 0.0),  # linger after an orderly stop (real worker: ~1 s)
    "stall_file": ("str", None),  # while this file exists, messages go unanswered
    # timings
    "startup_pause": ("float", 0.05),  # pause after each start-up runstate
    "save_interval": ("float", 5.0),  # save loop (.p rewrite / .p commands)
    "port_retry_interval": ("float", 5.0),  # retry after "No free ports available"
}

ENV_PREFIX = "FNWM_TEST_"


def _conv(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "bool":
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on", "y")
        return bool(value)
    if kind == "int":
        if isinstance(value, bool):
            return 1 if value else None
        if isinstance(value, str):
            v = value.strip().lower()
            if v in ("", "false", "no", "off"):
                return None
            if v in ("true", "yes", "on"):
                return 1
            return int(v)
        return int(value)
    if kind == "float":
        if isinstance(value, str):
            if value.strip() == "":
                return None
            return float(value)
        return float(value)
    return str(value)


def load_behaviour(cfg: Optional[dict]) -> Dict[str, Any]:
    """Switch values: defaults < environment (FNWM_TEST_<NAME>) < JSON test_behaviour."""
    res = {}
    jb = {}
    if isinstance(cfg, dict) and isinstance(cfg.get("test_behaviour"), dict):
        jb = cfg["test_behaviour"]
    for name, (kind, default) in SWITCHES.items():
        val = default
        env = os.environ.get(ENV_PREFIX + name.upper())
        if env is not None:
            val = _conv(kind, env)
        if name in jb:
            val = _conv(kind, jb[name])
        if val is None and kind in ("bool",):
            val = False
        if val is None and name in ("start_delay", "exit_delay"):
            val = 0.0
        if val is None and name in ("startup_pause", "save_interval", "port_retry_interval"):
            val = default
        res[name] = val
    return res


# ---------------------------------------------------------------------------
# file helpers
# ---------------------------------------------------------------------------


def read_json(path: str) -> Optional[Any]:
    try:
        with open(path, "r", encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_json_atomic(path: str, data: Any) -> None:
    """tmp file in the same dir (mode 0600, not named worker_*.json), fsync, rename."""
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="tmp", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def setup_logging(uuid: str, data_dir: str, debug: bool) -> logging.Logger:
    logger = logging.getLogger("funcnodes." + uuid)
    logger.propagate = False
    logger.setLevel(logging.DEBUG if debug else logging.INFO)
    fmt = logging.Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s")
    sh = logging.StreamHandler(sys.stderr)
    sh.setFormatter(fmt)
    logger.addHandler(sh)
    try:
        os.makedirs(data_dir, exist_ok=True)
        fh = logging.handlers.RotatingFileHandler(
            os.path.join(data_dir, "funcnodes.%s.log" % uuid),
            maxBytes=5 * 2**20,
            backupCount=5,
            encoding="utf-8",
        )
        fh.setFormatter(fmt)
        logger.addHandler(fh)
    except OSError as e:  # pragma: no cover
        logger.warning("cannot open log file in %s: %s", data_dir, e)
    return logger


# ---------------------------------------------------------------------------
# the worker
# ---------------------------------------------------------------------------


class TestWSWorker:
    CLASSNAME = "WSWorker"

    def __init__(self, workers_dir: str, uuid: str, cfg: dict, behaviour: dict,
                 logger: logging.Logger, data_dir: str):
        self.workers_dir = workers_dir
        self.uuid = uuid
        self.cfg = cfg
        self.b = behaviour
        self.logger = logger
        self.data_dir = data_dir
        self.name = cfg.get("name") or uuid
        self.host = cfg.get("host") or os.environ.get("FUNCNODES_HOST") or "localhost"
        self.startport = int(os.environ.get("FUNCNODES_WS_WORKER_STARTPORT", STARTPORT_DEFAULT))
        self.endport = int(os.environ.get("FUNCNODES_WS_WORKER_ENDPORT", ENDPORT_DEFAULT))
        try:
            self.port = int(cfg.get("port") or self.startport)
        except (TypeError, ValueError):
            self.port = self.startport
        self.max_size = int(os.environ.get("FUNCNODES_WS_WORKER_MAX_SIZE", 2**20))
        self.pfile = os.path.join(workers_dir, "worker_%s.p" % uuid)
        self.rsfile = os.path.join(workers_dir, "worker_%s.runstate" % uuid)
        self.cfgfile = os.path.join(workers_dir, "worker_%s.json" % uuid)
        self.runstate = "undefined"
        self.bound = False
        self.server: Optional[WSServer] = None
        self.nodespace: Optional[dict] = None
        self._stopping = False
        self._stopped: Optional[asyncio.Event] = None
        self._tasks = []

    # -- files --------------------------------------------------------------

    def set_runstate(self, state: str, detail: Optional[str] = None) -> None:
        self.runstate = state
        with open(self.rsfile, "w") as f:
            f.write(state)
            if detail:
                f.write("\n" + detail)
        self.logger.debug("runstate %s %s", state, detail or "")

    def write_pfile(self) -> None:
        with open(self.pfile, "w") as f:
            f.write(str(os.getpid()))

    def _default_data_dir(self) -> str:
        return os.path.join(self.workers_dir, "worker_%s" % self.uuid)

    def build_config(self) -> dict:
        """Current file content (unknown keys preserved) updated with our fields."""
        cur = read_json(self.cfgfile)
        if not isinstance(cur, dict) or cur.get("uuid") != self.uuid:
            cur = dict(self.cfg)
        cur["type"] = self.CLASSNAME
        cur["uuid"] = self.uuid
        cur["name"] = self.name
        if os.path.realpath(self.data_dir) == os.path.abspath(self._default_data_dir()):
            cur["data_path"] = None
        else:
            cur["data_path"] = os.path.abspath(self.data_dir).replace(os.sep, "/")
        cur.setdefault("env_path", None)
        cur["pid"] = os.getpid()
        pd = cur.get("package_dependencies")
        cur["package_dependencies"] = pd if isinstance(pd, dict) else {}
        wd = cur.get("worker_dependencies")
        cur["worker_dependencies"] = wd if isinstance(wd, dict) else {}
        uos = cur.get("update_on_startup")
        uos = dict(uos) if isinstance(uos, dict) else {}
        for k in ("funcnodes", "funcnodes-core", "funcnodes-worker"):
            uos.setdefault(k, True)
        cur["update_on_startup"] = uos
        cur["host"] = self.host
        cur["port"] = self.port
        cur["ssl"] = False
        return cur

    def write_config(self) -> None:
        try:
            data = self.build_config()
            write_json_atomic(self.cfgfile, data)
            self.cfg = data
        except OSError as e:
            self.logger.error("cannot write %s: %s", self.cfgfile, e)

    def save_nodespace(self) -> None:
        ns = self.nodespace
        if not isinstance(ns, dict):
            ns = {
                "backend": {"nodes": [], "prop": {}, "edges": [], "groups": {}},
                "view": {"renderoptions": {}},
                "meta": {"id": uuidmod.uuid4().hex, "version": __version__},
                "external_workers": {},
            }
            self.nodespace = ns
        try:
            write_json_atomic(os.path.join(self.data_dir, "nodespace.json"), ns)
        except OSError as e:  # pragma: no cover
            self.logger.error("cannot write nodespace.json: %s", e)

    # -- messaging ----------------------------------------------------------

    async def broadcast(self, msg: dict) -> None:
        if self.server is not None:
            await self.server.broadcast(json.dumps(msg))

    async def send_to(self, client: Optional[WSClient], msg: dict) -> None:
        if client is not None:
            await client.send_text(json.dumps(msg))

    async def progress(self, message: str, status: str = "info", progress: float = 0.0,
                       blocking: bool = False) -> None:
        await self.broadcast({
            "type": "progress",
            "message": message,
            "status": status,
            "progress": progress,
            "blocking": blocking,
        })

    async def on_message(self, client: WSClient, text: str) -> None:
        self.logger.debug("Received message: %s", text)
        if self.b["stall_file"] and os.path.exists(self.b["stall_file"]):
            # a hung worker: connections are accepted, nothing is answered
            self.logger.info("stalled (%s exists): message ignored", self.b["stall_file"])
            return
        try:
            msg = json.loads(text)
        except ValueError:
            self.logger.error("invalid JSON message: %r", text[:200])
            return
        if not isinstance(msg, dict) or "type" not in msg:
            return
        if msg["type"] == "ping":
            await self.broadcast({"type": "pong"})
        elif msg["type"] == "cmd":
            await self.handle_cmd(msg, client)

    async def handle_cmd(self, msg: dict, client: Optional[WSClient]) -> None:
        cmd = msg.get("cmd")
        mid = msg.get("id")
        if not self.b["no_broadcast_before_result"]:
            # the real worker emits progress/events that arrive before the result
            await self.progress("cmd %s" % cmd, progress=1)
        try:
            if cmd == "uuid":
                result = self.b["answer_uuid"] or self.uuid
            elif cmd == "name":
                result = self.name
            elif cmd == "heartbeat":
                result = True
            elif cmd == "get_runstate":
                result = self.runstate
            elif cmd == "stop_worker":
                if self.b["ignore_stop"]:
                    self.logger.info("Ignoring stop_worker (test_behaviour ignore_stop)")
                    result = True
                else:
                    self.logger.info("Stopping worker")
                    await self.progress("Stopping worker", progress=0.0)
                    if self.b["stop_reply_first"]:
                        await self.send_to(client, {"type": "result", "result": True, "id": mid})
                    await self.stop()
                    await self.progress("Stopping worker", progress=1)
                    result = True
                    if self.b["stop_reply_first"]:
                        return
            else:
                raise ValueError(
                    "Unknown command %s , available commands: uuid, name, heartbeat, "
                    "get_runstate, stop_worker" % (cmd,)
                )
        except Exception as e:
            self.logger.error("command %r failed: %s", cmd, e)
            await self.broadcast({"type": "error", "error": str(e), "tb": [], "id": mid})
            return
        await self.send_to(client, {"type": "result", "result": result, "id": mid})

    # -- lifecycle ----------------------------------------------------------

    async def stop(self, save: bool = True) -> None:
        """Orderly stop (idempotent)."""
        if self._stopping:
            return
        self._stopping = True
        self.logger.info("Worker stopping")
        try:
            await self.broadcast({"type": "workerevent", "event": "stopping", "data": {}})
            try:
                self.set_runstate("stopped")
            except OSError:
                pass
            if save:
                self.save_nodespace()
                self.write_config()
            if self.server is not None:
                self.server.close_listener()
                await self.server.close_all(1001, "Server shutting down")
            for t in self._tasks:
                if t is not asyncio.current_task():
                    t.cancel()
            for f in (self.pfile, self.rsfile):
                try:
                    os.unlink(f)
                except OSError:
                    pass
            for h in self.logger.handlers:
                try:
                    h.flush()
                except Exception:  # pragma: no cover
                    pass
        finally:
            if self._stopped is not None:
                self._stopped.set()

    def _request_stop(self) -> None:
        self.logger.info("SIGINT received, stopping worker")
        asyncio.ensure_future(self.stop())

    async def _bind(self) -> None:
        bind_host = "127.0.0.1" if self.host == "localhost" else self.host
        while not self._stopping:
            first = self.port
            tried = 0
            total = max(1, self.endport - self.startport + 1) + 1
            while tried < total:
                self.logger.info("Try starting WebSocket server on %s:%s", self.host, self.port)
                try:
                    await self.server.start(bind_host, self.port)
                    self.bound = True
                    self.write_config()
                    self.logger.info("WebSocket server running on %s:%s", self.host, self.port)
                    return
                except OSError as e:
                    self.logger.debug("bind %s:%s failed: %s", bind_host, self.port, e)
                    tried += 1
                    self.port += 1
                    if self.port > self.endport:
                        self.port = self.startport
                    if self.port == first:
                        break
            self.logger.error("No free ports available")
            await asyncio.sleep(self.b["port_retry_interval"])

    async def _save_loop(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.b["save_interval"])
            if self._stopping:
                return
            self._check_pfile()

    def _check_pfile(self) -> None:
        content = None
        try:
            with open(self.pfile, "r") as f:
                content = f.read()
        except OSError:
            pass
        cmd = None
        if content:
            try:
                parsed = json.loads(content)
            except ValueError:
                parsed = None
            if isinstance(parsed, int) and not isinstance(parsed, bool):
                if parsed != os.getpid() and pid_alive(parsed):
                    self.logger.error("Worker already running (pid %s)", parsed)
                    asyncio.ensure_future(self.stop(save=False))
                    return
            elif parsed is not None:
                cmd = parsed
        try:
            self.write_pfile()
        except OSError as e:  # pragma: no cover
            self.logger.error("cannot write %s: %s", self.pfile, e)
        if isinstance(cmd, dict) and "cmd" in cmd:
            self.logger.info("Executing process file command %s", cmd.get("cmd"))
            asyncio.ensure_future(self.handle_cmd(cmd, None))

    def _crash(self) -> None:
        self.logger.warning("Crashing on purpose (test_behaviour crash_after)")
        for h in self.logger.handlers:
            try:
                h.flush()
            except Exception:  # pragma: no cover
                pass
        if self.b["crash_mode"] == "kill" and hasattr(signal, "SIGKILL"):
            os.kill(os.getpid(), signal.SIGKILL)
        os._exit(1)

    async def _startup(self) -> int:
        pause = self.b["startup_pause"]
        self.write_pfile()
        self.set_runstate("starting", "Loading packages")
        await asyncio.sleep(pause)

        self.set_runstate("starting", "Loading config")
        cfg = read_json(self.cfgfile)
        if not isinstance(cfg, dict) or cfg.get("uuid") != self.uuid:
            self.logger.error("No worker config with uuid %s in %s", self.uuid, self.cfgfile)
            print("No worker found with the given uuid", file=sys.stderr)
            for f in (self.pfile, self.rsfile):
                try:
                    os.unlink(f)
                except OSError:
                    pass
            return 1
        self.cfg = cfg
        self.write_pfile()
        if self.b["start_delay"]:
            self.logger.info("start_delay %.3f s", self.b["start_delay"])
            await asyncio.sleep(self.b["start_delay"])
        await asyncio.sleep(pause)

        self.set_runstate("starting", "Loading nodespace")
        ns = read_json(os.path.join(self.data_dir, "nodespace.json"))
        self.nodespace = ns if isinstance(ns, dict) else None
        await asyncio.sleep(pause)

        self.set_runstate("running")
        self._tasks.append(asyncio.ensure_future(self._save_loop()))
        if self.b["never_ready"]:
            self.logger.info("never_ready: not binding the WebSocket server")
            return 0
        await self._bind()
        if self.bound and self.b["crash_after"] is not None:
            asyncio.get_event_loop().call_later(max(0.0, self.b["crash_after"]), self._crash)
        return 0

    async def run(self) -> int:
        loop = asyncio.get_event_loop()
        self._stopped = asyncio.Event()
        self.server = WSServer(self.on_message, self.logger, max_size=self.max_size)
        if hasattr(signal, "SIGINT") and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            try:
                loop.add_signal_handler(signal.SIGINT, self._request_stop)
            except (NotImplementedError, RuntimeError):  # pragma: no cover
                pass

        if os.path.exists(self.pfile):
            self.logger.error("Worker already running")
            print("Worker already running", file=sys.stderr)
            return 1

        self.logger.info("Starting worker %s (pid %s, python %s)", self.uuid, os.getpid(),
                         sys.executable)
        startup = asyncio.ensure_future(self._startup())
        self._tasks.append(startup)
        stopped = asyncio.ensure_future(self._stopped.wait())
        await asyncio.wait([startup, stopped], return_when=asyncio.FIRST_COMPLETED)
        if startup.done() and not startup.cancelled():
            exc = startup.exception()
            if exc is not None:
                self.logger.error("start-up failed: %r", exc)
                stopped.cancel()
                await self.stop(save=False)
                return 1
            if startup.result() != 0:
                stopped.cancel()
                return startup.result()
            await stopped
        self.logger.info("Worker stopped")
        if self.b["exit_delay"]:
            await asyncio.sleep(self.b["exit_delay"])
        return 0


# ---------------------------------------------------------------------------
# CLI entry for `worker start`
# ---------------------------------------------------------------------------


def find_worker_cfg(workers_dir: str, uuid: Optional[str], name: Optional[str]):
    """Resolution rules of the real CLI (spec 7.9). Returns (uuid, cfg, error)."""
    if uuid:
        path = os.path.join(workers_dir, "worker_%s.json" % uuid)
        cfg = read_json(path)
        if not isinstance(cfg, dict) or cfg.get("uuid") != uuid:
            return uuid, cfg, "No worker found with the given uuid"
        if name and cfg.get("name") != name:
            return uuid, cfg, "Worker found with the given uuid but with a different name"
        return uuid, cfg, None
    if name:
        try:
            entries = sorted(os.listdir(workers_dir))
        except OSError:
            entries = []
        for e in entries:
            if e.startswith("worker_") and e.endswith(".json"):
                cfg = read_json(os.path.join(workers_dir, e))
                if isinstance(cfg, dict) and cfg.get("name") == name and cfg.get("uuid"):
                    return cfg["uuid"], cfg, None
        return None, None, "No worker found with the given uuid or name"
    return None, None, "uuid or name is required to start a worker"


def start_worker(config_dir: str, uuid: Optional[str], name: Optional[str],
                 debug: bool) -> int:
    workers_dir = os.path.join(config_dir, "workers")
    uuid, cfg, err = find_worker_cfg(workers_dir, uuid, name)
    behaviour = load_behaviour(cfg)

    if behaviour["exit_at_once"] is not None:
        print("test worker: exit_at_once -> exit code %s" % behaviour["exit_at_once"],
              file=sys.stderr)
        sys.stderr.flush()
        return int(behaviour["exit_at_once"])

    if err is not None:
        print(err, file=sys.stderr)
        return 1

    if behaviour["ignore_sigterm"] and hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

    dp = cfg.get("data_path")
    data_dir = os.path.abspath(dp) if dp else os.path.join(workers_dir, "worker_%s" % uuid)
    logger = setup_logging(uuid, data_dir, debug)
    logger.debug("behaviour switches: %s", behaviour)
    worker = TestWSWorker(workers_dir, uuid, cfg, behaviour, logger, data_dir)
    rc = asyncio.run(worker.run())
    for h in logger.handlers:
        try:
            h.flush()
        except Exception:  # pragma: no cover
            pass
    return rc
