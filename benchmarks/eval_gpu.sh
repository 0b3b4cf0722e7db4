#!/usr/bin/env bash
# Benchmark of `mathcamps eval run --backend vllm` on one GPU, with nothing downloaded.
#
#   bash benchmarks/eval_gpu.sh [OUT]        (default OUT: out/eval-gpu)
#
# Needs a CUDA GPU and vLLM installed beside the eval extra. It builds, in OUT:
#   problems.jsonl  a small compiled dataset (PER_STANDARD originals of every standard, with follow-ups)
#   model/          a model of Pythia-410M's GPT-NeoX configuration with random weights and a tokenizer
#                   trained here (50304 tokens), written by `python -m mathcamps.evaluation.tiny`
# then measures:
#   1. `mathcamps eval run --backend vllm` end to end (its table: problems/s and tokens/s of generation),
#   2. our run in-process and raw vLLM `LLM.generate` on the same prompts, each in its own process,
#      and prints both with the overhead of our module (benchmarks/eval_gpu.py).
# A random model never writes `### Answer:`, so each response runs to MAX_NEW_TOKENS: a steady load.
set -euo pipefail

OUT=${1:-out/eval-gpu}
PYTHON=${PYTHON:-python3}
PER_STANDARD=${PER_STANDARD:-20}
MAX_NEW_TOKENS=${MAX_NEW_TOKENS:-256}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

"$PYTHON" - <<'EOF'
import importlib.util
import sys

if importlib.util.find_spec("vllm") is None:
    sys.exit("eval_gpu.sh: vLLM is not installed in this Python: it is GPU-only and not part of the eval extra; "
             "install a vllm built for this machine's torch and CUDA (pip install vllm), then run this again.")
import torch

if not torch.cuda.is_available():
    sys.exit("eval_gpu.sh: torch sees no CUDA GPU here: this benchmark measures vLLM and needs one.")
print(f"GPU: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, "
      f"vllm {__import__('vllm').__version__}")
EOF

mathcamps() { "$PYTHON" -c "from mathcamps.cli.main import app; app(prog_name='mathcamps')" "$@"; }
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1  # nothing may be downloaded: every model and tokenizer is built here

echo "== compiling $PER_STANDARD problems per standard"
mathcamps compile --out "$OUT" --per-standard "$PER_STANDARD" --seed 7 --force >/dev/null
echo "== building a Pythia-410M-shaped model with random weights"
"$PYTHON" -m mathcamps.evaluation.tiny "$OUT/model" --size pythia-410m --release "$OUT/problems.jsonl" --force

echo "== 1. mathcamps eval run --backend vllm (end to end, engine start included)"
rm -f "$OUT/results.jsonl"
start=$(date +%s)
mathcamps eval run --release "$OUT/problems.jsonl" --model "$OUT/model" --backend vllm \
    --max-new-tokens "$MAX_NEW_TOKENS" --out "$OUT/results.jsonl"
echo "wall time of the whole command: $(( $(date +%s) - start )) s"

echo "== 2. our run in-process against raw vLLM, same prompts, same sampling"
"$PYTHON" "$HERE/eval_gpu.py" ours --model "$OUT/model" --release "$OUT/problems.jsonl" \
    --max-new-tokens "$MAX_NEW_TOKENS" --json "$OUT/ours.json"
"$PYTHON" "$HERE/eval_gpu.py" raw --model "$OUT/model" --release "$OUT/problems.jsonl" \
    --max-new-tokens "$MAX_NEW_TOKENS" --json "$OUT/raw.json"
"$PYTHON" "$HERE/eval_gpu.py" report "$OUT/ours.json" "$OUT/raw.json"
