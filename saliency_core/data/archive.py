"""A user's dataset as a zip of class folders, unpacked safely into a folder of ours.

The layout (the Dataset-audit page states it)::

    cat/x.jpg   cat/y.png   dog/z.jpg       one folder per class, images directly inside
    masks/cat/x.png                         optional: the region of cat/x.jpg (white = inside)

Everything may sit inside one top folder (``my-set/cat/x.jpg``: zipping a folder does that).
``masks`` is no class name. Files that are no image (by suffix) are skipped and counted, as are
the clutter folders archivers add (``__MACOSX/``, dot files); an image anywhere else (at the top,
or nested deeper) is a mistake in the layout and refused.

Nothing is written before the whole member list is checked: every name must be a relative path
without ``..``, drive letters or control characters; no link, device or pipe entries; no name
twice; at most ``limits.images`` images (and as many masks); the declared uncompressed total at
most ``limits.total_bytes`` and no member compressed more than ``limits.ratio`` times (zip
bombs). While extracting, the bytes actually written are counted against the same bounds, so a
lying header cannot go past them either. Every refusal is an :class:`ArchiveError`, one line.

The files are only copied here; they are decoded later, by ``image_file.read_image`` (see
:mod:`saliency_core.data.mask_folders`).
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from saliency_core.data.files import shown_name
from saliency_core.data.loaders import IMAGE_SUFFIXES

MASKS = "masks"  # the folder of masks beside the class folders
CLUTTER = ("__MACOSX", "Thumbs.db", "desktop.ini")  # what archivers and file browsers add
_CHUNK = 1 << 20


class ArchiveError(ValueError):
    """A zip that is refused: the one-line reason."""


@dataclass(frozen=True)
class Limits:
    """Bounds on an uploaded dataset (the page states them)."""

    zip_bytes: int = 50 * 1024 * 1024  # the file itself
    total_bytes: int = 200 * 1024 * 1024  # everything it unpacks to
    images: int = 1000  # images (masks are counted separately, up to as many)
    ratio: int = 100  # uncompressed / compressed size of one member (zip bombs reach 1000s)

    def __post_init__(self) -> None:
        for name in ("zip_bytes", "total_bytes", "images", "ratio"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

    @property
    def files(self) -> int:
        """Files of any kind: the images, as many masks, and room for notes beside them."""
        return 2 * self.images + 100


@dataclass(frozen=True)
class Extracted:
    """What :func:`extract_dataset` wrote under ``root``: images and masks per class."""

    root: Path
    images: dict[str, int]  # class -> number of images
    masks: int
    skipped: tuple[str, ...] = field(default=())  # members that are no image (names, as in the zip)

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(sorted(self.images))

    @property
    def count(self) -> int:
        return sum(self.images.values())


def megabytes(n: int) -> str:
    """``n`` bytes in MB, for messages (``"50 MB"``)."""
    return f"{n / (1024 * 1024):.3g} MB"


def _parts(name: str) -> tuple[str, ...]:
    """A member's name as path parts, or ArchiveError when it could leave the folder."""
    shown = shown_name(name)
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ArchiveError(f"zip entry {shown} has control characters in its name: refused")
    posix = name.replace("\\", "/")
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        raise ArchiveError(f"zip entry {shown} is an absolute path: refused (entries must stay inside the folder)")
    parts = tuple(p for p in PurePosixPath(posix).parts if p not in ("", "."))
    if ".." in parts:
        raise ArchiveError(f"zip entry {shown} climbs out of the folder with '..': refused (path traversal)")
    return parts


def _kind(info: zipfile.ZipInfo) -> str | None:
    """What a non-regular member is (a link, a device...), None for files and folders."""
    mode = info.external_attr >> 16
    if not stat.S_IFMT(mode) or stat.S_ISREG(mode) or stat.S_ISDIR(mode):  # no type bits: a plain file
        return None
    return "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"


def _is_clutter(parts: tuple[str, ...]) -> bool:
    return any(p.startswith(".") or p in CLUTTER for p in parts)


@dataclass
class _Plan:
    """The members to write (as relative parts) and what the listing found."""

    files: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = field(default_factory=list)
    images: dict[str, int] = field(default_factory=dict)
    masks: int = 0
    skipped: list[str] = field(default_factory=list)


def _is_image(parts: tuple[str, ...]) -> bool:
    return PurePosixPath(parts[-1]).suffix.lower() in IMAGE_SUFFIXES


def _top_folder(entries: list[tuple[zipfile.ZipInfo, tuple[str, ...]]]) -> int:
    """1 when everything sits in one top folder that holds the layout (``my-set/cat/x.jpg``), else 0."""
    tops = {parts[0] for _, parts in entries}
    images = [parts for _, parts in entries if _is_image(parts)]
    if len(tops) != 1 or MASKS in tops or not images or any(len(parts) < 3 for parts in images):
        return 0
    return 1


