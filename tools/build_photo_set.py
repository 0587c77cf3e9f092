"""Regenerate the built-in demo photos (``saliency_core/data/builtin_photos/``) from the
Oxford-IIIT Pet subset in ``../shared/data/oxford-pets-subset`` (see its SOURCE.md).

    .venv/bin/python tools/build_photo_set.py [--source DIR] [--out DIR]

What it writes, and why (bytes measured on the 938 source photos, shorter sides 116-320 px,
median 225; the set must stay well under 15 MB in git):

* a **balanced** selection: 440 cats + 440 dogs (all 440 dogs; the 58 surplus cats are dropped
  from the two breeds with 200 photos each, smallest photos first, leaving 170 Bengal and 170
  Abyssinian beside 10 of each other cat breed);
* each photo **centre-cropped to a square** and, when its side is over ``MAX_SIDE`` (256), resized
  to 256 with Lanczos (never upscaled). The model frame is "shorter side resized, centre crop"
  (``data.frame``), so for any frame up to the square's side the crop is exactly what a model sees,
  and the cut-off ends cost no bytes. 256 covers the largest frame the zoo may use (224);
  ~43% of the sources are smaller than 224 on their shorter side already, and those are kept
  at their own size;
* JPEG quality ``QUALITY`` (75), optimised Huffman tables, progressive, no metadata. Measured on
  these 880 squares: q75 9.2 MB, q80 10.6 MB, q85 12.3 MB (capping at 224 instead: q80 9.4 MB);
* the pet mask through the same crop (nearest neighbour) as a 2-bit palette PNG keeping the
  Oxford trimap values: 1 = pet, 2 = background, 3 = border (the 340 polygon masks have no border);
* ``MANIFEST.csv`` in display order: cats, then dogs; within a species one photo of each breed in
  turn (so the first 12 cats show all 12 cat breeds). A row's position is its place in the
  held-out test set and so its watermark seed (``data.quadrants``). Columns: file, species, breed,
  width, height, split ("test": the zoo never trains on these), mask_file, mask_kind, sha256,
  mask_sha256, source_file, source_sha256, oxford_split;
* ``LICENSE.md`` and ``ATTRIBUTION.md`` (CC BY-SA 4.0, modified; not the code's Apache-2.0).

Re-running it on the same source with the same Pillow gives byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import shutil
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO.parent / "shared" / "data" / "oxford-pets-subset"
OUT = REPO / "saliency_core" / "data" / "builtin_photos"
MAX_SIDE = 256
QUALITY = 75  # 80 looked no better at the model frame and put the set (block-rounded, as `du` counts) over 15 MB
COLUMNS = ("file", "species", "breed", "width", "height", "split", "mask_file", "mask_kind", "sha256",
           "mask_sha256", "source_file", "source_sha256", "oxford_split")
# Palette for the masks (index = trimap value): 0 unused, 1 pet white, 2 background black, 3 border grey.
MASK_PALETTE = [0, 0, 0, 255, 255, 255, 0, 0, 0, 128, 128, 128]


def natural(name: str) -> tuple[str, int]:
    """``Bengal_12.jpg`` -> ("Bengal", 12): photos of a breed in their number order."""
    stem = Path(name).stem
    breed, _, number = stem.rpartition("_")
    return breed, int(number) if number.isdigit() else -1


def shorter_side(row: dict[str, str]) -> int:
    return min(int(row["width"]), int(row["height"]))


def select(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Balanced species; the surplus is taken from the largest breeds, smallest photos first."""
    by_species: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_species[row["species"]].append(row)
    target = min(len(v) for v in by_species.values())
    kept: list[dict[str, str]] = []
    for species in sorted(by_species):
        by_breed: dict[str, list[dict[str, str]]] = defaultdict(list)
        for row in by_species[species]:
            by_breed[row["breed"]].append(row)
        for photos in by_breed.values():  # drop order: smallest first, then by name
            photos.sort(key=lambda r: (shorter_side(r), natural(r["file"])))
        while sum(len(v) for v in by_breed.values()) > target:
            largest = max(sorted(by_breed), key=lambda b: len(by_breed[b]))
            by_breed[largest].pop(0)
        kept += [r for photos in by_breed.values() for r in photos]
    return kept


