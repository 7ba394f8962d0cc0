"""`dockscore train`: a model trained on PDBbind complexes, or its recipe cross-validated."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from dockscore.cli.common import console, errors
from dockscore.errors import InputError


def train(
    data: Path = typer.Option(Path("../shared/data"), help="Folder with pdbbind/ (and fep/jacs_set/ for the FEP evaluation)."),
    symmetry: str = typer.Option("e3", help="e3 or se3."),
    out: Path = typer.Option(Path("models"), "--output", "-o", "--out", help="Folder for the checkpoint and its metrics JSON (with --cv: the fold models and the CV table)."),
    epochs: int = typer.Option(16, help="Training epochs (the cosine LR schedule spans them)."),
    seed: int = typer.Option(0, help="Seed for initialisation and sampling (the protein-wise split always uses split seed 0)."),
    threads: int = typer.Option(1, help="Torch CPU threads."),
    device: str = typer.Option("cpu", help="cpu or cuda."),
    cache: Optional[Path] = typer.Option(None, help="Tensor cache of the parsed complexes (written if missing; read if present)."),
    time_budget: Optional[float] = typer.Option(None, help="Seconds of training; the LR schedule is fitted to it after epoch 0."),
    lr: float = typer.Option(1e-3, help="Peak learning rate (AdamW, warm-up + cosine)."),
    ema: float = typer.Option(0.99, help="EMA decay of the evaluated/saved weights (0 = off)."),
    vectors: int = typer.Option(16, help="l=1 vector channels (0 = invariant l=0 network; e3 only)."),
    pose_weight: float = typer.Option(1.0, help="Weight of the listwise near-native-docked-pose term (0 = off)."),
    group_weight: float = typer.Option(1.0, help="Weight of the within-protein pK-difference term (0 = off)."),
    mirror_weight: float = typer.Option(0.5, help="SE(3): margin in pK by which a crystal complex must outscore its mirror image (0 = no mirror hinge)."),
    enantiomer_weight: float = typer.Option(0.0, "--enantiomer-weight", help="Margin in pK by which a chiral crystal ligand must outscore its enantiomer placed in the same pocket by the prior (computed once, stored beside --cache). 0 = off."),
    nonbinder_weight: float = typer.Option(0.0, "--nonbinder-weight", min=0.0, help="Weight of the non-binder hinges: a size-matched ligand of another protein group, placed in the pocket by the prior (computed once, stored beside --cache), must score --nonbinder-margin pK below the pocket's own ligand and at most 4 pK. 0 = off."),
    nonbinder_margin: float = typer.Option(1.0, "--nonbinder-margin", min=0.0, help="pK by which a non-binder must score below the pocket's own ligand."),
    clash_negatives: bool = typer.Option(False, "--clash-negatives", help="One pose of the ligand pushed 1-2 A into its protein per step as a negative (dockscore.overlap)."),
    overlap_wall: float = typer.Option(0.0, "--overlap-wall", min=0.0, help="Train with the fixed overlap wall: pK per A of a pose's summed heavy-atom overlap (each pair's depth past 1.2 A inside contact) beyond 1.5 A (dockscore-se3 applies 2 at inference). 0 = off."),
    torsion_decoys: bool = typer.Option(True, help="Torsionally perturbed conformers as negatives besides rigid moves."),
    max_decoys: int = typer.Option(8, help="Docked decoys per complex in each listwise pose-term step."),
    vina_prior: float = typer.Option(1.0, help="Weight of the fixed Vina-typed physics prior the network corrects (0 = off)."),
    prior_overlap_cap: float = typer.Option(0.0, help="Train with a soft-core prior: its repulsion stops growing beyond this overlap, A (0 = Vina's unbounded quadratic; the shipped recipe trains without it and applies 0.7 A at inference, see bench/make_ensemble.py)."),
    typed_contacts: bool = typer.Option(False, help="Learned hydrophobic and H-bond terms only on hydrophobic and donor-acceptor pairs (Vina's gates)."),
    name: Optional[str] = typer.Option(None, help="Checkpoint name (default dockscore-SYMMETRY)."),
    cv: int = typer.Option(0, "--cv", min=0, help="K-fold cross-validation over protein groups (UniProt, merged across near-identical pockets) of train + val in models/split.json (test and fep_targets held out): one model per fold with this recipe, epochs chosen on an inner validation of the training groups; fold models and the CV table (cv.json, cv.md, cv.csv, with baselines) go to --out. 0 = off."),
    cv_seed: int = typer.Option(0, "--cv-seed", help="Seed of the CV fold assignment."),
    element_contacts: float = typer.Option(0.0, "--element-contacts", min=0.0, help="Reach in A of the element-contact affinity term fitted after training (ridge on the training residuals; dockscore.training.contacts; 12 = RF-Score's, the one measured); with --cv, also scored as dockscore_contacts. 0 = off (the shipped e3 recipe)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N complexes of index.csv (smoke runs; applies when parsing, not when reading an existing --cache)."),
) -> None:
    """Train a model on PDBbind complexes (protein-wise split) and write it with its held-out metrics; with --cv K, cross-validate the recipe."""
    import torch

    from dockscore.model import ModelConfig
    from dockscore.training.loop import run_training

    torch.set_num_threads(max(1, threads))
    model_config = ModelConfig(symmetry=symmetry, vectors=vectors, vina_prior=vina_prior, prior_overlap_cap=prior_overlap_cap or None,
                               typed_contacts=typed_contacts, overlap_wall=overlap_wall)
    overrides = {"lr": lr, "ema_decay": ema, "pose_weight": pose_weight, "group_weight": group_weight, "mirror_weight": mirror_weight, "enantiomer_weight": enantiomer_weight, "torsion_decoys": torsion_decoys,
                 "max_decoys": max_decoys, "nonbinder_weight": nonbinder_weight, "nonbinder_margin": nonbinder_margin,
                 "clash_negatives": clash_negatives}
    try:
        if cv:
            from dockscore.training.cv import run_cv

            run_cv(data, out, k=cv, cv_seed=cv_seed, symmetry=symmetry, epochs=epochs, seed=seed, model_config=model_config,
                   train_overrides=overrides, cache=cache, limit=limit, device=device, time_budget_s=time_budget, name=name,
                   element_contacts=element_contacts or None, log=console.print)
            return
        run_training(data, symmetry, out, epochs=epochs, seed=seed, log=console.print, device=device, cache=cache, limit=limit,
                     time_budget_s=time_budget, model_config=model_config, name=name, train_overrides=overrides,
                     element_contacts=element_contacts or None)
    except (InputError, FileNotFoundError, ValueError) as exc:
        errors.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1)
