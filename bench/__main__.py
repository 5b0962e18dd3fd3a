"""``make bench``: run every benchmark in turn, each in its own process, and summarise.

Speed and memory targets live here, never in timed tests. Each benchmark
prints its own table (with its baseline measured in the same run) and exits
non-zero when it misses a target; this runner reports which ones did.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = (
    ("flags", ["bench/bench_flags.py"]),
    ("judge", ["-m", "bench.judge"]),
    ("hosts", ["bench/bench_hosts.py"]),
    ("lb", ["bench/bench_lb.py"]),
    ("http", ["bench/bench_http.py"]),
    ("rollback", ["bench/bench_rollback.py"]),
    ("canary", ["bench/bench_canary.py"]),
    ("tui", ["bench/bench_tui.py"]),
)


def main(argv: list[str]) -> int:
    wanted = set(argv) or {name for name, _ in BENCHMARKS}
    results: list[tuple[str, int, float]] = []
    for name, args in BENCHMARKS:
        if name not in wanted:
            continue
        script = ROOT / args[0] if args[0].endswith(".py") else None
        if script is not None and not script.exists():
            print(f"== {name}: not present, skipped", flush=True)
            continue
        print(f"\n== {name} ==", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, *args], cwd=ROOT)
        results.append((name, code, time.monotonic() - started))
    print("\n== summary ==")
    for name, code, seconds in results:
        print(
            f"{name:<10} {'ok' if code == 0 else f'MISSED TARGET (exit {code})':<28} {seconds:6.1f}s"
        )
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
