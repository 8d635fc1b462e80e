"""A fault-injecting TCP proxy: the chaos run's network between the parts and what they call.

Each `FaultyProxy` listens on a port of its own and forwards every connection to one target
(Redis, the Kafka broker, an HTTP service); the run points the parts at the proxy (REDIS_URL,
KAFKA_BOOTSTRAP_SERVERS, <SERVICE>_SERVICE_URL) and, while orders go through, injects one fault
at a time for a while:

- `LATENCY`: every chunk of bytes, either way, is held for `latency_s` before it goes on (above
  HTTP_TIMEOUT and the brokers' time-outs: the client gives up while the server still works);
- `RESET`: every open connection is reset (a TCP RST) and every new one is reset at once;
- `BLACKHOLE`: nothing goes through, either way: connections open (the kernel accepts them on
  the listening port) but no byte passes, as when a route drops packets.

`clear()` ends the fault: held bytes go on, blackholed connections flow again. The proxy runs
its own asyncio loop on a thread, so the run's threads call it as they call anything else.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from concurrent.futures import Future
from typing import Any

LATENCY, RESET, BLACKHOLE = "latency", "reset", "blackhole"
FAULTS = (LATENCY, RESET, BLACKHOLE)
CHUNK = 65536


class FaultyProxy:
    """127.0.0.1:<port> forwarded to 127.0.0.1:<target_port>, with the fault of the moment."""

    def __init__(self, target_port: int, port: int = 0, latency_s: float = 3.0):
        self.target_port = target_port
        self.requested_port = port
        self.latency_s = latency_s
        self.fault: str | None = None
        self.connections = 0   # accepted since start
        self.resets = 0        # connections reset by a RESET fault
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing: asyncio.Event | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=f"proxy-to-{target_port}")
        self._server: asyncio.Server | None = None
        self.port = 0

    # -- control, from any thread ----------------------------------------------------------------

    def start(self) -> FaultyProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def inject(self, fault: str) -> None:
        """Begin a fault (one of FAULTS); it lasts until `clear()`."""
        assert fault in FAULTS, fault
        self._call(self._inject(fault))

    def clear(self) -> None:
        self._call(self._inject(None))

    # -- the loop's side -------------------------------------------------------------------------

    def _call(self, coroutine: Any) -> Any:
        done: Future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return done.result(timeout=10)

    async def _listen(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.requested_port,
                                                  reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()

    async def _inject(self, fault: str | None) -> None:
        assert self._flowing is not None
        self.fault = fault
        if fault == BLACKHOLE:
            self._flowing.clear()
        else:
            self._flowing.set()
        if fault == RESET:
            for writer in list(self._writers):
                _reset(writer)
                self.resets += 1

    async def _accept(self, client_reader: asyncio.StreamReader,
                      client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.fault == RESET:
            _reset(client_writer)
            self.resets += 1
            return
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1",
                                                                         self.target_port)
        except OSError:
            _reset(client_writer)   # the target is down: the client sees a refusal, as direct
            return
        writers = {client_writer, server_writer}
        self._writers |= writers
        try:
            await asyncio.gather(self._pipe(client_reader, server_writer),
                                 self._pipe(server_reader, client_writer))
        finally:
            self._writers -= writers
            for writer in writers:
                writer.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._flowing is not None
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    break
                if self.fault == LATENCY:
                    await asyncio.sleep(self.latency_s)
                await self._flowing.wait()   # a blackhole holds every byte until it clears
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            # The other side's end, passed on; a reset one is closed by `_accept`.
            if not writer.transport.is_closing():
                try:
                    writer.write_eof()
                except (OSError, RuntimeError):
                    writer.transport.abort()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST, not a FIN: SO_LINGER on, with a time-out of zero."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()
