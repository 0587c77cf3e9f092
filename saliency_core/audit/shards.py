"""The audit's shard layout: one table format for the local and the Ray engine, resumable exactly once.

A dataset is listed into a **manifest**: its image ids, sorted (a data folder: the files relative
to the folder, listed without decoding one; an ImageSet: its files), cut into **shards** of
``shard_size`` consecutive ids (shard ``k`` holds manifest positions ``k*size .. (k+1)*size-1``).
Other datasets (iterables, DataLoaders) cannot be listed without reading them, so their shards are
cut from the stream in arrival order, ``shard_size`` images each.

Each (shard, model) is audited into one **part**, ``<out>.parts/part-{k:05d}-{hash}.parquet``:
the rows of every image of the shard x that model x every method. ``hash`` is the model's
**configuration hash** (:func:`config_hashes`): the model's name, class, mode and weights, the
methods, ``percent``, ``peak_percent``, the image size, the fixed region, the transforms, the
explain function and the library version. The part's Parquet metadata records its shard, hash and
**shard digest** (a hash of the shard's ids and labels).

* **Atomic**: a part is written to a hidden temporary file beside it, flushed to disk, then renamed
  over its name (``os.replace``): a part is complete or absent, never half-written.
* **Resume rule**: a part counts as finished when the file named by (k, hash) exists and its
  metadata holds the same hash and the same shard digest. A rerun skips those and recomputes the
  rest; a part whose shard changed (images added, removed or relabelled) is recomputed and replaced.
* **Exactly once**: the table is read from exactly one file per (shard of this manifest, model of
  this configuration), so every (image, model, method) appears once; parts of another configuration
  (another hash) or of shards past the end stay on disk but are never read.

The configuration hash does not cover the engine, the batch size or the number of workers: a run
started locally can be finished on a Ray cluster and the other way round.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import socket
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch import Tensor, nn

from saliency_core.audit.dataset import Batch, is_image_set, iter_batches
from saliency_core.checks import check_positive
from saliency_core.data.files import shown_name
from saliency_core.data.frame import check_frame_size
from saliency_core.data.loaders import CLASSES, read_manifest, pet_species
# The loaders' file listing and decoder (the folder readers' own code: one image reader, the same
# refusals and messages); load_any decodes a whole folder at once, the audit one shard at a time.
from saliency_core.data.loaders import _decode, _listing  # noqa: PLC2701

FORMAT = 1  # the part layout; part of every configuration hash
SHARD_SIZE = 512  # images per shard: the unit of resume and of Ray's scheduling
_META_KEY = b"saliency_core.audit.part"

# ---------------------------------------------------------------------------------------------
# The manifest: a dataset listed into sorted ids, and the sources that decode any slice of it.


@dataclasses.dataclass(frozen=True)
class FolderSource:
    """A data folder's files (relative to ``base``), listed and sorted, decoded on demand by
    ``decoders`` threads (Pillow decodes and resizes without the GIL): a Ray actor with several
    CPUs, a GPU's above all, decodes its shard in parallel and ahead of the model."""

    base: Path
    files: tuple[str, ...]
    labels: tuple[int, ...]
    splits: tuple[str, ...]
    image_size: int
    with_split: bool = False  # any split named: then every batch has a "split" column
    decoders: int = 1

    def _decoded(self, start: int, stop: int) -> tuple[Batch, list[str]]:
        """The batch of files ``start .. stop-1`` that could be read, and why the others could not."""
        array, kept, failed = _decode(self.base, self.files[start:stop], self.image_size)
        positions = [start + i for i in kept]
        extras = {"split": [self.splits[p] for p in positions]} if self.with_split else {}
        batch = Batch([self.files[p] for p in positions],
                      torch.from_numpy(array).permute(0, 3, 1, 2).float().div_(255.0),
                      torch.tensor([self.labels[p] for p in positions], dtype=torch.long), None, extras)
        return batch, list(failed.values())

    def batches(self, start: int, stop: int, batch_size: int, problems: list[str]) -> Iterator[Batch]:
        chunks = [(a, min(a + batch_size, stop)) for a in range(start, stop, batch_size)]
        if self.decoders <= 1:
            yield from _collect((self._decoded(a, b) for a, b in chunks), problems)
            return
        with ThreadPoolExecutor(self.decoders, thread_name_prefix="audit-decode") as pool:
            ahead: deque[Future[tuple[Batch, list[str]]]] = deque()

            def decoded() -> Iterator[tuple[Batch, list[str]]]:
                # at most 2 x decoders batches decoded ahead of the model (memory stays bounded)
                for chunk in chunks:
                    ahead.append(pool.submit(self._decoded, *chunk))
                    if len(ahead) >= 2 * self.decoders:
                        yield ahead.popleft().result()
                while ahead:
                    yield ahead.popleft().result()

            yield from _collect(decoded(), problems)


