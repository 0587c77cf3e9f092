"""Unpacking a user's dataset zip: the layout, and every unsafe or oversized zip refused in one line."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from saliency_core.data.archive import ArchiveError, Limits, extract_dataset


def png(colour: int = 128, size: tuple[int, int] = (20, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (colour, 255 - colour, 0)).save(buffer, "PNG")
    return buffer.getvalue()


def make_zip(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_the_layout_is_unpacked_with_its_masks_and_clutter_left_out(tmp_path: Path) -> None:
    data = make_zip({"my-set/cat/a.jpg": png(1), "my-set/cat/b.png": png(2), "my-set/dog/c.png": png(3),
                     "my-set/masks/cat/a.png": png(4), "my-set/README.txt": b"notes",
                     "__MACOSX/my-set/cat/._a.jpg": b"resource fork", "my-set/.DS_Store": b"x"})
    out = extract_dataset(data, tmp_path / "set")
    assert out.images == {"cat": 2, "dog": 1} and out.count == 3 and out.masks == 1
    assert out.classes == ("cat", "dog") and out.skipped == ("my-set/README.txt",)
    assert files_under(tmp_path / "set") == {"cat/a.jpg", "cat/b.png", "dog/c.png", "masks/cat/a.png"}
    assert (tmp_path / "set" / "dog" / "c.png").read_bytes() == png(3)  # the bytes, unchanged


def test_a_zip_path_works_like_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "set.zip"
    path.write_bytes(make_zip({"cat/a.png": png(), "dog/b.png": png()}))
    assert extract_dataset(path, tmp_path / "out").images == {"cat": 1, "dog": 1}


def refused(data: bytes, tmp_path: Path, limits: Limits = Limits()) -> str:
    dest = tmp_path / "dest"
    with pytest.raises(ArchiveError) as info:
        extract_dataset(data, dest, limits)
    message = str(info.value)
    assert "\n" not in message
    assert files_under(dest) == set()  # nothing was written
    return message


@pytest.mark.parametrize(("name", "words"), [
    ("../evil.png", "path traversal"), ("cat/../../evil.png", "path traversal"),
    ("/etc/cat/evil.png", "absolute path"), ("C:/cat/evil.png", "absolute path"),
    ("..\\..\\evil.png", "path traversal"), ("cat/ev\nil.png", "control characters"),
])
def test_names_that_leave_the_folder_are_refused(tmp_path: Path, name: str, words: str) -> None:
    message = refused(make_zip({"cat/ok.png": png(), name: png()}), tmp_path)
    assert words in message
    assert not (tmp_path / "evil.png").exists()


def test_links_are_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("cat/ok.png", png())
        link = zipfile.ZipInfo("cat/link.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    assert "symbolic link" in refused(buffer.getvalue(), tmp_path)


def test_too_many_images_files_or_masks_are_refused(tmp_path: Path) -> None:
    limits = Limits(images=3)
    assert "more than 3 images" in refused(make_zip({f"cat/{i}.png": png() for i in range(4)}), tmp_path, limits)
    notes = {f"cat/{i}.txt": b"x" for i in range(limits.files + 1)}
    assert f"more than {limits.files} files" in refused(make_zip({"cat/a.png": png(), **notes}), tmp_path, limits)
    masks = {f"masks/cat/{i}.png": png() for i in range(4)}
    assert "more than 3 masks" in refused(make_zip({"cat/a.png": png(), **masks}), tmp_path, limits)


def test_a_zip_bomb_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    bomb = make_zip({"cat/a.png": png(), "cat/b.png": bytes(4 * 1024 * 1024)})  # ~1000:1
    assert "zip bomb" in refused(bomb, tmp_path)
    big = make_zip({"cat/a.png": png(), "cat/b.png": np.random.default_rng(0).bytes(300_000)})
    assert "unpacks to more than" in refused(big, tmp_path, Limits(total_bytes=200_000))


def test_a_zip_over_the_upload_limit_is_refused(tmp_path: Path) -> None:
    data = make_zip({"cat/a.png": png()})
    message = refused(data, tmp_path, Limits(zip_bytes=len(data) // 2))
    assert message.startswith("the zip is ") and "MB allowed" in message


@pytest.mark.parametrize(("members", "words"), [
    ({"README.txt": b"hello"}, "no class folders"),
    ({"a.png": png(), "b.png": png()}, "not in a class folder"),
    ({"cat/a.png": png(), "b.png": png()}, "not in a class folder"),
    ({"cat/sub/a.png": png(), "dog/b.png": png()}, "nested too deep"),
    ({"cat/a.png": png(), "masks/a.png": png()}, "not in a class folder of masks/"),
])
def test_layout_mistakes_are_named(tmp_path: Path, members: dict[str, bytes], words: str) -> None:
    assert words in refused(make_zip(members), tmp_path)


def test_something_that_is_no_zip_is_refused(tmp_path: Path) -> None:
    assert "not a zip" in refused(b"this is a text file", tmp_path)
    assert "not a zip" in refused(png(), tmp_path)
    assert "not a zip" in refused(make_zip({"cat/a.png": png()})[:40], tmp_path)


def test_the_same_name_twice_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, pytest.warns(UserWarning):
        archive.writestr("cat/a.png", png(1))
        archive.writestr("cat/a.png", png(2))
    assert "twice" in refused(buffer.getvalue(), tmp_path)


def test_the_destination_must_be_empty_and_limits_positive(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(ValueError, match="dest must be an empty folder"):
        extract_dataset(make_zip({"cat/a.png": png()}), tmp_path / "full")
    with pytest.raises(ValueError, match="images must be a positive integer"):
        Limits(images=0)
