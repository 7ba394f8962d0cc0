"""The shipped model cards are what their tracked sources render to (no hand edits that a
re-render would lose): metrics JSON, bench/results/comparison.json and dockscore/models/cards/NAME/."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

from .conftest import bench_script

render_card = bench_script("model_card").render_card


@pytest.mark.parametrize("name", ["dockscore-e3", "dockscore-se3"])
def test_shipped_card_renders_from_its_tracked_sources(name, tmp_path):
    rendered = render_card(name, ROOT / "dockscore" / "models" / f"{name}.metrics.json", tmp_path / f"{name}.md")
    shipped = (ROOT / "dockscore" / "models" / f"{name}.md").read_text()
    assert rendered == shipped, f"models/{name}.md differs from its sources: edit dockscore/models/cards/{name}/ and run bench/model_card.py"
