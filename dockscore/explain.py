"""Pictures where a chemist would rather look than read: the ligand in 2D with every heavy atom
coloured by its contribution to the score, and tables of scores as images.

The model's score is a sum of ligand-protein pair energies plus a constant offset, so each pair
can be credited to its ligand atom: ``score = offset + sum(atom contributions)`` exactly (pK).
Green atoms add to the predicted affinity, red ones cost it; the colour scale is shared by every
panel of one picture, so two enantiomers' maps can be compared atom by atom.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rdkit import Chem
from rdkit.Chem import rdDepictor
from rdkit.Chem.Draw import rdMolDraw2D

from dockscore.definitions import SCORE_UNIT
from dockscore.scoring import PoseScore

FAVOURABLE = (0.10, 0.62, 0.32)  # green: adds to the predicted pK
UNFAVOURABLE = (0.84, 0.19, 0.15)  # red: costs pK
NEUTRAL = (1.0, 1.0, 1.0)


@dataclass
class Explanation:
    """One scored pose, ready to draw: its heavy-atom molecule (in the model's atom order) and contributions."""

    name: str
    score: float  # pK
    offset: float  # the model's score at zero interaction, pK
    atom_contrib: list[float]  # per heavy atom, pK
    terms: dict[str, float] = field(default_factory=dict)  # per interaction term, pK
    mol: Chem.Mol | None = None

    def top_terms(self, n: int = 3) -> list[tuple[str, float]]:
        """The ``n`` interaction terms that move the score most (either way)."""
        return sorted(self.terms.items(), key=lambda kv: -abs(kv[1]))[:n]

    def caption(self, title: str | None = None) -> str:
        terms = ", ".join(f"{k} {v:+.2f}" for k, v in self.top_terms())
        return f"{title or self.name}: {self.score:.2f} {SCORE_UNIT}\n{terms}"


def explain(result: PoseScore, offset: float) -> Explanation:
    """An :class:`Explanation` of a scored record (``result.status == "ok"``)."""
    if result.status != "ok" or result.record is None or result.record.mol is None:
        raise ValueError(f"{result.name}: no score to explain ({result.message})")
    heavy = Chem.RemoveAllHs(result.record.mol, sanitize=False)  # the model's heavy-atom order
    if heavy.GetNumAtoms() != len(result.atom_contrib):
        raise ValueError(f"{result.name}: {heavy.GetNumAtoms()} heavy atoms but {len(result.atom_contrib)} contributions")
    return Explanation(result.name, float(result.score), float(offset), list(result.atom_contrib), dict(result.terms), heavy)


def atom_colours(contrib: list[float], limit: float | None = None) -> dict[int, tuple[float, float, float]]:
    """One RGB colour per atom: white at zero, saturating to green (favourable) or red at ``limit``
    (default: the largest magnitude in ``contrib``)."""
    limit = limit if limit is not None else max((abs(c) for c in contrib), default=0.0)
    colours = {}
    for i, c in enumerate(contrib):
        t = min(1.0, abs(c) / limit) if limit > 0 else 0.0
        end = FAVOURABLE if c >= 0 else UNFAVOURABLE
        colours[i] = tuple(n + t * (e - n) for n, e in zip(NEUTRAL, end))
    return colours


def draw_explanations(explanations: list[Explanation], legends: list[str] | None = None, panel: tuple[int, int] = (460, 380)) -> bytes:
    """PNG bytes: one panel per explanation, side by side, on one colour scale."""
    limit = max((abs(c) for e in explanations for c in e.atom_contrib), default=0.0)
    mols, highlights, colours, radii = [], [], [], []
    for e in explanations:
        mol = Chem.Mol(e.mol)
        mol.UpdatePropertyCache(strict=False)
        rdDepictor.Compute2DCoords(mol)
        mols.append(mol)
        highlights.append(list(range(mol.GetNumAtoms())))
        colours.append(atom_colours(e.atom_contrib, limit))
        radii.append({i: 0.45 for i in range(mol.GetNumAtoms())})
    width, height = panel
    drawer = rdMolDraw2D.MolDraw2DCairo(width * len(mols), height, width, height)
    options = drawer.drawOptions()
    options.legendFontSize = 18
    options.fillHighlights = True
    options.continuousHighlight = False
    options.clearBackground = True
    drawer.DrawMolecules(mols, highlightAtoms=highlights, highlightAtomColors=colours, highlightAtomRadii=radii,
                         highlightBonds=[[] for _ in mols], legends=legends or [e.caption() for e in explanations])
    drawer.FinishDrawing()
    return drawer.GetDrawingText()


def draw_grid(mols: list[Chem.Mol], legends: list[str], per_row: int = 4, panel: tuple[int, int] = (300, 260)) -> bytes:
    """PNG bytes of 2D depictions in a grid (e.g. the top of a ranking), one legend each."""
    from rdkit.Chem import Draw

    image = Draw.MolsToGridImage(mols, molsPerRow=per_row, subImgSize=panel, legends=legends, returnPNG=True)
    return image if isinstance(image, bytes) else image.data
