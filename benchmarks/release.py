"""Benchmark: build a release of every (or the chosen) standard; time, peak memory (the building process
and its largest worker), records and the size of every file. Each size runs in a fresh process, so
peaks do not mix; memory should stay flat as the number of problems grows.

    .venv/bin/python benchmarks/release.py --per-standard 100 1000 --workers 2
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def build_once(per_standard: int, workers: int, seed: int, out: Path, standards: list[str], verify: bool) -> dict:
    from mathcamps.compiler.release import build_release, verify_release
    from mathcamps.registry import default_registry

    chosen = default_registry().select(standards or None)
    start = time.perf_counter()
    result = build_release(chosen, out, "bench", f"{per_standard}.0.0", per_standard, seed, workers=workers)
    seconds = time.perf_counter() - start
    manifest = result.manifest
    measures = {
        "standards": len(chosen),
        "per_standard": per_standard,
        "workers": workers,
        "seconds": round(seconds, 1),
        "records": manifest.records,
        "originals": sum(manifest.counts[s]["original"] for s in manifest.counts),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_worker_rss_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "files": {path: {"bytes": entry.bytes, "records": entry.records, "sha256": entry.sha256}
                  for path, entry in manifest.files.items()},
        "path": str(result.path),
    }
    if verify:
        start = time.perf_counter()
        report = verify_release(result.path, workers)
        measures["verify_seconds"] = round(time.perf_counter() - start, 1)
        measures["verified"] = report.ok
    return measures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-standard", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--standard", action="append", default=[], help="only this standard (repeatable)")
    parser.add_argument("--out", type=Path, help="folder for the releases (default: a temporary one)")
    parser.add_argument("--verify", action="store_true", help="also time `release verify`")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a child: one size, JSON out
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="mathcamps-bench-"))
    if args.one:
        print(json.dumps(build_once(args.per_standard[0], args.workers, args.seed, out, args.standard, args.verify)))
        return
    rows = []
    for size in args.per_standard:
        command = [sys.executable, __file__, "--one", "--per-standard", str(size), "--workers", str(args.workers),
                   "--seed", str(args.seed), "--out", str(out), *(f"--standard={s}" for s in args.standard)]
        if args.verify:
            command.append("--verify")
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"{'standards':>9} {'per std':>7} {'workers':>7} {'seconds':>8} {'originals':>9} {'records':>8} "
          f"{'orig/s':>7} {'peak MiB':>8} {'worker MiB':>10} {'verify s':>8}")
    for row in rows:
        print(f"{row['standards']:>9} {row['per_standard']:>7} {row['workers']:>7} {row['seconds']:>8} "
              f"{row['originals']:>9} {row['records']:>8} {row['originals'] / row['seconds']:>7.0f} "
              f"{row['peak_rss_mib']:>8} {row['peak_worker_rss_mib']:>10} {row.get('verify_seconds', '-'):>8}")
    for row in rows:
        print(f"\n{row['path']}")
        for path, entry in row["files"].items():
            records = "" if entry["records"] is None else f"{entry['records']:,} records"
            print(f"  {path:<18} {entry['bytes'] / 2**20:>9.2f} MiB  {records:>16}  {entry['sha256'][:16]}")


if __name__ == "__main__":
    main()
