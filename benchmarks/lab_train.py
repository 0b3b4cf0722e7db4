"""Training throughput of `mathcamps lab train` on this machine: tokens per second per model shape.

    python benchmarks/lab_train.py [--steps 40] [--models tiny,small] [--threads N] [--json OUT.json]

Builds a small release of the kindergarten and grade 1 standards, writes its random-order train
stream, and trains each model shape from scratch for `--steps` steps (256-token blocks, 16 a step)
in a temporary folder, timing the steps after the first (the first pays for allocation). Prints
parameters, tokens/s and seconds per step. The figures depend on the machine and its load: compare
ratios, not absolute numbers, across machines.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

STANDARDS = ["K.CC.C.7", "K.NBT.A.1", "K.OA.A.4", "K.OA.A.5", "1.OA.A.1", "1.OA.A.2"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--models", default="tiny,small")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import torch

    from mathcamps.compiler.export import export_release
    from mathcamps.compiler.release import build_release
    from mathcamps.evaluation.train import Settings, train
    from mathcamps.registry import default_registry

    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        release = build_release(default_registry().select(STANDARDS), Path(tmp) / "r", "bench", "0.1.0", 100, 1).path
        export_release(release, "train", Path(tmp) / "stream", order="random", seed=1)
        for model in args.models.split(","):
            times: list[float] = []
            last = [time.perf_counter()]

            def tick(_progress) -> None:
                now = time.perf_counter()
                times.append(now - last[0])
                last[0] = now

            settings = Settings(model=model, tokens=args.steps * 256 * 16, checkpoints=2)
            result = train(Path(tmp) / "stream" / "stream.jsonl", Path(tmp) / model, f"bench/{model}", settings,
                           on_progress=tick)
            steady = times[1:] or times
            per_step = sum(steady) / len(steady)
            rows.append({"model": model, "parameters": result.parameters, "threads": torch.get_num_threads(),
                         "seconds_per_step": per_step, "tokens_per_second": settings.tokens_per_step / per_step})
    print(f"{'model':8} {'parameters':>11} {'threads':>7} {'s/step':>8} {'tokens/s':>10}")
    for r in rows:
        print(f"{r['model']:8} {r['parameters']:>11,} {r['threads']:>7} {r['seconds_per_step']:>8.3f} "
              f"{r['tokens_per_second']:>10,.0f}")
    if len(rows) > 1:
        print(f"{rows[1]['model']} is {rows[0]['tokens_per_second'] / rows[1]['tokens_per_second']:.1f}x slower "
              f"than {rows[0]['model']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
