#!/usr/bin/env bash
# The lab on one GPU: a Pythia-70M-shaped GPT-NeoX trained from scratch on a full release for a
# fixed token budget, its checkpoints evaluated with vLLM, then the learning dynamics.
#
#   bash benchmarks/lab_gpu.sh [OUT]        (default OUT: out/lab-gpu)
#
# Needs a CUDA GPU, and vLLM installed beside the eval extra. Nothing is downloaded. Prints the
# training throughput (tokens/s) and the model FLOPs utilisation (6 x parameters x tokens/s over the
# GPU's dense bfloat16 peak, PEAK_TFLOPS, 989 for an H100/H200 SXM), then the sweep and dynamics.
set -euo pipefail

OUT=${1:-out/lab-gpu}
PYTHON=${PYTHON:-python3}
PER_STANDARD=${PER_STANDARD:-2000}
TOKENS=${TOKENS:-300000000}
ORDER=${ORDER:-random}
PEAK_TFLOPS=${PEAK_TFLOPS:-989}

"$PYTHON" - <<'PY'
import importlib.util
import sys

import torch

if not torch.cuda.is_available():
    sys.exit("lab_gpu.sh: torch sees no CUDA GPU here")
if importlib.util.find_spec("vllm") is None:
    sys.exit("lab_gpu.sh: vLLM is not installed in this Python (pip install vllm for this machine's CUDA)")
print(f"GPU: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
PY

mathcamps() { "$PYTHON" -c "from mathcamps.cli.main import app; app(prog_name='mathcamps')" "$@"; }
export HF_HUB_OFFLINE=1
mkdir -p "$OUT"
mathcamps release build --name lab-gpu --version 0.1.0 --per-standard "$PER_STANDARD" --seed 1 \
  --out "$OUT/releases" --force
RELEASE="$OUT/releases/lab-gpu-0.1.0"
rm -rf "$OUT/$ORDER"
mathcamps lab train --release "$RELEASE" --order "$ORDER" --model pythia-70m --tokens "$TOKENS" \
  --checkpoints 8 --context 512 --batch 64 --lr 1e-3 --out "$OUT/$ORDER"
"$PYTHON" - "$OUT/$ORDER/lab.json" "$PEAK_TFLOPS" <<'PY'
import json
import sys

lab = json.load(open(sys.argv[1]))
flops = 6 * lab["parameters"] * lab["tokens_per_second"]
print(f"training: {lab['tokens_per_second']:,.0f} tokens/s, {lab['parameters']:,} parameters, "
      f"model FLOPs utilisation {100 * flops / (float(sys.argv[2]) * 1e12):.1f}% of {sys.argv[2]} TFLOP/s")
PY
echo '[]' > "$OUT/prompt.json"
REVISIONS=$("$PYTHON" -c "import json,sys; print(','.join(json.load(open(sys.argv[1]))['revisions']))" "$OUT/$ORDER/lab.json")
STEP_TOKENS=$("$PYTHON" -c "import json,sys; print(json.load(open(sys.argv[1]))['tokens_per_step'])" "$OUT/$ORDER/lab.json")
rm -f "$OUT/results.jsonl"
mathcamps eval sweep --release "$RELEASE" --model "lab/$ORDER" --cache-dir "$OUT/$ORDER/hub" \
  --revisions "$REVISIONS" --backend vllm --split test --max-new-tokens 24 --prompt "$OUT/prompt.json" \
  --out "$OUT/results.jsonl"
mathcamps dynamics "$OUT/results.jsonl" --tokens-per-step "$STEP_TOKENS" --threshold 0.5 \
  --plot "$OUT/dynamics.png" --force
