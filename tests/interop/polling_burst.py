#!/usr/bin/env python3
"""A polling-only python-socketio client that must receive a burst of tool_events.

Usage: polling_burst.py URL COUNT. Prints "ready" once connected, then counts COUNT
tool_events posted by someone else. On the first one it blocks its event loop for a second,
so it stops polling while the rest pile up on the server: its next poll then finds far more
than python-engineio's limit of 16 packets per payload waiting. Prints one report line;
exits 0 when all arrived, in order, without a disconnect.
"""

import asyncio
import sys
import time

import socketio

URL, COUNT = sys.argv[1], int(sys.argv[2])


async def main():
    sio = socketio.AsyncClient()
    got = []
    done = asyncio.Event()
    dropped = []

    @sio.on("tool_event")
    async def tool_event(data):
        got.append(data["correlation_id"])
        if len(got) == 1:
            time.sleep(1)  # deliberately blocking: no poll goes out meanwhile
        if len(got) == COUNT:
            done.set()

    @sio.event
    async def disconnect(*args):
        dropped.append(args)
        done.set()

    await sio.connect(URL, transports=["polling"])
    print("ready", flush=True)
    try:
        await asyncio.wait_for(done.wait(), 15)
    except asyncio.TimeoutError:
        pass
    in_order = got == [f"c-{i}" for i in range(len(got))]
    print(f"received {len(got)} of {COUNT}, in order: {in_order}, dropped: {bool(dropped)}", flush=True)
    ok = len(got) == COUNT and in_order and not dropped
    if not dropped:
        await sio.disconnect()
    return ok

if __name__ == "__main__":
    sys.exit(0 if asyncio.run(main()) else 1)
