"""Minimal RFC 6455 WebSocket server on top of asyncio streams (stdlib only).

Supported: HTTP/1.1 upgrade handshake (Sec-WebSocket-Accept), masked client frames,
text and binary data frames, fragmentation (continuation frames), ping -> pong,
close handshake (both directions), message size limit (close 1009), protocol errors
(close 1002), invalid UTF-8 (close 1007).  No extensions, no subprotocols.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import struct
from email.utils import formatdate
from typing import Awaitable, Callable, Optional

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

MAX_HEADER_BYTES = 65536
HANDSHAKE_TIMEOUT = 10.0
SEND_TIMEOUT = 5.0


def accept_key(key: str) -> str:
    digest = hashlib.sha1((key + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def _unmask(payload: bytes, mask: bytes) -> bytes:
    n = len(payload)
    if n == 0:
        return payload
    rep = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(rep, "big")).to_bytes(
        n, "big"
    )


def build_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", b0, n)
    elif n < 65536:
        header = struct.pack("!BBH", b0, 126, n)
    else:
        header = struct.pack("!BBQ", b0, 127, n)
    return header + payload


def _close_payload(code: Optional[int], reason: str = "") -> bytes:
    if code is None:
        return b""
    return struct.pack("!H", code) + reason.encode("utf-8")[:123]


def _valid_close_code(code: int) -> bool:
    if code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014):
        return True
    return 3000 <= code <= 4999


class _ProtocolError(Exception):
    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


class WSClient:
    """One accepted WebSocket connection."""

    _counter = 0

    def __init__(self, reader, writer, server: "WSServer"):
        WSClient._counter += 1
        self.id = WSClient._counter
        self.reader: asyncio.StreamReader = reader
        self.writer: asyncio.StreamWriter = writer
        self.server = server
        self.logger = server.logger
        self.peer = writer.get_extra_info("peername")
        self._send_lock = asyncio.Lock()
        self.close_sent = False
        self.closed = False
        self.close_code: Optional[int] = None
        self._finished = asyncio.Event()
        self.queue: "asyncio.Queue[Optional[str]]" = asyncio.Queue()

    def __repr__(self):
        return "<WSClient %s %s>" % (self.id, self.peer)

    async def _write(self, data: bytes) -> bool:
        if self.closed:
            return False
        async with self._send_lock:
            if self.closed:
                return False
            try:
                self.writer.write(data)
                await asyncio.wait_for(self.writer.drain(), SEND_TIMEOUT)
                return True
            except (ConnectionError, asyncio.TimeoutError, OSError, RuntimeError) as e:
                self.logger.debug("send to %r failed: %r", self, e)
                self._abort()
                return False

    async def send_text(self, text: str) -> bool:
        if self.close_sent:
            return False
        return await self._write(build_frame(OP_TEXT, text.encode("utf-8")))

    async def send_binary(self, data: bytes) -> bool:
        if self.close_sent:
            return False
        return await self._write(build_frame(OP_BINARY, data))

    async def _send_close(self, code: Optional[int], reason: str = "") -> None:
        if self.close_sent:
            return
        self.close_sent = True
        await self._write(build_frame(OP_CLOSE, _close_payload(code, reason)))

    def _abort(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.writer.close()
            except Exception:  # pragma: no cover
                pass
        self._finished.set()
        self.server._discard(self)

    async def close(self, code: int = 1000, reason: str = "", timeout: float = 1.0):
        """Start the closing handshake and wait (bounded) for the peer's close frame."""
        if self.closed:
            return
        await self._send_close(code, reason)
        try:
            await asyncio.wait_for(self._finished.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        self._abort()

    async def _read_frame(self):
        b0, b1 = await self.reader.readexactly(2)
        fin = bool(b0 & 0x80)
        rsv = b0 & 0x70
        opcode = b0 & 0x0F
        masked = bool(b1 & 0x80)
        length = b1 & 0x7F
        if rsv:
            raise _ProtocolError(1002, "reserved bits set")
        if opcode not in (OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG):
            raise _ProtocolError(1002, "unknown opcode")
        if not masked:
            raise _ProtocolError(1002, "client frames must be masked")
        if length == 126:
            (length,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
            if length >> 63:
                raise _ProtocolError(1002, "invalid length")
        if opcode >= 0x8:
            if not fin:
                raise _ProtocolError(1002, "fragmented control frame")
            if length > 125:
                raise _ProtocolError(1002, "control frame too long")
        elif length > self.server.max_size:
            raise _ProtocolError(1009, "message too big")
        mask = await self.reader.readexactly(4)
        payload = _unmask(await self.reader.readexactly(length), mask)
        return fin, opcode, payload

    async def run(self) -> None:
        """Read frames until the connection ends; complete messages go to self.queue."""
        frag_op: Optional[int] = None
        frag_parts = []
        frag_size = 0
        try:
            while not self.closed:
                fin, opcode, payload = await self._read_frame()
                if opcode == OP_PING:
                    if not self.close_sent:
                        await self._write(build_frame(OP_PONG, payload))
                    continue
                if opcode == OP_PONG:
                    continue
                if opcode == OP_CLOSE:
                    code = None
                    if len(payload) == 1:
                        raise _ProtocolError(1002, "invalid close payload")
                    if len(payload) >= 2:
                        (code,) = struct.unpack("!H", payload[:2])
                        if not _valid_close_code(code):
                            raise _ProtocolError(1002, "invalid close code")
                        try:
                            payload[2:].decode("utf-8")
                        except UnicodeDecodeError:
                            raise _ProtocolError(1007, "invalid close reason")
                    self.close_code = code
                    # echo the close frame (if we did not start the handshake)
                    await self._send_close(code if code is not None else None)
                    break
                if opcode == OP_CONT:
                    if frag_op is None:
                        raise _ProtocolError(1002, "unexpected continuation frame")
                else:
                    if frag_op is not None:
                        raise _ProtocolError(1002, "expected continuation frame")
                    frag_op = opcode
                    frag_parts = []
                    frag_size = 0
                frag_parts.append(payload)
                frag_size += len(payload)
                if frag_size > self.server.max_size:
                    raise _ProtocolError(1009, "message too big")
                if not fin:
                    continue
                data = b"".join(frag_parts)
                op = frag_op
                frag_op = None
                frag_parts = []
                frag_size = 0
                if self.close_sent:
                    continue  # data after our close frame is discarded
                if op == OP_TEXT:
                    try:
                        text = data.decode("utf-8")
                    except UnicodeDecodeError:
                        raise _ProtocolError(1007, "invalid utf-8")
                    self.queue.put_nowait(text)
                else:
                    self.logger.debug("ignoring binary message (%d bytes)", len(data))
        except _ProtocolError as e:
            self.logger.warning("WebSocket protocol error from %r: %s", self, e.reason)
            await self._send_close(e.code, e.reason)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        except asyncio.CancelledError:
            self._abort()
            raise
        finally:
            self.queue.put_nowait(None)
            self._abort()


MessageHandler = Callable[[WSClient, str], Awaitable[None]]


class WSServer:
    def __init__(
        self,
        on_message: MessageHandler,
        logger: logging.Logger,
        max_size: int = 2**20,
        path: str = "/",
    ):
        self.on_message = on_message
        self.logger = logger
        self.max_size = max_size
        self.path = path
        self.clients = []
        self.server: Optional[asyncio.AbstractServer] = None
        self.accepting = True

    def _discard(self, client: WSClient) -> None:
        if client in self.clients:
            self.clients.remove(client)
            self.logger.debug("Client disconnected (%d connected)", len(self.clients))

    async def start(self, host: str, port: int) -> None:
        """Bind; raises OSError when the address cannot be bound."""
        self.server = await asyncio.start_server(
            self._handle, host=host, port=port, reuse_address=True
        )

    def close_listener(self) -> None:
        self.accepting = False
        if self.server is not None:
            self.server.close()

    async def close_all(self, code: int, reason: str, timeout: float = 0.5) -> None:
        clients = list(self.clients)
        if clients:
            await asyncio.gather(
                *(c.close(code, reason, timeout) for c in clients),
                return_exceptions=True,
            )

    async def broadcast(self, text: str) -> None:
        clients = [c for c in self.clients if not c.close_sent]
        if clients:
            await asyncio.gather(
                *(c.send_text(text) for c in clients), return_exceptions=True
            )

    async def _http_error(self, writer, status: str, extra: str = "") -> None:
        body = status.encode("ascii")
        head = (
            "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: %d\r\nConnection: close\r\n%s\r\n" % (status, len(body), extra)
        )
        try:
            writer.write(head.encode("ascii") + body)
            await asyncio.wait_for(writer.drain(), SEND_TIMEOUT)
        except Exception:
            pass
        try:
            writer.close()
        except Exception:  # pragma: no cover
            pass

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        if not self.accepting:
            writer.close()
            return
        try:
            raw = await asyncio.wait_for(
                reader.readuntil(b"\r\n\r\n"), HANDSHAKE_TIMEOUT
            )
        except (
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            asyncio.TimeoutError,
            ConnectionError,
            OSError,
        ):
            writer.close()
            return
        try:
            lines = raw.decode("latin-1").split("\r\n")
            method, target, _version = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if not line:
                    continue
                k, _, v = line.partition(":")
                k = k.strip().lower()
                v = v.strip()
                headers[k] = headers[k] + ", " + v if k in headers else v
        except ValueError:
            await self._http_error(writer, "400 Bad Request")
            return
        path = target.split("?", 1)[0]
        if path != self.path:
            await self._http_error(writer, "404 Not Found")
            return
        if method != "GET":
            await self._http_error(writer, "405 Method Not Allowed", "Allow: GET\r\n")
            return
        upgrade = headers.get("upgrade", "").lower()
        connection = [t.strip().lower() for t in headers.get("connection", "").split(",")]
        if "websocket" not in upgrade or "upgrade" not in connection:
            await self._http_error(writer, "400 Bad Request")
            return
        if headers.get("sec-websocket-version", "").strip() != "13":
            await self._http_error(
                writer, "426 Upgrade Required", "Sec-WebSocket-Version: 13\r\n"
            )
            return
        key = headers.get("sec-websocket-key", "").strip()
        try:
            if len(base64.b64decode(key, validate=True)) != 16:
                raise ValueError
        except Exception:
            await self._http_error(writer, "400 Bad Request")
            return
        response = (
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: %s\r\n"
            "Date: %s\r\n"
            "Server: funcnodes-testworker\r\n"
            "\r\n" % (accept_key(key), formatdate(usegmt=True))
        )
        try:
            writer.write(response.encode("ascii"))
            await asyncio.wait_for(writer.drain(), SEND_TIMEOUT)
        except Exception:
            writer.close()
            return
        client = WSClient(reader, writer, self)
        self.clients.append(client)
        self.logger.debug("Client connected %r (%d connected)", client, len(self.clients))
        processor = asyncio.ensure_future(self._process(client))
        try:
            await client.run()
        finally:
            try:
                await processor
            except asyncio.CancelledError:
                pass
            except Exception:  # pragma: no cover
                self.logger.exception("message processor failed")

    async def _process(self, client: WSClient) -> None:
        """Commands on one connection are processed sequentially."""
        while True:
            msg = await client.queue.get()
            if msg is None:
                return
            try:
                await self.on_message(client, msg)
            except Exception:
                self.logger.exception("error while handling message")
