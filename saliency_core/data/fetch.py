"""Download the Oxford-IIIT Pet dataset: checksummed, resumable (HTTP Range), with a progress bar.

The two tarballs unpack to ``images/*.jpg`` and ``annotations/trimaps/*.png``, which is exactly
the layout ``load_oxford_pet`` reads. Checksums: the MD5 pins torchvision uses for the same files
(and the archive's SHA-256 and size where recorded). Extraction uses tarfile's "data" filter, so
an archive cannot write outside the target folder.
"""

from __future__ import annotations

import hashlib
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

CHUNK = 1 << 16


@dataclass(frozen=True)
class Resource:
    url: str
    filename: str
    md5: str | None = None
    sha256: str | None = None
    size: int | None = None


OXFORD_PET = (
    Resource("https://thor.robots.ox.ac.uk/datasets/pets/images.tar.gz", "images.tar.gz",
             md5="5c4f3ee8e5d25df40f4fd59a7f44e54c",
             sha256="67195c5e1c01f1ab5f9b6a5d22b8c27a580d896ece458917e61d459337fa318d", size=791_918_971),
    Resource("https://thor.robots.ox.ac.uk/datasets/pets/annotations.tar.gz", "annotations.tar.gz",
             md5="95a8c909bbe2e81eed6a22bccdf3f68f"),
)


def verify(path: Path, resource: Resource) -> None:
    """Raise ValueError when ``path`` does not match the resource's size or checksums."""
    if resource.size is not None and path.stat().st_size != resource.size:
        raise ValueError(f"{path.name}: size {path.stat().st_size} != expected {resource.size}")
    md5, sha = hashlib.md5(), hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            md5.update(block)
            sha.update(block)
    if resource.md5 and md5.hexdigest() != resource.md5:
        raise ValueError(f"{path.name}: MD5 {md5.hexdigest()} != expected {resource.md5}")
    if resource.sha256 and sha.hexdigest() != resource.sha256:
        raise ValueError(f"{path.name}: SHA-256 {sha.hexdigest()} != expected {resource.sha256}")


def download(resource: Resource, folder: Path, progress: bool = True, timeout: float = 60.0) -> Path:
    """Download ``resource`` into ``folder`` (resuming a ``.part`` file), verify it, return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / resource.filename
    if target.is_file():
        verify(target, resource)
        return target
    part = folder / (resource.filename + ".part")
    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(resource.url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # the partial file is already complete
            part.replace(target)
            verify(target, resource)
            return target
        raise
    with response:
        if have and response.status != 206:
            have = 0  # server ignored Range: start again
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else resource.size
        with part.open("ab" if have else "wb") as fh, tqdm(
            total=total, initial=have, unit="B", unit_scale=True, desc=resource.filename, disable=not progress
        ) as bar:
            while block := response.read(CHUNK):
                fh.write(block)
                bar.update(len(block))
    try:
        verify(part, resource)
    except ValueError:
        part.unlink()  # a corrupt partial file must not be resumed
        raise
    part.replace(target)
    return target


def extract(archive: Path, folder: Path) -> None:
    with tarfile.open(archive) as tf:
        tf.extractall(folder, filter="data")


def fetch_oxford_pet(folder: Path, progress: bool = True, keep_archives: bool = False) -> Path:
    """Download and unpack Oxford-IIIT Pet into ``folder``; returns ``folder``."""
    for resource in OXFORD_PET:
        archive = download(resource, folder / "downloads", progress)
        extract(archive, folder)
        if not keep_archives:
            archive.unlink()
    return folder