def _plan(archive: zipfile.ZipFile, limits: Limits) -> _Plan:
    """Check every member before anything is written; what to extract, where."""
    entries: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = []
    seen: set[tuple[str, ...]] = set()
    declared = 0
    for info in archive.infolist():
        parts = _parts(info.filename)
        kind = _kind(info)
        if kind is not None:
            raise ArchiveError(f"zip entry {shown_name(info.filename)} is {kind}: refused (only files and folders)")
        if info.is_dir() or not parts or _is_clutter(parts):
            continue
        if parts in seen:
            raise ArchiveError(f"zip entry {shown_name(info.filename)} is in the zip twice: refused")
        seen.add(parts)
        if len(seen) > limits.files:
            raise ArchiveError(f"the zip holds more than {limits.files} files: refused (the limit)")
        declared += info.file_size
        if declared > limits.total_bytes:
            raise ArchiveError(f"the zip unpacks to more than {megabytes(limits.total_bytes)}: refused (the limit)")
        if info.file_size > _CHUNK and info.file_size > limits.ratio * max(info.compress_size, 1):
            raise ArchiveError(f"zip entry {shown_name(info.filename)} is compressed "
                               f"{info.file_size // max(info.compress_size, 1)}:1, more than {limits.ratio}:1: "
                               "refused (a zip bomb?)")
        entries.append((info, parts))
    skip = _top_folder(entries)
    plan = _Plan()
    for info, parts in entries:
        parts = parts[skip:]
        if not _is_image(parts):
            plan.skipped.append(info.filename)
            continue
        where = "/".join(parts)
        if parts[0] == MASKS:
            if len(parts) != 3:
                raise ArchiveError(f"mask {shown_name(where)} is not in a class folder of {MASKS}/: the layout "
                                   f"is {MASKS}/<class>/<image name>.png")
            plan.masks += 1
            if plan.masks > limits.images:
                raise ArchiveError(f"the zip holds more than {limits.images} masks: refused (the limit)")
        elif len(parts) == 1:
            raise ArchiveError(f"image {shown_name(where)} is not in a class folder: put each image in a folder "
                               "named after its class (cat/x.jpg)")
        elif len(parts) > 2:
            raise ArchiveError(f"image {shown_name(where)} is nested too deep: the layout is <class>/<image>")
        else:
            plan.images[parts[0]] = plan.images.get(parts[0], 0) + 1
            if sum(plan.images.values()) > limits.images:
                raise ArchiveError(f"the zip holds more than {limits.images} images: refused (the limit)")
        plan.files.append((info, parts))
    if not plan.images:
        raise ArchiveError("the zip has no class folders with images: the layout is <class>/<image> "
                           "(cat/x.jpg, dog/y.png)")
    return plan


def _write(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int) -> int:
    """Copy one member to ``target`` (a new file), at most ``budget`` bytes; returns its size."""
    written = 0
    with archive.open(info) as source, open(target, "xb") as sink:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > budget:
                raise ArchiveError("the zip unpacks to more than its limit: refused (its sizes lie: a zip bomb?)")
            sink.write(chunk)
    return written


def extract_dataset(source: bytes | str | os.PathLike[str], dest: str | os.PathLike[str],
                    limits: Limits = Limits()) -> Extracted:
    """Unpack the zip ``source`` (its bytes, or a path) into the empty or new folder ``dest``
    in the layout above; an :class:`ArchiveError` (nothing left half-written is used) otherwise."""
    root = Path(dest)
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise ValueError(f"dest must be an empty folder, got {shown_name(root)}")
    size = len(source) if isinstance(source, bytes) else os.stat(source).st_size
    if size > limits.zip_bytes:
        raise ArchiveError(f"the zip is {megabytes(size)}, more than the {megabytes(limits.zip_bytes)} allowed")
    try:
        archive = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        raise ArchiveError("the file is not a zip archive (or a damaged one)") from None
    with archive:
        plan = _plan(archive, limits)
        budget = limits.total_bytes
        base = root.resolve()
        try:
            for info, parts in plan.files:
                target = base.joinpath(*parts)
                if base not in target.parents:  # _parts already refused '..'; a second look costs nothing
                    raise ArchiveError(f"zip entry {shown_name(info.filename)} leaves the folder: refused")
                target.parent.mkdir(parents=True, exist_ok=True)
                budget -= _write(archive, info, target, budget)
        except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as error:
            raise ArchiveError(f"the zip is damaged ({type(error).__name__}: {error})") from None
        except FileExistsError as error:  # two names that one file system sees as the same file
            raise ArchiveError(f"zip entries collide on {shown_name(Path(error.filename or '?').name)}: "
                               "refused") from None
        except NotImplementedError as error:  # e.g. an encryption or compression zipfile cannot read
            raise ArchiveError(f"the zip cannot be read here: {error}") from None
        except RuntimeError as error:  # zipfile's word for an encrypted member
            raise ArchiveError(f"the zip cannot be read here: {error} (encrypted zips are not supported)") from None
    return Extracted(root, dict(sorted(plan.images.items())), plan.masks, tuple(plan.skipped))
