"""A wheel of dockscore scores out of the box: the shipped models travel inside the package
(issue 28: `pip install .` gave a dockscore whose first command failed, 'model checkpoint not found')."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import LIGAND_1S3V, PROTEIN_1S3V

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(not (ROOT / "pyproject.toml").exists(), reason="needs the source tree")
def test_a_wheel_carries_the_models_and_scores(tmp_path):
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "dist")],
                           capture_output=True, text=True, cwd=tmp_path)
    assert build.returncode == 0, build.stderr
    wheel = next((tmp_path / "dist").glob("dockscore-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for model in ("dockscore-e3", "dockscore-se3"):
        assert f"dockscore/models/{model}.safetensors" in names and f"dockscore/models/{model}.metrics.json" in names
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:  # a wheel is a zip laid out as site-packages
        archive.extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = subprocess.run([sys.executable, "-c", "import dockscore, sys; from dockscore import Scorer; "
                          f"print(dockscore.__file__); print(Scorer({str(PROTEIN_1S3V)!r}).score_file({str(LIGAND_1S3V)!r}).__next__().score)"],
                         capture_output=True, text=True, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    where, score = run.stdout.split()
    assert where.startswith(str(site)) and float(score) > 0
