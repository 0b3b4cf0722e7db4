"""The `mathcamps lab` command group: train small models on a release in a declared data order."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mathcamps.cli.common import console, errors, user_errors

lab_app = typer.Typer(help="Train small models on a release, in a declared data order, and watch skills emerge.",
                      no_args_is_help=True)


@lab_app.command("train")
@user_errors
def train_command(
    release: Annotated[Path, typer.Option("--release", help="A release folder, NAME-X.Y.Z.")],
    order: Annotated[str, typer.Option("--order", help="curriculum, reverse, interleaved or random.")],
    out: Annotated[Path, typer.Option("--out", help="The run's folder: its stream, hub cache (checkpoints) and lab.json.")],
    model: Annotated[str, typer.Option("--model", help="tiny, small, pythia-70m, or a CONFIG.json of GPT-NeoX fields.")] = "tiny",
    tokens: Annotated[int, typer.Option("--tokens", min=1, help="Training tokens in all.")] = 2_000_000,
    checkpoints: Annotated[int, typer.Option("--checkpoints", min=2, help="Revisions to save, step0 to the last.")] = 6,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the weights and of the random order.")] = 0,
    name: Annotated[Optional[str], typer.Option("--name", help="Hub id of the checkpoints (default: lab/ORDER).")] = None,
    context: Annotated[int, typer.Option("--context", min=16, help="Tokens per training block.")] = 256,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Blocks per step.")] = 16,
    learning_rate: Annotated[float, typer.Option("--lr", min=0.0, help="Peak learning rate.")] = 3e-3,
    answer_weight: Annotated[float, typer.Option("--answer-weight", min=0.0, help="Loss weight of answer tokens.")] = 4.0,
    resume: Annotated[bool, typer.Option("--resume", help="Go on from the run's last checkpoint in --out.")] = False,
) -> None:
    """Train a GPT-NeoX from scratch on a release's train stream in ORDER, saving checkpoints as revisions
    of a local hub cache that `eval sweep` and `dynamics` read."""
    settings = _settings(model, tokens=tokens, checkpoints=checkpoints, context=context, batch=batch,
                         learning_rate=learning_rate, answer_weight=answer_weight, seed=seed)
    run_training(release, order, out, settings, model, name, resume)


def _settings(model: str, **values):
    """The run's settings; a model given as CONFIG.json is recorded as `config` (its file is read at start)."""
    from mathcamps.evaluation.train import Settings

    return Settings(model="config" if model.endswith(".json") else model, **values)


def run_training(release: Path, order: str, out: Path, settings, model: str, name: str | None, resume: bool):
    """Writes the stream (unless resuming) and trains on it; prints the checkpoints and how to sweep them."""
    from mathcamps.compiler.export import export_release
    from mathcamps.evaluation.train import STREAM_DIR, TrainingError, train

    stream = out / STREAM_DIR
    if not resume:
        if out.exists() and any(out.iterdir()):
            raise TrainingError(f"--out {out} exists and is not empty: train into a new folder, or pass --resume")
        export_release(release, "train", stream, order=order, seed=settings.seed)
    repo_id = name or f"lab/{order}"
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[status]}"),
               TimeElapsedColumn()]
    with Progress(*columns, console=errors, transient=True) as progress:
        task = progress.add_task(f"training {repo_id}", total=settings.steps, status="")

        def advance(p) -> None:
            progress.update(task, completed=p.step,
                            status=f"step {p.step}/{p.steps}  loss {p.loss:.3f}  {p.tokens_per_second:,.0f} tokens/s")

        result = train(stream / "stream.jsonl", out, repo_id, settings,
                       config_file=Path(model) if model.endswith(".json") else None, resume=resume,
                       on_progress=advance)
    table = Table(title=f"{repo_id}: {result.parameters:,} parameters, {settings.tokens:,} tokens", expand=False)
    for column in ("revisions", "tokens per step", "seconds", "tokens/s", "last loss"):
        table.add_column(column, justify="right")
    table.add_row(", ".join(result.revisions), f"{result.tokens_per_step:,}", f"{result.seconds:.0f}",
                  f"{result.tokens_per_second:,.0f}", f"{result.losses[-1]:.3f}" if result.losses else "-")
    console.print(table)
    console.print(
        f"sweep them: mathcamps eval sweep --release {release} --model {repo_id} --cache-dir {result.cache_dir} "
        f"--revisions {','.join(result.revisions)} --backend hf --split test; then mathcamps dynamics RESULTS "
        f"--tokens-per-step {result.tokens_per_step}",
        highlight=False, soft_wrap=True,
    )
    return result


