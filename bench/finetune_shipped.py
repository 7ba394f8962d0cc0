"""Fine-tune a shipped seed ensemble against poses pushed into the protein (issue 26's clash test).

    python bench/finetune_shipped.py IN.safetensors OUT.safetensors [--epochs 3] [--lr 2e-4] [--overlap-wall 2]

Each member of IN starts from its trained weights and trains ``--epochs`` more on IN's training
split with IN's recipe (its metrics JSON beside it) plus, per complex and step, one pose of its
ligand pushed 1-2 A into the protein (dockscore.overlap) as a 1 pK hinge negative, under the
shipped inference settings (the prior's 0.7 A soft core, pose-score w = 2) and the overlap wall,
so the learned correction stops paying for overlap instead of being outweighed at inference.
The epoch is chosen on IN's validation split as in training, plus the share of validation
complexes that pass the clash test; each member is recalibrated on the training split. Writes OUT (the ensemble with the shipped settings) and OUT's metrics JSON: IN's
report with the held-out parts read again, the clash test on validation and test, and the
fine-tune's settings under ``finetune``. IN is never written.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dockscore.checkpoint import load_model, metrics_path, save_model  # noqa: E402
from dockscore.training.cv import SHIPPED_INFERENCE, with_shipped_inference  # noqa: E402
from dockscore.model import DockScoreEnsemble  # noqa: E402
from dockscore.training.loop import TrainConfig, train  # noqa: E402
from dockscore.training.evaluate import calibrate, clash_test, evaluate, evaluate_fep  # noqa: E402
from dockscore.training.data import load_complexes  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--clash-margin", type=float, default=1.0, help="pK by which the crystal pose must outscore a pushed pose")
    parser.add_argument("--ema", type=float, default=None, help="EMA decay (default: the recipe's)")
    parser.add_argument("--overlap-wall", type=float, default=SHIPPED_INFERENCE["overlap_wall"])
    parser.add_argument("--members", type=int, nargs="*", default=None, help="fine-tune only these members (default: all)")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "pdbbind.pt")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    if args.out.resolve() in (args.model.resolve(), metrics_path(args.model).resolve()):
        raise SystemExit(f"error: {args.out}: is the input; write elsewhere and move it")
    torch.set_num_threads(1)
    report = json.loads(metrics_path(args.model).read_text())
    split = report["split"]
    shipped = load_model(args.model)
    members = list(getattr(shipped, "members", [shipped]))
    chosen = range(len(members)) if args.members is None else args.members
    complexes = load_complexes(args.cache)
    by_id = {c.id: c for c in complexes}
    recipe = {k: v for k, v in report["train_config"].items() if k in TrainConfig.__dataclass_fields__}
    tuned = []
    for k, member in enumerate(members):
        if k not in chosen:  # as shipped, with the same inference settings as the tuned ones (an ensemble has one config)
            with_shipped_inference(member).set_overlap_wall(args.overlap_wall)
            tuned.append(member)
            continue
        base = replace(with_shipped_inference(member).config, overlap_wall=args.overlap_wall)
        config = TrainConfig(**{**recipe, "epochs": args.epochs, "lr": args.lr, "seed": 100 + k, "clash_negatives": True,
                                "clash_margin": args.clash_margin, "clash_selection": True, "time_budget_s": None,
                                **({"ema_decay": args.ema} if args.ema is not None else {})})
        model, info = train(complexes, split, config, base, args.out.parent, init_state=member.state_dict())
        model.set_overlap_wall(args.overlap_wall)
        info["calibration"] = calibrate(model, [by_id[i] for i in split["train"] if i in by_id])
        print(f"member {k}: best epoch {info['best_epoch']}, calibration {info['calibration']}", flush=True)
        tuned.append(model)
    ensemble = DockScoreEnsemble(tuned).eval()
    parts = {part: [by_id[i] for i in split[part] if i in by_id] for part in ("train", "val", "test", "fep_targets")}
    metrics = {part: evaluate(ensemble, cx) for part, cx in parts.items()}
    metrics["fep_series"] = evaluate_fep(ensemble, args.data / "fep" / "jacs_set")
    clashes = {part: clash_test(ensemble, parts[part]) for part in ("val", "test")}
    save_model(ensemble, args.out, extra={"finetune": {"base": str(args.model), "epochs": args.epochs, "lr": args.lr,
                                                       "overlap_wall": args.overlap_wall, "clash_negatives": True,
                                                       "clash_margin": args.clash_margin, "ema": args.ema}})
    report.update({"model_config": ensemble.config.to_dict(), "metrics_before_finetune": report.get("metrics"), "metrics": metrics,
                   "clash_test": clashes, "finetune": {"base": str(args.model), "epochs": args.epochs, "lr": args.lr,
                                                       "overlap_wall": args.overlap_wall, "members": list(chosen),
                                                       "clash_margin": args.clash_margin, "ema": args.ema}})
    metrics_path(args.out).write_text(json.dumps(report, indent=1))
    for part in ("val", "test", "fep_targets"):
        m = metrics[part]
        print(f"{part}: R {m['pearson']:.3f}, within-protein rho {m.get('ranking_mean_spearman', float('nan')):.3f}, "
              f"docking top-1 {m.get('docking_top1_native_excluded', float('nan')):.3f}")
    print(f"JACS mean rho {metrics['fep_series']['mean']['spearman']:.3f}")
    for part, c in clashes.items():
        print(f"clash test {part}: {c['pushed_above_crystal']} of {c['complexes']} complexes with a pushed pose above crystal, "
              f"median margin {c['median_margin_pK']:.2f} pK")


if __name__ == "__main__":
    main()
