"""Benchmark of the canary judge against Argo/Flagger thresholds and Kayenta.

    python -m bench.judge            # ≥ 1000 seeds per scenario (≈ 2-3 min, 2 cores)
    python -m bench.judge --quick    # 200 seeds, for iterating
    python bench/judge/run.py --seeds 2000 --json results.json

Exit status 0 when every target of the issue is met by shipdeck's judge, 1
otherwise, so the benchmark can gate a change to the judge.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict

if __package__ in (None, ""):  # run as a script: make the repo root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import numpy as np

from bench.judge import judges, report
from bench.judge.scenarios import SCENARIOS, generate
from console.core.judge import AnalysisTemplate

CHUNK = 250


def _run_chunk(task: tuple[int, int, int, int]) -> tuple[int, dict[str, tuple], np.ndarray]:
    index, chunk, seeds, base_seed = task
    scenario = SCENARIOS[index]
    rng = np.random.default_rng([base_seed, index, chunk])
    batch = generate(scenario, seeds, rng)
    results = {
        "shipdeck": judges.run_shipdeck(batch, AnalysisTemplate()),
        "flagger": judges.run_flagger(batch),
        "argo": judges.run_argo(batch),
        "kayenta": judges.run_kayenta(batch),
    }
    return index, results, batch.bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.judge", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seeds", type=int, default=1000, help="seeds per scenario (default 1000)")
    parser.add_argument("--quick", action="store_true", help="200 seeds per scenario")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--only", default="", help="run scenarios whose name contains this")
    parser.add_argument("--seed", type=int, default=20260601, help="base random seed")
    parser.add_argument("--json", dest="json_path", default="", help="also write results here")
    args = parser.parse_args(argv)
    seeds = 200 if args.quick else args.seeds
    chosen = [i for i, s in enumerate(SCENARIOS) if args.only.lower() in s.name.lower()]
    tasks = []
    for index in chosen:
        for chunk, start in enumerate(range(0, seeds, CHUNK)):
            tasks.append((index, chunk, min(CHUNK, seeds - start), args.seed))
    started = time.perf_counter()
    collected: dict[int, dict[str, list]] = {i: {j: [] for j in judges.JUDGES} for i in chosen}
    bad: dict[int, list] = {i: [] for i in chosen}
    with ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool:
        for index, results, bad_chunk in pool.map(_run_chunk, tasks):
            for name, value in results.items():
                collected[index][name].append(value)
            bad[index].append(bad_chunk)
    summaries = []
    for index in chosen:
        bad_all = np.concatenate(bad[index])
        for name in judges.JUDGES:
            outcome = np.concatenate([o for o, _ in collected[index][name]])
            decided = np.concatenate([d for _, d in collected[index][name]])
            summaries.append(report.summarise(SCENARIOS[index], name, outcome, decided, bad_all))
    elapsed = time.perf_counter() - started
    print(
        f"# canary judge benchmark: {seeds} seeds per scenario, {len(chosen)} scenarios,"
        f" {args.workers} workers, {elapsed:.0f} s"
    )
    print(
        "# 50 req/s total, 1% baseline errors, 1 min intervals, 60 min horizon;"
        " rates with Wilson 95% CIs, times with order-statistic 95% CIs"
    )
    print(report.table(summaries))
    targets = report.check_targets(summaries)
    print("\n## targets (shipdeck judge)")
    for name, ok, measured in targets:
        print(f"{'MET   ' if ok else 'MISSED'} {name}: {measured}")
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as fh:
            json.dump(
                {
                    "seeds": seeds,
                    "elapsed_s": elapsed,
                    "summaries": [asdict(s) for s in summaries],
                    "targets": [{"target": n, "met": ok, "measured": m} for n, ok, m in targets],
                },
                fh,
                indent=2,
            )
    return 0 if all(ok for _, ok, _ in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
