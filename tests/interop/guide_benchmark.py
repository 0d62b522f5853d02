#!/usr/bin/env python3
"""
Socket.IO performance benchmark.
Tests event throughput and latency.

The troubleshooting guide's script, unchanged but for the server URL, transports and event
count, which come from the command line: guide_benchmark.py URL TRANSPORTS COUNT.
"""

import asyncio
import sys
import time
import statistics
import socketio

URL = sys.argv[1]
TRANSPORTS = sys.argv[2].split(",")
COUNT = int(sys.argv[3])


class SocketIOBenchmark:
    def __init__(self):
        self.latencies = []
        self.events_sent = 0
        self.events_received = 0

    async def benchmark_throughput(self, events_count=1000):
        sio = socketio.AsyncClient()

        @sio.event
        async def connect():
            start_time = time.time()

            for i in range(events_count):
                await sio.emit('benchmark_event', {
                    'id': i,
                    'timestamp': time.time()
                })
                self.events_sent += 1

            # Wait for all responses
            while self.events_received < events_count:
                await asyncio.sleep(0.01)

            end_time = time.time()
            duration = end_time - start_time
            throughput = events_count / duration

            print(f"✓ Throughput: {throughput:.2f} events/second")
            print(f"✓ Average latency: {statistics.mean(self.latencies):.2f}ms")
            print(f"✓ Max latency: {max(self.latencies):.2f}ms")

            await sio.disconnect()

        @sio.event
        async def benchmark_response(data):
            latency = (time.time() - data['timestamp']) * 1000
            self.latencies.append(latency)
            self.events_received += 1

        await sio.connect(URL, transports=TRANSPORTS)
        await asyncio.wait_for(sio.wait(), 60)

if __name__ == "__main__":
    benchmark = SocketIOBenchmark()
    asyncio.run(benchmark.benchmark_throughput(COUNT))
