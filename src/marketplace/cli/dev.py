"""``marketplace dev``: development helpers (demo data)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Development helpers.", no_args_is_help=True)
