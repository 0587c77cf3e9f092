"""The shard layout both engines write: sorted manifest, shards, configuration hash, atomic parts,
the resume rule and reading exactly once. No Ray needed (the local engine writes the same parts)."""

from __future__ import annotations

import csv
import dataclasses
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image

from saliency_core.audit import read_table, run, shards
from saliency_core.data import load_any

from _audit_fixtures import CountingExplain, MeanColour, make_items


def _photos(root: Path, names: dict[str, int], size: tuple[int, int] = (14, 12)) -> Path:
    rng = np.random.default_rng(0)
    for rel, _ in names.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return root


def _class_folder(root: Path, per_class: int = 5) -> Path:
    return _photos(root, {f"{c}/{i:02d}.png": 0 for c in ("dog", "cat") for i in range(per_class)})


def _layouts(tmp_path: Path) -> list[Path]:
    folders = _class_folder(tmp_path / "classes")
    (folders / "dog" / "broken.png").write_bytes(b"not a png")
    pets = _photos(tmp_path / "pets", {"images/Bengal_2.jpg": 0, "images/beagle_1.jpg": 1, "images/Bengal_10.jpg": 0})
    (pets / "images" / "1.jpg").write_bytes((pets / "images" / "beagle_1.jpg").read_bytes())  # no species
    listed = _photos(tmp_path / "manifest", {"b/z.png": 1, "a/y.png": 0, "a/x.png": 0})
    with open(listed / "MANIFEST.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "species", "split"])
        writer.writerows([["b/z.png", "dog", "test"], ["a/y.png", "cat", "train"], ["a/x.png", "cat", "test"]])
    return [folders, pets, listed]


def test_a_folder_is_listed_sorted_without_decoding_and_its_shards_decode_as_load_any(tmp_path: Path) -> None:
    for root in _layouts(tmp_path):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the files it skips are compared below
            reference = load_any(root, 8)
        manifest = shards.list_folder(root, 8)
        assert list(manifest.ids) == sorted(manifest.ids)
        expected = dict(zip(reference.files, reference.labels.tolist()))
        problems: list[str] = []
        batches = [b for shard in manifest.shards(2) for b in shard.batches(1, problems)]
        decoded = {b.ids[0]: b for b in batches}
        assert decoded.keys() == expected.keys()
        for i, name in enumerate(reference.files):
            assert int(decoded[name].labels[0]) == expected[name]
            assert torch.equal(decoded[name].images[0], reference.images([i])[0])
            if any(reference.splits):
                assert decoded[name].extras["split"] == [reference.splits[i]]
        assert set(problems) | set(manifest.problems) == set(reference.problems)


def test_shards_are_consecutive_runs_of_the_sorted_manifest(tmp_path: Path) -> None:
    manifest = shards.list_folder(_class_folder(tmp_path, 5), 8)
    cut = manifest.shards(4)
    assert [(s.k, s.start, s.stop) for s in cut] == [(0, 0, 4), (1, 4, 8), (2, 8, 10)]
    assert manifest.ids[:5] == tuple(f"cat/{i:02d}.png" for i in range(5))
    assert len({s.digest for s in cut}) == 3


def test_a_stream_is_cut_in_arrival_order_across_batches() -> None:
    cut = []
    for shard in shards.stream_shards(make_items(10, batch=3), 4, 3, 8):
        cut.append([b.ids for b in shard.batches(3, [])])
    assert [sum(ids, []) for ids in cut] == [["000", "001", "002", "003"], ["004", "005", "006", "007"],
                                             ["008", "009"]]
    assert cut[0] == [["000", "001", "002"], ["003"]]  # a batch split at the shard boundary


def test_an_image_listed_twice_is_refused(tmp_path: Path) -> None:
    items = make_items(4)
    items[0]["ids"][1] = "000"
    with pytest.raises(ValueError, match="lists image 000 more than once"):
        run([MeanColour()], ["m"], items, progress=False, explain=CountingExplain())


def test_the_configuration_hash_covers_what_the_rows_depend_on() -> None:
    model = MeanColour()
    base = {"percent": 0.5, "peak_percent": 1.0, "image_size": 8, "region": None, "transforms": {}, "explain": "e"}

    def h(models: dict[str, torch.nn.Module] | None = None, methods: tuple[str, ...] = ("m",), **changes: object) -> str:
        return shards.config_hashes(models or {"a": model}, methods, **{**base, **changes})["a"][0]  # type: ignore[arg-type]

    reference = h()
    assert h() == reference  # deterministic
    linear = torch.nn.Linear(2, 2)
    changed = [h(methods=("m", "n")), h(percent=1.0), h(peak_percent=2.0), h(image_size=16), h(explain="f"),
               h(region=torch.tensor([0.0, 0, 4, 4])), h(transforms={"grey": lambda x: x}),
               h(models={"a": linear})]
    with torch.no_grad():
        before = h(models={"a": linear})
        linear.weight[0, 0] += 1e-6
        changed.append(h(models={"a": linear}))
        assert changed[-1] != before
    linear.train(False)
    assert h(models={"a": linear}) != changed[-1]  # train/eval mode
    assert reference not in changed and len(set(changed)) == len(changed)


def test_a_rerun_computes_nothing_even_with_another_batch_size(tmp_path: Path) -> None:
    out = tmp_path / "audit.parquet"
    explain = CountingExplain()
    first = run({"a": MeanColour()}, ["m1", "m2"], make_items(10), out=out, progress=False, explain=explain,
                shard_size=4, batch_size=4)
    calls = explain.calls
    again = run({"a": MeanColour()}, ["m1", "m2"], make_items(10, batch=3), out=out, progress=False, explain=explain,
                shard_size=4, batch_size=2)
    assert explain.calls == calls
    pd.testing.assert_frame_equal(first, again)
    names = sorted(p.name for p in shards.store_dir(out).iterdir())
    assert [n.rsplit("-", 1)[0] for n in names if n.startswith("part-")] == ["part-00000", "part-00001", "part-00002"]
    assert len([n for n in names if n.startswith("config-")]) == 1


def test_a_changed_configuration_never_mixes_with_old_parts(tmp_path: Path) -> None:
    out = tmp_path / "audit.parquet"
    explain = CountingExplain()
    run({"a": MeanColour()}, ["m"], make_items(8), out=out, progress=False, explain=explain, shard_size=4)
    table = run({"a": MeanColour()}, ["m"], make_items(8), out=out, progress=False, explain=explain, shard_size=4,
                percent=5.0)
    assert explain.images == 16  # everything computed again
    assert len(table) == 8 and not table.duplicated(["id", "model", "method"]).any()
    assert len(list(shards.store_dir(out).glob("part-*"))) == 4  # the old parts stay, unread


def test_a_shard_whose_images_changed_is_computed_again(tmp_path: Path) -> None:
    out = tmp_path / "audit.csv"
    explain = CountingExplain()
    run({"a": MeanColour()}, ["m"], make_items(8), out=out, progress=False, explain=explain, shard_size=4)
    relabelled = make_items(8)
    relabelled[1]["labels"] = 1 - relabelled[1]["labels"]  # images 004-007: their shard's digest changes
    explain.images = 0
    table = run({"a": MeanColour()}, ["m"], relabelled, out=out, progress=False, explain=explain, shard_size=4)
    assert explain.images == 4
    assert table["truth"].tolist() == [0, 1, 0, 1, 1, 0, 1, 0]
    assert read_table(out)["truth"].tolist() == table["truth"].tolist()  # type: ignore[index]


def test_a_crashed_run_then_a_rerun_holds_every_row_exactly_once(tmp_path: Path) -> None:
    class Crashing(CountingExplain):
        crash = True

        def __call__(self, model: torch.nn.Module, images: torch.Tensor, method: str):  # type: ignore[no-untyped-def]
            if self.crash and self.calls == 5:
                raise RuntimeError("simulated crash")
            return super().__call__(model, images, method)

    out = tmp_path / "audit.parquet"
    explain = Crashing()
    models = {"a": MeanColour(), "b": MeanColour()}
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(models, ["m"], make_items(12), out=out, progress=False, explain=explain, shard_size=4, batch_size=4)
    partial = read_table(out)
    assert partial is not None and len(partial) == 2 * 4 * 2  # shards 0 and 1, both models
    explain.crash, explain.images = False, 0
    table = run(models, ["m"], make_items(12), out=out, progress=False, explain=explain, shard_size=4, batch_size=4)
    assert explain.images == 4 * 2  # only shard 2, for both models
    clean = run(models, ["m"], make_items(12), progress=False, explain=CountingExplain(), shard_size=4, batch_size=4)
    assert not table.duplicated(["id", "model", "method"]).any() and len(table) == 24
    pd.testing.assert_frame_equal(table, clean, check_dtype=False)


def test_a_part_is_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "audit.parquet"
    explain = CountingExplain()
    run({"a": MeanColour()}, ["m"], make_items(4), out=out, progress=False, explain=explain, shard_size=4)
    part = next(shards.store_dir(out).glob("part-*"))
    before = part.read_bytes()

    def broken(table: object, where: object, **kwargs: object) -> None:
        where.write(b"PAR1 half a file")  # type: ignore[attr-defined]
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        run({"a": MeanColour()}, ["m", "m2"], make_items(4), out=out, progress=False, explain=explain, shard_size=4)
    assert part.read_bytes() == before
    assert not [p for p in shards.store_dir(out).iterdir() if p.name.startswith(".")]  # no temporary file left
    assert len(list(shards.store_dir(out).glob("part-*"))) == 1


def test_an_unreadable_part_is_computed_again(tmp_path: Path) -> None:
    out = tmp_path / "audit.parquet"
    explain = CountingExplain()
    run({"a": MeanColour()}, ["m"], make_items(8), out=out, progress=False, explain=explain, shard_size=4)
    first = sorted(shards.store_dir(out).glob("part-*"))[0]
    first.write_bytes(b"garbage")
    explain.images = 0
    table = run({"a": MeanColour()}, ["m"], make_items(8), out=out, progress=False, explain=explain, shard_size=4)
    assert explain.images == 4 and len(table) == 8
    assert shards.part_metadata(first)["shard"] == 0


def test_a_folder_is_read_one_shard_at_a_time_and_skipped_files_warn_once(tmp_path: Path) -> None:
    root = _class_folder(tmp_path / "photos", 3)
    (root / "cat" / "bad.png").write_bytes(b"not a png")
    out = tmp_path / "audit.parquet"
    with pytest.warns(RuntimeWarning, match="skipped 1 unreadable image") as caught:
        table = run([MeanColour()], ["m"], root, image_size=8, out=out, progress=False, explain=CountingExplain(),
                    shard_size=2)
    assert len([w for w in caught if "unreadable" in str(w.message)]) == 1
    assert table["id"].tolist() == ["cat/00.png", "cat/01.png", "cat/02.png", "dog/00.png", "dog/01.png",
                                    "dog/02.png"]
    meta = [shards.part_metadata(p) for p in sorted(shards.store_dir(out).glob("part-*"))]
    assert [m["rows"] for m in meta] == [2, 1, 2, 1]  # shard 0 holds cat/00, cat/01; shard 1 bad.png, cat/02


def test_parts_read_as_one_table_even_when_a_shard_has_no_rows(tmp_path: Path) -> None:
    root = _class_folder(tmp_path / "photos", 2)
    for name in ("cat/00.png", "cat/01.png"):
        (root / name).write_bytes(b"broken")
    out = tmp_path / "audit.parquet"
    with pytest.warns(RuntimeWarning):
        table = run([MeanColour()], ["m"], root, image_size=8, out=out, progress=False, explain=CountingExplain(),
                    shard_size=2)
    assert table["id"].tolist() == ["dog/00.png", "dog/01.png"]
    assert table["share"].dtype == np.float32 and table["truth"].dtype == np.int64
    assert os.path.getsize(out) > 0


def test_decoding_threads_give_the_same_batches(tmp_path: Path) -> None:
    root = _class_folder(tmp_path / "photos", 7)
    (root / "cat" / "03.png").write_bytes(b"broken")
    manifest = shards.list_folder(root, 8)
    threaded = dataclasses.replace(manifest.source, decoders=3)
    one: list[str] = []
    many: list[str] = []
    single = list(manifest.source.batches(0, len(manifest), 2, one))
    parallel = list(threaded.batches(0, len(manifest), 2, many))
    assert [b.ids for b in single] == [b.ids for b in parallel] and one == many and len(one) == 1
    assert all(torch.equal(a.images, b.images) for a, b in zip(single, parallel))


def test_the_ray_engine_without_ray_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError, as when it is not installed
    with pytest.raises(ValueError, match=r"pip install 'saliency-lab\[ray\]'"):
        run([MeanColour()], ["m"], _class_folder(tmp_path / "photos", 1), out=tmp_path / "a.parquet",
            engine="ray", progress=False, explain=CountingExplain())
