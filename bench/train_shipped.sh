#!/usr/bin/env bash
# How the shipped checkpoints were made, on CPU (one thread per run; this project's 2-core machine):
#   1. parse ../shared/data/pdbbind once into the tensor cache (RDKit/Biopython);
#   2. three seeds of each recipe (dockscore/training/recipes.py, `dockscore train --recipe NAME`) on the
#      same protein-wise split (split seed 0): E(3) 16 epochs (about 17 min each alone); SE(3) 8 epochs
#      with a 1 pK mirror margin (an SE(3) epoch costs twice an E(3) one; about 9 min each alone);
#   3. average each recipe's seeds into its shipped ensemble, with the prior's soft core (0.7 A) and the
#      pose score's prior weight (w = 2) applied at inference, and evaluate it (bench/make_ensemble.py);
#   4. SE(3) only: fit the element-contact term on train + val (bench/add_element_contacts.py); then each
#      recipe's fixed terms (bench/set_fixed_terms.py; dockscore.overlap): E(3) the learned correction faded
#      over 1 A of summed overlap, SE(3) the overlap wall (2 pK per A beyond 1.5 A of summed overlap);
#   5. then bench/compare_vina.py, bench/enantiomer_recovery.py and bench/model_card.py (see the cards).
# Usage: bench/train_shipped.sh [RUNS_DIR]
set -euo pipefail
runs=${1:-runs}
mkdir -p "$runs" .cache
[ -f .cache/pdbbind.pt ] || python -c "from pathlib import Path; from dockscore.training.data import load_pdbbind, save_complexes; \
save_complexes(load_pdbbind(Path('../shared/data/pdbbind')), Path('.cache/pdbbind.pt'))"
train() {  # recipe seed
  PYTHONUNBUFFERED=1 dockscore train --recipe "$1" --seed "$2" --cache .cache/pdbbind.pt \
    --out "$runs/$1-s$2" > "$runs/$1-s$2.log" 2>&1
}
train e3 0 & train e3 1 & wait
train e3 2 & train se3 0 & wait
train se3 1 & train se3 2 & wait
for sym in e3 se3; do
  python bench/make_ensemble.py "$runs/dockscore-$sym.safetensors" "$runs"/$sym-s{0,1,2}/dockscore-$sym.safetensors \
    --metrics "$runs"/$sym-s{0,1,2}/dockscore-$sym.metrics.json --recipe $sym
done
python bench/add_element_contacts.py "$runs/dockscore-se3.safetensors" "$runs/dockscore-se3-contacts.safetensors"
python bench/set_fixed_terms.py "$runs/dockscore-e3.safetensors" "$runs/dockscore-e3-fade.safetensors" --recipe e3
python bench/set_fixed_terms.py "$runs/dockscore-se3-contacts.safetensors" "$runs/dockscore-se3-wall.safetensors" --recipe se3
