"""A loopback TCP proxy between the gateway and the venue that injects network faults: delay
every chunk, reset a seeded share of connections, or cut the link (refuse and drop all)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field


@dataclass
class LinkFaults:
    delay_s: float = 0.0  # added before each forwarded chunk
    reset_rate: float = 0.0  # share of new connections reset after their first chunk
    cut: bool = False  # refuse new connections and drop the open ones
    seed: int = 0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)


@dataclass
class LinkStats:
    connections: int = 0
    resets: int = 0
    refused: int = 0
    dropped: int = 0


class FaultyProxy:
    """``127.0.0.1:port`` forwarding to ``upstream_port`` through ``faults`` (changeable live)."""

    def __init__(self, upstream_port: int, faults: LinkFaults | None = None) -> None:
        self.upstream_port = upstream_port
        self.faults = faults or LinkFaults()
        self.stats = LinkStats()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        """Refuse new connections and drop every open one."""
        self.faults.cut = True
        for writer in list(self._open):
            writer.transport.abort()
            self.stats.dropped += 1
        self._open.clear()

    def heal(self) -> None:
        """Lift the cut (delays and resets stay as configured)."""
        self.faults.cut = False

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        faults = self.faults
        if faults.cut:
            self.stats.refused += 1
            writer.transport.abort()
            return
        self.stats.connections += 1
        reset = faults.rng.random() < faults.reset_rate
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self._open.update((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer, reset), self._pipe(up_reader, writer, False)
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, reset: bool
    ) -> None:
        """Forward until either side closes; ``reset`` aborts both after the first chunk."""
        with contextlib.suppress(ConnectionError, OSError):
            while chunk := await reader.read(65536):
                if self.faults.delay_s:
                    await asyncio.sleep(self.faults.delay_s)
                writer.write(chunk)
                await writer.drain()
                if reset:
                    self.stats.resets += 1
                    writer.transport.abort()
                    return
        self._open.discard(writer)
        writer.transport.abort()