@lab_app.command("run")
@user_errors
def run_command(
    release: Annotated[Path, typer.Option("--release", help="A release folder, NAME-X.Y.Z.")],
    out: Annotated[Path, typer.Option("--out", help="The lab's folder: a run per order, results, figures.")],
    orders: Annotated[str, typer.Option("--orders", help="Data orders, comma-separated.")] = "curriculum,random,reverse",
    model: Annotated[str, typer.Option("--model", help="tiny, small, pythia-70m, or a CONFIG.json.")] = "tiny",
    tokens: Annotated[int, typer.Option("--tokens", min=1, help="Training tokens per order (the same budget for each).")] = 2_000_000,
    checkpoints: Annotated[int, typer.Option("--checkpoints", min=2, help="Revisions per order.")] = 6,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the weights and of the random order.")] = 0,
    learning_rate: Annotated[float, typer.Option("--lr", min=0.0, help="Peak learning rate.")] = 3e-3,
    answer_weight: Annotated[float, typer.Option("--answer-weight", min=0.0, help="Loss weight of answer tokens.")] = 4.0,
    threshold: Annotated[float, typer.Option("--threshold", min=0.0, max=1.0, help="Accuracy a skill must reach and keep to emerge.")] = 0.5,
    split: Annotated[str, typer.Option("--split", help="The split the checkpoints are asked: test, train or all.")] = "test",
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1, help="Longest answer, in tokens.")] = 16,
    permutations: Annotated[int, typer.Option("--permutations", min=0, help="Permutations for the p-values.")] = 10000,
) -> None:
    """Train a model on each data order with the same budget, sweep every checkpoint, and compare when
    each skill emerged under each order (finding 3 of the study: the order of the data matters)."""
    import json

    from mathcamps.cli.eval_analysis import print_dynamics
    from mathcamps.cli.eval_run import sweep_command
    from mathcamps.compiler.stream import ORDERS
    from mathcamps.evaluation.dynamics import analyse, plot_grades
    from mathcamps.evaluation.report import read_results
    from mathcamps.evaluation.train import TrainingError

    import time

    started = time.perf_counter()
    chosen = list(dict.fromkeys(o.strip() for o in orders.split(",") if o.strip()))
    wrong = [o for o in chosen if o not in ORDERS]
    if not chosen or wrong:
        raise TrainingError(f"--orders {orders!r}: each one of {', '.join(ORDERS)}")
    if out.exists() and any(out.iterdir()):
        raise TrainingError(f"--out {out} exists and is not empty: give the lab a new folder")
    out.mkdir(parents=True, exist_ok=True)
    # The lab's models are trained on bare dialogues (no instruction, no worked example): they are asked so.
    prompt = out / "prompt.json"
    prompt.write_text("[]\n")
    results = out / "results.jsonl"
    tokens_per_step = None
    for order in chosen:
        console.rule(f"[bold]{order}")
        settings = _settings(model, tokens=tokens, checkpoints=checkpoints, learning_rate=learning_rate,
                             answer_weight=answer_weight, seed=seed)
        trained = run_training(release, order, out / order, settings, model, None, False)
        tokens_per_step = trained.tokens_per_step
        try:
            sweep_command(release=release, model=trained.repo_id, out=results, revisions=",".join(trained.revisions),
                          backend="hf", cache_dir=trained.cache_dir, split=split, max_new_tokens=max_new_tokens,
                          prompt_format="completion", prompt=prompt)
        except typer.Exit as stop:
            if stop.exit_code:
                raise
    dynamics = analyse(read_results([results]), threshold, 0.8, tokens_per_step, {}, permutations, 0)
    console.rule("[bold]dynamics")
    print_dynamics(dynamics, permutations, 0)
    table = Table(title=f"emergence per order (accuracy >= {threshold:g}, held to the last checkpoint)", expand=False)
    table.add_column("standard")
    table.add_column("grade", justify="right")
    for m in dynamics.models:
        table.add_column(m.model, justify="right")
    standards = {s: e.grade for m in dynamics.models for s, e in m.emergences.items()}
    for standard, grade in sorted(standards.items(), key=lambda kv: (kv[1] != "K", kv[1], kv[0])):
        cells = []
        for m in dynamics.models:
            point = m.emergences[standard].absolute if standard in m.emergences else None
            cells.append(f"{point.revision} ({point.tokens:,})" if point else "[dim]never[/]")
        table.add_row(standard, grade, *cells)
    console.print(table)
    for m in dynamics.models:
        c = m.correlations["absolute"]
        emerged = len([s for s in m.emerged("absolute").values() if s is not None])
        console.print(f"{m.model}: {emerged} of {len(m.emergences)} standards emerged; Spearman rho against grade "
                      f"{'-' if c.rho is None else f'{c.rho:.3f}'} (permutation p "
                      f"{'-' if c.rho_p is None else f'{c.rho_p:.3g}'}, {c.n} standards)", highlight=False)
    figure = out / "orders.png"
    plot_grades(dynamics, figure)
    (out / "dynamics.json").write_text(json.dumps(dynamics.to_json(), indent=2) + "\n")
    console.print(f"wrote {figure}, {out / 'dynamics.json'} and {results}", highlight=False)
    console.print(f"the lab took {time.perf_counter() - started:.0f} s in all", highlight=False)
