#!/usr/bin/env python3
"""Clients for the Clients view's tests: python-socketio peers of a server.

    python clients_peer.py URL

Connects one client that registers as `py-dash` (type `dashboard`) and stays, and one that
connects and leaves at once (the guide's flapping client). Prints `ready` once both are done,
then keeps the first connected until stdin closes.
"""

import asyncio
import sys

import socketio

URL = sys.argv[1]


async def main():
    stays = socketio.AsyncClient()
    await stays.connect(URL, transports=["websocket"])
    await stays.emit("client:register", {"name": "py-dash", "type": "dashboard"})
    flaps = socketio.AsyncClient()
    await flaps.connect(URL, transports=["websocket"])
    await flaps.disconnect()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await stays.disconnect()


asyncio.run(main())
