"""The `mathcamps eval run` and `mathcamps eval sweep` commands: put a release to a model, or to each of its checkpoints."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from mathcamps.cli.common import _state, console, errors, progress_bar, user_errors
from mathcamps.cli.evaluate import eval_app
from mathcamps.evaluation.backends import DEFAULT_RETRIES, DEFAULT_TIMEOUT
from mathcamps.files import check_output

ENTRY = "from mathcamps.cli.main import app; app(prog_name='mathcamps')"

ReleaseDir = Annotated[
    Path, typer.Option("--release", help="A release folder (manifest.json, data/*.jsonl) or a JSONL file of problems.")
]
Model = Annotated[str, typer.Option("--model", help="A local model folder, or a hub id (e.g. EleutherAI/pythia-160m).")]
Out = Annotated[Path, typer.Option("--out", help="Results JSONL: appended to; problems already in it are skipped.")]
Backend = Annotated[
    str, typer.Option("--backend", help="auto (vllm with a GPU, else hf), hf (transformers), vllm, or openai.")
]
BaseUrl = Annotated[
    Optional[str], typer.Option("--base-url", help="The openai backend's server (default http://127.0.0.1:8000/v1).")
]
CacheDir = Annotated[
    Optional[Path], typer.Option("--cache-dir", help="Hugging Face hub cache to find the model in (default: HF_HOME's).")
]
Limit = Annotated[
    Optional[int], typer.Option("--limit-per-standard", min=1, help="Only the first N originals of each standard.")
]
BatchSize = Annotated[
    Optional[int], typer.Option("--batch-size", min=1, help="Prompts per batch (default: 8 hf, 1024 vllm, 32 openai).")
]
Split = Annotated[str, typer.Option("--split", help="all (train, then test), train or test.")]
MaxNewTokens = Annotated[int, typer.Option("--max-new-tokens", min=1, help="Longest response, in tokens.")]
PromptFormat = Annotated[
    str,
    typer.Option("--prompt-format", help="auto (the chat template when the model has one), chat, or completion."),
]
PromptFile = Annotated[
    Optional[Path],
    typer.Option("--prompt", help="A JSON list of messages to put before each problem instead of ours."),
]
Timeout = Annotated[
    float, typer.Option("--timeout", min=1.0, help="openai: seconds the server may take to answer one request.")
]
Retries = Annotated[
    int, typer.Option("--retries", min=0, help="openai: more attempts at a request that got no answer, or a busy one.")
]


@eval_app.command("run")
@user_errors
def run_command(
    release: ReleaseDir,
    model: Model,
    out: Out,
    revision: Annotated[Optional[str], typer.Option("--revision", help="A hub revision, e.g. step143000.")] = None,
    backend: Backend = "auto",
    base_url: BaseUrl = None,
    cache_dir: CacheDir = None,
    limit_per_standard: Limit = None,
    batch_size: BatchSize = None,
    split: Split = "all",
    max_new_tokens: MaxNewTokens = 512,
    prompt_format: PromptFormat = "auto",
    prompt: PromptFile = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    retries: Retries = DEFAULT_RETRIES,
) -> None:
    """Ask a model every problem of a release (follow-ups after a correct original), grade, append results."""
    from mathcamps.evaluation.backends import ModelSource, open_backend
    from mathcamps.evaluation.prompts import OneShot
    from mathcamps.evaluation.run import read_release, run

    check_output(out, True, [release])  # appended to, so it may exist; never the release itself (checked first)
    one_shot = OneShot.from_file(prompt) if prompt is not None else OneShot()
    problems = read_release(release, split)
    source = ModelSource(model, revision, cache_dir)
    label = f"{model}@{revision}" if revision else model
    engine = open_backend(backend, source, prompt_mode=prompt_format, batch_size=batch_size, base_url=base_url,
                          timeout=timeout, retries=retries)
    with progress_bar(auto_refresh=True) as progress:
        title = f"{engine.name} {label}"
        task = progress.add_task(title, total=None)
        # While the backend waits (a server that does not answer), the progress line says for what.
        engine.on_wait = lambda why: progress.update(task, description=f"{title} [yellow]({why})[/]")
        try:
            summary = run(
                problems,
                engine,
                out,
                model=model,
                revision=revision,
                prompt=one_shot,
                max_new_tokens=max_new_tokens,
                limit_per_standard=limit_per_standard,
                on_start=lambda total: progress.update(task, total=total),
                on_result=lambda result: progress.update(task, advance=1, description=title),
            )
        finally:
            engine.close()
    table = Table(title=f"{label} on {problems.path.name} ({engine.name}, {engine.prompt_format})", expand=False)
    for column in ("new", "correct", "wrong", "no answer", "not asked", "skipped", "problems/s", "tokens/s"):
        table.add_column(column, justify="right", no_wrap=True)
    counts = {verdict.value: n for verdict, n in summary.verdicts.items()}
    table.add_row(
        str(summary.written),
        *(str(counts.get(v, 0)) for v in ("correct", "wrong", "no-answer", "not-asked")),
        str(summary.skipped),
        f"{summary.problems_per_second():.2f}",
        f"{summary.tokens_per_second():.1f}",
    )
    console.print(table)
    console.print(
        f"appended {summary.written} results to {out} (skipped {summary.skipped} already there; model loaded in "
        f"{summary.load_seconds:.1f} s, generation {summary.seconds:.1f} s)",
        highlight=False,
    )


@eval_app.command("sweep")
@user_errors
def sweep_command(
    release: ReleaseDir,
    model: Model,
    out: Out,
    revisions: Annotated[
        str, typer.Option("--revisions", help="Checkpoints, comma-separated: step1000,step2000,...")
    ],
    backend: Backend = "auto",
    base_url: BaseUrl = None,
    cache_dir: CacheDir = None,
    limit_per_standard: Limit = None,
    batch_size: BatchSize = None,
    split: Split = "all",
    max_new_tokens: MaxNewTokens = 512,
    prompt_format: PromptFormat = "auto",
    prompt: PromptFile = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    retries: Retries = DEFAULT_RETRIES,
) -> None:
    """Run `eval run` for each checkpoint of a model, each in its own process, into one results file.

    A failing checkpoint is reported and the sweep goes on; the exit status is 1 if any failed."""
    from mathcamps.evaluation.sweep import parse_revisions, sweep

    chosen = parse_revisions(revisions)
    options = [
        "--release", str(release), "--model", model, "--out", str(out), "--backend", backend,
        "--split", split, "--max-new-tokens", str(max_new_tokens), "--prompt-format", prompt_format,
        "--timeout", str(timeout), "--retries", str(retries),
    ]
    for flag, value in (
        ("--base-url", base_url),
        ("--cache-dir", cache_dir),
        ("--limit-per-standard", limit_per_standard),
        ("--batch-size", batch_size),
        ("--prompt", prompt),
    ):
        if value is not None:
            options += [flag, str(value)]
    debug = ["--debug"] if _state["debug"] else []

    def command(revision: str) -> list[str]:
        # A fresh interpreter per checkpoint: vLLM does not reliably give GPU memory back within a process.
        return [sys.executable, "-c", ENTRY, *debug, "eval", "run", *options, "--revision", revision]

    def starting(revision: str, index: int) -> None:
        errors.print(f"[bold]── {model}@{revision}[/] ({index + 1} of {len(chosen)})", highlight=False)

    outcomes = sweep(chosen, command, on_start=starting)
    table = Table(title=f"sweep of {model}", expand=False)
    for column in ("revision", "status", "seconds"):
        table.add_column(column, justify="left" if column != "seconds" else "right")
    for outcome in outcomes:
        status = "[green]done[/]" if outcome.ok else f"[red]failed (exit {outcome.returncode})[/]"
        table.add_row(outcome.revision, status, f"{outcome.seconds:.1f}")
    console.print(table)
    failed = [o.revision for o in outcomes if not o.ok]
    if failed:
        errors.print(f"[bold red]error:[/] {len(failed)} of {len(outcomes)} revisions failed: {', '.join(failed)}; "
                     "their messages are above. Rerun the sweep to retry them: finished ones are skipped.",
                     highlight=False)
        raise typer.Exit(1)

