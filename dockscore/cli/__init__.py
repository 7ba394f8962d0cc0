"""The `dockscore` command line: one module per command, each a thin layer that parses, calls the
library and prints. Heavy imports (torch, RDKit, the model) happen inside the commands, so that
`dockscore --help` stays fast."""

from __future__ import annotations

import sys

import typer

from dockscore.cli import benchmark, compare, enantiomers, explain, minimize, rank, score, train
from dockscore.cli.common import console, errors
from dockscore.definitions import SCORE_MEANING


app = typer.Typer(add_completion=False, no_args_is_help=True, help=f"Score protein-ligand poses with an equivariant GNN. Scores are {SCORE_MEANING}.")


def _version(value: bool) -> None:
    if value:
        from dockscore import __version__

        console.print(f"dockscore {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit.")) -> None:
    """Score protein-ligand poses with an equivariant GNN."""


for _command in (score.score, rank.rank, enantiomers.enantiomers, explain.explain, compare.compare, minimize.minimize,
                 benchmark.benchmark, train.train):
    app.command()(_command)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        errors.print("interrupted")
        sys.exit(130)
    except OSError as exc:  # a full disk, a folder that vanished, no permission: a user's problem, one line
        where = f"{exc.filename}: " if exc.filename else ""
        errors.print(f"error: {where}{exc.strerror or exc}", markup=False, highlight=False)
        sys.exit(1)

