#!/usr/bin/env python3
"""
Socket.IO connection test script.
Tests connection, event sending, and disconnection.

The troubleshooting guide's script, unchanged but for the server URL and transports, which
come from the command line: guide_connection_test.py URL [TRANSPORTS, comma-separated].
"""

import asyncio
import sys

import socketio

URL = sys.argv[1]
TRANSPORTS = sys.argv[2].split(",") if len(sys.argv) > 2 else None


async def test_socketio_connection():
    sio = socketio.AsyncClient()

    @sio.event
    async def connect():
        print("✓ Connected to Socket.IO server")
        await sio.emit('test_event', {'message': 'Hello Server'})

    @sio.event
    async def test_response(data):
        print(f"✓ Received response: {data}")
        # Not in the guide: the upgrade from polling runs in the background, so give it a
        # moment before reporting which transport carried the session.
        for _ in range(30):
            if sio.transport() == "websocket":
                break
            await asyncio.sleep(0.1)
        print(f"  transport: {sio.transport()}")
        await sio.disconnect()

    @sio.event
    async def disconnect(*args):
        print("✓ Disconnected cleanly")

    try:
        await sio.connect(URL, transports=TRANSPORTS)
        await asyncio.wait_for(sio.wait(), 10)
        print("✓ Connection test passed")
        return True
    except Exception as e:
        print(f"✗ Connection test failed: {e}")
        return False

if __name__ == "__main__":
    success = asyncio.run(test_socketio_connection())
    exit(0 if success else 1)
