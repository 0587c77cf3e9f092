"""Loaders for three photo layouts, all decoded into the model frame as one uint8 tensor.

* a folder with one subfolder per class (``root/cat/*.jpg``, ``root/dog/*.jpg``);
* a manifest CSV (columns file, species, breed, width, height, split, sha256, source_path);
* the Oxford-IIIT Pet layout (``images/Abyssinian_1.jpg``: a Capitalised breed is a cat,
  a lower-case one a dog; ``annotations/trimaps/*.png`` become animal masks when present).

Every photo is read by ``image_file.read_image``, the library's one image reader, so a folder
refuses what a single file refuses, for the same reasons: anything but a regular file (a named
pipe, device or socket is never opened), empty, truncated or corrupt files, SVG/HTML/PDF saved
under an image name, decompression bombs, multi-frame files (animated GIF/WebP/APNG, multi-page
TIFF: refused, not reduced to frame 0), strips beyond ``frame.MAX_ASPECT``. Such files are
skipped, never a crash: ``ImageSet.problems`` gives one line per file (``name: reason``, the name
escaped if it holds newlines or control characters), and ONE warning lists them all.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .files import read_regular_file, shown_name
from .frame import FRAME, check_frame_size, frame_array, mask_frame
from .image_file import read_image
from .manifest import IMAGE_SUFFIXES, read_manifest  # noqa: F401 - re-exported: their old home

CLASSES: tuple[str, ...] = ("cat", "dog")
# Image files people keep beside photos that Pillow cannot read: named when skipped, not ignored.
UNREADABLE_SUFFIXES = {".svg": "an SVG drawing", ".svgz": "an SVG drawing", ".heic": "a HEIC photo",
                       ".heif": "a HEIF photo"}


@dataclass(frozen=True)
class ImageSet:
    """Decoded photos in the model frame.

    ``frames`` uint8 [N,3,S,S]; ``labels`` int64 [N] (index into ``classes``); ``files`` paths
    relative to the root; ``splits`` the manifest split ("" when unknown); ``masks`` bool [N,S,S]
    animal masks (None when the layout has none); ``skipped`` the files (relative to the root)
    that could not be read, and ``problems`` one line for each, ``"<file>: <why>"`` (the file's
    name escaped when it holds newlines or control characters), also listed in one
    ``RuntimeWarning``.
    """

    frames: torch.Tensor
    labels: torch.Tensor
    files: tuple[str, ...]
    splits: tuple[str, ...]
    classes: tuple[str, ...] = CLASSES
    masks: torch.Tensor | None = None
    skipped: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def images(self, index: torch.Tensor | Sequence[int] | None = None) -> torch.Tensor:
        """float32 [n,3,S,S] in [0, 1] (all images, or those at ``index``)."""
        frames = self.frames if index is None else self.frames[torch.as_tensor(index, dtype=torch.long)]
        return frames.float().div_(255.0)


def _decode(root: Path, rel: Sequence[str], size: int) -> tuple[np.ndarray, list[int], dict[int, str]]:
    """Decode ``root / rel[i]`` through ``read_image``; returns the frames that worked, their
    indices and, by index, why each of the rest was skipped."""
    frames: list[np.ndarray] = []
    kept: list[int] = []
    failed: dict[int, str] = {}
    for i, name in enumerate(rel):
        try:
            frames.append(frame_array(read_image(root / name, name=name), size))
            kept.append(i)
        except (ValueError, FileNotFoundError) as err:  # read_image's one line, starting with the name
            failed[i] = str(err)
        except OSError as err:  # e.g. an I/O error while reading
            failed[i] = f"{shown_name(name)}: cannot be read ({err.strerror or type(err).__name__})"
        except MemoryError:
            failed[i] = f"{shown_name(name)}: too large to decode in the memory available"
    array = np.stack(frames) if frames else np.zeros((0, size, size, 3), np.uint8)
    return array, kept, failed


def _warn(problems: Sequence[str], where: Path) -> None:
    """ONE warning for the whole folder: a count, then one line per skipped file, every one."""
    if problems:
        warnings.warn(f"skipped {len(problems)} unreadable image(s) in {shown_name(where)}:\n  "
                      + "\n  ".join(problems), RuntimeWarning, stacklevel=4)


def _mask(path: Path, size: int) -> torch.Tensor:
    """An Oxford trimap as an animal mask (all True when it cannot be read: the whole frame counts)."""
    try:
        with Image.open(io.BytesIO(read_regular_file(path))) as m:
            trimap = np.asarray(m)
        # Oxford trimaps: 1 = animal, 2 = background, 3 = boundary (counted as animal).
        return torch.from_numpy(mask_frame(trimap, size) != 2)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return torch.ones((size, size), dtype=torch.bool)


def _image_set(root: Path, rel: list[str], labels: list[int], splits: list[str], classes: tuple[str, ...],
               size: int, mask_paths: list[Path | None] | None = None,
               listed: Sequence[tuple[str, str]] = ()) -> ImageSet:
    """Decode ``rel`` into an ImageSet; ``listed`` are (file, problem) pairs found while listing."""
    array, kept, failed = _decode(root, rel, size)
    masks = None
    if mask_paths is not None and any(mask_paths[i] is not None for i in kept):
        masks = torch.ones((len(kept), size, size), dtype=torch.bool)  # no trimap: the whole frame
        for j, i in enumerate(kept):
            mp = mask_paths[i]
            if mp is not None:
                masks[j] = _mask(mp, size)
    problems = (*(line for _, line in listed), *failed.values())
    _warn(problems, root)
    return ImageSet(
        frames=torch.from_numpy(array).permute(0, 3, 1, 2).contiguous(),
        labels=torch.tensor([labels[i] for i in kept], dtype=torch.long),
        files=tuple(rel[i] for i in kept), splits=tuple(splits[i] for i in kept),
        classes=classes, masks=masks, problems=problems,
        skipped=(*(name for name, _ in listed), *(rel[i] for i in failed)),
    )


def _listing(folder: Path, prefix: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The image files of ``folder`` as ``prefix/name`` (sorted), and (file, problem) for each
    file that looks like an image Pillow cannot read. Nothing is opened here: ``read_image``
    checks each file's type (regular files only) before it opens it."""
    found: list[str] = []
    problems: list[tuple[str, str]] = []
    for f in sorted(folder.iterdir()):
        suffix = f.suffix.lower()
        if f.name.startswith("."):
            continue
        if suffix in IMAGE_SUFFIXES:
            found.append(f"{prefix}/{f.name}")
        elif suffix in UNREADABLE_SUFFIXES:
            rel = f"{prefix}/{f.name}"
            problems.append((rel, f"{shown_name(rel)}: is {UNREADABLE_SUFFIXES[suffix]}, which is not read "
                                  "here (export it as PNG or JPEG)"))
    return found, problems