def display_order(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Cats, then dogs; within a species breeds in turn (round robin, breeds sorted by name)."""
    ordered: list[dict[str, str]] = []
    for species in ("cat", "dog"):
        by_breed: dict[str, list[dict[str, str]]] = defaultdict(list)
        for row in rows:
            if row["species"] == species:
                by_breed[row["breed"]].append(row)
        queues = [sorted(by_breed[b], key=lambda r: natural(r["file"])) for b in sorted(by_breed, key=str.lower)]
        while any(queues):
            for queue in queues:
                if queue:
                    ordered.append(queue.pop(0))
    return ordered


def square(image: Image.Image, mask: np.ndarray) -> tuple[Image.Image, np.ndarray]:
    """Centre square of the photo and its mask, at most MAX_SIDE pixels (never upscaled)."""
    w, h = image.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    photo = image.crop((left, top, left + side, top + side))
    labels = mask[top:top + side, left:left + side]
    if side > MAX_SIDE:
        photo = photo.resize((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
        labels = np.asarray(Image.fromarray(labels).resize((MAX_SIDE, MAX_SIDE), Image.Resampling.NEAREST))
    return photo, np.ascontiguousarray(labels)


def jpeg_bytes(photo: Image.Image) -> bytes:
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=QUALITY, optimize=True, progressive=True)
    return out.getvalue()


def png_bytes(labels: np.ndarray) -> bytes:
    mask = Image.fromarray(labels.astype(np.uint8), mode="L").convert("P")  # indices = trimap values
    mask.putpalette(MASK_PALETTE)
    out = io.BytesIO()
    mask.save(out, "PNG", optimize=True, bits=2)
    return out.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


LICENSE_MD = """\
# Licence of the built-in demo photos

The photographs in `images/` and the masks in `masks/` are licensed under the
**Creative Commons Attribution-ShareAlike 4.0 International License (CC BY-SA 4.0)**:
https://creativecommons.org/licenses/by-sa/4.0/ (legal code:
https://creativecommons.org/licenses/by-sa/4.0/legalcode).

They are **modified** copies of photos and annotations from the Oxford-IIIT Pet Dataset; see
`ATTRIBUTION.md` for the authors, the source and the changes made. The copyright of each image
remains with its original owner.

This licence covers only the files in this folder (`images/`, `masks/`, `MANIFEST.csv` and these
notices). The code of Saliency Lab is licensed separately under Apache-2.0 (the repository's
`LICENSE`), which does **not** apply to these photos. If you share these photos or adapt them,
keep this notice and the attribution with them and share your adaptations under CC BY-SA 4.0
(ShareAlike).
"""

ATTRIBUTION_MD = """\
# Attribution: the built-in demo photos

**Source.** The Oxford-IIIT Pet Dataset: O. M. Parkhi, A. Vedaldi, A. Zisserman, C. V. Jawahar,
"Cats and Dogs", IEEE Conference on Computer Vision and Pattern Recognition (CVPR), 2012.
https://www.robots.ox.ac.uk/~vgg/data/pets/

The dataset page states: "The dataset is available to download for commercial/research purposes
under a Creative Commons Attribution-ShareAlike 4.0 International License. The copyright remains
with the original owners of the images." The older README inside the 2012 annotations archive says
the data is for research purposes and that use must respect the terms of the photos' original
websites; we keep that note here so that users can judge their own use.

**What is here.** {n} photos ({cats} cats, {dogs} dogs, {breeds} breeds), each with a pet mask,
listed in `MANIFEST.csv` (with the SHA-256 of every file and of the file it was made from). They
were taken from two public copies of the dataset's original files (`Naveen-Dodda/Sample_Pets_dataset`
and `LTSACH/AILearningHub`, folder `datasets/oxford-pets/`); {polygons} of the masks are
foreground polygons traced from the dataset's trimaps rather than the trimaps themselves
(`mask_kind` in the manifest).

