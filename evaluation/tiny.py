"""Tiny models: randomly initialised causal language models built locally, for tests, demos and benchmarks.

Nothing is downloaded: the tokenizer is a byte-level BPE trained here with `tokenizers` on a small
text made from problem statements and the evaluation prompt, wrapped as a transformers
PreTrainedTokenizerFast (optionally with a chat template), and the model is a GPT-NeoX of a
chosen size with random weights, saved with `save_pretrained`. `build_hub_cache` lays several such
models out as the revisions of one hub repository in a Hugging Face cache folder (refs ->
snapshots, one seed per revision), so that `from_pretrained("org/tiny", revision="step1000",
cache_dir=CACHE)` loads one offline, as it would a cached Pythia checkpoint.

    python -m mathcamps.evaluation.tiny OUT [--release DIR] [--size tiny|pythia-410m] [--chat]
    python -m mathcamps.evaluation.tiny CACHE --hub org/tiny --revisions step0,step1000,step2000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterable

from mathcamps.evaluation.prompts import EXAMPLE_PROBLEM, EXAMPLE_SOLUTION, SYSTEM, DELIMITER

EOS = "<|endoftext|>"
# A minimal template: one block per message, then the assistant's turn when asked for.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
# Model shapes: `tiny` runs a whole evaluation on a CPU in seconds; `pythia-410m` is the
# configuration of EleutherAI's Pythia-410M (GPT-NeoX, 24 layers, width 1024), for benchmarks.
SIZES = {
    "tiny": {
        "vocab_size": 1024,
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 128,
    },
    "pythia-410m": {
        "vocab_size": 50304,
        "hidden_size": 1024,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
        "intermediate_size": 4096,
    },
}


def corpus(statements: Iterable[str], vocab_size: int = 1024) -> list[str]:
    """A training text for the tokenizer: the statements, the prompt, numbers, and (for a large vocabulary)
    seeded made-up words enough for BPE to reach `vocab_size` tokens."""
    texts = [SYSTEM, EXAMPLE_PROBLEM, EXAMPLE_SOLUTION, DELIMITER, "### Answer:", *statements]
    texts += [" ".join(str(n) for n in range(start, start + 50)) for start in range(0, 1000, 50)]
    if vocab_size > 4096:
        rng = random.Random(0)
        letters = "abcdefghijklmnopqrstuvwxyz"
        words = ["".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(vocab_size + 10000)]
        texts += [" ".join(words[i : i + 20]) for i in range(0, len(words), 20)]
        texts += [" ".join(str(n) for n in range(start, start + 100)) for start in range(1000, 100000, 100)]
    return texts


def build_tokenizer(texts: list[str], vocab_size: int = 1024, chat: bool = False):
    """A byte-level BPE tokenizer trained on `texts`, as a transformers PreTrainedTokenizerFast."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token=EOS, bos_token=EOS, pad_token=EOS)
    if chat:
        tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_model(out: Path, tokenizer, *, size: str = "tiny", seed: int = 0) -> Path:
    """A GPT-NeoX of this size with random weights (from `seed`) and the tokenizer, saved in `out`."""
    import torch
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM
    from transformers.utils import logging

    logging.disable_progress_bar()
    shape = dict(SIZES[size])
    shape["vocab_size"] = len(tokenizer)  # every id the model can emit decodes
    eos = tokenizer.eos_token_id
    config = GPTNeoXConfig(
        **shape,
        max_position_embeddings=2048,
        rotary_pct=0.25,
        rotary_emb_base=10000,
        use_parallel_residual=True,
        layer_norm_eps=1e-5,
        tie_word_embeddings=False,
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=eos,
    )
    torch.manual_seed(seed)
    model = GPTNeoXForCausalLM(config)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def commit_of(repo_id: str, revision: str) -> str:
    """The made-up commit hash a revision of a local hub repository points at."""
    return hashlib.sha1(f"{repo_id}@{revision}".encode()).hexdigest()


def build_hub_cache(cache_dir: Path, repo_id: str, revisions: list[str], tokenizer, *, size: str = "tiny") -> Path:
    """A Hugging Face cache folder in which `repo_id` has these revisions (seed i for the i-th); gives the repo folder."""
    repo = Path(cache_dir) / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    for seed, revision in enumerate(revisions):
        commit = commit_of(repo_id, revision)
        snapshot = repo / "snapshots" / commit
        if snapshot.exists():
            shutil.rmtree(snapshot)
        build_model(snapshot, tokenizer, size=size, seed=seed)
        (repo / "refs" / revision).write_text(commit)
    return repo


def statements_of(release: Path) -> list[str]:
    """The statements of a release folder (its data/*.jsonl) or of a JSONL file of problems."""
    release = Path(release)
    files = [release] if release.is_file() else sorted((release / "data").glob("*.jsonl"))
    statements = []
    for path in files:
        with path.open(encoding="utf-8") as lines:
            statements += [json.loads(line)["statement"] for line in lines if line.strip()]
    return statements


def main(argv: list[str] | None = None) -> int:
    """Builds a tiny model folder, or a hub cache of its revisions, from the command line."""
    parser = argparse.ArgumentParser(prog="python -m mathcamps.evaluation.tiny", description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="the model folder (or, with --hub, the cache folder) to write")
    parser.add_argument("--release", type=Path, help="train the tokenizer on this release's statements too")
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--chat", action="store_true", help="give the tokenizer a chat template")
    parser.add_argument("--seed", type=int, default=0, help="weights seed (a single model)")
    parser.add_argument("--hub", metavar="ORG/NAME", help="write a hub cache holding this repository")
    parser.add_argument("--revisions", default="step0,step1000,step2000", help="its revisions, comma-separated")
    parser.add_argument("--force", action="store_true", help="replace the model (or the revisions) already there")
    args = parser.parse_args(argv)
    there = Path(args.out) / ("models--" + args.hub.replace("/", "--")) if args.hub else Path(args.out)
    if there.exists() and any(there.iterdir()) and not args.force:
        parser.error(f"{there} exists already: pass --force to replace it, or choose another folder")
    statements = statements_of(args.release) if args.release else []
    vocab = SIZES[args.size]["vocab_size"]
    tokenizer = build_tokenizer(corpus(statements, vocab), vocab, chat=args.chat)
    if args.hub:
        revisions = [r.strip() for r in args.revisions.split(",") if r.strip()]
        repo = build_hub_cache(args.out, args.hub, revisions, tokenizer, size=args.size)
        print(f"wrote {args.hub} ({', '.join(revisions)}) to the hub cache {args.out} ({repo.name})")
    else:
        out = Path(args.out)
        if out.exists() and any(out.iterdir()) and not (out / "config.json").exists():
            parser.error(f"{out} exists and holds something other than a model: choose another folder")
        with tempfile.TemporaryDirectory(dir=Path(args.out).parent if Path(args.out).parent.exists() else None) as tmp:
            build_model(Path(tmp) / "model", tokenizer, size=args.size, seed=args.seed)
            if Path(args.out).exists():
                shutil.rmtree(args.out)
            shutil.move(str(Path(tmp) / "model"), args.out)
        print(f"wrote a {args.size} model ({len(tokenizer)} tokens) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
