"""A corpus of hostile and careless image inputs, generated at test time (no binary fixtures).

``make_corpus(folder)`` writes every case into ``folder`` and returns them as ``Case``s: the file
(or special file) and a piece of the one-line reason every surface must give for it. Special
files (a named pipe, a link to ``/dev/zero``, a socket) are made only where the OS allows;
``Case.special`` marks them. ``good_png(path)`` writes a readable photo beside them.

Used by tests/data/test_hostile_files.py (library), tests/cli/test_hostile_input.py (CLI) and
tests/dashboard/test_dashboard_hostile_files.py (dashboard).
"""

from __future__ import annotations

import io
import os
import socket
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Case:
    path: Path
    reason: str  # a piece of the message every surface must show for this file
    special: bool = False  # not a regular file: must be refused without being opened

    @property
    def shown(self) -> str:
        """The file's name as one-line messages show it (control characters escaped)."""
        return "".join(c if c.isprintable() else repr(c)[1:-1] for c in self.path.name)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def good_png(path: Path, seed: int = 0, size: tuple[int, int] = (40, 32)) -> Path:
    """A readable RGB photo (random pixels) at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format="PNG")
    return path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` RGB pixels (a pixel-count bomb): the
    data is a few bytes, decoding it would allocate width*height*3."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _chunk(b"IEND", b""))


def text_bomb_png(kind: bytes = b"zTXt") -> bytes:
    """A valid 4x4 PNG carrying a text chunk that inflates from ~64 KB to 64 MB (zTXt or iTXt)."""
    png = encode(Image.new("RGB", (4, 4), (9, 9, 9)), "PNG")
    payload = zlib.compress(b"\0" * (64 << 20), 9)
    body = b"Comment\0\0" + payload if kind == b"zTXt" else b"Comment\0\1\0\0\0" + payload
    at = png.index(b"IDAT") - 4  # before the pixels: Pillow meets it while opening
    return png[:at] + _chunk(kind, body) + png[at:]


def frames_file(fmt: str, count: int = 3) -> bytes:
    """An animated GIF/WebP/APNG or a multi-page TIFF whose frames differ."""
    frames = [Image.new("RGB", (16, 16), (60 * i, 200 - 60 * i, 30)) for i in range(count)]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:])


def truncated_jpeg() -> bytes:
    noise = np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), "JPEG", quality=90)
    return data[: len(data) // 2]


# Regular files: name -> (bytes, reason).
_FILES: dict[str, tuple[Callable[[], bytes], str]] = {
    "empty.jpg": (lambda: b"", "the file is empty"),
    "garbage.jpg": (lambda: bytes(range(256)) * 8, "not an image format Pillow reads"),
    "truncated.jpg": (truncated_jpeg, "truncated"),
    "drawing.png": (lambda: b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>\n', "SVG drawing"),
    "page.jpg": (lambda: b"<!DOCTYPE html>\n<html><body>404 Not Found</body></html>\n", "HTML page"),
    "pixel-bomb.png": (lambda: png_claiming(20_000, 20_000), "decompression bomb"),
    "warn-bomb.png": (lambda: png_claiming(10_000, 10_000), "decompression bomb"),  # Pillow only warns
    "over-cap.png": (lambda: png_claiming(8_000, 8_000), "too many pixels"),
    "ztxt-bomb.png": (text_bomb_png, "text chunk (zTXt/iTXt)"),
    "itxt-bomb.png": (lambda: text_bomb_png(b"iTXt"), "text chunk (zTXt/iTXt)"),
    "animated.gif": (lambda: frames_file("GIF"), "has 3 frames"),
    "animated.webp": (lambda: frames_file("WEBP"), "has 3 frames"),
    "animated.png": (lambda: frames_file("PNG"), "has 3 frames"),  # APNG
    "pages.tiff": (lambda: frames_file("TIFF"), "has 3 frames"),
    "strip-wide.png": (lambda: encode(Image.new("RGB", (200_000, 1), (5, 5, 5)), "PNG"), "is a strip"),
    "strip-tall.png": (lambda: encode(Image.new("RGB", (1, 200_000), (5, 5, 5)), "PNG"), "is a strip"),
    "bad\nname\x1b[2J.jpg": (lambda: b"not an image", "not an image format Pillow reads"),
}


def make_corpus(folder: Path, *, special: bool = True) -> list[Case]:
    """Write every case into ``folder`` (created); with ``special``, also a named pipe, a link to
    ``/dev/zero``, a socket and a folder under image names."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = []
    for name, (make, reason) in _FILES.items():
        (folder / name).write_bytes(make())
        cases.append(Case(folder / name, reason))
    if special:
        os.mkfifo(folder / "pipe.jpg")  # no writer: opening it for reading would block forever
        cases.append(Case(folder / "pipe.jpg", "not a regular file (a named pipe)", special=True))
        (folder / "zero.png").symlink_to("/dev/zero")  # reading it never ends
        cases.append(Case(folder / "zero.png", "not a regular file (a character device)", special=True))
        (folder / "folder.jpg").mkdir()
        cases.append(Case(folder / "folder.jpg", "is a directory", special=True))
        sock = folder / "sock.png"
        if len(os.fsencode(sock)) < 100:  # AF_UNIX paths are short
            with socket.socket(socket.AF_UNIX) as server:
                server.bind(os.fspath(sock))  # the socket file stays after close
            cases.append(Case(sock, "not a regular file (a socket)", special=True))
    return cases
