"""`dockscore compare`: two poses of one ligand, their score difference and where it comes from."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from dockscore.cli.common import console, errors, guard_outputs, open_scorer, read_records, symmetry_option


COMPARE_THRESHOLD = 0.5  # pK; see `compare --help`


def compare(
    protein: Path = typer.Argument(..., help="Receptor (PDB/mmCIF)."),
    ligands: list[Path] = typer.Argument(..., help="Posed ligands, several stereoisomers of a molecule with their own poses."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="CSV: one row per stereoisomer with its best score and the group's delta."),
    symmetry: str = symmetry_option(),
    model: Optional[Path] = typer.Option(None, "--model"),
    threshold: float = typer.Option(COMPARE_THRESHOLD, "--threshold", help="Flag a group when its best stereoisomer beats the next by more than this (pK). Default 0.5: about the median per-ligand threshold that `dockscore enantiomers` calibrated on 110 held-out chiral crystal ligands (0.36 E3, 0.52 SE3)."),
) -> None:
    """Group poses by constitution, compare stereoisomers' best scores, flag preferences beyond --threshold."""
    import csv

    from dockscore.enantiomers import group_stereoisomers
    from dockscore.report import STEREOISOMER_COLUMNS, AtomicOutput, stereoisomer_row

    guard_outputs([output], [protein, *ligands, model])
    scorer = open_scorer(protein, model, symmetry)
    results = []
    for r in scorer.score_records(read_records(ligands)):
        if r.status != "ok":
            errors.print(f"error: {r.source} record {r.index} ({r.name}): {r.message}", markup=False, highlight=False)
        results.append(r)
    groups = group_stereoisomers(results)
    table = Table(title=f"{scorer.model_name} ({scorer.symmetry.upper()}): stereoisomers by constitution, best score per isomer (pK)")
    for col in ("group", "isomer (CIP)", "name", "best score", "delta to next", "flag"):
        table.add_column(col)
    table_out = AtomicOutput(output) if output else None
    handle = table_out.open() if table_out else None
    writer = csv.writer(handle) if handle else None
    if writer:
        writer.writerow(STEREOISOMER_COLUMNS)
    for g_idx, group in enumerate(groups):
        ranked = group.ranked()
        flagged = len(ranked) > 1 and group.delta > threshold
        for rank, (iso, (score, cip, name, index)) in enumerate(ranked):
            delta = f"{group.delta:.2f}" if rank == 0 and len(ranked) > 1 else ""
            table.add_row(str(g_idx) if rank == 0 else "", cip or "-", name, f"{score:.2f}", delta, "yes" if flagged and rank == 0 else "")
            if writer:
                writer.writerow(stereoisomer_row(g_idx, group, iso, cip, name, index, score, rank, len(ranked), flagged, threshold,
                                                 scorer.symmetry, scorer.model_name))
    if table_out:
        table_out.close()
    console.print(table)
    n_multi = sum(len(g.isomers) > 1 for g in groups)
    console.print(f"{len(groups)} constitution group(s), {n_multi} with several stereoisomers", soft_wrap=True)
    if not groups:
        raise typer.Exit(1)
