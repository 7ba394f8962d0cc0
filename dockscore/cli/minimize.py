"""`dockscore minimize`: poses optimised under the model, written beside the inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from dockscore.cli.common import console, errors, guard_outputs, open_scorer, read_records, symmetry_option
from dockscore.errors import InputError


def minimize(
    protein: Path = typer.Argument(..., help="Receptor (PDB/mmCIF)."),
    ligands: list[Path] = typer.Argument(..., help="Posed ligands (SDF/SDF.gz/MOL2)."),
    output: Path = typer.Option(..., "--output", "-o", help="SDF with optimised poses and their scores."),
    symmetry: str = symmetry_option(),
    model: Optional[Path] = typer.Option(None, "--model"),
    steps: int = typer.Option(50, "--steps", min=0, help="Gradient steps (rigid body + torsions)."),
) -> None:
    """Optimise each pose under the model (rigid body + torsions); the score never gets worse than the start.

    Scores here are the optimiser's objective, with the prior's repulsion unbounded (a soft core
    would let atoms sink into the protein); `dockscore score` on the output gives the soft-core score."""
    from dockscore.optimize import optimize_pose, set_heavy_positions
    from dockscore.report import PartialSDWriter, dockscore_properties
    from dockscore.sanity import pose_problem

    guard_outputs([output], [protein, *ligands, model])
    scorer = open_scorer(protein, model, symmetry)
    writer = PartialSDWriter(output)
    complete = False
    n_ok = n_err = 0
    table = Table(title=f"{scorer.model_name} ({scorer.symmetry.upper()}): minimised poses, scores in pK")
    for col in ("name", "index", "start", "optimised", "RMSD (A)", "status"):
        table.add_column(col)
    try:
        for record in read_records(ligands):
            try:
                if not record.ok:
                    raise InputError(record.error or "unusable record")
                if (problem := pose_problem(record.mol)) is not None:
                    raise InputError(problem)
                result = optimize_pose(scorer, scorer.prepare(record.mol), steps=steps)
            except InputError as exc:
                n_err += 1
                errors.print(f"error: {record.describe()}: {exc}", markup=False, highlight=False)
                table.add_row(record.name, str(record.index), "-", "-", "-", f"error: {exc}")
                continue
            mol = set_heavy_positions(record.mol, result.pos)
            for key, value in record.props.items():
                mol.SetProp(key, value)
            mol.SetProp("_Name", record.name)
            for key, value in dockscore_properties(score=result.score, start_score=result.start_score, rmsd_to_start=result.rmsd_to_start,
                                                   symmetry=scorer.symmetry, model=scorer.model_name,
                                                   objective="hard wall: the prior's repulsion unbounded (dockscore score uses its soft core)").items():
                mol.SetProp(key, value)
            writer.write(mol)
            writer.flush()
            n_ok += 1
            table.add_row(record.name, str(record.index), f"{result.start_score:.2f}", f"{result.score:.2f}", f"{result.rmsd_to_start:.2f}", "ok")
        complete = True
    except KeyboardInterrupt:
        errors.print(f"interrupted: {n_ok} minimised poses are in {writer.partial}; {output} was not replaced")
        raise typer.Exit(130)
    finally:
        writer.close(complete)
    console.print(table)
    console.print(f"minimised {n_ok}, failed {n_err}; wrote {output}", soft_wrap=True)
    if n_ok == 0:
        raise typer.Exit(1)