**Modified: resized and re-encoded by Saliency Lab.** Each photo (already resized to a longer side
of at most 320 px when the subset was gathered) was centre-cropped to a square, resized to at most
{side}×{side} px (Lanczos; never enlarged) and re-encoded as JPEG (quality {quality}, no metadata).
Each mask went through the same crop and resize (nearest neighbour) and was re-encoded as a PNG
keeping the trimap values (1 = pet, 2 = background, 3 = border). A balanced selection of the photos was made (see
`tools/build_photo_set.py`, which regenerates this folder).

**Licence.** CC BY-SA 4.0 (see `LICENSE.md`); not the Apache-2.0 licence of the code.
"""


def build(source: Path, out: Path) -> dict[str, int]:
    rows = list(csv.DictReader((source / "MANIFEST.csv").open(newline="", encoding="utf-8")))
    chosen = display_order(select(rows))
    if out.exists():
        shutil.rmtree(out)
    (out / "images").mkdir(parents=True)
    (out / "masks").mkdir()
    written: list[dict[str, str]] = []
    total = 0
    for row in chosen:
        with Image.open(source / row["file"]) as im:
            image = im.convert("RGB")
        with Image.open(source / row["mask_file"]) as m:
            trimap = np.asarray(m)
        photo, labels = square(image, trimap)
        if not (labels == 1).any():
            raise SystemExit(f"{row['file']}: no pet pixels left in the centre square")
        if not set(np.unique(labels).tolist()) <= {1, 2, 3}:
            raise SystemExit(f"{row['mask_file']}: values other than 1, 2, 3")
        name = Path(row["file"]).name
        image_rel, mask_rel = f"images/{name}", f"masks/{Path(name).stem}.png"
        jpg, png = jpeg_bytes(photo), png_bytes(labels)
        (out / image_rel).write_bytes(jpg)
        (out / mask_rel).write_bytes(png)
        total += len(jpg) + len(png)
        kind = "oxford_trimap(1=pet,2=background,3=border)" if row["mask_kind"].startswith("oxford_trimap") \
            else "approx_polygon(1=pet,2=background)"
        written.append({
            "file": image_rel, "species": row["species"], "breed": row["breed"],
            "width": str(photo.width), "height": str(photo.height), "split": "test",
            "mask_file": mask_rel, "mask_kind": kind, "sha256": sha256(jpg), "mask_sha256": sha256(png),
            "source_file": row["file"], "source_sha256": row["sha256"], "oxford_split": row["oxford_split"],
        })
    with (out / "MANIFEST.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(written)
    cats = sum(r["species"] == "cat" for r in written)
    (out / "LICENSE.md").write_text(LICENSE_MD, encoding="utf-8")
    (out / "ATTRIBUTION.md").write_text(ATTRIBUTION_MD.format(
        n=len(written), cats=cats, dogs=len(written) - cats, breeds=len({r["breed"] for r in written}),
        polygons=sum(r["mask_kind"].startswith("approx") for r in written), side=MAX_SIDE, quality=QUALITY,
    ), encoding="utf-8")
    total += sum(p.stat().st_size for p in out.glob("*.*"))
    return {"photos": len(written), "cats": cats, "dogs": len(written) - cats, "bytes": total}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help=f"the Oxford-IIIT Pet subset (default {SOURCE})")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write the set (default {OUT})")
    args = parser.parse_args(argv)
    if not (args.source / "MANIFEST.csv").is_file():
        print(f"no MANIFEST.csv in {args.source}", file=sys.stderr)
        return 2
    stats = build(args.source, args.out)
    print(f"{stats['photos']} photos ({stats['cats']} cats, {stats['dogs']} dogs), "
          f"{stats['bytes'] / 1e6:.2f} MB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
