"""The audit on Ray Data: the same table as the local engine, resumable exactly once, on one or two nodes.

Skipped only when ``ray`` is not installed (``pip install -e '.[test]'`` installs it; CI does).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from saliency_core.audit import read_table, run, shards
from saliency_core.zoo.architecture import DemoCNN

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'saliency-lab[ray]')")
# FailOnce below is defined here, and this module is not importable on the workers: send it by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

# Ray Data deep-copies its settings, which warns about its own deprecated ones.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray")

METHODS = ["gradient_squared", "vanilla_gradient"]
SIZE = 16


@pytest.fixture(scope="module")
def ray_local() -> Iterator[None]:
    """One local Ray instance with two CPUs for the module (local mode no longer exists)."""
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for name in ("cat", "dog"):
        (root / name).mkdir()
        for i in range(12):
            Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(root / name / f"{i:02d}.png")
    return root


def _models() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {"small": DemoCNN(width=4).eval(), "wide": DemoCNN(width=8).eval()}


def _audit(folder: Path, out: Path | None, **options: object) -> pd.DataFrame:
    return run(_models(), METHODS, folder, (0, 0, 8, 8), image_size=SIZE, out=out, progress=False, batch_size=4,
               shard_size=6, **options)  # type: ignore[arg-type]


class FailOnce:
    """``saliency_core.explain``, except that it raises on the image with this mean while ``flag`` exists."""

    def __init__(self, flag: Path, mean: float) -> None:
        self.flag, self.mean = flag, mean

    def __call__(self, model: torch.nn.Module, images: torch.Tensor, method: str):  # type: ignore[no-untyped-def]
        from saliency_core.methods import explain

        means = images.mean(dim=(1, 2, 3))
        if self.flag.exists() and bool(torch.isclose(means, torch.tensor(self.mean)).any()):
            raise RuntimeError("simulated worker crash")
        return explain(model, images, method)


def test_the_ray_table_equals_the_local_table_row_for_row(ray_local: None, folder: Path, tmp_path: Path) -> None:
    local = _audit(folder, tmp_path / "local.parquet")
    remote = _audit(folder, tmp_path / "ray.parquet", engine="ray", workers=2)
    assert len(remote) == 24 * 2 * 2
    pd.testing.assert_frame_equal(remote, local)
    saved = read_table(tmp_path / "ray.parquet")
    assert saved is not None
    pd.testing.assert_frame_equal(saved, local)
    # The same parts: a local rerun over the Ray parts computes nothing (and the other way round).
    names = {p.name for p in shards.store_dir(tmp_path / "ray.parquet").glob("part-*")}
    assert names == {p.name for p in shards.store_dir(tmp_path / "local.parquet").glob("part-*")}


def test_a_crash_on_one_shard_then_a_rerun_gives_every_row_exactly_once(
    ray_local: None, folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "audit.parquet"
    flag = tmp_path / "crash"
    flag.touch()
    target = shards.list_folder(folder, SIZE).ids[14]  # in shard 2 of 4
    mean = float(_frame(folder / target).mean())
    explain = FailOnce(flag, mean)
    with pytest.raises(Exception, match="simulated worker crash"):
        _audit(folder, out, engine="ray", workers=1, explain=explain)  # one actor: shards 0, 1 done, then 2 fails
    _cpus_come_back(2)  # the failed run's actors are gone, not held by the error
    store = shards.store_dir(out)
    before = {p.name: p.stat().st_mtime_ns for p in store.glob("part-*")}
    assert sorted(name[:10] for name in before) == ["part-00000"] * 2 + ["part-00001"] * 2
    assert not [name for name in before if name.startswith("part-00002")]  # the failed shard wrote nothing
    assert not [p for p in store.iterdir() if p.name.startswith(".")]  # nor a temporary file
    flag.unlink()
    table = _audit(folder, out, engine="ray", workers=1, explain=explain)
    after = {p.name: p.stat().st_mtime_ns for p in store.glob("part-*")}
    assert all(after[name] == mtime for name, mtime in before.items())  # finished shards were not redone
    assert len(after) == 4 * 2
    assert not table.duplicated(["id", "model", "method"]).any() and len(table) == 24 * 2 * 2
    local = _audit(folder, None, explain=explain)
    pd.testing.assert_frame_equal(table, local)


def _cpus_come_back(cpus: float, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while ray.available_resources().get("CPU", 0) < cpus:
        assert time.monotonic() < deadline, ray.available_resources()
        time.sleep(0.2)


def _frame(path: Path) -> torch.Tensor:
    from saliency_core.data.frame import frame_array
    from saliency_core.data.image_file import read_image

    return torch.from_numpy(frame_array(read_image(path), SIZE)).float() / 255


def test_ray_needs_out_and_a_listable_dataset(ray_local: None, folder: Path) -> None:
    with pytest.raises(ValueError, match="pass out"):
        _audit(folder, None, engine="ray")
    items = [{"images": torch.rand(2, 3, 8, 8), "labels": torch.tensor([0, 1])}]
    with pytest.raises(ValueError, match="engine='local'"):
        run(_models(), METHODS, items, out=Path("unused.parquet"), engine="ray", progress=False)
    with pytest.raises(ValueError, match="engine must be"):
        _audit(folder, None, engine="spark")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit is deprecated, still supported
def test_the_command_line_runs_a_torchscript_model_on_ray(
    ray_local: None, folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from saliency_core.cli import main

    model_path = tmp_path / "small.pt"
    torch.jit.trace(_models()["small"], torch.rand(1, 3, SIZE, SIZE)).save(str(model_path))
    common = ["audit", "--model", str(model_path), "--method", "gradient_squared", "--data", str(folder),
              "--size", str(SIZE), "--batch-size", "4", "--shard-size", "6", "--no-progress"]
    assert main([*common, "--engine", "ray", "--workers", "1", "--out", str(tmp_path / "ray.csv")]) == 0
    assert main([*common, "--out", str(tmp_path / "local.csv")]) == 0
    assert "24 rows" in capsys.readouterr().out
    pd.testing.assert_frame_equal(read_table(tmp_path / "ray.csv"), read_table(tmp_path / "local.csv"))


@pytest.mark.parametrize(
    ("given", "workers", "resources"),
    [(None, 8, {"CPU": 12.0, "GPU": 1.0}),  # one actor per GPU, with the GPU node's CPUs per GPU
     ({"CPU": 4}, 8, {"CPU": 4.0, "GPU": 1.0}),
     ({"GPU": 0}, 112, {"CPU": 1.0}),  # CPU actors on every CPU
     ({"GPU": 0.5, "CPU": 6}, 16, {"CPU": 6.0, "GPU": 0.5})],  # two actors per GPU
)
def test_worker_resources_default_to_one_gpu_each_with_its_cpus(
    monkeypatch: pytest.MonkeyPatch, given: dict[str, float] | None, workers: int, resources: dict[str, float]
) -> None:
    from saliency_core.audit import ray_engine

    nodes = [{"Alive": True, "Resources": {"CPU": 96.0, "GPU": 8.0}}, {"Alive": True, "Resources": {"CPU": 16.0}},
             {"Alive": False, "Resources": {"CPU": 64.0, "GPU": 8.0}}]
    monkeypatch.setattr(ray, "nodes", lambda: nodes)
    assert ray_engine._resources(given, None, 1000) == (workers, resources)
    assert ray_engine._resources(given, 3, 2) == (2, resources)  # never more actors than shards
    with pytest.warns(RuntimeWarning, match="do not fit"):
        ray_engine._resources(given, 500, 1000)


@pytest.mark.slow
def test_a_two_node_cluster_on_localhost_shares_the_work(folder: Path, tmp_path: Path) -> None:
    from ray.cluster_utils import Cluster

    ray.shutdown()  # this test brings its own cluster
    began = time.perf_counter()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        ray.init(address=cluster.address, log_to_driver=False)
        cluster.wait_for_nodes()
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        table = _audit(folder, tmp_path / "audit.parquet", engine="ray", workers=2)
        nodes = {shards.part_metadata(p)["node"] for p in shards.store_dir(tmp_path / "audit.parquet").glob("part-*")}
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert len(nodes) == 2, nodes  # one actor on each node (each has one CPU)
    local = _audit(folder, None)
    pd.testing.assert_frame_equal(table, local)
    assert time.perf_counter() - began < 120