def _collect(decoded: Iterable[tuple[Batch, list[str]]], problems: list[str]) -> Iterator[Batch]:
    for batch, found in decoded:
        problems.extend(found)
        if len(batch):  # not a chunk of unreadable files only
            yield batch


@dataclasses.dataclass(frozen=True)
class ImageSetSource:
    """An ImageSet (decoded frames in memory), in the order of its sorted file names."""

    images: Any
    order: tuple[int, ...]  # manifest position -> index in the ImageSet
    with_split: bool = False  # any split named: then every batch has a "split" column

    def batches(self, start: int, stop: int, batch_size: int, problems: list[str]) -> Iterator[Batch]:
        splits = getattr(self.images, "splits", ()) or ()
        for a in range(start, stop, batch_size):
            index = list(self.order[a:min(a + batch_size, stop)])
            extras = {"split": [splits[i] for i in index]} if self.with_split else {}
            yield Batch([str(self.images.files[i]) for i in index], self.images.images(index).float(),
                        torch.as_tensor(self.images.labels)[index].long(), None, extras)


@dataclasses.dataclass(frozen=True)
class Manifest:
    """The sorted ids (and labels) of a listable dataset, and how to decode any range of them."""

    ids: tuple[str, ...]
    labels: tuple[int, ...]
    source: FolderSource | ImageSetSource
    where: str  # for messages: "data folder X" or "the dataset"
    problems: tuple[str, ...] = ()  # files refused while listing (e.g. an SVG under an image name)

    def __len__(self) -> int:
        return len(self.ids)

    def shards(self, shard_size: int) -> list[ManifestShard]:
        size = check_positive("shard_size", shard_size)
        return [ManifestShard(k, start, min(start + size, len(self.ids)), self)
                for k, start in enumerate(range(0, len(self.ids), size))]


@dataclasses.dataclass(frozen=True)
class ManifestShard:
    k: int
    start: int
    stop: int
    manifest: Manifest

    @functools.cached_property
    def digest(self) -> str:
        return shard_digest(self.manifest.ids[self.start:self.stop], self.manifest.labels[self.start:self.stop])

    def batches(self, batch_size: int, problems: list[str]) -> Iterator[Batch]:
        return self.manifest.source.batches(self.start, self.stop, batch_size, problems)

    def __len__(self) -> int:
        return self.stop - self.start


