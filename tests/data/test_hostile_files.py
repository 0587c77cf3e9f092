"""Hostile and careless files on the library's surfaces: ``read_image``, the folder loaders and
the audit's dataset reader. No file hangs a reader (pipes, devices and sockets are never
opened), and every refusal is one line naming the file and the problem.

The corpus is generated at test time (``tests/hostile_corpus.py``); a regression that opens a
pipe blocks, so each test has a timeout and fails instead of hanging.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from hostile_corpus import Case, encode, frames_file, good_png, make_corpus, png_claiming
from PIL import Image

from saliency_core.audit.dataset import iter_batches
from saliency_core.data import load_any, load_folder, load_manifest, load_oxford_pet, to_model_frame
from saliency_core.data.files import check_regular_file, read_regular_file
from saliency_core.data.frame import MAX_ASPECT, MAX_FRAME, frame_array
from saliency_core.data.image_file import read_image

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def corpus(tmp_path: Path) -> list[Case]:
    return make_corpus(tmp_path / "bad")


def _one_line(text: str) -> bool:
    return "\n" not in text and "\r" not in text and "\x1b" not in text


# ------------------------------------------------------------------------------- read_image


def test_every_hostile_file_is_refused_by_read_image_naming_file_and_problem(corpus: list[Case]) -> None:
    for case in corpus:
        with pytest.raises(ValueError) as caught:
            read_image(case.path)
        message = str(caught.value)
        assert message.startswith(f"{case.shown}: ") and case.reason in message, message
        assert _one_line(message), message


@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero"])
def test_devices_are_refused_before_they_are_read(device: str) -> None:
    with pytest.raises(ValueError, match=r"not a regular file \(a character device\)"):
        read_image(device)


def test_a_missing_file_is_a_file_not_found_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing.png: no such file"):
        read_image(tmp_path / "nothing.png")
    (tmp_path / "dangling.png").symlink_to(tmp_path / "gone.png")
    with pytest.raises(FileNotFoundError, match="a link to nothing"):
        read_image(tmp_path / "dangling.png")


def test_a_readable_photo_with_a_newline_in_its_name_is_still_read(tmp_path: Path) -> None:
    path = good_png(tmp_path / "two\nlines.png")
    assert read_image(path).size == (40, 32)


def test_a_camera_mpo_is_read_as_its_primary_photo() -> None:
    # MPO JPEGs hold the photo plus previews/depth: frame 0 is the photo every viewer shows.
    primary, extra = Image.new("RGB", (16, 16), (255, 0, 0)), Image.new("RGB", (16, 16), (0, 0, 255))
    data = encode(primary, "MPO", save_all=True, append_images=[extra])
    assert np.asarray(read_image(data)).mean(axis=(0, 1))[0] > 240  # red, the first picture


def test_the_aspect_limit_is_inclusive() -> None:
    at_limit = encode(Image.new("RGB", (MAX_ASPECT * 3, 3)), "PNG")
    assert read_image(at_limit).size == (MAX_ASPECT * 3, 3)
    with pytest.raises(ValueError, match="is a strip"):
        read_image(encode(Image.new("RGB", (MAX_ASPECT * 3 + 1, 3)), "PNG"))


def test_file_reading_refuses_special_files_without_opening_them(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(ValueError, match=r"pipe: not a regular file \(a named pipe\)"):
        check_regular_file(tmp_path / "pipe")
    with pytest.raises(ValueError, match="is a directory, not a model file"):
        check_regular_file(tmp_path, what="model file")
    (tmp_path / "big.bin").write_bytes(b"x" * 2048)
    with pytest.raises(ValueError, match="larger than"):
        read_regular_file(tmp_path / "big.bin", limit=1024)
    assert check_regular_file(tmp_path / "big.bin") == tmp_path / "big.bin"


def test_a_file_swapped_for_a_pipe_after_the_check_is_still_refused_without_blocking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The check passes (as it would just before a swap); the open must not block on the pipe, and
    # the descriptor's own type must refuse it.
    import saliency_core.data.files as files

    os.mkfifo(tmp_path / "swapped.jpg")
    monkeypatch.setattr(files, "check_regular_file", lambda path, **_: Path(path))
    with pytest.raises(ValueError, match=r"swapped.jpg: not a regular file \(a named pipe\)"):
        read_regular_file(tmp_path / "swapped.jpg")


# ------------------------------------------------------------------------------- frames


def test_frames_are_bounded_before_anything_is_resized() -> None:
    strip = Image.new("RGB", (1, 200_000))  # resized first, this would be 128 x 25,600,000 (9.8 GB)
    with pytest.raises(ValueError, match="is a strip"):
        frame_array(strip)
    with pytest.raises(ValueError, match=f"from 1 to {MAX_FRAME}"):
        to_model_frame(Image.new("RGB", (8, 8)), 100_000)
    assert frame_array(Image.new("RGB", (8, 8)), MAX_FRAME).shape == (MAX_FRAME, MAX_FRAME, 3)


# ------------------------------------------------------------------------------- folder loaders


def _folder_with_corpus(root: Path) -> list[Case]:
    good_png(root / "cat" / "good.png", seed=1)
    good_png(root / "dog" / "good.png", seed=2)
    cases = make_corpus(root / "cat")
    (root / "dog" / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    cases.append(Case(root / "dog" / "logo.svg", "SVG drawing"))
    return cases


def test_folder_loader_skips_and_names_every_hostile_file_one_line_each(tmp_path: Path) -> None:
    cases = _folder_with_corpus(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images = load_folder(tmp_path)
    assert images.files == ("cat/good.png", "dog/good.png") and images.frames.shape == (2, 3, 128, 128)
    rel = {f"{case.path.parent.name}/{case.path.name}": case for case in cases}
    assert set(images.skipped) == set(rel)
    assert len(images.problems) == len(images.skipped)
    for name, problem in zip(images.skipped, images.problems):
        case = rel[name]
        assert problem.startswith(f"{case.path.parent.name}/{case.shown}: ") and case.reason in problem, problem
        assert _one_line(problem), problem
    warned = [str(w.message) for w in caught if str(w.message).startswith("skipped ")]
    assert len(warned) == 1 and f"skipped {len(cases)} " in warned[0]
    assert all(_one_line(line) for line in warned[0].splitlines())  # one line per file


def test_multi_frame_files_are_refused_by_the_folder_loader_as_by_read_image(tmp_path: Path) -> None:
    # One rule on every path: refused, never silently reduced to frame 0.
    good_png(tmp_path / "cat" / "still.png")
    for fmt, name in (("GIF", "a.gif"), ("WEBP", "a.webp"), ("PNG", "apng.png"), ("TIFF", "pages.tif")):
        frames = [Image.new("RGB", (16, 16), c) for c in ("red", "blue")]
        frames[0].save(tmp_path / "cat" / name, format=fmt, save_all=True, append_images=frames[1:])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        images = load_folder(tmp_path)
    assert images.files == ("cat/still.png",)
    assert all("has 2 frames" in line for line in images.problems) and len(images.problems) == 4


def test_a_single_frame_gif_and_tiff_are_read_from_folders_as_from_uploads(tmp_path: Path) -> None:
    good_png(tmp_path / "cat" / "a.png")
    Image.new("RGB", (20, 20), (0, 200, 0)).save(tmp_path / "cat" / "b.gif")
    Image.new("RGB", (20, 20), (0, 0, 200)).save(tmp_path / "cat" / "c.tiff")
    assert load_folder(tmp_path).files == ("cat/a.png", "cat/b.gif", "cat/c.tiff")


def test_manifest_and_oxford_layouts_refuse_the_same_files(tmp_path: Path) -> None:
    manifest_root, pet_root = tmp_path / "manifest", tmp_path / "pet"
    good_png(manifest_root / "ok.png")
    make_corpus(manifest_root / "files")
    names = ["ok.png", "files/pipe.jpg", "files/zero.png", "files/animated.gif", "files/ztxt-bomb.png",
             "files/missing.png"]
    (manifest_root / "MANIFEST.csv").write_text("file,species\n" + "".join(f"{n},cat\n" for n in names))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        images = load_manifest(manifest_root / "MANIFEST.csv")
    assert images.files == ("ok.png",) and len(images.problems) == len(names) - 1
    assert "files/missing.png: no such file" in images.problems[-1]

    good_png(pet_root / "images" / "Bengal_1.png")
    os.mkfifo(pet_root / "images" / "Bengal_2.jpg")
    good_png(pet_root / "images" / "1_no_breed.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pets = load_oxford_pet(pet_root)
    assert pets.files == ("images/Bengal_1.png",)
    assert any("Bengal_2.jpg: not a regular file (a named pipe)" in p for p in pets.problems)
    assert any("1_no_breed.png: cannot tell the species" in p for p in pets.problems)


def test_a_manifest_that_is_a_pipe_is_refused_by_name_not_read(tmp_path: Path) -> None:
    good_png(tmp_path / "cat" / "a.png")
    os.mkfifo(tmp_path / "MANIFEST.csv")
    with pytest.raises(ValueError, match=r"MANIFEST.csv: not a regular file \(a named pipe\)"):
        load_any(tmp_path)


def test_loaders_refuse_a_frame_size_over_the_limit_before_reading(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "never-read")
    for load in (load_folder, load_any, load_oxford_pet):
        with pytest.raises(ValueError, match=f"size must be from 1 to {MAX_FRAME}"):
            load(tmp_path, 100_000)


# ------------------------------------------------------------------------------- the audit's reader


def test_audit_dataset_reader_skips_and_names_hostile_files(tmp_path: Path) -> None:
    cases = _folder_with_corpus(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batches = list(iter_batches(tmp_path, batch_size=8))
    assert [b.ids for b in batches] == [["cat/good.png", "dog/good.png"]]
    warned = "\n".join(str(w.message) for w in caught)
    for case in cases:
        assert f"{case.path.parent.name}/{case.shown}: " in warned and case.reason in warned


def test_audit_dataset_reader_refuses_a_huge_image_size_before_reading(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=f"image_size must be from 1 to {MAX_FRAME}"):
        next(iter_batches(tmp_path, image_size=100_000))


def test_a_pixel_bomb_is_never_decoded_by_the_loader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The header is enough to refuse it: Pillow's decoder is never asked for the pixels.
    good_png(tmp_path / "cat" / "a.png")
    (tmp_path / "cat" / "bomb.png").write_bytes(png_claiming(30_000, 30_000))
    loaded = []
    real_load = Image.Image.load

    def spy(self: Image.Image) -> object:
        loaded.append(self.size)
        return real_load(self)

    monkeypatch.setattr(Image.Image, "load", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        images = load_folder(tmp_path)
    assert images.files == ("cat/a.png",) and (30_000, 30_000) not in loaded
    assert "decompression bomb" in images.problems[0]


def test_read_image_of_bytes_names_the_upload_escaped() -> None:
    with pytest.raises(ValueError, match=r"^up\\nload.png: the file is empty"):
        read_image(b"", name="up\nload.png")
    with pytest.raises(ValueError, match=r"^a.webp: has 3 frames"):
        read_image(frames_file("WEBP"), name="a.webp")
