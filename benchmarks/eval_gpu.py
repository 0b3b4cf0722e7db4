"""Benchmark helper: our vLLM evaluation run against raw vLLM generation of the same prompts, on one GPU.

    python benchmarks/eval_gpu.py ours --model DIR --release PROBLEMS --max-new-tokens N --json OUT.json
    python benchmarks/eval_gpu.py raw  --model DIR --release PROBLEMS --max-new-tokens N --json OUT.json
    python benchmarks/eval_gpu.py report OURS.json RAW.json

`ours` times `evaluation.run.run` with the vllm backend (reading, prompting, generating, grading,
writing results; the model's loading is left out); `raw` times one `LLM.generate` call over the
same original problems' prompts with the same sampling settings. Each mode loads its own engine,
so run them in separate processes (eval_gpu.sh does). `report` prints both and our overhead.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def ours(args) -> dict:
    from mathcamps.evaluation.backends import ModelSource, open_backend
    from mathcamps.evaluation.run import read_release, run

    release = read_release(args.release)
    backend = open_backend("vllm", ModelSource(str(args.model)), prompt_mode="completion")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        summary = run(release, backend, Path(tmp) / "results.jsonl", model=str(args.model),
                      max_new_tokens=args.max_new_tokens)
        wall = time.perf_counter() - started - summary.load_seconds
    return {
        "mode": "ours",
        "problems": summary.generated,
        "written": summary.written,
        "prompt_tokens": summary.prompt_tokens,
        "completion_tokens": summary.completion_tokens,
        "seconds": wall,
        "generate_seconds": summary.seconds,
        "load_seconds": summary.load_seconds,
    }


def raw(args) -> dict:
    from transformers import AutoTokenizer
    from vllm import LLM, SamplingParams

    from mathcamps.evaluation.prompts import DELIMITER, OneShot, completion_text
    from mathcamps.evaluation.run import group_problems, read_release

    release = read_release(args.release)
    tokenizer = AutoTokenizer.from_pretrained(str(args.model))
    one_shot = OneShot()
    prompts = [
        {"prompt_token_ids": tokenizer(completion_text(one_shot.dialogue(g.original.statement)))["input_ids"]}
        for g in group_problems(release.problems)
    ]
    started = time.perf_counter()
    llm = LLM(model=str(args.model), tokenizer=str(args.model), seed=0, dtype="auto")
    load = time.perf_counter() - started
    params = SamplingParams(temperature=0.0, max_tokens=args.max_new_tokens, stop=[DELIMITER])
    started = time.perf_counter()
    outputs = llm.generate(prompts, params, use_tqdm=False)
    seconds = time.perf_counter() - started
    return {
        "mode": "raw",
        "problems": len(outputs),
        "prompt_tokens": sum(len(p["prompt_token_ids"]) for p in prompts),
        "completion_tokens": sum(len(o.outputs[0].token_ids) for o in outputs),
        "seconds": seconds,
        "generate_seconds": seconds,
        "load_seconds": load,
    }


def report(ours_json: Path, raw_json: Path) -> None:
    measured = [json.loads(Path(p).read_text()) for p in (ours_json, raw_json)]
    print(f"{'':6} {'problems':>9} {'tokens out':>11} {'seconds':>9} {'problems/s':>11} {'tokens/s':>10} {'load s':>8}")
    for m in measured:
        print(
            f"{m['mode']:6} {m['problems']:>9} {m['completion_tokens']:>11} {m['seconds']:>9.2f} "
            f"{m['problems'] / m['seconds']:>11.1f} {m['completion_tokens'] / m['seconds']:>10.0f} "
            f"{m['load_seconds']:>8.1f}"
        )
    mine, theirs = measured
    # Per generated token, so that a few follow-ups asked (a lucky right answer) do not count as overhead.
    per_token = (mine["seconds"] / max(mine["completion_tokens"], 1)) / (theirs["seconds"] / max(theirs["completion_tokens"], 1))
    print(f"overhead of our run over raw vLLM: {100 * (mine['seconds'] / theirs['seconds'] - 1):+.1f}% wall time, "
          f"{100 * (per_token - 1):+.1f}% per generated token")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("ours", "raw"):
        mode = sub.add_parser(name)
        mode.add_argument("--model", type=Path, required=True)
        mode.add_argument("--release", type=Path, required=True)
        mode.add_argument("--max-new-tokens", type=int, default=256)
        mode.add_argument("--json", type=Path, required=True)
    both = sub.add_parser("report")
    both.add_argument("ours", type=Path)
    both.add_argument("raw", type=Path)
    args = parser.parse_args()
    if args.command == "report":
        report(args.ours, args.raw)
        return 0
    measured = ours(args) if args.command == "ours" else raw(args)
    args.json.write_text(json.dumps(measured, indent=2))
    print(json.dumps(measured))
    return 0


if __name__ == "__main__":
    sys.exit(main())
