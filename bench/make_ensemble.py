"""Average seed checkpoints of one recipe into one shipped ensemble checkpoint, and evaluate it.

    python bench/make_ensemble.py OUT.safetensors MEMBER.safetensors... --metrics MEMBER.metrics.json...

Each member was trained by `dockscore train` with the same split and recipe but its own seed,
and calibrated to pK on the training complexes; the ensemble score is the members' mean.
Writes OUT and OUT's metrics JSON (same schema as a training run, plus the members' seeds and
figures) with held-out metrics measured on the ensemble itself.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dockscore.checkpoint import load_model, save_model  # noqa: E402
from dockscore.model import DockScoreEnsemble  # noqa: E402
from dockscore.training.evaluate import evaluate, evaluate_fep  # noqa: E402
from dockscore.training.data import load_complexes  # noqa: E402
from dockscore.training.recipes import recipe  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("members", type=Path, nargs="+")
    parser.add_argument("--metrics", type=Path, nargs="+", required=True, help="the members' metrics JSONs, same order")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "pdbbind.pt")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--recipe", default=None, help="take the inference terms (soft core, pose-score w) from this recipe (dockscore.training.recipes)")
    parser.add_argument("--prior-overlap-cap", type=float, default=None,
                        help="soft core for the Vina prior's repulsion (A), applied at inference to members trained without it")
    parser.add_argument("--pose-prior-weight", type=float, default=None,
                        help="w of the pose score (score + (w - 1) x the prior term), set at inference (dockscore-e3's is 2)")
    args = parser.parse_args()
    if args.recipe:
        inference = recipe(args.recipe).inference
        args.prior_overlap_cap = inference.prior_overlap_cap if args.prior_overlap_cap is None else args.prior_overlap_cap
        args.pose_prior_weight = inference.pose_prior_weight if args.pose_prior_weight is None else args.pose_prior_weight
    torch.set_num_threads(1)
    reports = [json.loads(p.read_text()) for p in args.metrics]
    if len({json.dumps(r["split"], sort_keys=True) for r in reports}) != 1:
        raise SystemExit("members were trained on different splits")
    members = [load_model(p) for p in args.members]
    if args.prior_overlap_cap is not None:  # a fixed term, not a weight: the trained parameters are untouched
        for m in members:
            m.set_prior_overlap_cap(args.prior_overlap_cap)
    if args.pose_prior_weight is not None:
        for m in members:
            m.set_pose_prior_weight(args.pose_prior_weight)
    ensemble = DockScoreEnsemble(members).eval()
    by_id = {c.id: c for c in load_complexes(args.cache)}
    split = reports[0]["split"]

    def held_out(model) -> dict:
        out = {name: evaluate(model, [by_id[i] for i in split[name] if i in by_id]) for name in ("train", "val", "test", "fep_targets")}
        out["fep_series"] = evaluate_fep(model, args.data / "fep" / "jacs_set")
        return out

    metrics = held_out(ensemble)
    if args.prior_overlap_cap is not None or args.pose_prior_weight is not None:  # the seed table shows each member as shipped
        for member, report in zip(members, reports):
            report["metrics_as_trained"] = report["metrics"]
            report["metrics"] = held_out(member.eval())
    seeds = [r["train_config"]["seed"] for r in reports]
    save_model(ensemble, args.out, extra={"seeds": seeds, "split_seed": 0})
    report = {**{k: reports[0][k] for k in ("symmetry", "train_config", "split")}, "model_config": ensemble.config.to_dict(),
              "trained_model_config": reports[0]["model_config"],
              "metrics": metrics, "members": [{"checkpoint": str(p), "seed": r["train_config"]["seed"], "best_epoch": r["best_epoch"],
                                               "epochs_run": r.get("epochs_run"), "metrics": r["metrics"],
                                               **({"metrics_as_trained": r["metrics_as_trained"]} if "metrics_as_trained" in r else {})}
                                              for p, r in zip(args.members, reports)],
              "best_epoch": [r["best_epoch"] for r in reports], "epochs_run": reports[0].get("epochs_run")}
    args.out.with_suffix("").with_suffix(".metrics.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: {kk: v.get(kk) for kk in ("pearson", "docking_top1_native_excluded")} for k, v in metrics.items() if k != "fep_series"}, indent=1))
    print("FEP mean rho", metrics["fep_series"]["mean"])


if __name__ == "__main__":
    main()
