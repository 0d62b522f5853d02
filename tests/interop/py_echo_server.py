#!/usr/bin/env python3
"""A python-socketio + aiohttp server doing what mpm-top serve does for the benchmarks and
tests: the stack Claude MPM's monitor runs on.

Usage: py_echo_server.py [PORT]. Binds 127.0.0.1 (port 0 = any), prints
"listening on http://127.0.0.1:PORT" once ready. Like Claude MPM's server it emits
dashboard:welcome and dashboard:client:count from its connect handler, before the connect ack.
"""

import sys

import socketio
from aiohttp import web

sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
app = web.Application()
sio.attach(app)
clients = set()


@sio.event
async def connect(sid, environ):
    clients.add(sid)
    await sio.emit("dashboard:welcome", {"message": "Connected", "session_id": sid}, to=sid)
    await sio.emit("dashboard:client:count", {"count": len(clients)})


@sio.event
async def disconnect(sid, *args):
    clients.discard(sid)
    await sio.emit("dashboard:client:count", {"count": len(clients)})


@sio.on("benchmark_event")
async def benchmark_event(sid, data):
    await sio.emit("benchmark_response", data, to=sid)


@sio.on("test_event")
async def test_event(sid, data):
    await sio.emit("test_response", {"received": data}, to=sid)


@sio.on("dashboard:ping")
async def ping(sid, data):
    await sio.emit("dashboard:pong", {"timestamp": (data or {}).get("timestamp")}, to=sid)


@sio.on("claude_event")
async def claude_event(sid, data):
    await sio.emit("hook:event", data)


async def health(request):
    return web.json_response({"status": "running", "service": "py-echo-server", "clients": len(clients)})

app.router.add_get("/health", health)


async def post_event(request):
    """Hook posts, as Claude MPM's hooks send them: broadcast as claude_event."""
    try:
        body = await request.json()
    except ValueError as e:
        return web.Response(status=400, text=f"malformed JSON: {e}\n")
    inner = body.get("data") if isinstance(body.get("data"), dict) else body
    await sio.emit("claude_event", {"type": "claude_event", "subtype": inner.get("subtype"),
                                    "data": inner.get("data") or {}})
    return web.Response(status=204)

app.router.add_post("/api/events", post_event)


async def main():
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    import asyncio
    await asyncio.Event().wait()

if __name__ == "__main__":
    import asyncio
    asyncio.run(main())
