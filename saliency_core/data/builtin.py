"""The built-in demo photos: 880 Oxford-IIIT Pet photos (440 cats, 440 dogs, 37 breeds) with pet
masks, shipped inside the package (``saliency_core/data/builtin_photos/``, CC BY-SA 4.0: see its
``LICENSE.md`` and ``ATTRIBUTION.md``; ``tools/build_photo_set.py`` regenerates it).

They are the demo's photos when nothing is configured (``data_dir()`` without ``SALIENCY_DATA``).
The zoo never trains on them, so all of them are the held-out test set, in the manifest's order
(cats, then dogs; breeds in turn): a photo's position there is its watermark seed.

>>> photos = load_builtin()          # ImageSet: frames uint8 [880,3,128,128], masks bool [880,128,128]
>>> photos.masks[0].float().mean()   # share of the first photo's frame that is the cat
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from typing import TYPE_CHECKING

from . import BUILTIN_DIR, cache_dir
from .files import read_regular_file
from .manifest import read_manifest

if TYPE_CHECKING:
    from .loaders import ImageSet

TITLE = "Built-in photos (Oxford-IIIT Pet, CC BY-SA 4.0)"


def builtin_dir() -> Path:
    """The folder of the built-in photos; FileNotFoundError when this installation lacks it."""
    if not (BUILTIN_DIR / "MANIFEST.csv").is_file():
        raise FileNotFoundError(f"the built-in demo photos are missing from this installation ({BUILTIN_DIR}); "
                                "reinstall saliency-lab, or set SALIENCY_DATA to a folder of photos")
    return BUILTIN_DIR


def is_builtin(root: str | os.PathLike[str]) -> bool:
    """Whether ``root`` is the built-in photo folder."""
    try:
        return Path(root).expanduser().resolve() == BUILTIN_DIR.resolve()
    except OSError:
        return False


def builtin_manifest() -> list[dict[str, str]]:
    """The rows of the built-in manifest (file, species, breed, width, height, split, mask_file,
    mask_kind, sha256, mask_sha256, source_file, source_sha256, oxford_split), in held-out order."""
    return read_manifest(builtin_dir() / "MANIFEST.csv")


def load_builtin(size: int | None = None) -> ImageSet:
    """The built-in photos in the model frame (``size`` pixels, default ``FRAME``) with their pet
    masks (True on the pet and its border), in manifest order. Decoded once and cached
    (``cache_dir()/frames``) by manifest hash."""
    # PyTorch is imported here, not above: the module's other functions serve the dashboard's
    # first page, which a new server shows before PyTorch has loaded.
    import numpy as np
    import torch

    from .frame import FRAME, check_frame_size
    from .loaders import CLASSES, ImageSet, load_manifest

    size = check_frame_size(FRAME if size is None else size, "size")
    manifest = builtin_dir() / "MANIFEST.csv"
    data = read_regular_file(manifest, what="manifest file")
    rows = read_manifest(manifest)
    files = tuple(r["file"] for r in rows)
    labels = torch.tensor([CLASSES.index(r["species"]) for r in rows], dtype=torch.long)
    splits = tuple(r.get("split", "") for r in rows)
    cache = cache_dir() / "frames" / f"builtin-{hashlib.sha256(data).hexdigest()[:16]}-{size}.npz"
    try:
        with np.load(cache) as saved:
            frames, masks = saved["frames"], saved["masks"]
        if frames.shape == (len(rows), 3, size, size) and masks.shape == (len(rows), size, size):
            return ImageSet(frames=torch.from_numpy(frames), labels=labels, files=files, splits=splits,
                            masks=torch.from_numpy(masks))
    except (OSError, ValueError, KeyError, EOFError):
        pass  # no cache yet, or a broken one: decode
    images = load_manifest(manifest, size, rows)
    if images.skipped:  # a damaged installation: say so rather than show a partial set
        raise ValueError(f"built-in photos damaged: {'; '.join(images.problems[:3])}")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.stem}.{os.getpid()}.npz")
        assert images.masks is not None
        np.savez(tmp, frames=images.frames.numpy(), masks=images.masks.numpy())
        os.replace(tmp, cache)  # atomic: a concurrent reader never sees half a file
    except OSError:
        pass  # a read-only cache folder only costs the decoding next time
    return images


def verify_builtin() -> list[str]:
    """The built-in files whose SHA-256 differs from the manifest's (empty when all match)."""
    root = builtin_dir()
    bad = []
    for row in builtin_manifest():
        for column, digest in (("file", "sha256"), ("mask_file", "mask_sha256")):
            try:
                ok = hashlib.sha256((root / row[column]).read_bytes()).hexdigest() == row[digest]
            except OSError:
                ok = False
            if not ok:
                bad.append(row[column])
    return bad


__all__ = ["TITLE", "builtin_dir", "builtin_manifest", "is_builtin", "load_builtin", "verify_builtin"]
