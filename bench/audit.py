"""Benchmark: the dataset audit's throughput, from a folder of photos to the table, ratios in one run.

Run: nice .venv/bin/python bench/audit.py [--images 2000] [--size 128] [--model normal] [--no-cluster]

Every variant does the same work per image: read and resize the file, the prediction and its
confidence, the squared gradient of the predicted logit (max over channels), and the share of the
top 0.5% salient pixels inside a fixed box:

  (a) captum loop   a plain per-image loop as a user would write it today: PIL (resized as the
                    library does, so the pixels match), Captum's Saliency, numpy for the top-0.5%
                    share (1 thread);
  (b) local engine  saliency_core.audit.run(engine="local") (1 thread);
  (c) ray           saliency_core.audit.run(engine="ray") on a local Ray instance with 2 CPUs, with
                    1 and 2 workers (1 CPU, 1 thread each); the Ray start-up is timed apart;
  (d) ray, 2 nodes  a two-node cluster on localhost (ray.cluster_utils.Cluster, 1 CPU per node).

Images per second are wall-clock over the whole audit (actor start-up included). Per core divides
by the cores the variant uses. The Ray overhead is (ray 1 worker time / local time - 1), and
apart: the fixed part (wall time - the shards' own seconds, from the parts' metadata: actor
start-up, scheduling) and the steady one (the shards' seconds in the worker / in this process).
The scaling efficiency is ips(2 workers) / (2 x ips(1 worker)). Every engine's table is checked against
the local one (equal row for row); the Captum loop's predictions and shares against it too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import ray  # also puts the psutil it ships on the path
import torch
from PIL import Image

from saliency_core import zoo
from saliency_core.audit import run, shards
from saliency_core.data.frame import frame_array
from saliency_core.kernels import top_k

BOX = (0, 0, 32, 32)  # x0, y0, x1, y1 (x1/y1 exclusive) in the model frame
PERCENT = 0.5


def make_folder(root: Path, count: int, photo: tuple[int, int] = (160, 140), suffix: str = "png",
                seed: int = 0) -> Path:
    """``count`` photos of ``photo`` = (width, height) pixels: blobs on noise, neither trivial to
    compress nor to classify; JPEGs at quality 90."""
    rng = np.random.default_rng(seed)
    width, height = photo
    yy, xx = np.mgrid[0:height, 0:width]
    for i in range(count):
        folder = root / ("cat" if i % 2 == 0 else "dog")
        folder.mkdir(parents=True, exist_ok=True)
        image = rng.integers(0, 80, (height, width, 3)).astype(np.float32)
        for _ in range(3):
            cx, cy, r = rng.integers(0, width), rng.integers(0, height), rng.integers(height // 14, height // 3.5)
            image[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] += rng.integers(40, 170, 3)
        picture = Image.fromarray(image.clip(0, 255).astype(np.uint8))
        picture.save(folder / f"{i:06d}.{suffix}", **({"quality": 90} if suffix == "jpg" else {}))
    return root


def load_model(name: str) -> torch.nn.Module:
    if name == "efficientnet-lite0":  # ImageNet weights, 1000 classes: the 224² audit of the estimate
        from saliency_core.zoo.efficientnet import imagenet_model

        return imagenet_model().eval()
    return zoo.load(name).eval()


def captum_loop(model: torch.nn.Module, root: Path, size: int) -> pd.DataFrame:
    """The anchor: what a user writes today, one image at a time."""
    from captum.attr import Saliency

    saliency = Saliency(model)
    x0, y0, x1, y1 = BOX
    k = top_k(PERCENT, size * size)
    rows = []
    for cls, label in (("cat", 0), ("dog", 1)):
        for path in sorted((root / cls).iterdir()):
            with Image.open(path) as image:  # the library's resize + centre crop: the same pixels
                array = frame_array(image.convert("RGB"), size).astype(np.float32) / 255
            x = torch.from_numpy(array).permute(2, 0, 1)[None].contiguous().to(next(model.parameters()).device)
            with torch.no_grad():
                probabilities = model(x).softmax(1)[0]
            prediction = int(probabilities.argmax())
            grad = saliency.attribute(x.requires_grad_(), target=prediction, abs=False)
            heat = (grad[0] ** 2).amax(0).detach().cpu().numpy()
            flat = heat.ravel()
            top = np.argpartition(flat, -k)[-k:]
            ys, xs = np.divmod(top, size)
            inside = ((xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)).sum()
            rows.append({"id": f"{cls}/{path.name}", "truth": label, "prediction": prediction,
                         "confidence": float(probabilities[prediction]), "share": inside / k})
    return pd.DataFrame(rows)


def shard_seconds(out: Path, key: str = "seconds") -> float:
    """The shards' own wall (or CPU) time in their process, summed over the parts (one per shard
    here: one model)."""
    return sum(shards.part_metadata(p)[key] for p in shards.store_dir(out).glob("part-*"))


CPU: dict[str, float] = {}  # variant -> CPU seconds of the work (this process, or the Ray workers' shards)


def timed(fn: Any, name: str | None = None) -> tuple[float, Any]:
    start, cpu = time.perf_counter(), time.process_time()
    result = fn()
    if name is not None:
        CPU[name] = time.process_time() - cpu
    return time.perf_counter() - start, result


def audit(model: torch.nn.Module, root: Path, out: Path, size: int, **options: Any) -> pd.DataFrame:
    return run({"m": model}, ["gradient_squared"], root, BOX, image_size=size, out=out, progress=False,
               batch_size=32, percent=PERCENT, **options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--model", default="normal",
                        help="a zoo model (normal: DemoCNN, 0.3 M parameters) or efficientnet-lite0 "
                             "(ImageNet, 4.7 M parameters)")
    parser.add_argument("--photo", default="160x140", help="the photos' WIDTHxHEIGHT")
    parser.add_argument("--device", default="cpu",
                        help="where (a) and (b) run the model, e.g. cuda: a GPU's per-image cost for docs/SCALING.md")
    parser.add_argument("--format", choices=("png", "jpg"), default="png")
    parser.add_argument("--variants", default="decode,captum,local,ray,cluster",
                        help="which rows, of decode,captum,local,ray,cluster (local always runs: the reference)")
    parser.add_argument("--shard-size", type=int, default=256)
    parser.add_argument("--captum-images", type=int, default=None,
                        help="images for the Captum loop (default: all; it is the slowest row)")
    parser.add_argument("--no-cluster", action="store_true", help="skip the two-node cluster row")
    args = parser.parse_args()
    variants = set(args.variants.split(",")) - ({"cluster"} if args.no_cluster else set())
    photo = tuple(int(v) for v in args.photo.split("x"))

    torch.set_num_threads(1)
    model = load_model(args.model).to(args.device)
    work = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    try:
        began = time.perf_counter()
        root = make_folder(work / "photos", args.images, photo, args.format)  # type: ignore[arg-type]
        print(f"{args.images} {args.format.upper()}s of {args.photo} written in {time.perf_counter() - began:.1f} s; "
              f"{args.size}² frames, model {args.model}, shard {args.shard_size}, "
              f"load {os.getloadavg()[0]:.1f}", flush=True)
        rows: list[tuple[str, int, float, int]] = []  # name, images, seconds, cores
        inside: dict[str, float] = {}  # variant -> the shards' own seconds (from the parts)

        decode_ms = float("nan")
        if "decode" in variants:  # reading and resizing alone, 1 thread: what a GPU's actor must feed
            manifest = shards.list_folder(root, args.size)
            seconds, _ = timed(lambda: sum(len(b) for b in manifest.source.batches(0, len(manifest), 32, [])))
            decode_ms = 1000 * seconds / len(manifest)
            print(f"decode + resize alone: {decode_ms:.2f} ms per image (1 thread)", flush=True)

        anchor = None
        if "captum" in variants:
            subset = root
            if args.captum_images and args.captum_images < args.images:
                subset = make_folder(work / "subset", args.captum_images, photo, args.format)  # type: ignore[arg-type]
            seconds, anchor = timed(lambda: captum_loop(model, subset, args.size), "(a) captum loop, 1 thread")
            rows.append(("(a) captum loop, 1 thread", len(anchor), seconds, 1))
            print(rows[-1], flush=True)

        seconds, local = timed(lambda: audit(model, root, work / "local.parquet", args.size,
                                             shard_size=args.shard_size), "(b) local engine, 1 thread")
        rows.append(("(b) local engine, 1 thread", len(local), seconds, 1))
        inside["(b) local engine, 1 thread"] = shard_seconds(work / "local.parquet")
        print(rows[-1], flush=True)

        start_s = cluster_start = float("nan")
        if "ray" in variants:
            start_s, _ = timed(lambda: ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False))
            for workers in (1, 2):
                name = f"(c) ray, {workers} worker(s)"
                out = work / f"ray{workers}.parquet"
                seconds, table = timed(lambda: audit(model, root, out, args.size, engine="ray",  # noqa: B023
                                                     workers=workers, shard_size=args.shard_size), name)
                pd.testing.assert_frame_equal(table, local)
                rows.append((name, len(table), seconds, workers))
                inside[name] = shard_seconds(out)
                CPU[name] = shard_seconds(out, "cpu_seconds")
                print(rows[-1], flush=True)
            ray.shutdown()
        if "cluster" in variants:
            from ray.cluster_utils import Cluster

            began = time.perf_counter()
            cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
            try:
                cluster.add_node(num_cpus=1)
                ray.init(address=cluster.address, log_to_driver=False)
                cluster.wait_for_nodes()
                cluster_start = time.perf_counter() - began
                name, out = "(d) ray, 2 nodes x 1 worker", work / "cluster.parquet"
                seconds, table = timed(lambda: audit(model, root, out, args.size, engine="ray", workers=2,
                                                     shard_size=args.shard_size), name)
                pd.testing.assert_frame_equal(table, local)
                rows.append((name, len(table), seconds, 2))
                inside[name] = shard_seconds(out)
                CPU[name] = shard_seconds(out, "cpu_seconds")
                print(rows[-1], flush=True)
            finally:
                ray.shutdown()
                cluster.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(rows, inside, anchor, local, args.shard_size, start_s, cluster_start)
    if decode_ms == decode_ms:
        print(f"decode + resize alone: {decode_ms:.2f} ms per image, 1 thread")


def report(rows: list[tuple[str, int, float, int]], inside: dict[str, float], anchor: pd.DataFrame | None,
           local: pd.DataFrame, shard_size: int, start_s: float, cluster_start: float) -> None:
    ips = {name: count / seconds for name, count, seconds, _ in rows}
    base = ips.get("(a) captum loop, 1 thread", float("nan"))
    per_cpu = {name: count / CPU[name] for name, count, _, _ in rows if CPU.get(name)}
    print(f"\n| variant | images | seconds | img/s | img/s per core | vs Captum loop per core | CPU s | "
          f"img per CPU s | vs Captum loop | shards' wall s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    base_cpu = per_cpu.get("(a) captum loop, 1 thread", float("nan"))
    for name, count, seconds, cores in rows:
        own = inside.get(name)
        print(f"| {name} | {count} | {seconds:.1f} | {ips[name]:.1f} | {ips[name] / cores:.1f} | "
              f"{ips[name] / cores / base:.2f}x | {CPU.get(name, float('nan')):.1f} | "
              f"{per_cpu.get(name, float('nan')):.1f} | {per_cpu.get(name, float('nan')) / base_cpu:.2f}x | "
              f"{'' if own is None else f'{own:.1f}'} |")
    print(f"(load average at the end: {os.getloadavg()[0]:.1f}. CPU s: of this process for (a) and (b); of the "
          "workers' shards for Ray (from the parts: start-up, Ray's daemons and the driver not included)")
    local_name, ray1, ray2, nodes = ("(b) local engine, 1 thread", "(c) ray, 1 worker(s)", "(c) ray, 2 worker(s)",
                                     "(d) ray, 2 nodes x 1 worker")
    seconds = {name: s for name, _, s, _ in rows}
    count = rows[[r[0] for r in rows].index(local_name)][1]
    print(f"\nper-image cost, local engine, 1 core: {1000 * seconds[local_name] / count:.2f} ms; "
          f"a shard of {shard_size} images: {inside[local_name] / -(-count // shard_size):.2f} s")
    print(f"local engine vs Captum loop, per core: {ips[local_name] / base:.2f}x by wall clock, "
          f"{per_cpu[local_name] / base_cpu:.2f}x by CPU time (goal >= 3x)")
    if ray1 in seconds:
        print(f"Ray start-up (ray.init, 2 CPUs): {start_s:.1f} s, not in the rows")
        print(f"the shards' CPU time in a Ray worker vs here: {100 * (CPU[ray1] / CPU[local_name] - 1):+.1f}%")
        print(f"Ray overhead at 1 worker: {100 * (seconds[ray1] / seconds[local_name] - 1):+.1f}% (goal <= 15%): "
              f"fixed {seconds[ray1] - inside[ray1]:.1f} s (actor start-up, scheduling), steady "
              f"{100 * (inside[ray1] / inside[local_name] - 1):+.1f}% (the shards' seconds in the worker vs here)")
        print(f"scaling efficiency, 2 workers / 1: {ips[ray2] / (2 * ips[ray1]):.2f}; the shards' own seconds "
              f"{inside[ray2]:.1f} vs {inside[ray1]:.1f} (the same work: more means the cores were not there)")
    if nodes in seconds:
        print(f"two-node cluster up in {cluster_start:.1f} s (not in the rows)")
        if ray1 in seconds:
            print(f"scaling efficiency, 2 nodes / 1 worker: {ips[nodes] / (2 * ips[ray1]):.2f}")
    if anchor is not None:
        reference = local.set_index("id").loc[anchor["id"]]
        agree = float((reference["prediction"].to_numpy() == anchor["prediction"].to_numpy()).mean())
        gap = np.abs(reference["share"].to_numpy() - anchor["share"].to_numpy())
        print(f"Captum loop vs the local table: predictions agree on {100 * agree:.1f}%, shares on "
              f"{100 * float((gap < 1e-6).mean()):.1f}% (largest gap {float(gap.max()):.3f}: ties at the threshold)")


if __name__ == "__main__":
    main()
