#!/usr/bin/python3
"""A tiny imitation of a FuncNodes WSWorker, as far as the master sees one.

It serves WebSocket on 127.0.0.1 (port 0 = any free port), prints
"PORT <n>" on stdout once it listens, and answers the identity probe
{"type": "cmd", "cmd": "uuid"} with {"type": "result", "result": <uuid>,
"id": null}, like funcnodes-worker does.

Modes:
  answer   answer with the right uuid (default)
  wrong    answer with another uuid
  silent   read requests, never answer
  close    close the connection as soon as a request arrives

Options:
  --pre N           send N broadcast frames (progress/workerevent) before
                    the result, as a busy real worker does
  --delay S         wait S seconds before answering
  --answer-after S  behave "silent" until S seconds after start-up
  --log FILE        append every received text frame to FILE (one a line)
  --tls CERT:KEY    serve wss:// with this certificate and key
"""
import argparse
import asyncio
import json
import signal
import socket
import struct
import sys
import time

import websockets


def parse_args(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--uuid", required=True)
    ap.add_argument("--mode", default="answer",
                    choices=["answer", "wrong", "silent", "close",
                             "hangup"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--pre", type=int, default=0)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--answer-after", type=float, default=0.0)
    ap.add_argument("--log")
    ap.add_argument("--tls")
    return ap.parse_args(argv)


def broadcast_frame(i):
    if i % 2 == 0:
        return json.dumps({"type": "progress", "message": "busy %d" % i,
                           "status": "info", "progress": 0.5,
                           "blocking": False})
    return json.dumps({"type": "workerevent", "event": "fullsync",
                       "data": {"n": i}})


async def main(args):
    started = time.monotonic()
    stop = asyncio.get_running_loop().create_future()

    def on_signal():
        if not stop.done():
            stop.set_result(None)

    for s in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(s, on_signal)

    async def handler(ws):
        try:
            async for msg in ws:
                if args.log:
                    with open(args.log, "a") as f:
                        f.write((msg if isinstance(msg, str)
                                 else "<binary>") + "\n")
                if not isinstance(msg, str):
                    continue
                try:
                    req = json.loads(msg)
                except ValueError:
                    continue
                if not isinstance(req, dict) or req.get("type") != "cmd":
                    continue
                mode = args.mode
                if time.monotonic() - started < args.answer_after:
                    mode = "silent"
                if mode == "silent":
                    continue
                if mode == "close":
                    await ws.close()
                    return
                for i in range(args.pre):
                    await ws.send(broadcast_frame(i))
                if args.delay:
                    await asyncio.sleep(args.delay)
                if req.get("cmd") == "uuid":
                    result = args.uuid if mode == "answer" \
                        else args.uuid + "-not-me"
                else:
                    result = None
                await ws.send(json.dumps({"type": "result",
                                          "result": result,
                                          "id": req.get("id")}))
        except websockets.ConnectionClosed:
            pass

    async def hang_up(reader, writer):
        # Reads the upgrade request, then closes without an answer.
        try:
            await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ConnectionError):
            pass
        if args.log:
            with open(args.log, "a") as f:
                f.write("<hung up>\n")
        # A reset, not an orderly close: the way a killed worker goes.
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
        writer.close()

    if args.mode == "hangup":
        srv = await asyncio.start_server(hang_up, args.host, args.port)
        async with srv:
            port = srv.sockets[0].getsockname()[1]
            sys.stdout.write("PORT %d\n" % port)
            sys.stdout.flush()
            await stop
        return

    tls = None
    if args.tls:
        import ssl
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(*args.tls.split(":", 1))
    async with websockets.serve(handler, args.host, args.port, ssl=tls,
                                compression=None, ping_interval=None) as srv:
        port = srv.sockets[0].getsockname()[1]
        sys.stdout.write("PORT %d\n" % port)
        sys.stdout.flush()
        await stop


if __name__ == "__main__":
    asyncio.run(main(parse_args(sys.argv[1:])))
