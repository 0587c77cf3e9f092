"""Opening the files a user names: regular files only, and their names shown on one line.

Opening a named pipe for reading blocks until a writer comes (forever, in practice), a socket
cannot be opened at all, and reading ``/dev/zero`` or ``/dev/urandom`` never ends. So every path
that opens a user's file (images, manifests, trimaps, model files) first asks ``os.stat`` what
the path is, and refuses anything but a regular file by name *before* opening it. The bytes are
then read from a descriptor opened with ``O_NONBLOCK`` and checked again with ``fstat``: a file
swapped for a pipe in between is refused too, instead of blocking the open.

File names may hold newlines or control characters: :func:`shown_name` escapes them, so that a
message naming such a file is still one line (and cannot move a terminal's cursor).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from saliency_core.errors import escape_controls

MAX_FILE_BYTES = 512 * 1024 * 1024  # far above any image the 40 MP pixel cap lets through

# What a path is, for messages, by its ``st_mode`` test (links are followed).
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def shown_name(name: str | os.PathLike[str]) -> str:
    """``name`` for a one-line message: newlines, tabs and other non-printable characters
    escaped as in ``repr`` (``a\\nb.jpg``); printable text, accents included, unchanged."""
    return escape_controls(os.fspath(name))


def file_kind(mode: int) -> str:
    """What a non-regular ``st_mode`` is, in words (``"a named pipe"``)."""
    return next((kind for test, kind in _KINDS if test(mode)), "not a file")


def check_regular_file(path: str | os.PathLike[str], *, label: str | None = None, what: str = "file") -> Path:
    """``path`` as a Path if it is a regular file (a link to one is fine), checked without opening it.

    A missing path (or a dangling link) is a FileNotFoundError; a directory is a ValueError
    ``"<label>: is a directory, not a <what>"``; a named pipe, device or socket is a ValueError
    ``"<label>: not a regular file (a named pipe)"``. ``label`` (default: the path) names the file.
    """
    path = Path(path)
    name = label if label is not None else shown_name(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        broken = " (a link to nothing)" if os.path.islink(path) else ""
        raise FileNotFoundError(f"{name}: no such {what}{broken}") from None
    except NotADirectoryError:  # a parent of it is a file
        raise FileNotFoundError(f"{name}: no such {what}") from None
    except OSError as err:  # e.g. permission denied on a parent, a name too long
        raise ValueError(f"{name}: cannot be inspected ({err.strerror or type(err).__name__})") from None
    if stat.S_ISREG(mode):
        return path
    if stat.S_ISDIR(mode):
        raise ValueError(f"{name}: is a directory, not a {what}")
    raise ValueError(f"{name}: not a regular file ({file_kind(mode)})")


def read_regular_file(path: str | os.PathLike[str], *, label: str | None = None, what: str = "file",
                      limit: int | None = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file (see :func:`check_regular_file`), at most ``limit`` of them
    (None: no limit, e.g. for model files). A larger file is a ValueError naming the limit,
    refused from its size before it is read.
    """
    path = check_regular_file(path, label=label, what=what)
    name = label if label is not None else shown_name(path)
    try:
        # O_NONBLOCK: should the path have become a pipe since the stat, open returns at once.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise ValueError(f"{name}: cannot be opened ({err.strerror or type(err).__name__})") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # swapped between the stat and the open
            raise ValueError(f"{name}: not a regular file ({file_kind(info.st_mode)})")
        if limit is None:
            return fh.read()
        if info.st_size > limit:
            raise ValueError(f"{name}: {info.st_size:,} bytes is larger than the {limit:,} read for one {what}")
        # Never more than the size seen (a file still growing is not followed), or, where the size
        # reads 0 (/proc, some FUSE files), than the limit.
        data = fh.read((info.st_size or limit) + 1)
    if len(data) > limit:
        raise ValueError(f"{name}: larger than the {limit:,} bytes read for one {what}")
    return data
