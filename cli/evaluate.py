"""The `mathcamps eval` command group: the typer sub-app that evaluation commands register on."""

from __future__ import annotations

import typer

eval_app = typer.Typer(help="Run language models over a release, grade their answers, report accuracy.", no_args_is_help=True)
