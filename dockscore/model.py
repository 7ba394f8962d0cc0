"""The equivariant scoring network and its physically shaped interaction head.

Message passing carries scalars ``s`` (N, F) and vectors ``v`` (N, V, 3) (feature orders
l = 0 and l = 1, as in PaiNN): l = 1 is the lowest order that sees angles and handedness, and
products of l = 1 features need no Clebsch–Gordan tables, only dot and cross products.

``symmetry="e3"``: only dot products of polar vectors reach the scalars, so the score is
invariant under rotations, translations and reflections.
``symmetry="se3"``: cross products (axial vectors) are mixed into ``v`` and triple products
(pseudoscalars) into ``s``; these change sign under a reflection, so the score can tell a
complex from its mirror image while staying rotation/translation invariant.

The score is a sum of ligand–protein pair terms with Vina-like distance shapes whose weights
the network supplies per pair (``PairInteractionHead``): this gives per-atom contributions for
free and is differentiable in the ligand coordinates.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from dockscore.choices import check_symmetry
from dockscore.errors import ConfigError
from dockscore.features import N_ELEM, NUM_ATOM_FEATURES, OFF_ELEM
from dockscore.graph import CONTACT_PROTEIN_ELEMENTS, LIGAND_BOND, NUM_EDGE_FEATURES, PROTEIN_BOND, GraphSettings
from dockscore.overlap import correction_share, overlap_wall, pair_overlap, pose_contacts



@dataclass(frozen=True)
class ModelConfig:
    symmetry: str = "e3"
    hidden: int = 64  # scalar channels F
    vectors: int = 16  # l = 1 channels V (0 = invariant l = 0 network, for the speed/accuracy study)
    layers: int = 3  # ligand message-passing steps (per pose)
    protein_layers: int = 2  # protein encoder steps over covalent bonds (once per protein)
    rbf: int = 16
    pair_rank: int = 8
    contact_cutoff: float = 4.5
    pocket_cutoff: float = 8.0
    score_offset: float = 6.0  # pK at zero interaction; trained
    clash_weight: float = 1.0  # pK per A^2 of overlap beyond CLASH_ONSET (fixed, not trained)
    vina_prior: float = 0.0  # weight of the fixed Vina-typed physics prior (0 = off); the network learns a correction to it
    # Soft core for the prior's repulsion: overlaps deeper than this (A beyond vdW contact) add no
    # further prior penalty (None = Vina's unbounded quadratic). See PRIOR_REPULSION_NOTE.
    prior_overlap_cap: float | None = None
    # Pose score (choosing among poses of one ligand): score + (w - 1) * the prior term, so the
    # learned correction counts 1/w as much as Vina's typed terms. The correction is fitted mostly
    # to affinity, which varies between complexes; within one complex the prior carries most of
    # the pose sense (w = 1: the pose score is the score). See POSE_SCORE_NOTE.
    pose_prior_weight: float = 1.0
    # Weight of the learned correction at inference (1 = as trained, 0 = the prior alone): a
    # shrinkage toward the physics, chosen by protein-grouped CV (dockscore.training.cv), no parameter moves.
    correction_weight: float = 1.0
    # Reach (A) of the element-contact affinity term (dockscore.training.contacts; None = off): a linear
    # correction on ligand-element x protein-element contact counts, fitted in closed form to the
    # training residuals after training. See ELEMENT_CONTACTS_NOTE.
    element_contact_cutoff: float | None = None
    # Fixed overlap wall (dockscore.overlap): pK per A of a pose's summed ligand-protein overlap
    # (each pair's depth past OVERLAP_ONSET) beyond OVERLAP_ALLOWANCE, added after calibration
    # (0 = off, the models before it); see dockscore.overlap.
    overlap_wall: float = 0.0
    # The learned correction's reach into overlap (dockscore.overlap.correction_share): a pose keeps
    # all of it with no pair past OVERLAP_ONSET and ``correction_floor`` of it from ``correction_fade``
    # A of summed overlap on (0 = it never fades, the models before it). See CORRECTION_FADE_NOTE.
    correction_fade: float = 0.0
    correction_floor: float = 1.0

    def graph_settings(self) -> GraphSettings:
        return GraphSettings(pocket_cutoff=self.pocket_cutoff, contact_cutoff=self.contact_cutoff,
                             element_contact_cutoff=self.element_contact_cutoff)

    def to_dict(self) -> dict:
        return asdict(self)


def cosine_cutoff(d: torch.Tensor, cutoff: float) -> torch.Tensor:
    """Smooth switch from 1 at d = 0 to 0 at the cutoff, with zero slope there."""
    return torch.where(d < cutoff, 0.5 * (torch.cos(math.pi * d / cutoff) + 1.0), torch.zeros_like(d))


def scatter_sum(src: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    out = torch.zeros((size,) + src.shape[1:], dtype=src.dtype, device=src.device)
    return out.index_add_(0, index, src)


def gaussian(z: torch.Tensor) -> torch.Tensor:
    """exp(-z^2), with z^2 capped at 60 (exp(-60) ~ 1e-26, zero beside any term that matters).

    Why the cap: torch's CPU exp takes a slow scalar path for float32 arguments below about -87,
    where the result underflows to a subnormal or zero, and subnormals slow every product after
    it: uncapped, an exp over a radial basis or a Gaussian contact term ran 50-100x slower
    (measured: 93 k values, 45 us vs 4.5 ms)."""
    return torch.exp(-(z * z).clamp(max=60.0))


class GaussianRBF(nn.Module):
    def __init__(self, n: int, cutoff: float) -> None:
        super().__init__()
        self.register_buffer("centers", torch.linspace(0.0, cutoff, n))
        self.width = cutoff / n

    def forward(self, d: torch.Tensor) -> torch.Tensor:
        return gaussian((d[:, None] - self.centers) / self.width)


def _soft_unit(v: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    return v / torch.sqrt((v**2).sum(-1, keepdim=True) + eps**2)


def mlp(n_in: int, n_hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, n_hidden), nn.SiLU(), nn.Linear(n_hidden, n_out))


class EquivariantLayer(nn.Module):
    """One PaiNN-style message + update step, with optional parity-odd (cross/triple product) channels."""

    def __init__(self, F: int, V: int, n_rbf: int, parity_odd: bool) -> None:
        super().__init__()
        self.F, self.V, self.parity_odd = F, V, parity_odd
        n_vec_gates = (3 if parity_odd else 2) * V
        self.message = mlp(F, F, F + n_vec_gates)
        self.filter = nn.Linear(n_rbf + NUM_EDGE_FEATURES, F + n_vec_gates)
        if V:
            self.U = nn.Linear(V, V, bias=False)
            self.W = nn.Linear(V, V, bias=False)
            self.dot_to_scalar = nn.Linear(V, F)
            n_upd = 2 * F + V + ((F + V) if parity_odd else 0)
            self.update = mlp(F + V, F, n_upd)
            if parity_odd:
                self.P = nn.Linear(V, V, bias=False)
                self.Q = nn.Linear(V, V, bias=False)
                self.R = nn.Linear(V, V, bias=False)
                self.triple_to_scalar = nn.Linear(V, F)
        else:
            self.update = mlp(F, F, F)

    def forward(self, s, v, edge_index, edge_feat, edge_weight, unit, update_index=None):
        """One step. ``update_index``: the nodes whose state changes (all when None); others
        (e.g. protein atoms, encoded once) only send messages."""
        if update_index is None:
            s_new, v_new = self._step(s, v, edge_index, edge_feat, edge_weight, unit, None)
            return s_new, v_new
        s_new, v_new = self._step(s, v, edge_index, edge_feat, edge_weight, unit, update_index)
        return s.index_copy(0, update_index, s_new), (v.index_copy(0, update_index, v_new) if self.V else v)

    def _step(self, s, v, edge_index, edge_feat, edge_weight, unit, update_index):
        src, dst = edge_index
        m = self.message(s).index_select(0, src) * self.filter(edge_feat) * edge_weight[:, None]
        ds, dv = self._aggregate(m, v.index_select(0, src) if self.V else None, unit, dst, s.shape[0])
        if update_index is not None:
            s, ds = s[update_index], ds[update_index]
            if self.V:
                v, dv = v[update_index], dv[update_index]
        return self._update(s, v, ds, dv)

    def receive(self, s, v, message_src, v_src, filt, edge_weight, unit, dst):
        """The step of the nodes that receive messages (``s``, ``v``: their states; ``dst``: edge
        targets as rows of ``s``), from per-edge source terms computed elsewhere: ``message_src`` =
        ``self.message`` of each edge's source state, ``v_src`` its vectors, ``filt`` =
        ``self.filter(edge_feat)``. The same arithmetic as ``forward`` with ``update_index``; the
        per-pose path uses it with message MLPs of protein atoms evaluated once per protein."""
        m = message_src * filt * edge_weight[:, None]
        ds, dv = self._aggregate(m, v_src, unit, dst, s.shape[0])
        return self._update(s, v, ds, dv)

    def _aggregate(self, m, v_src, unit, dst, size):
        F, V = self.F, self.V
        ds = scatter_sum(m, dst, size)[:, :F]  # all columns: index_add_ of a column slice is several times slower
        dv = None
        if V:
            g_v, g_r = m[:, F : F + V, None], m[:, F + V : F + 2 * V, None]
            dv = g_v * v_src + g_r * unit[:, None, :]
            if self.parity_odd:
                g_c = m[:, F + 2 * V :, None]
                dv = dv + g_c * torch.cross(unit[:, None, :].expand_as(v_src), v_src, dim=-1)
            dv = scatter_sum(dv, dst, size)
        return ds, dv

    def _update(self, s, v, ds, dv):
        F, V = self.F, self.V
        s = s + ds
        if V:
            v = v + dv
            Uv = self.U(v.transpose(1, 2)).transpose(1, 2)
            Wv = self.W(v.transpose(1, 2)).transpose(1, 2)
            norm = torch.sqrt((Wv**2).sum(-1) + 1e-8)
            a = self.update(torch.cat([s, norm], dim=-1))
            a_ss, a_sv, a_vv = a[:, :F], a[:, F : 2 * F], a[:, 2 * F : 2 * F + V]
            s = s + a_ss + a_sv * self.dot_to_scalar((Uv * Wv).sum(-1))
            v = v + a_vv[..., None] * Uv
            if self.parity_odd:
                a_ps, a_cv = a[:, 2 * F + V : 3 * F + V], a[:, 3 * F + V :]
                Pv = self.P(v.transpose(1, 2)).transpose(1, 2)
                Qv = self.Q(v.transpose(1, 2)).transpose(1, 2)
                Rv = self.R(v.transpose(1, 2)).transpose(1, 2)
                # Unit-normalised triple product: an O(1) handedness signal (a chirality
                # volume) even while the vectors are still small early in training.
                Pv, Qv, Rv = (_soft_unit(t) for t in (Pv, Qv, Rv))
                axial = torch.cross(Pv, Qv, dim=-1)
                pseudoscalar = (axial * Rv).sum(-1)
                s = s + a_ps * self.triple_to_scalar(pseudoscalar)
                v = v + a_cv[..., None] * axial
        else:
            s = s + self.update(s)
        return s, v


# Vina-like distance shapes on the surface distance d_s = d - R_i - R_j, with the sign each
# term may take in pK units (+ favourable). Scales keep initial sums near unit size.
LEARNED_TERMS = ("gauss_contact", "gauss_far", "repulsion", "hydrophobic", "hbond", "contact_penalty")
TERM_SIGNS = (1.0, 1.0, -1.0, 1.0, 1.0, -1.0)
# Plus one fixed (not learned) term: a hard-clash penalty for atoms overlapping deeper than
# CLASH_ONSET A beyond their vdW contact (C-C closer than 2.2 A, N-O closer than 1.9 A).
# The onset is the 5th percentile of the deepest overlap per training crystal complex, so 95 %
# of real complexes feel nothing; an interpenetrating pose never scores well, whatever the
# learned repulsion weights settled to (pose optimisation needs this).
CLASH_ONSET = 1.6
# And a fixed physics prior (weight ``ModelConfig.vina_prior``): AutoDock Vina's intermolecular
# terms with Vina's own weights and X-Score typing (hydrophobic pairs, donor-acceptor pairs),
# in pK units (kcal/mol / 1.364 at 298 K). The learned terms then model what Vina misses
# (delta learning, as in deltaVinaRF); the prior carries Vina's pose sense to proteins the
# ~550 training complexes never showed.
VINA_WEIGHTS_KCAL = {"gauss1": -0.035579, "gauss2": -0.005156, "repulsion": 0.840245, "hydrophobic": -0.035069, "hbond": -0.587439}
KCAL_PER_PK = 1.364
TERM_NAMES = LEARNED_TERMS + ("hard_clash", "vina_prior", "element_contacts")
# Per-pose outputs that are geometry, not model (dockscore.overlap): an ensemble takes them as is.
GEOMETRY_OUTPUTS = ("closest_contact", "clashes", "overlap")

# ELEMENT_CONTACTS_NOTE. Across proteins, the learned pair correction moves scoring power little
# beyond Vina's terms (protein-grouped CV: R 0.388 against 0.384 for the prior with the same soft
# core), and refitting Vina's five weights does not either (0.383). What both lack is what kind of
# atoms a ligand buries against what: desolvation of polar atoms, packing of apolar ones, well
# beyond contact distance. RF-Score's element-pair counts carry that; as a linear term on the
# residuals of the trained model (ridge penalty chosen by protein-grouped inner CV), they raise
# CV R in 4 of 5 folds. The term is per ligand atom (sum over its element's weights times the
# switched counts of protein C, N, O, S within the cutoff), so per-atom contributions still sum
# to the score. It is an affinity term: it is left out of the pose score, which chooses poses of
# one ligand by contact geometry, where a burial count was never validated.


# PRIOR_REPULSION_NOTE. Vina's repulsion grows without bound (overlap squared). Poses a user
# brings are rarely crystal-exact: a congeneric series modelled onto one reference, or poses
# docked into a rigid receptor, put a substituent 1 A into a side chain that would move.
# Unbounded, that one contact outweighs the whole ligand's attraction and the score ranks
# clashes, not affinity (CDK2 FEP series: rho -0.63). Capping each pair's prior repulsion at
# 0.7 A of overlap (a soft core, like the scaled vdW radii of "soft" docking) keeps the prior's
# pose sense for near-contact geometry; deep interpenetration is still penalised by the fixed
# hard-clash term (onset CLASH_ONSET) and by the learned repulsion. 0.7 A was chosen on the
# validation proteins and training-set docking power (the knee before docking power drops),
# before the FEP series were scored with it.
PRIOR_OVERLAP_CAP = 0.7

# CORRECTION_FADE_NOTE. The learned correction was fitted on crystal poses, 94 % of which have no
# heavy-atom pair past OVERLAP_ONSET; its contact shapes saturate at full reward inside contact,
# so on a pose pushed into the protein it extrapolates upward, and under the soft core nothing
# outweighs it (dockscore-e3: a 1 A push beat the crystal pose in 50 of 68 test complexes). Faded
# with the pose's summed overlap past the onset (dockscore.overlap.correction_share), it leaves
# every pose without such a pair as it was and hands poses inside the protein to the prior. The
# fade (1 A to nothing) was chosen by the protein-grouped CV over the whole table
# (bench/cv_correction_fade.py, bench/results/cv_correction_fade.md): no fold fails the clash
# test, then the highest pooled R. dockscore-e3 carries it (docs/history.md, "Physical validity").

# POSE_SCORE_NOTE. On docked decoys the prior alone picks a near-native pose about as often as
# Vina does, and the learned correction, fitted mostly to affinity, moves the top pose as often
# away from the native as towards it. Counting the correction half (w = 2) gained 3 of 178
# training and 3 of 33 validation complexes (native excluded), with w chosen on those alone
# (grid 1-5). The affinity score is untouched, so scoring and ranking power are unchanged.


@contextmanager
def _heads_set(model: nn.Module, name: str, value) -> Iterator[nn.Module]:
    """Set one attribute on the head of the model (or of every ensemble member) for the duration."""
    heads = [m.head for m in getattr(model, "members", [model])]
    saved = [getattr(h, name) for h in heads]
    try:
        for h in heads:
            setattr(h, name, value)
        yield model
    finally:
        for h, old in zip(heads, saved):
            setattr(h, name, old)


def prior_hard_wall(model: nn.Module):
    """Vina's unbounded repulsion in the prior for the duration (the pose optimiser's objective).

    The soft core is for scoring poses someone else made; an optimiser exploits any bounded
    penalty: under the capped prior it pushes atoms 1 A into the protein, where the saturated
    hydrophobic and H-bond terms still pay, and scores of 15-18 pK follow. Optimising against
    the full wall keeps poses physical."""
    return _heads_set(model, "prior_overlap_cap", None)


def learned_correction_off(model: nn.Module):
    """Only the fixed terms (hard clash and the Vina-typed prior) for the duration: the learned
    pair energies are zero, so score = offset + scale x (clash + prior). This is "the prior
    alone", the baseline a learned correction must beat on the same complexes (dockscore.training.cv)."""
    return _heads_set(model, "correction_weight", 0.0)


