# Two entry points: `make demo` (install, then the three jobs on the bundled examples) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# CPU build of torch first (a bare `torch` requirement would pull a multi-GB CUDA build);
# GPU users: `make TORCH_SPEC="torch==<your build>"` or install torch into the venv yourself.
TORCH_SPEC ?= torch==2.13.0

.PHONY: install demo test bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e '.[test,plot,ray]'
	touch $@

demo: install
	$(BIN)/dockscore score data/examples/1s3v/protein.pdb data/examples/1s3v/ligand.sdf -o demo-e3.sdf
	$(BIN)/dockscore score data/examples/1s3v/protein.pdb data/examples/1s3v/ligand.sdf --symmetry se3 -o demo-se3.csv
	rm -f demo-rank.store.sqlite
	$(BIN)/dockscore rank data/examples/1ia1/protein.pdb data/examples/1ia1/ligands.sdf -o demo-rank.csv --top-sdf demo-top.sdf
	$(BIN)/dockscore enantiomers data/examples/1s3v/protein.pdb data/examples/1s3v/ligand.sdf -o demo-enantiomers.csv --png demo-enantiomers.png
	$(BIN)/dockscore explain data/examples/1s3v/protein.pdb data/examples/1s3v/ligand.sdf -o demo-explain.png

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m pip install -q -r bench/requirements.txt
	$(BIN)/python bench/speed.py
	$(BIN)/python bench/compare_vina.py

clean:
	rm -rf $(VENV) demo-*.sdf demo-*.csv demo-*.sqlite* demo-*.png
