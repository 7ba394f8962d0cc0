#!/usr/bin/env bash
# Pose-loss sweep of the shipped E(3) recipe on one GPU (several runs share it, one CPU core each).
# Every run is the shipped recipe (`dockscore train` defaults: lr 1e-3, EMA 0.99, within-protein
# term, torsional decoys, Vina prior, 16 epochs at most) under one wall-clock budget; only the
# listwise pose weight and the number of docked decoys per list vary. Same protein-wise split
# (split seed 0) as the shipped models; selection is on validation only. FEP is not evaluated
# here (no ../shared/data on the GPU machine): score it afterwards with bench/make_ensemble.py.
# CACHE (default .cache/pdbbind.pt) picks the tensor cache, e.g. .cache/pdbbind_relaxed.pt from
# bench/relax_decoys.py (prior-relaxed decoys added to the training complexes only).
# Usage: [CACHE=...] bench/train_sweep_gpu.sh OUTDIR BUDGET_S "name seed pose_weight max_decoys" ...
# On a lent GPU machine, write OUTDIR outside $OUT and tar it into $OUT afterwards: the device tool returns a
# limited number of files, and a 10-run sweep writes 30 (a 10-seed run lost its weights that way).
set -euo pipefail
out=${1:?outdir}; budget=${2:?budget seconds}; shift 2
CACHE=${CACHE:-.cache/pdbbind.pt}
mkdir -p "$out"
[ -f "$CACHE" ] || gunzip -k "$CACHE.gz"
device=$(python3 -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")
run() {  # name seed pose_weight max_decoys: `dockscore train` with its defaults (the shipped recipe) otherwise
  PYTHONUNBUFFERED=1 python3 -m dockscore.cli train --symmetry e3 --seed "$2" --epochs 16 --cache "$CACHE" --device "$device" \
    --time-budget "$budget" --pose-weight "$3" --max-decoys "$4" --out "$out/$1" > "$out/$1.log" 2>&1
}
for spec in "$@"; do run $spec & done
wait
