"""The scoring pipeline: records -> prepared ligands -> graphs -> batched model -> per-pose results.

The protein is read, featurised and encoded once per :class:`Scorer`; records stream through
in fixed-size batches, so memory does not grow with the number of poses.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from rdkit import Chem
from torch_geometric.data import Batch

from dockscore.checkpoint import load_model
from dockscore.errors import InputError
from dockscore.graph import GraphSettings, PreparedLigand, PreparedProtein, build_complex_graph
from dockscore.io.ligands import LigandRecord, iter_ligands, records_from_mols
from dockscore.io.protein import Protein, read_protein
from dockscore.model import TERM_NAMES, DockScoreEnsemble, DockScoreModel
from dockscore.sanity import pose_problem
from dockscore.stereo import StereoReport, perceive

SCORE_UNIT = "pK"
SCORE_MEANING = "predicted binding affinity, pK = -log10(Kd/M); higher = tighter binding"
POSE_SCORE_MEANING = ("for choosing among poses of one ligand in one protein: the score plus (w - 1) x its Vina-prior "
                      "term (w = the model's pose_prior_weight), in pK units; higher = more native-like; compare it "
                      "between poses of one ligand, not between ligands")


@dataclass
class PoseScore:
    """The result for one input record. ``score`` is None unless ``status == "ok"``."""

    source: str
    index: int
    name: str
    status: str  # "ok" or "error"
    score: float | None = None
    message: str = ""
    pose_score: float | None = None  # for pose choice within one ligand (see POSE_SCORE_MEANING)
    terms: dict[str, float] = field(default_factory=dict)  # per interaction term, pK
    atom_contrib: list[float] = field(default_factory=list)  # per ligand heavy atom, pK
    record: LigandRecord | None = None
    stereo: StereoReport | None = None  # tetrahedral centres, CIP labels, declared-vs-geometry check


class Scorer:
    """Score poses of ligands against one protein with a dockscore model.

    >>> scorer = Scorer("protein.pdb", symmetry="e3")
    >>> for result in scorer.score_file("poses.sdf"): print(result.name, result.score)
    """

    def __init__(
        self,
        protein: str | Path | Protein,
        model: DockScoreModel | str | Path | None = None,
        symmetry: str = "e3",
        pocket_cutoff: float | None = None,
        batch_size: int = 32,
        keep_waters: bool = False,
        stereo: bool = True,
    ) -> None:
        self.stereo = stereo
        self.model = model if isinstance(model, (DockScoreModel, DockScoreEnsemble)) else load_model(model, symmetry=symmetry)
        self.model.eval()
        self.symmetry = self.model.config.symmetry
        self.model_name = getattr(self.model, "name", f"dockscore-{self.symmetry}")
        settings = self.model.config.graph_settings()
        if pocket_cutoff is not None:
            settings = GraphSettings(pocket_cutoff=pocket_cutoff, contact_cutoff=settings.contact_cutoff)
        self.settings = settings
        self.batch_size = batch_size
        self.protein = protein if isinstance(protein, Protein) else read_protein(protein, keep_waters=keep_waters)
        self.prepared = PreparedProtein.from_protein(self.protein)
        with torch.no_grad():
            self.protein_s, self.protein_v = self.model.encode_protein(self.prepared.x, self.prepared.pos, self.prepared.bond_index)

    # -- graphs ---------------------------------------------------------------------------
    def prepare(self, mol: Chem.Mol) -> PreparedLigand:
        return PreparedLigand.from_mol(mol)

    def graph(self, ligand: PreparedLigand):
        return build_complex_graph(self.prepared, ligand, self.settings)

    def forward(self, graphs: list) -> dict[str, torch.Tensor]:
        """Model outputs for a list of pose graphs (differentiable in their ``pos`` if it requires grad)."""
        return self.model(Batch.from_data_list(graphs), self.protein_s, self.protein_v)

    # -- streaming ------------------------------------------------------------------------
    def score_records(self, records: Iterable[LigandRecord]) -> Iterator[PoseScore]:
        """Yield one :class:`PoseScore` per record, in input order; bad records become errors."""
        pending: list[tuple[LigandRecord, object]] = []
        for record in records:
            graph, error = self._graph_or_error(record)
            if error is not None:  # keep input order: score what is pending, then report
                if pending:
                    yield from self._flush(pending)
                    pending = []
                yield PoseScore(record.source, record.index, record.name, "error", message=error, record=record)
                continue
            pending.append((record, graph))
            if len(pending) >= self.batch_size:
                yield from self._flush(pending)
                pending = []
        if pending:
            yield from self._flush(pending)

    def _graph_or_error(self, record: LigandRecord):
        """(graph, None) for a usable record, (None, one-line reason) otherwise."""
        if not record.ok:
            return None, record.error or "unusable record"
        try:
            problem = pose_problem(record.mol)  # the shared gate: garbage gets a reason, never a score
            if problem is not None:
                return None, problem
            return self.graph(self.prepare(record.mol)), None
        except InputError as exc:
            return None, str(exc)
        except Exception as exc:  # chemistry we did not foresee: report, keep going
            return None, f"cannot featurise: {exc}"

    @torch.no_grad()
    def _flush(self, pending: list) -> Iterator[PoseScore]:
        graphs = [g for _, g in pending]
        out = self.forward(graphs)
        scores = out["score"].tolist()
        pose_scores = out["pose_score"].tolist()
        terms = out["terms"].tolist()
        contrib = out["atom_contrib"]
        offset = 0
        for k, (record, graph) in enumerate(pending):
            n_lig = int(graph.is_ligand.sum())
            atom = contrib[offset : offset + n_lig].tolist()
            offset += graph.num_nodes
            score = scores[k]
            if not math.isfinite(score):
                yield PoseScore(record.source, record.index, record.name, "error", message="model produced a non-finite score", record=record)
                continue
            yield PoseScore(record.source, record.index, record.name, "ok", score=score, pose_score=pose_scores[k],
                            terms=dict(zip(TERM_NAMES, terms[k])), atom_contrib=atom, record=record,
                            stereo=self._stereo(record.mol))

    def _stereo(self, mol: Chem.Mol) -> StereoReport | None:
        if not self.stereo:
            return None
        try:
            return perceive(mol)
        except Exception:  # perception must never cost a score
            return None

    def score_file(self, path: str | Path) -> Iterator[PoseScore]:
        return self.score_records(iter_ligands(path))

    def score_mols(self, mols: list[Chem.Mol]) -> list[PoseScore]:
        """Notebook entry point: score RDKit molecules (with 3D coordinates in the protein's frame)."""
        return list(self.score_records(records_from_mols(mols)))

    # -- split pipelines (dockscore.rank: CPU workers build graphs, one device scores them) --------
    def graph_or_error(self, record: LigandRecord):
        """(graph, None) for a usable record, (None, one-line reason) otherwise."""
        return self._graph_or_error(record)

    def stereo_report(self, mol: Chem.Mol | None) -> StereoReport | None:
        return self._stereo(mol) if mol is not None else None

    @property
    def device(self) -> torch.device:
        return self.protein_s.device

    def to(self, device: str | torch.device) -> "Scorer":
        """Move the model and the encoded protein (every tensor this scorer holds) to ``device``."""
        self.model.to(device)
        for name, value in list(vars(self).items()):
            if isinstance(value, torch.Tensor):
                setattr(self, name, value.to(device))
        return self

    @torch.no_grad()
    def score_graphs(self, graphs: list) -> list[tuple[float | None, float | None]]:
        """(score, pose score) per graph, in batches of ``batch_size`` on this scorer's device;
        (None, None) where the model gives a non-finite score."""
        out: list[tuple[float | None, float | None]] = []
        for start in range(0, len(graphs), self.batch_size):
            batch = Batch.from_data_list(graphs[start : start + self.batch_size]).to(self.device)
            result = self.model(batch, self.protein_s, self.protein_v)
            for score, pose in zip(result["score"].tolist(), result["pose_score"].tolist()):
                out.append((score, pose) if math.isfinite(score) else (None, None))
        return out
