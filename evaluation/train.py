"""Training a small language model from scratch on a train stream, saving checkpoints that
`eval sweep` and `dynamics` read as they read Pythia's.

The choices, and why:
- **Tokenizer.** A byte-level BPE trained on the stream, with every digit its own token
  (`Digits(individual_digits=True)`): a number's tokens then mean the same in every number, which a
  small model needs in order to learn place value. Any text still encodes (bytes).
- **Packing.** The stream's documents, in the stream's order, end to end with an end-of-text token
  between them, cut into blocks of `context` tokens: no padding, and the order of the data is the
  order the model sees it (the point of a data-order study). A budget larger than the stream goes
  through it again, in the same order.
- **Loss.** Cross-entropy on every token, with the answer's tokens (after `### Answer:`, up to the
  block delimiter) weighted `answer_weight` times: the statement is most of the text, and the
  answer is what is graded.
- **Schedule.** AdamW, linear warm-up over the first 5% of steps, cosine decay to a tenth.
- **Checkpoints.** `checkpoints` revisions `step0` (the initial weights) ... `stepN` (the last), at
  evenly spaced steps, each a snapshot of one hub repository in a Hugging Face cache folder
  (refs -> snapshots), so `from_pretrained(repo, revision="step40", cache_dir=...)` loads it
  offline. `lab.json` beside the cache records the tokens per step, the order and every setting.
- **Resuming.** The optimizer, the schedule, the data position and the random state are saved
  with each checkpoint; a run that stops resumes from its last checkpoint and gives the same
  weights as one that did not stop.

CPU by default (a `tiny` model learns its first kindergarten skills in minutes on two cores); with
CUDA the same command trains in bfloat16 autocast, and `--model pythia-70m` is Pythia-70M's shape.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from mathcamps.dialogue import ANSWER_MARKER, DELIMITER
from mathcamps.errors import MathcampsError
from mathcamps.evaluation.tiny import EOS, commit_of

LAB_FILE = "lab.json"
STATE_DIR = "state"
STREAM_DIR = "stream"  # where `lab train` writes the stream it trains on
# Model shapes (GPT-NeoX). `pythia-70m` is EleutherAI's Pythia-70M configuration, on our vocabulary.
MODELS = {
    "tiny": {"hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 512},
    "small": {"hidden_size": 256, "num_hidden_layers": 6, "num_attention_heads": 8, "intermediate_size": 1024},
    "pythia-70m": {"hidden_size": 512, "num_hidden_layers": 6, "num_attention_heads": 8, "intermediate_size": 2048},
}


class TrainingError(MathcampsError):
    """A training run that cannot start or go on: a missing stream, a bad model configuration."""


@dataclass
class Settings:
    """Everything that decides a run's weights (with the stream)."""

    model: str = "tiny"
    tokens: int = 2_000_000  # the training budget
    checkpoints: int = 6
    context: int = 256
    batch: int = 16
    learning_rate: float = 3e-3
    answer_weight: float = 4.0
    vocab_size: int = 2048
    seed: int = 0

    @property
    def tokens_per_step(self) -> int:
        return self.context * self.batch

    @property
    def steps(self) -> int:
        return max(1, self.tokens // self.tokens_per_step)

    def checkpoint_steps(self) -> list[int]:
        """step0 and then `checkpoints - 1` evenly spaced steps, the last at the end."""
        count = max(2, self.checkpoints)
        return sorted({round(i * self.steps / (count - 1)) for i in range(count)})


@dataclass
class Progress:
    step: int
    steps: int
    tokens: int
    loss: float
    tokens_per_second: float


@dataclass
class TrainResult:
    cache_dir: Path
    repo_id: str
    revisions: list[str]
    tokens_per_step: int
    parameters: int
    seconds: float
    tokens_per_second: float
    losses: list[float] = field(default_factory=list)


def read_stream(path: Path) -> list[str]:
    """The documents of a train stream (`stream.jsonl`), in its order."""
    if not path.is_file():
        raise TrainingError(f"{path}: no train stream there (write one with `mathcamps export RELEASE --format train`)")
    texts = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            try:
                texts.append(json.loads(line)["text"])
            except (ValueError, KeyError, TypeError):
                raise TrainingError(f"{path}:{number}: not a stream line (a JSON object with `text`)") from None
    if not texts:
        raise TrainingError(f"{path}: the stream holds no document")
    return texts


def build_tokenizer(texts: list[str], vocab_size: int):
    """A byte-level BPE with single-digit tokens, trained on `texts`, as a PreTrainedTokenizerFast."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[EOS], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token=EOS, bos_token=EOS, pad_token=EOS)


def model_config(settings: Settings, tokenizer, config_file: Path | None = None):
    """The GPT-NeoX configuration of a named shape (or a JSON file of GPTNeoXConfig fields)."""
    from transformers import GPTNeoXConfig

    if config_file is not None:
        try:
            shape = json.loads(Path(config_file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise TrainingError(f"--model {config_file}: cannot read it as a JSON configuration: {error}") from None
    elif settings.model in MODELS:
        shape = dict(MODELS[settings.model])
    else:
        raise TrainingError(f"--model {settings.model!r}: one of {', '.join(MODELS)} or a CONFIG.json file")
    eos = tokenizer.eos_token_id
    base = dict(
        vocab_size=len(tokenizer), max_position_embeddings=max(2048, settings.context), rotary_pct=0.25,
        use_parallel_residual=True, tie_word_embeddings=False, bos_token_id=eos, eos_token_id=eos,
        pad_token_id=eos,
    )
    try:
        return GPTNeoXConfig(**{**base, **shape})
    except (TypeError, ValueError) as error:
        raise TrainingError(f"--model: not a GPT-NeoX configuration: {error}") from None


def token_stream(texts: list[str], tokenizer) -> tuple[list[int], list[bool]]:
    """The documents' tokens end to end (an end-of-text token after each) and, per token, whether
    it belongs to an answer (after `### Answer:`, before the delimiter)."""
    ids: list[int] = []
    answer: list[bool] = []
    marker = ANSWER_MARKER
    for text in texts:
        position = 0
        while position < len(text):
            start = text.find(marker, position)
            if start < 0:
                pieces = [(text[position:], False)]
                position = len(text)
            else:
                end = text.find(DELIMITER, start)
                end = len(text) if end < 0 else end
                pieces = [(text[position : start + len(marker)], False), (text[start + len(marker) : end], True)]
                position = end
            for piece, is_answer in pieces:
                if piece:
                    tokens = tokenizer(piece, add_special_tokens=False)["input_ids"]
                    ids += tokens
                    answer += [is_answer] * len(tokens)
        ids.append(tokenizer.eos_token_id)
        answer.append(False)
    return ids, answer


def _learning_rate(step: int, settings: Settings) -> float:
    warmup = max(1, settings.steps // 20)
    if step < warmup:
        return settings.learning_rate * (step + 1) / warmup
    progress = (step - warmup) / max(1, settings.steps - warmup)
    return settings.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def _save_revision(model, tokenizer, cache_dir: Path, repo_id: str, revision: str) -> None:
    repo = cache_dir / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    commit = commit_of(repo_id, revision)
    snapshot = repo / "snapshots" / commit
    partial = snapshot.with_name(commit + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    shutil.rmtree(snapshot, ignore_errors=True)
    partial.rename(snapshot)
    (repo / "refs" / revision).write_text(commit)


def _batches(ids, answer, settings: Settings, start_block: int) -> Iterator[tuple[list[list[int]], list[list[bool]]]]:
    """Blocks of `context + 1` tokens (inputs and their next tokens), in stream order, cycling."""
    size = settings.context + 1
    blocks = max(1, (len(ids) - 1) // settings.context)
    block = start_block
    while True:
        xs, ws = [], []
        for _ in range(settings.batch):
            offset = (block % blocks) * settings.context
            chunk, weights = ids[offset : offset + size], answer[offset : offset + size]
            if len(chunk) < size:  # the stream is shorter than a block: wrap around
                chunk = (chunk + ids)[:size]
                weights = (weights + answer)[:size]
            xs.append(chunk)
            ws.append(weights)
            block += 1
        yield xs, ws


def train(
    stream: Path,
    out: Path,
    repo_id: str,
    settings: Settings,
    *,
    config_file: Path | None = None,
    resume: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    device: str | None = None,
) -> TrainResult:
    """Trains a model from scratch on the stream; its checkpoints go to `out/hub` as revisions of `repo_id`."""
    import torch
    from transformers import GPTNeoXForCausalLM
    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()
    texts = read_stream(stream)
    out = Path(out)
    cache_dir = out / "hub"
    state_dir = out / STATE_DIR
    lab_file = out / LAB_FILE
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    if resume and (state_dir / "state.pt").is_file():
        recorded = json.loads(lab_file.read_text())["settings"]
        if recorded != asdict(settings):
            raise TrainingError(
                f"{out}: the run there was started with other settings ({recorded}); resume with the same ones, "
                "or train into another --out"
            )
        from transformers import PreTrainedTokenizerFast

        tokenizer = PreTrainedTokenizerFast.from_pretrained(state_dir / "tokenizer")
        model = GPTNeoXForCausalLM.from_pretrained(state_dir / "model").to(device)
        saved = torch.load(state_dir / "state.pt", weights_only=False)
    else:
        if (out / LAB_FILE).exists() and not resume:
            raise TrainingError(f"{out} holds a run already: train into a new folder, or pass --resume")
        tokenizer = build_tokenizer(texts, settings.vocab_size)
        model = GPTNeoXForCausalLM(model_config(settings, tokenizer, config_file)).to(device)
        saved = None
    ids, answer = token_stream(texts, tokenizer)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, betas=(0.9, 0.95), weight_decay=0.1)
    step = 0
    losses: list[float] = []
    if saved is not None:
        optimizer.load_state_dict(saved["optimizer"])
        step, losses = saved["step"], saved["losses"]
        torch.set_rng_state(saved["torch_rng"])
    marks = settings.checkpoint_steps()
    revisions = [f"step{s}" for s in marks]
    lab = {
        "repo_id": repo_id, "stream": str(stream), "tokens_per_step": settings.tokens_per_step,
        "revisions": revisions, "settings": asdict(settings), "parameters": sum(p.numel() for p in model.parameters()),
        "device": device,
    }
    out.mkdir(parents=True, exist_ok=True)
    lab_file.write_text(json.dumps(lab, indent=2) + "\n")
    if step == 0:
        model.eval()
        _save_revision(model, tokenizer, cache_dir, repo_id, "step0")
    batches = _batches(ids, answer, settings, step * settings.batch)
    started = time.perf_counter()
    trained = 0
    model.train()
    while step < settings.steps:
        xs, ws = next(batches)
        batch = torch.tensor(xs, device=device)
        weights = 1.0 + (settings.answer_weight - 1.0) * torch.tensor(ws, dtype=torch.float32, device=device)[:, 1:]
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(step, settings)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
            logits = model(input_ids=batch[:, :-1]).logits
        each = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.size(-1)).float(), batch[:, 1:].reshape(-1), reduction="none"
        )
        loss = (each * weights.reshape(-1)).sum() / weights.sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        trained += settings.tokens_per_step
        losses.append(loss.item())
        if on_progress is not None:
            elapsed = time.perf_counter() - started
            on_progress(Progress(step, settings.steps, step * settings.tokens_per_step, losses[-1],
                                 trained / elapsed if elapsed else 0.0))
        if step in marks:
            model.eval()
            _save_revision(model, tokenizer, cache_dir, repo_id, f"step{step}")
            _save_state(state_dir, model, tokenizer, optimizer, step, losses)
            model.train()
    seconds = time.perf_counter() - started
    lab.update(seconds=seconds, tokens_per_second=trained / seconds if seconds else 0.0)
    lab_file.write_text(json.dumps(lab, indent=2) + "\n")
    return TrainResult(
        cache_dir, repo_id, revisions, settings.tokens_per_step, lab["parameters"], seconds,
        trained / seconds if seconds else 0.0, losses,
    )


def _save_state(state_dir: Path, model, tokenizer, optimizer, step: int, losses: list[float]) -> None:
    """What resuming needs, written whole: the weights, the tokenizer, the optimizer and where the run is."""
    import torch

    partial = state_dir.with_name(state_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    model.save_pretrained(partial / "model")
    tokenizer.save_pretrained(partial / "tokenizer")
    torch.save({"optimizer": optimizer.state_dict(), "step": step, "losses": losses,
                "torch_rng": torch.get_rng_state()}, partial / "state.pt")
    shutil.rmtree(state_dir, ignore_errors=True)
    partial.rename(state_dir)
