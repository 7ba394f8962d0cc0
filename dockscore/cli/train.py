"""`dockscore train`: a model trained on PDBbind complexes, or its recipe cross-validated."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer

from dockscore.cli.common import console, device_option, fail, symmetry_option
from dockscore.errors import ConfigError, InputError


def fold_list(text: str | None, k: int) -> list[int] | None:
    """``--cv-folds 0,2,4`` as fold indices, each in 0..k-1 (None: every fold)."""
    if text is None:
        return None
    try:
        folds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--cv-folds must be fold numbers separated by commas, not {text!r}") from None
    if not folds or any(not 0 <= f < k for f in folds):
        raise ConfigError(f"--cv-folds must name folds 0 to {k - 1}, not {text!r}")
    return folds


def train(
    data: Path = typer.Option(Path("../shared/data"), help="Folder with pdbbind/ (and fep/jacs_set/ for the FEP evaluation)."),
    recipe: Optional[str] = typer.Option(None, "--recipe", help="A shipped model's recipe by name (e3, se3; dockscore.training.recipes): its architecture and training settings. Default: the --symmetry's. Every option below that is given changes that one setting."),
    symmetry: str = symmetry_option(),
    out: Path = typer.Option(Path("models"), "--output", "-o", "--out", help="Folder for the checkpoint and its metrics JSON (with --cv: the fold models and the CV table)."),
    seed: int = typer.Option(0, help="Seed for initialisation and sampling (the protein-wise split always uses split seed 0)."),
    threads: int = typer.Option(1, help="Torch CPU threads."),
    device: str = device_option("cpu or cuda."),
    cache: Optional[Path] = typer.Option(None, help="Tensor cache of the parsed complexes (written if missing; read if present)."),
    time_budget: Optional[float] = typer.Option(None, help="Seconds of training; the LR schedule is fitted to it after epoch 0."),
    epochs: Optional[int] = typer.Option(None, help="Training epochs (the cosine LR schedule spans them). Recipe: e3 16, se3 8."),
    lr: Optional[float] = typer.Option(None, help="Peak learning rate (AdamW, warm-up + cosine). Recipe: 1e-3."),
    ema: Optional[float] = typer.Option(None, help="EMA decay of the evaluated/saved weights (0 = off). Recipe: 0.99."),
    pose_weight: Optional[float] = typer.Option(None, help="Weight of the listwise near-native-docked-pose term (0 = off). Recipe: 1."),
    group_weight: Optional[float] = typer.Option(None, help="Weight of the within-protein pK-difference term (0 = off). Recipe: 1."),
    mirror_weight: Optional[float] = typer.Option(None, help="SE(3): margin in pK by which a crystal complex must outscore its mirror image (0 = no mirror hinge). Recipe: se3 1."),
    enantiomer_weight: Optional[float] = typer.Option(None, "--enantiomer-weight", help="Margin in pK by which a chiral crystal ligand must outscore its enantiomer placed in the same pocket by the prior (computed once, stored beside --cache). 0 = off (the recipes)."),
    nonbinder_weight: Optional[float] = typer.Option(None, "--nonbinder-weight", min=0.0, help="Weight of the non-binder hinges: a size-matched ligand of another protein group, placed in the pocket by the prior (computed once, stored beside --cache), must score --nonbinder-margin pK below the pocket's own ligand and at most 4 pK. 0 = off (the recipes)."),
    nonbinder_margin: Optional[float] = typer.Option(None, "--nonbinder-margin", min=0.0, help="pK by which a non-binder must score below the pocket's own ligand. Default 1."),
    clash_negatives: Optional[bool] = typer.Option(None, "--clash-negatives/--no-clash-negatives", help="One pose of the ligand pushed 1-2 A into its protein per step as a negative (dockscore.overlap). Off in the recipes."),
    torsion_decoys: Optional[bool] = typer.Option(None, "--torsion-decoys/--no-torsion-decoys", help="Torsionally perturbed conformers as negatives besides rigid moves. On in the recipes."),
    max_decoys: Optional[int] = typer.Option(None, help="Docked decoys per complex in each listwise pose-term step. Recipe: 8."),
    overlap_wall: Optional[float] = typer.Option(None, "--overlap-wall", min=0.0, help="Train with the fixed overlap wall: pK per A of a pose's summed heavy-atom overlap (each pair's depth past 1.2 A inside contact) beyond 1.5 A. 0 = off (the recipes train without it; dockscore-se3 applies 2 at inference)."),
    vina_prior: Optional[float] = typer.Option(None, help="Weight of the fixed Vina-typed physics prior the network corrects (0 = off). Recipe: 1."),
    prior_overlap_cap: Optional[float] = typer.Option(None, help="Train with a soft-core prior: its repulsion stops growing beyond this overlap, A. The recipes train without it (Vina's unbounded quadratic) and apply 0.7 A at inference (bench/make_ensemble.py)."),
    name: Optional[str] = typer.Option(None, help="Checkpoint name (default dockscore-SYMMETRY)."),
    cv: int = typer.Option(0, "--cv", min=0, help="K-fold cross-validation over protein groups (UniProt, merged across near-identical pockets) of train + val in dockscore/models/split.json (test and fep_targets held out): one model per fold with this recipe, epochs chosen on an inner validation of the training groups; fold models and the CV table (cv.json, cv.md, cv.csv, with baselines) go to --out. 0 = off."),
    cv_seed: int = typer.Option(0, "--cv-seed", help="Seed of the CV fold assignment."),
    cv_folds: Optional[str] = typer.Option(None, "--cv-folds", help="With --cv: train only these folds, comma-separated (e.g. 0,2,4; one process per core on the same --out); a last run without it writes the table of all."),
    element_contacts: float = typer.Option(0.0, "--element-contacts", min=0.0, help="Reach in A of the element-contact affinity term fitted after training (ridge on the training residuals; dockscore.training.contacts; 12 = RF-Score's, the one measured; dockscore-se3 fits it on its ensemble); with --cv, also scored as dockscore_contacts. 0 = off."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N complexes of index.csv (smoke runs; applies when parsing, not when reading an existing --cache)."),
) -> None:
    """Train a model on PDBbind complexes (protein-wise split) and write it with its held-out metrics; with --cv K, cross-validate the recipe."""
    import torch

    from dockscore.training.loop import run_training
    from dockscore.training.recipes import configs

    torch.set_num_threads(max(1, threads))
    try:
        if recipe is not None and recipe != symmetry and symmetry != "e3":
            raise ConfigError(f"--recipe {recipe} trains an {recipe.upper()} model; leave out --symmetry {symmetry} or give --recipe {symmetry}")
        model_config, train_config = configs(
            recipe or symmetry,
            model={"vina_prior": vina_prior, "prior_overlap_cap": prior_overlap_cap or None,
                   "overlap_wall": overlap_wall},
            train={"epochs": epochs, "lr": lr, "ema_decay": ema, "pose_weight": pose_weight, "group_weight": group_weight,
                   "mirror_weight": mirror_weight, "enantiomer_weight": enantiomer_weight, "torsion_decoys": torsion_decoys,
                   "max_decoys": max_decoys, "nonbinder_weight": nonbinder_weight, "nonbinder_margin": nonbinder_margin,
                   "clash_negatives": clash_negatives, "seed": seed, "time_budget_s": time_budget})
        symmetry = model_config.symmetry
        overrides = {k: v for k, v in asdict(train_config).items() if k not in ("symmetry", "epochs", "seed", "time_budget_s")}
        if cv_folds is not None and not cv:
            raise ConfigError("--cv-folds needs --cv K")
        if cv:
            from dockscore.training.cv import run_cv

            run_cv(data, out, k=cv, cv_seed=cv_seed, symmetry=symmetry, epochs=train_config.epochs, seed=seed, model_config=model_config,
                   train_overrides=overrides, cache=cache, limit=limit, device=device, time_budget_s=time_budget, name=name,
                   element_contacts=element_contacts or None, folds_to_run=fold_list(cv_folds, cv), log=console.print)
            return
        run_training(data, symmetry, out, epochs=train_config.epochs, seed=seed, log=console.print, device=device, cache=cache, limit=limit,
                     time_budget_s=time_budget, model_config=model_config, name=name, train_overrides=overrides,
                     element_contacts=element_contacts or None)
    except (InputError, FileNotFoundError, ValueError) as exc:
        fail(exc)
