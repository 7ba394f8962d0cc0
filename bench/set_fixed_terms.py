"""Set a recipe's fixed inference terms on a trained checkpoint and read what they change.

    python bench/set_fixed_terms.py IN.safetensors OUT.safetensors --recipe e3 [--overlap-wall W] [--correction-fade A --correction-floor F]
    python bench/set_fixed_terms.py IN.safetensors --recipe e3 --offline     # validation split only, nothing written

Two terms are fixed after training (no parameter moves; dockscore.training.recipes.Inference):
the overlap wall (pK per A of a pose's summed overlap beyond dockscore.overlap.OVERLAP_ALLOWANCE)
and the learned correction's fade with a pose's overlap (dockscore.overlap.correction_share). Reads
IN's held-out parts (test, fep_targets: scoring R, within-protein rho, docking top-1 on the smina
decoys; the JACS FEP series) and the clash test on the test split, before and after; writes OUT
(IN's tensors and metadata, the config's terms set) and OUT's metrics JSON (IN's report with the
new metrics of every part and of each member, the old ones under ``metrics_before_fixed_terms``,
the clash tests under ``clash_test``). IN is never written. ``--offline`` reads the validation split and the training
clash test instead, for a rule to be fixed before any held-out read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dockscore.checkpoint import load_model, metrics_path, save_model  # noqa: E402
from dockscore.training.evaluate import clash_test, evaluate, evaluate_fep  # noqa: E402
from dockscore.training.data import load_complexes  # noqa: E402
from dockscore.training.recipes import recipe  # noqa: E402


def checkpoint_extra(path: Path) -> dict:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return json.loads((handle.metadata() or {}).get("extra", "{}"))


def set_terms(model, terms: dict) -> None:
    model.set_overlap_wall(terms["overlap_wall"])
    model.set_correction_fade(terms["correction_fade"], terms["correction_floor"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", type=Path)
    parser.add_argument("out", type=Path, nargs="?")
    parser.add_argument("--recipe", default="se3", help="the recipe whose fixed terms to set (dockscore.training.recipes)")
    parser.add_argument("--overlap-wall", type=float, default=None, help="pK per A of summed overlap beyond the allowance (default: --recipe's)")
    parser.add_argument("--correction-fade", type=float, default=None, help="A of summed overlap over which the learned correction fades (default: --recipe's)")
    parser.add_argument("--correction-floor", type=float, default=None, help="the share of the learned correction a pose keeps past the fade (default: --recipe's)")
    parser.add_argument("--offline", action="store_true", help="read the validation split and the training clash test only; write nothing")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "pdbbind.pt")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    inference = recipe(args.recipe).inference
    given = {"overlap_wall": args.overlap_wall, "correction_fade": args.correction_fade, "correction_floor": args.correction_floor}
    after_terms = {key: getattr(inference, key) if value is None else value for key, value in given.items()}
    if not args.offline and args.out is None:
        raise SystemExit("error: OUT is needed unless --offline")
    if args.out is not None and args.out.resolve() in (args.model.resolve(), metrics_path(args.model).resolve()):
        raise SystemExit(f"error: {args.out}: is the input; write elsewhere and move it")
    torch.set_num_threads(1)
    report = json.loads(metrics_path(args.model).read_text())
    split = report["split"]
    model = load_model(args.model)
    before_terms = {key: getattr(model.config, key) for key in after_terms}
    by_id = {c.id: c for c in load_complexes(args.cache)}
    parts = ("val",) if args.offline else ("test", "fep_targets")
    clash_part = "train" if args.offline else "test"
    clash_set = [by_id[i] for i in split[clash_part] if i in by_id]

    def read(m) -> dict:
        out = {part: evaluate(m, [by_id[i] for i in split[part] if i in by_id]) for part in parts}
        if not args.offline:
            out["fep_series"] = evaluate_fep(m, args.data / "fep" / "jacs_set")
        if args.offline:
            out["val_clash"] = clash_test(m, [by_id[i] for i in split["val"] if i in by_id])
        return out

    set_terms(model, before_terms)
    before, clash_before = read(model), clash_test(model, clash_set)
    set_terms(model, after_terms)
    after, clash_after = read(model), clash_test(model, clash_set)
    print(f"fixed terms {before_terms} -> {after_terms}")
    for part in parts:
        b, a = before[part], after[part]
        print(f"{part}: R {b['pearson']:.3f} -> {a['pearson']:.3f}, within-protein rho {b.get('ranking_mean_spearman', float('nan')):.3f} -> "
              f"{a.get('ranking_mean_spearman', float('nan')):.3f}, docking top-1 {b.get('docking_top1_native_excluded', float('nan')):.3f} -> "
              f"{a.get('docking_top1_native_excluded', float('nan')):.3f}")
    if args.offline:
        print(f"val clash test: {before['val_clash']['pushed_above_crystal']} -> {after['val_clash']['pushed_above_crystal']} of {after['val_clash']['complexes']}")
    else:
        print(f"JACS mean rho {before['fep_series']['mean']['spearman']:.3f} -> {after['fep_series']['mean']['spearman']:.3f}")
    print(f"clash test ({clash_part}: {clash_after['complexes']} complexes, {clash_after['pushed_poses']} pushed poses): pushed pose above crystal in "
          f"{clash_before['pushed_above_crystal']} -> {clash_after['pushed_above_crystal']}; median margin "
          f"{clash_before['median_margin_pK']:.2f} -> {clash_after['median_margin_pK']:.2f} pK")
    if args.offline:
        return
    # the rest of the report under the new terms too (nothing is chosen on these): the selection and
    # training parts, and each member's held-out figures (the card's seed line)
    for part in ("val", "train"):
        before[part] = report.get("metrics", {}).get(part)
        after[part] = evaluate(model, [by_id[i] for i in split[part] if i in by_id])
    for entry, member in zip(report.get("members", []), getattr(model, "members", [])):
        entry["metrics"] = {**{part: evaluate(member, [by_id[i] for i in split[part] if i in by_id]) for part in ("test", "fep_targets")},
                            "fep_series": evaluate_fep(member, args.data / "fep" / "jacs_set")}
    save_model(model, args.out, extra={**checkpoint_extra(args.model), **after_terms})
    report.update({"model_config": model.config.to_dict(), "metrics_before_fixed_terms": before,
                   "metrics": {**report.get("metrics", {}), **after},
                   "clash_test": {"test split, before": clash_before, "test split, after": clash_after}})
    metrics_path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