def load_folder(root: str | Path, size: int = FRAME) -> ImageSet:
    """One subfolder per class; classes are the sorted subfolder names."""
    root = Path(root)
    check_frame_size(size, "size")
    if not root.is_dir():
        raise FileNotFoundError(f"not a folder: {shown_name(root)}")
    classes = tuple(sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")))
    if not classes:
        raise ValueError(f"{shown_name(root)} has no class subfolders (expected e.g. {shown_name(root / 'cat')}, "
                         f"{shown_name(root / 'dog')})")
    rel: list[str] = []
    labels: list[int] = []
    listed: list[tuple[str, str]] = []
    for k, name in enumerate(classes):
        found, problems = _listing(root / name, name)
        rel += found
        labels += [k] * len(found)
        listed += problems
    return _image_set(root, rel, labels, [""] * len(rel), classes, size, listed=listed)


MANIFEST_COLUMNS = ("file", "species", "breed", "width", "height", "split", "sha256", "source_path")


def load_manifest(path: str | Path, size: int = FRAME, rows: list[dict[str, str]] | None = None) -> ImageSet:
    """Photos listed in a manifest CSV; files are relative to the CSV's folder. A ``mask_file``
    column (an Oxford-style trimap per photo: 2 = background) gives the animal masks."""
    path = Path(path)
    check_frame_size(size, "size")
    rows = read_manifest(path) if rows is None else rows
    classes = CLASSES
    unknown = sorted({r["species"] for r in rows} - set(classes))
    if unknown:
        raise ValueError(f"manifest {shown_name(path)} has species {unknown}; expected {list(classes)}")
    masks = ([path.parent / r["mask_file"] if r.get("mask_file") else None for r in rows]
             if rows and "mask_file" in rows[0] else None)
    return _image_set(path.parent, [r["file"] for r in rows], [classes.index(r["species"]) for r in rows],
                      [r.get("split", "") or "" for r in rows], classes, size, masks)


def pet_species(filename: str) -> str:
    """Oxford-IIIT Pet convention: cat breeds are Capitalised (``Bengal_12.jpg``), dogs lower-case."""
    if not filename or not filename[0].isalpha():
        raise ValueError(f"cannot tell the species of {filename!r}: breed name must start with a letter")
    return "cat" if filename[0].isupper() else "dog"


def load_oxford_pet(root: str | Path, size: int = FRAME) -> ImageSet:
    """``root/images/*.jpg`` (+ ``root/annotations/trimaps/*.png`` as animal masks when present)."""
    root = Path(root)
    check_frame_size(size, "size")
    images = root / "images"
    if not images.is_dir():
        raise FileNotFoundError(f"no Oxford-IIIT Pet layout at {shown_name(root)}: {shown_name(images)} is missing")
    trimaps = root / "annotations" / "trimaps"
    found, listed = _listing(images, "images")
    rel: list[str] = []
    labels: list[int] = []
    mask_paths: list[Path | None] = []
    for r in found:
        name = r.split("/", 1)[1]
        try:
            labels.append(CLASSES.index(pet_species(name)))
        except ValueError as err:  # e.g. "1.jpg": one badly named file does not stop the others
            listed.append((r, f"{shown_name(r)}: {err}"))
            continue
        rel.append(r)
        tm = trimaps / (Path(name).stem + ".png")
        mask_paths.append(tm if tm.is_file() else None)  # is_file: regular files only, nothing opened
    return _image_set(root, rel, labels, [""] * len(rel), CLASSES, size,
                      mask_paths if trimaps.is_dir() else None, listed=listed)


def load_any(root: str | Path, size: int = FRAME) -> ImageSet:
    """Detect the layout: MANIFEST.csv, else ``images/`` (Oxford-IIIT Pet), else class subfolders.

    A MANIFEST.csv that is there but no regular file (a pipe, a folder) is refused by name,
    not silently read as a folder layout.
    """
    root = Path(root)
    manifest = root / "MANIFEST.csv"
    if manifest.exists() or manifest.is_symlink():
        return load_manifest(manifest, size)
    if (root / "images").is_dir():
        return load_oxford_pet(root, size)
    return load_folder(root, size)
