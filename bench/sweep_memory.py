"""One cell sweep of a zoo model, as the Occlusion page runs it: time and the process's peak memory.

Run: ``.venv/bin/python bench/sweep_memory.py [--model normal] [--n 18] [--budget-mb 128]`` — one
fresh process per setting (the peak is the process's ``ru_maxrss`` above its size before the first
sweep); compare settings by running it several times in a row on this noisy machine.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from saliency_core import cell_occlusion, zoo
from saliency_core.methods.occlusion import set_memory_budget


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="normal", choices=zoo.names())
    parser.add_argument("--n", type=int, default=18, help="cells per side")
    parser.add_argument("--budget-mb", type=int, default=128, help="the occlusion memory budget (the dashboard's: 128)")
    parser.add_argument("--hidden", type=int, default=40, help="a cell hidden in every copy (the page's click)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(2)
    set_memory_budget(args.budget_mb * 2**20)
    model = zoo.load(args.model).eval()
    image = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model(image)
    before = rss_mb()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        cell_occlusion(model, image, args.n, (args.hidden,))
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.model} {args.n}x{args.n} sweep, budget {args.budget_mb} MB: "
          f"{' / '.join(f'{t:.2f}' for t in times)} s, peak +{peak - before:.0f} MB")


if __name__ == "__main__":
    main()
