#!/usr/bin/env bash
# How the shipped checkpoints are made, on CPU (about 10 min per E(3) seed, 17 min per SE(3)
# seed, one thread each, on this project's 2-core machine):
#   1. parse ../shared/data/pdbbind once into the tensor cache (RDKit/Biopython);
#   2. train each mode over three seeds (same protein-wise split, split seed 0), two at a time;
#   3. average the seeds into one ensemble checkpoint per mode and evaluate it (bench/make_ensemble.py);
#   4. compare with Vina and the baselines (bench/compare_vina.py) and write the cards (bench/model_card.py).
# Usage: bench/train_shipped.sh [RUNS_DIR]
set -euo pipefail
runs=${1:-runs}
mkdir -p "$runs"
mkdir -p .cache
[ -f .cache/pdbbind.pt ] || python -c "from pathlib import Path; from dockscore.train import load_pdbbind, save_complexes; \
save_complexes(load_pdbbind(Path('../shared/data/pdbbind')), Path('.cache/pdbbind.pt'))"
train() {  # symmetry seed
  PYTHONUNBUFFERED=1 dockscore train --symmetry "$1" --seed "$2" --epochs 8 --lr 1e-3 --ema 0.99 \
    --cache .cache/pdbbind.pt --out "$runs/$1-s$2" > "$runs/$1-s$2.log" 2>&1
}
(train e3 0; train e3 1; train e3 2) &
(train se3 0; train se3 1; train se3 2) &
wait
for sym in e3 se3; do
  python bench/make_ensemble.py "$runs/dockscore-$sym.safetensors" "$runs"/$sym-s{0,1,2}/dockscore-$sym.safetensors \
    --metrics "$runs"/$sym-s{0,1,2}/dockscore-$sym.metrics.json
done
