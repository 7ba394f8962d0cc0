"""Put the overlap wall (dockscore.overlap) on a trained checkpoint and read what it changes.

    python bench/add_overlap_wall.py IN.safetensors OUT.safetensors [--recipe se3 | --weight 2]

The wall is a fixed term (no parameter moves), so it can be set on a shipped model. Reads IN's
held-out parts (test, fep_targets: scoring R, within-protein rho, docking top-1 on the smina
decoys; the JACS FEP series) and the clash test on the test split, without and with the wall;
writes OUT (IN's tensors and metadata, the config's ``overlap_wall`` set) and OUT's metrics JSON
(IN's report with the new metrics, the old ones under ``metrics_before_overlap_wall``, the
clash tests under ``clash_test``). IN is never written.
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--weight", type=float, default=None, help="pK per A of a pose's summed overlap beyond dockscore.overlap.OVERLAP_ALLOWANCE (default: --recipe's)")
    parser.add_argument("--recipe", default="se3", help="the recipe whose overlap wall to set (dockscore.training.recipes)")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "pdbbind.pt")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    if args.weight is None:
        args.weight = recipe(args.recipe).inference.overlap_wall
    if args.out.resolve() in (args.model.resolve(), metrics_path(args.model).resolve()):
        raise SystemExit(f"error: {args.out}: is the input; write elsewhere and move it")
    torch.set_num_threads(1)
    report = json.loads(metrics_path(args.model).read_text())
    split = report["split"]
    model = load_model(args.model)
    by_id = {c.id: c for c in load_complexes(args.cache)}
    test = [by_id[i] for i in split["test"] if i in by_id]

    def read(m) -> dict:
        out = {part: evaluate(m, [by_id[i] for i in split[part] if i in by_id]) for part in ("test", "fep_targets")}
        out["fep_series"] = evaluate_fep(m, args.data / "fep" / "jacs_set")
        return out

    model.set_overlap_wall(0.0)
    before, clash_before = read(model), clash_test(model, test)
    model.set_overlap_wall(args.weight)
    after, clash_after = read(model), clash_test(model, test)
    save_model(model, args.out, extra={**checkpoint_extra(args.model), "overlap_wall": args.weight})
    report.update({"model_config": model.config.to_dict(), "metrics_before_overlap_wall": before,
                   "metrics": {**report.get("metrics", {}), **after}, "clash_test": {"test split, without the wall": clash_before, "test split, with it": clash_after}})
    metrics_path(args.out).write_text(json.dumps(report, indent=1))
    for part in ("test", "fep_targets"):
        b, a = before[part], after[part]
        print(f"{part}: R {b['pearson']:.3f} -> {a['pearson']:.3f}, within-protein rho {b.get('ranking_mean_spearman', float('nan')):.3f} -> "
              f"{a.get('ranking_mean_spearman', float('nan')):.3f}, docking top-1 {b.get('docking_top1_native_excluded', float('nan')):.3f} -> "
              f"{a.get('docking_top1_native_excluded', float('nan')):.3f}")
    print(f"JACS mean rho {before['fep_series']['mean']['spearman']:.3f} -> {after['fep_series']['mean']['spearman']:.3f}")
    print(f"clash test ({clash_after['complexes']} test complexes, {clash_after['pushed_poses']} pushed poses): pushed pose above crystal in "
          f"{clash_before['pushed_above_crystal']} -> {clash_after['pushed_above_crystal']}; median margin "
          f"{clash_before['median_margin_pK']:.2f} -> {clash_after['median_margin_pK']:.2f} pK")


if __name__ == "__main__":
    main()
