"""The `dockscore` command line: a thin layer over :mod:`dockscore.scoring` and :mod:`dockscore.train`."""

from __future__ import annotations

import gzip
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dockscore.errors import InputError
from dockscore.scoring import SCORE_MEANING, SCORE_UNIT

app = typer.Typer(add_completion=False, no_args_is_help=True, help=f"Score protein-ligand poses with an equivariant GNN. Scores are {SCORE_MEANING}.")
console = Console()
errors = Console(stderr=True, soft_wrap=True)  # one error, one line: never wrapped


def _count_records(path: Path) -> int | None:
    """Cheap record count for the progress bar (None when it cannot be known cheaply)."""
    try:
        if path.stat().st_size > 500_000_000:
            return None
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            if path.name.lower().endswith((".mol2", ".mol2.gz")):
                return sum(1 for line in handle if line.startswith(b"@<TRIPOS>MOLECULE"))
            data = handle.read()
        n = data.count(b"\n$$$$")
        return n + (1 if data.rstrip().split(b"\n")[-1:] != [b"$$$$"] and data.strip() else 0)
    except Exception:
        return None


@app.command()
def score(
    protein: Path = typer.Argument(..., help="Receptor: PDB or mmCIF (optionally .gz). Waters dropped, hydrogens ignored (heavy-atom graph)."),
    ligands: list[Path] = typer.Argument(..., help="Poses: SDF, SDF.gz or MOL2, in the receptor's coordinate frame. Several files allowed."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write results: .sdf/.sdf.gz (input records + dockscore_* properties) or .csv."),
    symmetry: str = typer.Option("e3", "--symmetry", "-s", help="e3: invariant to rotation, translation and reflection. se3: rotation/translation only (parity-odd features see handedness)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Checkpoint (.safetensors); default: the shipped model for --symmetry."),
    pocket_cutoff: Optional[float] = typer.Option(None, "--pocket-cutoff", help="Protein atoms within this distance (A) of any ligand heavy atom form the pocket; default: the model's training value (8 A). Smaller values truncate the learned interaction terms."),
    batch_size: int = typer.Option(32, "--batch-size", help="Poses per model call."),
    threads: int = typer.Option(1, "--threads", help="Torch CPU threads (1 is fastest for these small graphs; run several processes to use more cores)."),
    keep_waters: bool = typer.Option(False, "--keep-waters", help="Keep crystal waters as protein atoms (the shipped models were trained without them)."),
    show: int = typer.Option(50, "--show", help="Rows of the terminal table (0 = none)."),
) -> None:
    """Score every pose; the score is a predicted pK (-log10 Kd), higher = tighter binding."""
    import torch

    from dockscore.report import ResultWriter
    from dockscore.scoring import Scorer

    torch.set_num_threads(max(1, threads))
    if symmetry not in ("e3", "se3"):
        errors.print(f"error: --symmetry must be e3 or se3, not {symmetry!r}")
        raise typer.Exit(2)
    try:
        scorer = Scorer(protein, model=model, symmetry=symmetry, pocket_cutoff=pocket_cutoff, batch_size=batch_size, keep_waters=keep_waters)
        writer = ResultWriter(output, scorer.symmetry, scorer.model_name) if output else None
    except (InputError, ValueError) as exc:
        errors.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1)

    table = Table(title=f"{scorer.model_name} ({scorer.symmetry.upper()})")
    for col, just in (("name", "left"), ("index", "right"), (f"score ({SCORE_UNIT})", "right"), ("status", "left")):
        table.add_column(col, justify=just)
    n_ok = n_err = 0
    total = sum(filter(None, (_count_records(p) for p in ligands))) or None
    progress = Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=errors, transient=True, disable=not errors.is_terminal)
    try:
        with progress:
            task = progress.add_task("scoring", total=total)
            for path in ligands:
                try:
                    for result in scorer.score_file(path):
                        progress.advance(task)
                        if writer:
                            writer.write(result)
                        if result.status == "ok":
                            n_ok += 1
                        else:
                            n_err += 1
                            progress.console.print(f"error: {result.source} record {result.index} ({result.name}): {result.message}", markup=False, highlight=False)
                        if n_ok + n_err <= show:
                            shown = f"{result.score:.2f}" if result.score is not None else "-"
                            table.add_row(result.name, str(result.index), shown, "ok" if result.status == "ok" else f"error: {result.message}")
                except InputError as exc:  # file-level problem: report, go on with the next file
                    n_err += 1
                    progress.console.print(f"error: {exc}", markup=False, highlight=False)
    finally:
        if writer:
            writer.close()
    if show and table.row_count:
        console.print(table)
        console.print(f"score: {SCORE_MEANING}", soft_wrap=True)
        if n_ok + n_err > show:
            console.print(f"... {n_ok + n_err - show} more rows (see --output)")
    console.print(f"scored {n_ok}, failed {n_err}" + (f"; wrote {output}" if output else ""), soft_wrap=True)
    if n_ok == 0:
        raise typer.Exit(1)


@app.command()
def train(
    data: Path = typer.Option(Path("../shared/data"), help="Folder with pdbbind/ (and fep/jacs_set/ for the FEP evaluation)."),
    symmetry: str = typer.Option("e3", help="e3 or se3."),
    out: Path = typer.Option(Path("models"), help="Where to write the checkpoint and its metrics JSON."),
    epochs: int = typer.Option(30, help="Training epochs."),
    seed: int = typer.Option(0, help="Seed for the split, initialisation and sampling."),
    threads: int = typer.Option(1, help="Torch CPU threads."),
    device: str = typer.Option("cpu", help="cpu or cuda."),
    cache: Optional[Path] = typer.Option(None, help="Tensor cache of the parsed complexes (written if missing; read if present)."),
    time_budget: Optional[float] = typer.Option(None, help="Seconds of training; the LR schedule is fitted to it after epoch 0."),
    lr: float = typer.Option(5e-4, help="Peak learning rate (AdamW, warm-up + cosine)."),
    ema: float = typer.Option(0.995, help="EMA decay of the evaluated/saved weights (0 = off)."),
    vectors: int = typer.Option(16, help="l=1 vector channels (0 = invariant l=0 network; e3 only)."),
) -> None:
    """Train a model on PDBbind complexes (protein-wise split) and write it with its held-out metrics."""
    import torch

    from dockscore.model import ModelConfig
    from dockscore.train import run_training

    torch.set_num_threads(max(1, threads))
    try:
        run_training(data, symmetry, out, epochs=epochs, seed=seed, log=console.print, device=device, cache=cache,
                     time_budget_s=time_budget, model_config=ModelConfig(symmetry=symmetry, vectors=vectors),
                     train_overrides={"lr": lr, "ema_decay": ema})
    except (InputError, FileNotFoundError, ValueError) as exc:
        errors.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        errors.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
