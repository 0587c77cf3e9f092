"""The dataset audit on Ray Data: ``audit.run(..., engine="ray")``.

The driver lists the dataset into its sorted manifest and cuts it into shards
(:mod:`saliency_core.audit.shards`), drops the shards whose parts are finished (the resume rule),
and sends one row per remaining shard through ``map_batches`` with an actor pool: each actor
(:class:`ShardWorker`) loads the models once (on its GPU when it has one), then for each shard
decodes only that shard's images, runs the local engine (:func:`saliency_core.audit.run.audit_shard`)
and writes each model's part atomically. Ray's own ``write_parquet`` is not used (its files get a
fresh id per run and a rerun appends), nor its row checkpointing: the parts are the checkpoint.

Needs ``pip install 'saliency-lab[ray]'``, saliency-lab installed on every node, and ``out`` on
storage that every node reaches (a shared file system): workers write the parts there and the
driver reads them back as one table.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import gc
import io
import json
import logging
import os
import pickle
import time
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from saliency_core.audit import shards
from saliency_core.audit.run import AuditJob, audit_shard


def _load_script(data: bytes) -> nn.Module:
    return torch.jit.load(io.BytesIO(data), map_location="cpu")  # type: ignore[no-untyped-call]


def _pack(model: nn.Module) -> bytes:
    """A model as it travels to the actors: pickled on the CPU (a copy when it is elsewhere: the
    caller's model stays where it is). TorchScript modules, which do not pickle, travel as the
    bytes ``torch.jit.save`` writes, also inside a wrapper (a loaded user model is one)."""
    import ray.cloudpickle

    if any(t.device.type != "cpu" for t in [*model.parameters(), *model.buffers()]):
        model = copy.deepcopy(model).cpu()

    class Pickler(ray.cloudpickle.CloudPickler):  # type: ignore[misc]
        def reducer_override(self, obj: Any) -> Any:
            if isinstance(obj, torch.jit.ScriptModule):
                buffer = io.BytesIO()
                torch.jit.save(obj, buffer)  # type: ignore[no-untyped-call]
                return _load_script, (buffer.getvalue(),)
            return super().reducer_override(obj)

    out = io.BytesIO()
    Pickler(out, protocol=5).dump(model)
    return out.getvalue()


def _unpack(data: bytes, device: torch.device) -> nn.Module:
    model: nn.Module = pickle.loads(data)  # noqa: S301 - our own bytes, from _pack in the driver
    return model.to(device)


class ShardWorker:
    """One actor of the pool: builds the models once, then audits one shard per call."""

    def __init__(self, job: AuditJob, models: dict[str, bytes], source: Any, store: shards.Store,
                 threads: int, gpu: bool) -> None:
        import ray

        torch.set_num_threads(max(1, threads))  # Ray sets OMP_NUM_THREADS=1 unless told otherwise
        device = torch.device("cuda") if gpu and torch.cuda.is_available() else torch.device("cpu")
        self.job = dataclasses.replace(job, models={name: _unpack(m, device) for name, m in models.items()})
        # a folder's shard is decoded by as many threads as the actor has CPUs
        self.source = dataclasses.replace(source, decoders=threads) if hasattr(source, "decoders") else source
        self.store = store
        self.node = ray.get_runtime_context().get_node_id()

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        done = []
        for row in batch.itertuples(index=False):
            k, start, stop, digest = int(row.k), int(row.start), int(row.stop), str(row.digest)
            began, cpu = time.perf_counter(), time.process_time()
            # Checked again here: a task that Ray retries after a worker died finds its parts.
            todo = [name for name in self.job.models if not self.store.finished(k, name, digest)]
            problems: list[str] = []
            count = 0
            if todo:
                tables, count = audit_shard(self.job, self.source.batches(start, stop, self.job.batch_size, problems),
                                            todo)
                cost = {"seconds": time.perf_counter() - began, "cpu_seconds": time.process_time() - cpu}
                for name, rows in tables.items():
                    self.store.write(k, name, digest, rows, node=self.node, **cost)
            done.append({"k": k, "listed": stop - start, "read": count, "node": self.node, "pid": os.getpid(),
                         "seconds": time.perf_counter() - began, "problems": json.dumps(problems)})
        return pd.DataFrame(done)


def _connect(address: str | None) -> None:
    import ray

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING,
                 log_to_driver=False)
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)  # "Progress bars disabled"


# Ray Data settings for the audit's pipeline, restored after it: our own bar counts images, and
# the pool starts all its actors before the first shard goes out (else the first actor up takes
# every shard of a small run, and a second node gets nothing).
_SETTINGS = {"enable_progress_bars": False, "print_on_execution_start": False, "enable_auto_log_stats": False,
             "wait_for_min_actors_s": 900}


@contextlib.contextmanager
def _data_settings() -> Iterator[None]:
    import ray.data

    context = ray.data.DataContext.get_current()
    before = {key: getattr(context, key) for key in _SETTINGS}
    for key, value in _SETTINGS.items():
        setattr(context, key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            setattr(context, key, value)


def _check_options(workers: int | None, worker_resources: Mapping[str, float] | None) -> None:
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    for key, value in (worker_resources or {}).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"worker_resources[{key!r}] must be a number >= 0, got {value!r}")


def _resources(worker_resources: Mapping[str, float] | None, workers: int | None,
               shard_count: int) -> tuple[int, dict[str, float]]:
    """(pool size, each actor's resources). Defaults: on a cluster with GPUs, one GPU per actor
    and the CPUs that go with it on the GPU nodes (the fewest CPUs per GPU of any such node: they
    decode the photos); else one CPU per actor. Keys of ``worker_resources`` override those
    (``{"GPU": 0}``: CPU actors on a GPU cluster). ``workers`` defaults to as many actors as the
    nodes hold, never more than shards."""
    import ray

    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    gpu_nodes = [n for n in nodes if n.get("GPU", 0) >= 1]
    given = dict(worker_resources or {})
    if gpu_nodes and given.get("GPU", 1) > 0:
        defaults = {"CPU": float(max(1, min(int(n.get("CPU", 0) // n["GPU"]) for n in gpu_nodes))), "GPU": 1.0}
    else:
        defaults = {"CPU": 1.0}
    resources = {**defaults, **{key: float(value) for key, value in given.items()}}
    resources = {key: value for key, value in resources.items() if value > 0 or key == "CPU"}
    needed = {key: value for key, value in resources.items() if value > 0}
    fits = sum(int(min(n.get(key, 0.0) // value for key, value in needed.items())) for n in nodes) \
        if needed else len(nodes)
    if workers is None:
        workers = max(1, fits)
    elif min(workers, shard_count) > fits:
        warnings.warn(f"{min(workers, shard_count)} Ray workers of {resources} do not fit on the cluster's nodes now "
                      f"({fits} do): the audit waits up to {_SETTINGS['wait_for_min_actors_s']} s for an autoscaler "
                      "to add nodes, then fails", RuntimeWarning, stacklevel=4)
    return min(workers, shard_count), resources


def finished_parts(store: shards.Store, plan: list[shards.ManifestShard]) -> list[tuple[int, str]]:
    """The (shard, model) parts of ``plan`` that are finished (the resume rule)."""
    return [(shard.k, name) for shard in plan for name in store.hashes if store.finished(shard.k, name, shard.digest)]


def run_ray(job: AuditJob, dataset: Any, store: shards.Store | None, done: list[tuple[int, str]], *,
            shard_size: int, address: str | None, workers: int | None,
            worker_resources: Mapping[str, float] | None, progress: bool) -> None:
    """Audit the shards whose parts are not finished on a Ray actor pool; appends every finished
    (shard, model) of the manifest to ``done`` (also when a shard fails)."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise ValueError("engine='ray' needs Ray: pip install 'saliency-lab[ray]'") from None
    if store is None:
        raise ValueError("engine='ray' saves each shard as a part beside out: pass out (.parquet, .pq or .csv) "
                         "on storage that every node reaches")
    _check_options(workers, worker_resources)
    manifest = shards.list_dataset(dataset, job.image_size)
    if manifest is None:
        raise ValueError("engine='ray' reads a data folder or an ImageSet (each worker decodes only its shard); "
                         "audit other datasets with engine='local'")
    if not len(manifest):
        raise ValueError(f"no images found in {manifest.where}")
    plan = manifest.shards(shard_size)
    names = list(job.models)
    todo = [shard for shard in plan if not all(store.finished(shard.k, name, shard.digest) for name in names)]
    problems = list(manifest.problems)
    seen = sum(len(shard) for shard in plan) - sum(len(shard) for shard in todo)  # images found
    try:
        if todo:
            _connect(address)
            pool, resources = _resources(worker_resources, workers, len(todo))
            cpus, gpus = resources.pop("CPU", 0.0), resources.pop("GPU", 0.0)
            with _data_settings():
                seen += _run_pool(ray, job, manifest, store, todo, pool, cpus, gpus, resources, progress, problems)
        if not seen:
            raise ValueError(f"no images found in {manifest.where}")
    finally:
        done.extend(finished_parts(store, plan))
        shards.warn_skipped(problems, manifest.where)
    missing = len(plan) * len(names) - len(done)
    if missing:
        raise RuntimeError(f"the Ray audit ended with {missing} part(s) unfinished; run it again to compute them")


def _run_pool(ray: Any, job: AuditJob, manifest: shards.Manifest, store: shards.Store,
              todo: list[shards.ManifestShard], pool: int, cpus: float, gpus: float, resources: dict[str, float],
              progress: bool, problems: list[str]) -> int:
    """One row per shard through ``map_batches`` on a fixed pool of ``pool`` actors; returns the
    number of images read (the files it could not read are added to ``problems``)."""
    rows = ray.data.from_items([{"k": s.k, "start": s.start, "stop": s.stop, "digest": s.digest} for s in todo],
                               override_num_blocks=len(todo))
    # At most two shards queued per actor: the next one is there when the last ends, and the tail
    # stays balanced (a shard is seconds of work).
    strategy = ray.data.ActorPoolStrategy(size=pool, max_tasks_in_flight_per_actor=2)
    results = rows.map_batches(
        ShardWorker, batch_size=1, batch_format="pandas",
        fn_constructor_kwargs={"job": dataclasses.replace(job, models={}),
                               "models": {name: _pack(m) for name, m in job.models.items()},
                               "source": manifest.source, "store": store,
                               "threads": max(1, int(cpus)), "gpu": gpus > 0},
        compute=strategy, num_cpus=cpus, num_gpus=gpus, **({"resources": resources} if resources else {}))
    read = 0
    try:
        with tqdm(total=sum(len(s) for s in todo), disable=not progress, desc="audit (ray)", unit="img") as bar:
            for row in results.iter_rows():
                read += int(row["read"])
                problems += json.loads(row["problems"])
                bar.update(int(row["listed"]))
    except BaseException as error:
        # The error's traceback runs through Ray Data's executor, which holds the actor pool: the
        # actors (and their CPUs and GPUs) would stay until a garbage collection. Let them go now;
        # a worker's error carries its own traceback in its message.
        link: BaseException | None = error
        seen: set[int] = set()
        while link is not None and id(link) not in seen:
            seen.add(id(link))
            link.__traceback__ = None
            link = link.__cause__ or link.__context__
        del rows, results
        gc.collect()
        raise
    return read
