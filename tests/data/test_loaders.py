"""Loaders for the three layouts on tiny generated images; corrupt files skipped with one warning."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from saliency_core.data import data_dir, load_any, load_folder, load_manifest, load_oxford_pet, to_model_frame
from saliency_core.data.loaders import pet_species


def _save(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


def _corrupt(path: Path) -> None:
    path.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")


def test_to_model_frame_resizes_the_shorter_side_and_centre_crops() -> None:
    # 60x30 (w x h): left third red, middle green, right third blue; after resize (256x128) and
    # centre crop, only the middle half (green) plus edges of red/blue remain.
    array = np.zeros((30, 60, 3), np.uint8)
    array[:, :20] = (255, 0, 0)
    array[:, 20:40] = (0, 255, 0)
    array[:, 40:] = (0, 0, 255)
    frame = to_model_frame(Image.fromarray(array))
    assert frame.shape == (3, 128, 128) and frame.dtype == torch.float32
    assert 0 <= float(frame.min()) and float(frame.max()) <= 1
    assert torch.allclose(frame[:, 64, 64], torch.tensor([0.0, 1.0, 0.0]))
    assert frame[0, 64, 2] > 0.9 and frame[2, 64, 125] > 0.9  # red left edge, blue right edge


def test_to_model_frame_applies_exif_orientation() -> None:
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 20, 20))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    image.info["exif"] = exif.tobytes()
    image = Image.open(_roundtrip(image, exif))
    frame = to_model_frame(image)
    # After the rotation the blue half is on top.
    assert frame[2, 10, 64] > 0.9 and frame[0, 118, 64] > 0.9


def _roundtrip(image: Image.Image, exif: Image.Exif) -> "object":
    import io

    buf = io.BytesIO()
    image.save(buf, format="JPEG", exif=exif, quality=95)
    buf.seek(0)
    return buf


def test_folder_layout(tmp_path: Path) -> None:
    for i in range(3):
        _save(tmp_path / "cat" / f"c{i}.png", (200, 10, 10))
        _save(tmp_path / "dog" / f"d{i}.jpg", (10, 10, 200))
    (tmp_path / "dog" / "notes.txt").write_text("ignored")
    images = load_folder(tmp_path)
    assert images.classes == ("cat", "dog")
    assert images.frames.shape == (6, 3, 128, 128) and images.frames.dtype == torch.uint8
    assert images.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert images.images([0]).shape == (1, 3, 128, 128)
    assert float(images.images([0])[0, 0].mean()) > 0.7  # red cat


def test_manifest_layout(tmp_path: Path) -> None:
    rows = []
    for i, species in enumerate(["cat", "dog", "cat"]):
        _save(tmp_path / species / f"{species}.{i}.jpg", (100, 100, 100))
        rows.append({"file": f"{species}/{species}.{i}.jpg", "species": species, "breed": "", "width": 40,
                     "height": 30, "split": "train" if i else "test", "sha256": "", "source_path": ""})
    with (tmp_path / "MANIFEST.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    images = load_any(tmp_path)
    assert images.labels.tolist() == [0, 1, 0]
    assert images.splits == ("test", "train", "train")
    assert images.files[1] == "dog/dog.1.jpg"


def test_manifest_rejects_unknown_species(tmp_path: Path) -> None:
    (tmp_path / "MANIFEST.csv").write_text("file,species\nx.jpg,hamster\n")
    with pytest.raises(ValueError, match="hamster"):
        load_manifest(tmp_path / "MANIFEST.csv")


def test_oxford_pet_layout_with_trimaps(tmp_path: Path) -> None:
    _save(tmp_path / "images" / "Bengal_1.jpg", (150, 100, 50), (64, 64))
    _save(tmp_path / "images" / "beagle_2.jpg", (50, 100, 150), (64, 64))
    trimap = np.full((64, 64), 2, np.uint8)  # background
    trimap[16:48, 16:48] = 1  # animal
    (tmp_path / "annotations" / "trimaps").mkdir(parents=True)
    Image.fromarray(trimap).save(tmp_path / "annotations" / "trimaps" / "Bengal_1.png")
    images = load_oxford_pet(tmp_path)
    assert images.files == ("images/Bengal_1.jpg", "images/beagle_2.jpg")  # sorted by name
    assert images.labels.tolist() == [0, 1]  # Capitalised breed = cat
    assert images.masks is not None and images.masks.shape == (2, 128, 128)
    bengal = images.masks[0]
    assert bengal[64, 64] and not bengal[2, 2] and abs(int(bengal.sum()) - 64 * 64) < 300
    assert images.masks[1].all()  # no trimap: whole frame
    assert pet_species("Abyssinian_3.jpg") == "cat" and pet_species("pug_1.jpg") == "dog"


def test_corrupt_files_are_skipped_with_one_counting_warning(tmp_path: Path) -> None:
    _save(tmp_path / "cat" / "ok.png", (1, 2, 3))
    _save(tmp_path / "dog" / "ok.png", (3, 2, 1))
    _corrupt(tmp_path / "cat" / "broken.jpg")
    _corrupt(tmp_path / "dog" / "broken.jpg")
    (tmp_path / "dog" / "empty.png").write_bytes(b"")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images = load_folder(tmp_path)
    assert len(images) == 2 and images.files == ("cat/ok.png", "dog/ok.png")
    messages = [str(w.message) for w in caught if "skipped" in str(w.message)]
    assert len(messages) == 1 and "skipped 3 " in messages[0]
    assert set(images.skipped) == {"cat/broken.jpg", "dog/broken.jpg", "dog/empty.png"}  # named, for UIs


def test_data_dir_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert data_dir(tmp_path) == tmp_path
    monkeypatch.setenv("SALIENCY_DATA", str(tmp_path))
    assert data_dir() == tmp_path
    monkeypatch.setenv("SALIENCY_DATA", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="saliency-lab data fetch"):
        data_dir()


def test_folder_without_classes_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="class subfolders"):
        load_folder(tmp_path)


def test_folder_loader_keeps_the_brightness_of_sixteen_bit_pngs(tmp_path: Path) -> None:
    for name in ("cat", "dog"):
        (tmp_path / name).mkdir()
        Image.fromarray(np.full((40, 40), 32768, np.uint16)).save(tmp_path / name / "grey16.png")
    images = load_folder(tmp_path)
    assert abs(float(images.images([0]).mean()) - 32768 / 65535) <= 1 / 255  # not white
