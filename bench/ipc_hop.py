"""Where an IPC hop's time goes on this host: one round trip of a tiny request through each
layer, every server in a process of its own (as daemons are).

    python bench/ipc_hop.py [--count 2000]

Rows (p50 / p90 in microseconds, with the 1-minute load):
- ours, daemon to daemon: `messaging.ipc.Server` answering `Ping` to a
  `messaging.client.AsyncClient` (pyzmq on both ends, as a daemon talks to heartbeat);
- ours, tool to daemon: the same server and the blocking `messaging.client.Client`
  (ZMTP spoken directly on the socket, as cibadmin does);
- raw pyzmq ROUTER/DEALER with asyncio on both ends (the floor of our zmq path: zmq's
  I/O thread adds two thread hand-offs per direction);
- raw asyncio unix-socket echo (the floor of a process hop without zmq).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

DIRECTORY = tempfile.mkdtemp(prefix="ipc-hop-")


def _ours_server(ready: multiprocessing.synchronize.Event) -> None:
    from messaging.envelope import protocol
    from messaging.ipc import Server

    async def main() -> None:
        server = Server(f"ipc://{DIRECTORY}/ours.ctl", protocol("hop"), lambda m, c: None,
                        daemon="hop")
        server.bind()
        ready.set()
        await server.serve()

    asyncio.run(main())


def _zmq_server(ready: multiprocessing.synchronize.Event) -> None:
    import zmq
    import zmq.asyncio

    async def main() -> None:
        sock = zmq.asyncio.Context().socket(zmq.ROUTER)
        sock.bind(f"ipc://{DIRECTORY}/raw.zmq")
        ready.set()
        while True:
            await sock.send_multipart(await sock.recv_multipart())

    asyncio.run(main())


def _unix_server(ready: multiprocessing.synchronize.Event) -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(4096):
            writer.write(data)

    async def main() -> None:
        server = await asyncio.start_unix_server(echo, f"{DIRECTORY}/raw.sock")
        ready.set()
        await server.serve_forever()

    asyncio.run(main())


def _ours_async(count: int) -> list[float]:
    from messaging.client import AsyncClient
    from messaging.envelope import protocol

    async def main() -> list[float]:
        client = AsyncClient(f"ipc://{DIRECTORY}/ours.ctl", protocol("hop"), timeout=5)
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            await client.ping()
            samples.append(time.perf_counter() - started)
        client.close()
        return samples

    return asyncio.run(main())


def _ours_blocking(count: int) -> list[float]:
    from messaging.client import Client
    from messaging.envelope import protocol

    client = Client(f"ipc://{DIRECTORY}/ours.ctl", protocol("hop"), timeout=5)
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        client.ping()
        samples.append(time.perf_counter() - started)
    client.close()
    return samples


def _zmq_async(count: int) -> list[float]:
    import zmq
    import zmq.asyncio

    async def main() -> list[float]:
        sock = zmq.asyncio.Context().socket(zmq.DEALER)
        sock.connect(f"ipc://{DIRECTORY}/raw.zmq")
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            await sock.send(b"x" * 60)
            await sock.recv()
            samples.append(time.perf_counter() - started)
        return samples

    return asyncio.run(main())


def _unix_async(count: int) -> list[float]:
    async def main() -> list[float]:
        reader, writer = await asyncio.open_unix_connection(f"{DIRECTORY}/raw.sock")
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            writer.write(b"x" * 60)
            await reader.read(4096)
            samples.append(time.perf_counter() - started)
        return samples

    return asyncio.run(main())


Server = Callable[[Any], None]
ROWS: list[tuple[str, Server, Callable[[int], list[float]]]] = [
    ("ours: Server + AsyncClient (daemon to daemon)", _ours_server, _ours_async),
    ("ours: Server + blocking Client (tool, ZMTP)", _ours_server, _ours_blocking),
    ("raw pyzmq ROUTER/DEALER, asyncio both ends", _zmq_server, _zmq_async),
    ("raw asyncio unix socket echo", _unix_server, _unix_async),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    count = parser.parse_args().count
    print("| round trip (us) | p50 | p90 | 1-min load |\n|---|---|---|---|")
    for name, server, client in ROWS:
        ready = multiprocessing.Event()
        process = multiprocessing.Process(target=server, args=(ready,), daemon=True)
        process.start()
        ready.wait(10)
        try:
            samples = sorted(client(count))
        finally:
            process.terminate()
        p50, p90 = samples[len(samples) // 2], samples[int(len(samples) * 0.9)]
        print(f"| {name} | {p50 * 1e6:.0f} | {p90 * 1e6:.0f} | {os.getloadavg()[0]:.1f} |")


if __name__ == "__main__":
    main()