def _unique(ids: Sequence[str], where: str) -> None:
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        twice = next(i for i in ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
        raise ValueError(f"{where} lists image {shown_name(twice)} more than once: each image id must be "
                         "unique for the audit to hold one row per image, model and method")


def _sorted(ids: Sequence[str]) -> list[int]:
    return sorted(range(len(ids)), key=ids.__getitem__)


def list_folder(root: str | Path, image_size: int) -> Manifest:
    """The images of a data folder without decoding one, in the layout ``data.load_any`` detects
    (MANIFEST.csv, the Oxford-IIIT Pet ``images/``, else one subfolder per class)."""
    check_frame_size(image_size, "image_size")
    root = Path(root)
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise ValueError(f"data folder {shown_name(root)} {what}")
    listed: list[tuple[str, str]] = []
    manifest = root / "MANIFEST.csv"
    if manifest.exists() or manifest.is_symlink():
        rows = read_manifest(manifest)
        unknown = sorted({r["species"] for r in rows} - set(CLASSES))
        if unknown:
            raise ValueError(f"manifest {shown_name(manifest)} has species {unknown}; expected {list(CLASSES)}")
        files = [r["file"] for r in rows]
        labels = [CLASSES.index(r["species"]) for r in rows]
        splits = [r.get("split", "") or "" for r in rows]
    elif (root / "images").is_dir():
        found, listed = _listing(root / "images", "images")
        files, labels = [], []
        for rel in found:
            try:
                labels.append(CLASSES.index(pet_species(rel.split("/", 1)[1])))
            except ValueError as err:  # as load_oxford_pet: a badly named file does not stop the others
                listed.append((rel, f"{shown_name(rel)}: {err}"))
                continue
            files.append(rel)
        splits = [""] * len(files)
    else:
        classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
        if not classes:
            raise ValueError(f"{shown_name(root)} has no class subfolders (expected e.g. "
                             f"{shown_name(root / 'cat')}, {shown_name(root / 'dog')})")
        files, labels = [], []
        for k, name in enumerate(classes):
            found, problems = _listing(root / name, name)
            files += found
            labels += [k] * len(found)
            listed += problems
        splits = [""] * len(files)
    where = f"data folder {shown_name(root)}"
    _unique(files, where)
    order = _sorted(files)
    source = FolderSource(root, tuple(files[i] for i in order), tuple(labels[i] for i in order),
                          tuple(splits[i] for i in order), image_size, with_split=any(splits))
    return Manifest(source.files, source.labels, source, where, tuple(line for _, line in listed))


def list_image_set(images: Any) -> Manifest:
    """An ImageSet (or anything shaped like one) in the order of its sorted file names."""
    ids = [str(f) for f in images.files]
    _unique(ids, "the dataset")
    order = _sorted(ids)
    labels = torch.as_tensor(images.labels).tolist()
    return Manifest(tuple(ids[i] for i in order), tuple(int(labels[i]) for i in order),
                    ImageSetSource(images, tuple(order), any(getattr(images, "splits", ()) or ())), "the dataset")


def list_dataset(dataset: Any, image_size: int) -> Manifest | None:
    """The manifest of a folder path or an ImageSet; None for datasets that stream (iterables)."""
    if isinstance(dataset, (str, os.PathLike)):
        return list_folder(Path(dataset), image_size)
    if is_image_set(dataset):
        return list_image_set(dataset)
    return None


# ---------------------------------------------------------------------------------------------
# Shards of a stream: iterables and DataLoaders, cut in arrival order.


@dataclasses.dataclass
class StreamShard:
    """Shard ``k`` of a stream; ``ids`` and ``labels`` fill while ``batches`` is consumed."""

    k: int
    ids: list[str] = dataclasses.field(default_factory=list)
    labels: list[int] = dataclasses.field(default_factory=list)
    stream: Iterator[Batch] = dataclasses.field(default_factory=lambda: iter(()))

    @property
    def digest(self) -> str:
        return shard_digest(self.ids, self.labels)

    def batches(self, batch_size: int, problems: list[str]) -> Iterator[Batch]:
        return self.stream

    def __len__(self) -> int:
        return len(self.ids)


def _cut(batch: Batch, start: int, stop: int) -> Batch:
    return Batch(batch.ids[start:stop], batch.images[start:stop], batch.labels[start:stop],
                 None if batch.regions is None else batch.regions[start:stop],
                 {key: values[start:stop] for key, values in batch.extras.items()})


def stream_shards(dataset: Iterable[Any], shard_size: int, batch_size: int, image_size: int) -> Iterator[StreamShard]:
    """Shards of ``shard_size`` images in arrival order. Each shard's ``batches`` must be read
    before the next shard is asked for (what is left unread is skipped); a repeated id is an error."""
    size = check_positive("shard_size", shard_size)
    source = iter_batches(dataset, batch_size, image_size)
    pending: Batch | None = next(source, None)
    seen: set[str] = set()
    k = 0
    while pending is not None:
        shard = StreamShard(k)

        def take(shard: StreamShard = shard) -> Iterator[Batch]:
            nonlocal pending
            room = size
            while pending is not None and room > 0:
                batch = pending
                if len(batch) > room:
                    batch, pending = _cut(pending, 0, room), _cut(pending, room, len(pending))
                else:
                    pending = next(source, None)
                room -= len(batch)
                for i in batch.ids:
                    if i in seen:
                        _unique([i, i], "the dataset")
                    seen.add(i)
                shard.ids += batch.ids
                shard.labels += batch.labels.tolist()
                yield batch

        shard.stream = take()
        yield shard
        for _ in shard.stream:  # the part the caller did not read
            pass
        k += 1


def shard_digest(ids: Sequence[str], labels: Sequence[int]) -> str:
    """What a part was computed from: its shard's ids and labels, in order."""
    h = hashlib.sha256()
    for i, label in zip(ids, labels):
        h.update(f"{i}\x1f{int(label)}\x1e".encode("utf-8", "surrogateescape"))
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# The configuration hash.


def model_digest(model: nn.Module) -> str:
    """A hash of the model's class, train/eval mode and weights (every tensor of its state dict).
    A model process (:class:`~saliency_core.zoo.model_process.ModelProcess`, parameter-free here)
    adds its model file's bytes and how the child loads it (architecture, classes, options, normalisation)."""
    from saliency_core.zoo.model_process import ModelProcess

    h = hashlib.sha256(f"{type(model).__module__}.{type(model).__qualname__}|{model.training}".encode())
    if isinstance(model, ModelProcess):
        h.update(hashlib.sha256(model._data).hexdigest().encode())
        h.update(json.dumps(model._load, sort_keys=True, default=repr).encode())
    for name, value in model.state_dict().items():
        h.update(name.encode())
        if isinstance(value, Tensor):
            tensor = value.detach().cpu().contiguous().reshape(-1)
            h.update(f"{tensor.dtype}{tuple(value.shape)}".encode())
            h.update(tensor.view(torch.uint8).numpy().tobytes())
        else:  # extra state
            h.update(repr(value).encode())
    return h.hexdigest()


def callable_id(fn: Any) -> str:
    """A callable's qualified name and, for plain functions, a hash of its code."""
    target = fn if hasattr(fn, "__qualname__") else type(fn)
    name = f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"
    code = getattr(fn, "__code__", None)
    if code is not None:
        text = repr((code.co_code, code.co_consts, code.co_names))
        name += "#" + hashlib.sha256(text.encode()).hexdigest()[:12]
    return name


def config_hashes(models: Mapping[str, nn.Module], methods: Sequence[str], *, percent: float, peak_percent: float,
                  image_size: int, region: Tensor | None, transforms: Mapping[str, Callable[..., Any]],
                  explain: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each model's (configuration hash, configuration): everything its rows depend on besides
    the images. ``explain`` names the explain function (see :func:`callable_id`)."""
    from saliency_core import __version__

    common = {
        "format": FORMAT, "library": __version__, "methods": list(methods), "percent": float(percent),
        "peak_percent": float(peak_percent), "image_size": int(image_size),
        "region": None if region is None else region.detach().cpu().tolist(),
        "transforms": {name: callable_id(fn) for name, fn in transforms.items()}, "explain": explain,
    }
    hashes = {}
    for name, model in models.items():
        config = {**common, "model": name, "weights": model_digest(model)}
        text = json.dumps(config, sort_keys=True, separators=(",", ":"))
        hashes[name] = (hashlib.sha256(text.encode()).hexdigest()[:16], config)
    return hashes


# ---------------------------------------------------------------------------------------------
# The store: parts written atomically, the resume rule, the parts read as one table.


def store_dir(out: str | Path) -> Path:
    """Where the parts of the table ``out`` live: ``results.parquet`` -> ``results.parquet.parts/``."""
    out = Path(out)
    return out.with_name(out.name + ".parts")


def part_name(k: int, config: str) -> str:
    return f"part-{k:05d}-{config}.parquet"


def _atomic_bytes(path: Path, write: Callable[[Any], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@dataclasses.dataclass(frozen=True)
class Store:
    """The parts folder of one audit table and the configuration hash of each model."""

    root: Path
    configs: Mapping[str, tuple[str, dict[str, Any]]]  # model name -> (hash, configuration)

    @property
    def hashes(self) -> dict[str, str]:
        return {model: h for model, (h, _) in self.configs.items()}

    def path(self, k: int, model: str) -> Path:
        return self.root / part_name(k, self.configs[model][0])

    def finished(self, k: int, model: str, digest: str) -> bool:
        """The resume rule: the part exists with this configuration hash and this shard digest."""
        path = self.path(k, model)
        if not path.is_file():
            return False
        try:
            meta = part_metadata(path)
        except (OSError, ValueError, KeyError, pa.ArrowException):  # unreadable: compute it again
            return False
        return bool(meta.get("format") == FORMAT and meta.get("config") == self.configs[model][0]
                    and meta.get("shard") == k and meta.get("digest") == digest)

    def write(self, k: int, model: str, digest: str, rows: pd.DataFrame, *, seconds: float | None = None,
              cpu_seconds: float | None = None, node: str | None = None) -> Path:
        """Write a part atomically (temporary file, fsync, rename). Its metadata also says what it
        cost and where: ``seconds`` and ``cpu_seconds`` (wall and CPU time of the shard's audit in
        its process, every model computed with it together), the host, and the Ray node id."""
        table = pa.Table.from_pandas(rows, preserve_index=False)
        meta = {"format": FORMAT, "shard": k, "config": self.configs[model][0], "model": model, "digest": digest,
                "rows": len(rows), "seconds": seconds, "cpu_seconds": cpu_seconds, "host": socket.gethostname(),
                "node": node}
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), _META_KEY: json.dumps(meta)})
        path = self.path(k, model)
        _atomic_bytes(path, lambda f: pq.write_table(table, f))
        self._write_config(model)
        return path

    def _write_config(self, model: str) -> None:
        """``config-<hash>.json`` beside the parts: what the hash stands for, to read by eye."""
        config_hash, config = self.configs[model]
        path = self.root / f"config-{config_hash}.json"
        if not path.exists():
            text = json.dumps(config, indent=1, sort_keys=True).encode()
            _atomic_bytes(path, lambda f: f.write(text))

    def read(self, parts: Iterable[tuple[int, str]]) -> pd.DataFrame:
        """The parts (k, model) as one table, in the order given."""
        return read_parts([self.path(k, model) for k, model in parts])


def part_metadata(path: str | Path) -> dict[str, Any]:
    """What a part's metadata says: format, shard, config (hash), model, digest, rows, seconds,
    cpu_seconds, host, node."""
    return dict(json.loads((pq.read_schema(path).metadata or {})[_META_KEY]))


def read_parts(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Part files as one table, in the order given (columns a part lacks, e.g. of an empty shard,
    are null there). Read by a few threads: Parquet decoding runs without the GIL."""
    with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        tables = list(pool.map(lambda p: pq.read_table(p).replace_schema_metadata(None), paths))
    if not tables:
        return empty_table()
    table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    frame = table.to_pandas()
    frame["id"] = frame["id"].astype(str)
    return frame


def empty_table() -> pd.DataFrame:
    return pd.DataFrame({"id": pd.Series(dtype=str), "model": pd.Series(dtype=str),
                         "method": pd.Series(dtype=str), "truth": pd.Series(dtype=np.int64),
                         "prediction": pd.Series(dtype=np.int64), "confidence": pd.Series(dtype=np.float32),
                         "share": pd.Series(dtype=np.float32), "m": pd.Series(dtype=np.float32),
                         "n": pd.Series(dtype=np.float32)})


def warn_skipped(problems: Sequence[str], where: str) -> None:
    """ONE warning for the files a run could not read, one line each (the first 20)."""
    if not problems:
        return
    lines = list(problems[:20])
    if len(problems) > 20:
        lines.append(f"... and {len(problems) - 20} more")
    warnings.warn(f"skipped {len(problems)} unreadable image(s) in {where}:\n  " + "\n  ".join(lines),
                  RuntimeWarning, stacklevel=3)
