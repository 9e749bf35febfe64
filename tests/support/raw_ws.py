"""A WebSocket client on a raw TCP stream, for tests that must control when each byte of a
frame is sent (aiohttp's client sends a frame whole). Frames are masked with a zero key:
a valid mask that leaves the payload as it is."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from dataclasses import dataclass

OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8


def frame_header(opcode: int, length: int) -> bytes:
    """A final, masked client frame's header (mask key included) for `length` bytes."""
    if length < 126:
        sized = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        sized = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        sized = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return sized + b"\x00\x00\x00\x00"


@dataclass
class RawSocket:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def send(self, opcode: int, payload: bytes) -> None:
        self.writer.write(frame_header(opcode, len(payload)) + payload)
        await self.writer.drain()

    async def receive(self) -> tuple[int, bytes]:
        """The next server frame (unmasked, not fragmented): opcode and payload."""
        first, second = await self.reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return first & 0x0F, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def connect(host: str, port: int, path: str) -> RawSocket:
    reader, writer = await asyncio.open_connection(host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return RawSocket(reader, writer)