def xs_pair_masks(xs_i: torch.Tensor, xs_j: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Vina's pair gates from XS types (columns hydrophobic, donor, acceptor): (both hydrophobic,
    one donates to the other), each 0 or 1 per pair."""
    return xs_i[..., 0] * xs_j[..., 0], torch.clamp(xs_i[..., 1] * xs_j[..., 2] + xs_i[..., 2] * xs_j[..., 1], max=1.0)


def vina_prior_energy(terms: torch.Tensor, xs_i: torch.Tensor, xs_j: torch.Tensor, overlap_cap: float | None = None) -> torch.Tensor:
    """Vina's typed pair energy in pK units (+ favourable) from :func:`interaction_terms` columns;
    ``overlap_cap`` (A) bounds the repulsion column at ``overlap_cap ** 2``."""
    w = VINA_WEIGHTS_KCAL
    if overlap_cap is not None:
        terms = torch.cat([terms[:, :2], torch.clamp(terms[:, 2:3], max=overlap_cap**2), terms[:, 3:]], dim=-1)
    hydrophobic_pair, hbond_pair = xs_pair_masks(xs_i, xs_j)
    kcal = (w["gauss1"] * terms[:, 0] + w["gauss2"] * terms[:, 1] + w["repulsion"] * terms[:, 2]
            + w["hydrophobic"] * terms[:, 3] * hydrophobic_pair + w["hbond"] * terms[:, 4] * hbond_pair)
    return -kcal / KCAL_PER_PK


def interaction_terms(d_s: torch.Tensor) -> torch.Tensor:
    return torch.stack([
        gaussian(d_s / 0.5),
        gaussian((d_s - 3.0) / 2.0),
        torch.where(d_s < 0, d_s**2, torch.zeros_like(d_s)),
        torch.clamp(1.5 - d_s, 0.0, 1.0),
        torch.clamp(-d_s / 0.7, 0.0, 1.0),
        gaussian(d_s / 0.5),
    ], dim=-1)


class PairInteractionHead(nn.Module):
    """Score = offset + sum over ligand–protein pairs of sign_k * softplus(c_ijk) * term_k(d_s), plus the fixed
    hard-clash term and (when ``vina_prior`` > 0) the fixed Vina-typed prior."""

    def __init__(self, F: int, rank: int, cutoff: float, offset: float, clash_weight: float = 1.0, vina_prior: float = 0.0,
                 prior_overlap_cap: float | None = None, correction_weight: float = 1.0) -> None:
        super().__init__()
        K = len(LEARNED_TERMS)
        self.K, self.rank, self.cutoff, self.clash_weight, self.vina_prior = K, rank, cutoff, clash_weight, vina_prior
        self.prior_overlap_cap = prior_overlap_cap
        self.correction_weight = correction_weight  # 0: the learned pair energies are zero (see learned_correction_off)
        self.ligand_proj = nn.Linear(F, K * rank)
        self.protein_proj = nn.Linear(F, K * rank)
        self.term_bias = nn.Parameter(torch.full((K,), -5.0))
        self.register_buffer("signs", torch.tensor(TERM_SIGNS))
        self.offset = nn.Parameter(torch.tensor(float(offset)))
        # Linear calibration to pK fitted on training complexes after training (1 = none).
        self.register_buffer("scale", torch.tensor(1.0))

    def pair_energies(self, s, pos, radius, pair_index, xs=None):
        i, j = pair_index
        a = self.ligand_proj(s).index_select(0, i).view(-1, self.K, self.rank)
        b = self.protein_proj(s).index_select(0, j).view(-1, self.K, self.rank)
        return self.energies(self.pair_weights(a, b), *self.pair_terms(pos, radius, pair_index, xs))  # (P, K + 2), pK units

    def pair_weights(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(P, K) learned term weights of pairs from their ligand (``a``) and protein (``b``) projections, each (P, K, rank)."""
        return nn.functional.softplus((a * b).sum(-1) / math.sqrt(self.rank) + self.term_bias)

    def pair_terms(self, pos, radius, pair_index, xs=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The parameter-free part of the pair energies (the same for every model with this head's
        settings; see :meth:`settings`): switched distance shapes (P, K), hard clash (P,) and prior (P,)."""
        i, j = pair_index
        d = (pos.index_select(0, i) - pos.index_select(0, j)).norm(dim=-1)
        d_s = d - radius.index_select(0, i) - radius.index_select(0, j)
        switch = cosine_cutoff(d, self.cutoff)
        raw = interaction_terms(d_s)
        terms = raw * switch[:, None]
        xs_i, xs_j = (xs.index_select(0, i), xs.index_select(0, j)) if xs is not None else (None, None)
        clash = -self.clash_weight * torch.relu(-d_s - CLASH_ONSET) ** 2 * switch
        if self.vina_prior and xs is not None:
            # Vina's own hard 8 A cutoff (pairs are already within it): the smooth switch would
            # damp gauss2, whose reach (surface distance 3 +- 2 A) is most of Vina's attraction
            prior = self.vina_prior * vina_prior_energy(raw * (d < self.cutoff)[:, None], xs_i, xs_j, self.prior_overlap_cap)
        else:
            prior = torch.zeros_like(clash)
        return terms, clash, prior

    def energies(self, weight, terms, clash, prior) -> torch.Tensor:
        """(P, K + 2) pair energies (pK units, before calibration) from learned weights and :meth:`pair_terms`."""
        learned = weight * terms * (self.signs * self.correction_weight)
        return torch.cat([learned, clash[:, None], prior[:, None]], dim=-1)

    def settings(self) -> tuple:
        """Everything besides parameters and buffers that :meth:`pair_terms` reads."""
        return (self.K, self.cutoff, self.clash_weight, self.vina_prior, self.prior_overlap_cap)


class DockScoreModel(nn.Module):
    """Protein encoder (once per protein) + ligand message passing (per pose) + pair head."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        check_symmetry(config.symmetry, "symmetry")
        if config.symmetry == "se3" and config.vectors == 0:
            raise ConfigError("se3 needs vector channels (vectors > 0) to build pseudoscalars")
        self.config = config
        F, V, odd = config.hidden, config.vectors, config.symmetry == "se3"
        self.embed = nn.Linear(NUM_ATOM_FEATURES, F)
        self.rbf = GaussianRBF(config.rbf, config.contact_cutoff)
        self.protein_layers = nn.ModuleList(EquivariantLayer(F, V, config.rbf, odd) for _ in range(config.protein_layers))
        self.ligand_layers = nn.ModuleList(EquivariantLayer(F, V, config.rbf, odd) for _ in range(config.layers))
        self.head = PairInteractionHead(F, config.pair_rank, config.pocket_cutoff, config.score_offset, config.clash_weight, config.vina_prior,
                                       config.prior_overlap_cap, config.correction_weight)
        if config.element_contact_cutoff is not None:
            self.set_element_contacts(config.element_contact_cutoff)

    def set_element_contacts(self, cutoff: float | None, weight: torch.Tensor | None = None) -> None:
        """Switch the element-contact term on (``cutoff`` A, ``weight`` (ligand elements, protein
        elements) pK per switched contact; zeros if None) or off (``cutoff`` None). No other
        parameter moves; graphs must then be built with the new :meth:`ModelConfig.graph_settings`."""
        self.config = replace(self.config, element_contact_cutoff=cutoff)
        if cutoff is None:
            self._buffers.pop("element_contact_weight", None)
            return
        shape = (N_ELEM, len(CONTACT_PROTEIN_ELEMENTS))
        weight = torch.zeros(shape) if weight is None else torch.as_tensor(weight, dtype=torch.float32).reshape(shape).clone()
        self.register_buffer("element_contact_weight", weight.to(self.head.offset.device))

    def element_contacts(self, data) -> torch.Tensor | None:
        """(n_nodes,) element-contact energy of each ligand node (pK; 0 on protein nodes), or None when off."""
        if self.config.element_contact_cutoff is None:
            return None
        env = getattr(data, "element_env", None)
        if env is None:
            raise ValueError("the element-contact term needs graphs built with the model's graph_settings() (data.element_env)")
        lig = torch.nonzero(data.is_ligand).flatten()
        element = data.ligand_x[:, OFF_ELEM : OFF_ELEM + N_ELEM]
        per_atom = ((element @ self.element_contact_weight) * env).sum(-1) * self.head.correction_weight
        return torch.zeros(data.pos.shape[0], device=per_atom.device, dtype=per_atom.dtype).index_copy(0, lig, per_atom)

    def set_pose_prior_weight(self, weight: float) -> None:
        """Set the prior's weight in the pose score of a trained model (no parameter moves)."""
        self.config = replace(self.config, pose_prior_weight=float(weight))

    def set_correction_weight(self, weight: float) -> None:
        """Scale the learned correction of a trained model (1 = as trained, 0 = the prior alone)."""
        self.config = replace(self.config, correction_weight=float(weight))
        self.head.correction_weight = float(weight)

    def set_prior_overlap_cap(self, cap: float | None) -> None:
        """Change the prior's soft core of a trained model (a fixed term: no parameter moves); the
        config, which the checkpoint stores, and the head change together."""
        self.config = replace(self.config, prior_overlap_cap=cap)
        self.head.prior_overlap_cap = cap

    @property
    def offset(self) -> float:
        """The score at zero interaction (pK): score = offset + sum of atom contributions."""
        return float(self.head.offset.detach())

    def _edge_geometry(self, pos, edge_index, edge_attr):
        src, dst = edge_index
        vec = pos.index_select(0, src) - pos.index_select(0, dst)
        d = vec.norm(dim=-1).clamp_min(1e-6)
        return torch.cat([self.rbf(d), edge_attr], dim=-1), d, vec / d[:, None]

    def encode_protein(self, x: torch.Tensor, pos: torch.Tensor, bond_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-atom protein states from covalent neighbourhoods (l = 0 and, if any, l = 1 channels).

        Covalent bonds are discrete chemistry, so their messages carry weight 1; the encoding
        of an atom is the same in a pocket file and in the whole protein (residues are whole).
        """
        edge_attr = torch.zeros((bond_index.shape[1], NUM_EDGE_FEATURES), device=pos.device)
        edge_attr[:, PROTEIN_BOND] = 1.0
        edge_feat, _, unit = self._edge_geometry(pos, bond_index, edge_attr)
        s = self.embed(x)
        v = torch.zeros((x.shape[0], self.config.vectors, 3), device=pos.device, dtype=pos.dtype)
        weight = torch.ones(bond_index.shape[1], device=pos.device, dtype=pos.dtype)
        for layer in self.protein_layers:
            s, v = layer(s, v, bond_index, edge_feat, weight, unit)
        return s, v

    def protein_cache(self, protein_s: torch.Tensor, protein_v: torch.Tensor) -> ProteinCache:
        """The per-pose work that depends on the encoded protein alone, done once for all its atoms.

        Protein atoms only send messages (their states never change in the ligand layers), so each
        ligand layer's message MLP and the head's protein projection of a protein atom are the same
        in every pose: ``forward(..., cache=)`` gathers them by ``data.pocket_atom`` instead of
        evaluating them for every pocket node of every pose. Build it under ``torch.no_grad()``
        for scoring (gradients w.r.t. ligand positions stay exact: the cache does not depend on them)."""
        messages = tuple(layer.message(protein_s) for layer in self.ligand_layers)
        pair_b = self.head.protein_proj(protein_s).view(-1, self.head.K, self.head.rank)
        return ProteinCache(protein_s, protein_v, messages, pair_b)

    def forward(self, data, protein_s: torch.Tensor, protein_v: torch.Tensor, cache: ProteinCache | None = None) -> dict[str, torch.Tensor]:
        """Score a batch of pose graphs against encoded proteins (``data.pocket_atom`` indexes rows of ``protein_s``).

        Returns ``score`` (per graph, pK), ``pose_score`` (per graph, for choosing among poses of one
        ligand; see ``ModelConfig.pose_prior_weight``), ``atom_contrib`` (per node, pK; zero on
        protein atoms) and ``terms`` (per graph, per interaction term, pK).

        ``cache``: :meth:`protein_cache` of ``(protein_s, protein_v)``; the same outputs (to float
        rounding) at a fraction of the cost per pose, with ligand-only node states.
        """
        if cache is not None:
            return self._cached_forward(data, cache)
        pos, n = data.pos, data.pos.shape[0]
        lig = torch.nonzero(data.is_ligand).flatten()
        pocket = torch.nonzero(~data.is_ligand).flatten()
        s = torch.zeros((n, self.config.hidden), device=pos.device, dtype=pos.dtype)
        s = s.index_copy(0, lig, self.embed(data.ligand_x)).index_copy(0, pocket, protein_s[data.pocket_atom])
        v = torch.zeros((n, self.config.vectors, 3), device=pos.device, dtype=pos.dtype)
        if self.config.vectors:
            v = v.index_copy(0, pocket, protein_v[data.pocket_atom])
        edge_feat, d, unit = self._edge_geometry(pos, data.edge_index, data.edge_attr)
        bonded = data.edge_attr[:, LIGAND_BOND] > 0
        weight = torch.where(bonded, torch.ones_like(d), cosine_cutoff(d, self.config.contact_cutoff))
        for layer in self.ligand_layers:
            s, v = layer(s, v, data.edge_index, edge_feat, weight, unit, update_index=lig)

        energies = self.head.pair_energies(s, pos, data.radius, data.pair_index, getattr(data, "xs", None)) * self.head.scale
        return self._pose_outputs(data, _PoseIndex.of(data), energies)

    def _cached_forward(self, data, cache: ProteinCache, poses: _Poses | None = None, fixed: tuple | None = None,
                        geometry: tuple | None = None) -> dict[str, torch.Tensor]:
        """``forward`` with ``cache``; ``poses`` (:meth:`_poses`), ``fixed`` (``head.pair_terms``) and
        ``geometry`` (:func:`pair_overlap`) of the batch when an ensemble computed them already for
        a member of the same settings."""
        if poses is None:
            poses = self._poses(data)
        if fixed is None:
            fixed = self.head.pair_terms(data.pos, data.radius, data.pair_index, getattr(data, "xs", None))
        energies = self.head.energies(self._pose_weights(data, poses, cache), *fixed) * self.head.scale
        return self._pose_outputs(data, poses.index, energies, geometry)

    def _pose_outputs(self, data, index: "_PoseIndex", energies: torch.Tensor, geometry: tuple | None = None) -> dict[str, torch.Tensor]:
        """Calibrated pair energies (P, K + 2) plus the fixed overlap wall (into the hard-clash
        column, in pK after calibration), summed per pose and per atom; with each pose's contacts."""
        d, overlap = geometry if geometry is not None else pair_overlap(data.pos, data.radius, data.pair_index)
        contacts = pose_contacts(d, overlap, index.pair_graph, index.num_graphs)
        element = self.element_contacts(data)
        if self.config.correction_fade:
            share = correction_share(contacts["overlap"], self.config.correction_fade, self.config.correction_floor)
            K = self.head.K
            energies = torch.cat([energies[:, :K] * share.index_select(0, index.pair_graph)[:, None], energies[:, K:]], dim=-1)
            element = element * share.index_select(0, index.node_graph) if element is not None else None
        if self.config.overlap_wall:
            clash = TERM_NAMES.index("hard_clash")
            wall = overlap_wall(overlap, self.config.overlap_wall, index.pair_graph, index.num_graphs)
            energies = torch.cat([energies[:, :clash], energies[:, clash : clash + 1] + wall[:, None], energies[:, clash + 1 :]], dim=-1)
        out = _outputs(index, energies, self.head.offset, self.config.pose_prior_weight, element)
        return {**out, **contacts}

    def set_overlap_wall(self, weight: float) -> None:
        """Set the fixed overlap wall of a trained model (pK per A of summed overlap beyond the allowance; no parameter moves)."""
        self.config = replace(self.config, overlap_wall=float(weight))

    def set_correction_fade(self, fade: float, floor: float) -> None:
        """Set how the learned correction fades with a pose's overlap (a fixed term; no parameter moves)."""
        if fade < 0 or not 0.0 <= floor <= 1.0:
            raise ValueError(f"correction fade must be >= 0 A and its floor in [0, 1], not {fade}, {floor}")
        self.config = replace(self.config, correction_fade=float(fade), correction_floor=float(floor))

    def _poses(self, data) -> _Poses:
        """Per-batch geometry and index maps of the cached path (the same for every model of this config)."""
        pos, is_lig = data.pos, data.is_ligand
        lig = torch.nonzero(is_lig).flatten()
        pocket = torch.nonzero(~is_lig).flatten()
        n_lig = lig.numel()
        # Message sources as rows of [ligand atom states | protein-atom tables]; targets as ligand rows.
        row = torch.empty(pos.shape[0], dtype=torch.long, device=pos.device)
        row[lig] = torch.arange(n_lig, device=pos.device)
        row[pocket] = data.pocket_atom + n_lig
        edge_index, edge_attr = data.edge_index, data.edge_attr
        into_ligand = is_lig[edge_index[1]]
        if not bool(into_ligand.all()):  # messages into protein atoms change nothing: their states are fixed
            edge_index, edge_attr = edge_index[:, into_ligand], edge_attr[into_ligand]
        edge_feat, d, unit = self._edge_geometry(pos, edge_index, edge_attr)
        bonded = edge_attr[:, LIGAND_BOND] > 0
        weight = torch.where(bonded, torch.ones_like(d), cosine_cutoff(d, self.config.contact_cutoff))
        i, j = data.pair_index
        if not (bool(is_lig[i].all()) and not bool(is_lig[j].any())):
            raise ValueError("the cached forward needs pair_index rows (ligand node, protein node), as build_complex_graph makes them")
        return _Poses(_PoseIndex.of(data), row[edge_index[0]], row[edge_index[1]], edge_feat, weight, unit, row[i], row[j] - n_lig)

    def _pose_weights(self, data, poses: _Poses, cache: ProteinCache) -> torch.Tensor:
        """(P, K) learned pair weights: the ligand layers on ligand-atom states only, protein atoms
        taking part through the cache."""
        if len(cache.messages) != len(self.ligand_layers):
            raise ValueError("protein cache of another model")
        s = self.embed(data.ligand_x)
        v = torch.zeros((s.shape[0], self.config.vectors, 3), device=s.device, dtype=s.dtype)
        for layer, protein_messages in zip(self.ligand_layers, cache.messages):
            message_src = torch.cat([layer.message(s), protein_messages]).index_select(0, poses.src)
            v_src = torch.cat([v, cache.v]).index_select(0, poses.src) if self.config.vectors else None
            s, v = layer.receive(s, v, message_src, v_src, layer.filter(poses.edge_feat), poses.weight, poses.unit, poses.dst)
        a = self.head.ligand_proj(s).index_select(0, poses.pair_ligand).view(-1, self.head.K, self.head.rank)
        return self.head.pair_weights(a, cache.pair_b.index_select(0, poses.pair_protein).view(-1, self.head.K, self.head.rank))


@dataclass(frozen=True)
class ProteinCache:
    """:meth:`DockScoreModel.protein_cache`: the per-protein tensors one model's cached forward gathers."""

    s: torch.Tensor  # (N, F) protein atom states (encode_protein)
    v: torch.Tensor  # (N, V, 3)
    messages: tuple[torch.Tensor, ...]  # per ligand layer: its message MLP of each protein atom, (N, F + gates)
    pair_b: torch.Tensor  # (N, K, rank): the head's protein projection of each protein atom


@dataclass(frozen=True)
class _PoseIndex:
    n: int  # nodes
    num_graphs: int
    pair_node: torch.Tensor  # (P,) ligand node of each pair
    pair_graph: torch.Tensor  # (P,) its graph
    node_graph: torch.Tensor  # (n,) the graph of every node

    @classmethod
    def of(cls, data) -> "_PoseIndex":
        n = data.pos.shape[0]
        batch = data.batch if getattr(data, "batch", None) is not None else torch.zeros(n, dtype=torch.long, device=data.pos.device)
        num_graphs = int(data.num_graphs) if hasattr(data, "num_graphs") else 1
        lig_atom = data.pair_index[0]
        return cls(n, num_graphs, lig_atom, batch[lig_atom], batch)


@dataclass(frozen=True)
class _Poses:
    index: _PoseIndex
    src: torch.Tensor  # (E,) edge sources: ligand rows, or n_ligand + protein atom
    dst: torch.Tensor  # (E,) edge targets, ligand rows
    edge_feat: torch.Tensor
    weight: torch.Tensor
    unit: torch.Tensor
    pair_ligand: torch.Tensor  # (P,) ligand rows
    pair_protein: torch.Tensor  # (P,) protein atoms


def _outputs(poses, energies: torch.Tensor, offset, pose_prior_weight: float, contacts: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Per-graph and per-atom sums of calibrated pair energies (P, K + 2) and of the per-node
    element-contact energies (``contacts``, (n,); None = the term is off)."""
    index = poses if isinstance(poses, _PoseIndex) else poses.index
    atom_contrib = scatter_sum(energies.sum(-1), index.pair_node, index.n)
    terms = scatter_sum(energies, index.pair_graph, index.num_graphs)
    if contacts is None:
        contact_term = torch.zeros_like(terms[:, :1])
    else:
        atom_contrib = atom_contrib + contacts
        contact_term = scatter_sum(contacts, index.node_graph, index.num_graphs)[:, None]
    terms = torch.cat([terms, contact_term], dim=-1)
    score = terms.sum(-1) + offset
    # the pose score leaves the element-contact term out (ELEMENT_CONTACTS_NOTE)
    pose_score = score - terms[:, TERM_NAMES.index("element_contacts")] + (pose_prior_weight - 1.0) * terms[:, TERM_NAMES.index("vina_prior")]
    return {"score": score, "pose_score": pose_score, "atom_contrib": atom_contrib, "terms": terms}


class DockScoreEnsemble(nn.Module):
    """The mean of several models of one architecture (training seeds): same interface as one model.

    Seeds of a recipe trained on ~550 complexes disagree by about as much as the held-out
    differences one would like to read; their mean is steadier on proteins none of them saw.
    ``encode_protein`` stacks the members' protein states along the feature axis so a scorer
    still encodes each protein once; ``forward`` splits them and averages score, per-atom
    contributions and term sums (each member is already calibrated to pK).
    """

    def __init__(self, members: list[DockScoreModel]) -> None:
        super().__init__()
        if not members or len({m.config for m in members}) != 1:
            raise ValueError("an ensemble needs at least one member, all with the same config")
        self.members = nn.ModuleList(members)
        self.config = members[0].config

    @property
    def offset(self) -> float:
        return float(sum(m.offset for m in self.members) / len(self.members))

    def set_pose_prior_weight(self, weight: float) -> None:
        for m in self.members:
            m.set_pose_prior_weight(weight)
        self.config = self.members[0].config

    def set_correction_weight(self, weight: float) -> None:
        for m in self.members:
            m.set_correction_weight(weight)
        self.config = self.members[0].config

    def set_element_contacts(self, cutoff: float | None, weight: torch.Tensor | None = None) -> None:
        """The same element-contact term on every member (so the mean carries it once)."""
        for m in self.members:
            m.set_element_contacts(cutoff, weight)
        self.config = self.members[0].config

    def encode_protein(self, x, pos, bond_index):
        states = [m.encode_protein(x, pos, bond_index) for m in self.members]
        return torch.cat([s for s, _ in states], dim=1), torch.cat([v for _, v in states], dim=1)

    def _split(self, protein_s, protein_v):
        F, V = self.config.hidden, self.config.vectors
        return [(protein_s[:, k * F : (k + 1) * F], protein_v[:, k * V : (k + 1) * V]) for k in range(len(self.members))]

    def protein_cache(self, protein_s: torch.Tensor, protein_v: torch.Tensor) -> tuple[ProteinCache, ...]:
        """Each member's :meth:`DockScoreModel.protein_cache`."""
        return tuple(m.protein_cache(s, v) for m, (s, v) in zip(self.members, self._split(protein_s, protein_v)))

    def forward(self, data, protein_s: torch.Tensor, protein_v: torch.Tensor, cache: tuple[ProteinCache, ...] | None = None) -> dict[str, torch.Tensor]:
        """See :meth:`DockScoreModel.forward`; ``cache``: :meth:`protein_cache`. Cached, the members
        share the pose geometry and the parameter-free pair terms (computed once per batch)."""
        if cache is None:
            outs = [m(data, s, v) for m, (s, v) in zip(self.members, self._split(protein_s, protein_v))]
            return self._mean(outs)
        if len(cache) != len(self.members):
            raise ValueError("protein cache of another model")
        poses = fixed = geometry = None
        if self._members_share_fixed_parts():
            first = self.members[0]
            poses = first._poses(data)
            fixed = first.head.pair_terms(data.pos, data.radius, data.pair_index, getattr(data, "xs", None))
            geometry = pair_overlap(data.pos, data.radius, data.pair_index)
        outs = [m._cached_forward(data, c, poses, fixed, geometry) for m, c in zip(self.members, cache)]
        return self._mean(outs)

    @staticmethod
    def _mean(outs: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """The members' mean; pose geometry (the same for every member) is taken as it is."""
        return {key: outs[0][key] if key in GEOMETRY_OUTPUTS else torch.stack([o[key] for o in outs]).mean(0) for key in outs[0]}

    def set_overlap_wall(self, weight: float) -> None:
        for m in self.members:
            m.set_overlap_wall(weight)
        self.config = self.members[0].config

    def set_correction_fade(self, fade: float, floor: float) -> None:
        for m in self.members:
            m.set_correction_fade(fade, floor)
        self.config = self.members[0].config

    def _members_share_fixed_parts(self) -> bool:
        """Whether every member has the first's config, edge basis and head settings (true unless a
        member was changed on its own), so that pose geometry and fixed pair terms can be computed once."""
        first = self.members[0]
        return all(m.config == first.config and m.head.settings() == first.head.settings() and m.rbf.width == first.rbf.width
                   and torch.equal(m.rbf.centers, first.rbf.centers) for m in self.members[1:])
