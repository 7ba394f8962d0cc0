"""`dockscore score`: every pose of every ligand file, scored and written as SDF or CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dockscore.cli.common import add_column, console, device_option, errors, protein_note, symmetry_option
from dockscore.definitions import POSE_SCORE_MEANING, SCORE_MEANING, SCORE_UNIT
from dockscore.errors import InputError


def score(
    protein: Path = typer.Argument(..., help="Receptor: PDB or mmCIF (optionally .gz). Waters dropped, hydrogens ignored (heavy-atom graph)."),
    ligands: list[Path] = typer.Argument(..., help="Poses: SDF, SDF.gz, MOL2 or PDBQT (Vina, QuickVina, Uni-Dock outputs: each MODEL a pose), in the receptor's coordinate frame. Several files allowed."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write results: .sdf/.sdf.gz (input records + dockscore_* properties) or .csv."),
    template: Optional[str] = typer.Option(None, "--template", help="The chemistry of PDBQT poses that carry no Meeko 'REMARK SMILES' lines (files not prepared with Meeko): the ligand's SMILES, or an SDF/MOL file of it."),
    symmetry: str = symmetry_option(),
    model: Optional[Path] = typer.Option(None, "--model", help="Checkpoint (.safetensors); default: the shipped model for --symmetry."),
    pocket_cutoff: Optional[float] = typer.Option(None, "--pocket-cutoff", min=1.0, max=30.0, help="Protein atoms within this distance (A) of any ligand heavy atom form the pocket; default: the model's training value (8 A). Smaller values truncate the learned interaction terms."),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Poses per model call."),
    threads: int = typer.Option(1, "--threads", min=1, help="Torch CPU threads (1 is fastest for these small graphs; for many poses use `dockscore rank --jobs N`)."),
    device: str = device_option("cpu, or cuda[:N]: the model runs on the GPU in --batch-size batches."),
    keep_waters: bool = typer.Option(False, "--keep-waters", help="Keep crystal waters as protein atoms (the shipped models were trained without them)."),
    show: int = typer.Option(50, "--show", min=0, help="Rows of the terminal table (0 = none)."),
    stereo: bool = typer.Option(True, "--stereo/--no-stereo", help="Perceive stereocentres: CIP labels and declared-vs-3D consistency flags in the output."),
) -> None:
    """Score every pose; the score is a predicted pK (-log10 Kd), higher = tighter binding."""
    import torch

    from dockscore.rank import template_mol as template_molecule
    from dockscore.report import ResultWriter
    from dockscore.scoring import Scorer

    from dockscore.io.ligands import iter_raw_records, parse_raw
    from dockscore.report import check_outputs

    torch.set_num_threads(max(1, threads))
    try:
        check_outputs([output], [protein, *ligands, *([model] if model else [])])
        template_mol = template_molecule(template)
        if device != "cpu" and not torch.cuda.is_available():
            raise InputError(f"--device {device}: this torch build sees no CUDA device (install a CUDA build of torch, or use --device cpu)")
        scorer = Scorer(protein, model=model, symmetry=symmetry, pocket_cutoff=pocket_cutoff, batch_size=batch_size,
                        keep_waters=keep_waters, stereo=stereo)
        protein_note(scorer.protein)
        if device != "cpu":
            scorer = scorer.to(device)
        writer = ResultWriter(output, scorer.symmetry, scorer.model_name) if output else None
    except (InputError, ValueError, OSError) as exc:
        errors.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1)

    table = Table(title=f"{scorer.model_name} ({scorer.symmetry.upper()})")
    for col, just in (("name", "left"), ("index", "right"), (f"score ({SCORE_UNIT})", "right"), ("pose score", "right"), ("CIP", "left"),
                      ("status", "left")):
        add_column(table, col, numeric=just == "right")
    n_ok = n_err = 0
    sizes = [p.stat().st_size if p.is_file() else 0 for p in ligands]  # progress by bytes read: nothing is read twice
    progress = Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), TextColumn("{task.fields[poses]} poses"),
                        TimeElapsedColumn(), console=errors, transient=True, disable=not errors.is_terminal)
    complete = False
    try:
        with progress:
            task = progress.add_task("scoring", total=sum(sizes) or None, poses=0)
            done_bytes = 0
            for path, size in zip(ligands, sizes):
                read = {"offset": 0}

                def records(path=path, read=read):
                    for raw in iter_raw_records(path):
                        read["offset"] = raw.offset
                        yield parse_raw(raw, template_mol)

                try:
                    for result in scorer.score_records(records()):
                        progress.update(task, completed=done_bytes + read["offset"], poses=n_ok + n_err + 1)
                        if writer:
                            writer.write(result)
                        if result.status == "ok":
                            n_ok += 1
                        else:
                            n_err += 1
                            progress.console.print(f"error: {result.source} record {result.index} ({result.name}): {result.message}", markup=False, highlight=False)
                        if n_ok + n_err <= show:
                            shown = f"{result.score:.2f}" if result.score is not None else "-"
                            pose_shown = f"{result.pose_score:.2f}" if result.pose_score is not None else "-"
                            st = result.stereo
                            status = "ok" if result.status == "ok" else f"error: {result.message}"
                            if st is not None and st.flag() != "ok":
                                status += f" (stereo: {st.flag()})"
                            table.add_row(result.name, str(result.index), shown, pose_shown, st.cip() if st else "", status)
                except InputError as exc:  # file-level problem: report, go on with the next file
                    n_err += 1
                    progress.console.print(f"error: {exc}", markup=False, highlight=False)
                done_bytes += size
        complete = True
    except KeyboardInterrupt:
        where = f" to {writer.partial}" if writer else ""
        errors.print(f"interrupted: {n_ok + n_err} records written{where} ({n_ok} scored); the output was not replaced",
                     markup=False, highlight=False)
        raise typer.Exit(130)
    except OSError as exc:  # a full disk, a vanished output folder
        errors.print(f"error: writing {output}: {exc.strerror or exc}; {n_ok + n_err} records are in {writer.partial if writer else '-'}",
                     markup=False, highlight=False)
        raise typer.Exit(1)
    finally:
        if writer:
            writer.close(complete=complete)
    if show and table.row_count:
        console.print(table)
        console.print(f"score: {SCORE_MEANING}", soft_wrap=True)
        console.print(f"pose score: {POSE_SCORE_MEANING}", soft_wrap=True)
        if n_ok + n_err > show:
            console.print(f"... {n_ok + n_err - show} more rows (see --output)")
    console.print(f"scored {n_ok}, failed {n_err}" + (f"; wrote {output}" if output else ""), soft_wrap=True)
    if n_ok == 0:
        raise typer.Exit(1)
