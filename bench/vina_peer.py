"""AutoDock Vina as the benchmark peer (bench-only; not a dependency of ``dockscore``).

Receptor: waters stripped, converted to PDBQT by Open Babel (``obabel -xr``; polar H kept,
H added with ``-h -p 7.4`` only when the input has no hydrogens). Maps are computed once per
``VinaPeer``. Ligands: RDKit mol -> explicit H with coordinates -> meeko -> PDBQT string.

Requirements: ``bench/requirements.txt`` (vina, meeko, gemmi) and the ``obabel`` binary
(Debian: ``apt-get install -y openbabel``).

CLI::

    python bench/vina_peer.py PROTEIN.pdb POSES.sdf [--local-opt] [--box-ligand REF.sdf]
"""
from __future__ import annotations

import argparse
import logging
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from rdkit import Chem, RDLogger

log = logging.getLogger("vina_peer")

WATER_RESNAMES = {"HOH", "WAT", "DOD", "H2O", "TIP", "TIP3", "SOL"}
# AutoDock atom types Vina 1.2 knows (receptor lines with other types are dropped, logged).
VINA_AD_TYPES = {
    "C", "A", "N", "O", "P", "S", "H", "F", "I", "NA", "OA", "SA", "HD", "Mg", "MG", "Mn",
    "MN", "Zn", "ZN", "Ca", "CA", "Fe", "FE", "Cl", "CL", "Br", "BR", "Si", "At",
}


def _pdb_element(line: str) -> str:
    """Element of a PDB ATOM/HETATM record: columns 77-78, else the atom name's first letter."""
    return (line[76:78].strip() if len(line) >= 78 else "").upper() or line[12:16].strip().lstrip("0123456789")[:1].upper()


def _strip_waters(pdb_in: Path, pdb_out: Path) -> tuple[int, bool]:
    """Write ATOM/HETATM records of ``pdb_in`` minus waters; return (n_atoms, has_h)."""
    n, has_h = 0, False
    with open(pdb_in) as fi, open(pdb_out, "w") as fo:
        for line in fi:
            rec = line[:6]
            if rec not in ("ATOM  ", "HETATM"):
                if rec.startswith("TER"):
                    fo.write(line)
                continue
            if line[17:21].strip().upper() in WATER_RESNAMES:
                continue
            has_h |= _pdb_element(line) in ("H", "D")
            fo.write(line)
            n += 1
        fo.write("END\n")
    return n, has_h


ORGANIC = {"C", "N", "O", "S", "P", "H", "D", "F", "CL", "BR", "I", "SE"}


def _with_gasteiger_charges(lines: list[str], pdb: Path, obabel: str, options: list[str], charged_pdbqt: Path) -> list[str]:
    """PDBQT lines with Open Babel's Gasteiger charges in columns 71-76.

    Gasteiger has no parameters for metal ions, and Open Babel then writes nothing at all, so the
    charges come from a copy without them, matched back by coordinates; ions keep charge 0."""
    organic = charged_pdbqt.with_suffix(".organic.pdb")
    with open(pdb) as fi, open(organic, "w") as fo:
        for line in fi:
            if not (line.startswith("HETATM") and _pdb_element(line) not in ORGANIC):
                fo.write(line)
    subprocess.run([obabel, str(organic), *options, str(charged_pdbqt), "--partialcharge", "gasteiger"], capture_output=True, text=True)
    charge = {ln[30:54]: ln[70:76] for ln in (charged_pdbqt.read_text().splitlines() if charged_pdbqt.exists() else [])
              if ln.startswith(("ATOM", "HETATM"))}
    if not charge:
        raise RuntimeError(f"obabel wrote no Gasteiger charges for {pdb}")
    return [ln[:70] + charge.get(ln[30:54], " 0.000") + ln[76:] if ln.startswith(("ATOM", "HETATM")) else ln for ln in lines]


def prepare_receptor_pdbqt(protein_pdb: Path, out_pdbqt: Path, charges: bool = False) -> Path:
    """Protein PDB -> rigid receptor PDBQT with Open Babel (waters removed).

    ``charges``: Gasteiger partial charges in the PDBQT (AutoDock4's electrostatics needs them;
    Vina and Vinardo ignore charges, and ``-xr`` alone writes zeros)."""
    obabel = shutil.which("obabel")
    if obabel is None:
        raise RuntimeError("obabel not found (apt-get install -y openbabel)")
    out_pdbqt = Path(out_pdbqt)
    tmp_pdb = out_pdbqt.with_suffix(".nowater.pdb")
    n, has_h = _strip_waters(Path(protein_pdb), tmp_pdb)
    if n == 0:
        raise ValueError(f"no atoms in {protein_pdb}")
    # without input H, Open Babel adds them: Vina types N/O as donors only via attached HD atoms
    options = ([] if has_h else ["-h", "-p", "7.4"]) + ["-xr", "-opdbqt", "-O"]
    cmd = [obabel, str(tmp_pdb), *options, str(out_pdbqt)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0 or not out_pdbqt.exists() or out_pdbqt.stat().st_size == 0:
        raise RuntimeError(f"obabel failed ({' '.join(cmd)}): {res.stderr.strip()}")
    # drop atoms whose AD type Vina does not know (e.g. Na, K, Cd) instead of failing
    kept, dropped = [], []
    for line in out_pdbqt.read_text().splitlines():
        if line.startswith(("ATOM", "HETATM")):
            t = line[77:].strip()
            if t not in VINA_AD_TYPES:
                dropped.append(t)
                continue
        kept.append(line)
    if dropped:
        log.warning("receptor %s: dropped %d atoms with types %s", protein_pdb, len(dropped),
                    sorted(set(dropped)))
    if charges:
        kept = _with_gasteiger_charges(kept, tmp_pdb, obabel, options, out_pdbqt.with_suffix(".charged.pdbqt"))
    out_pdbqt.write_text("\n".join(kept) + "\n")
    log.info("receptor %s -> %s (input H: %s, cmd: %s)", protein_pdb, out_pdbqt, has_h,
             " ".join(cmd[2:]))
    return out_pdbqt


def _as_mols(ligands: Chem.Mol | str | Path | Iterable[Chem.Mol]) -> list[Chem.Mol]:
    if isinstance(ligands, Chem.Mol):
        return [ligands]
    if isinstance(ligands, (str, Path)):
        return [m for m in Chem.SDMolSupplier(str(ligands), removeHs=False) if m is not None]
    return [m for m in ligands if m is not None]


def ligand_box(ligands: Chem.Mol | str | Path | Iterable[Chem.Mol], padding: float = 8.0
               ) -> tuple[list[float], list[float]]:
    """Box centre = centroid of all heavy atoms of all ligands; size = extent + padding (A)."""
    xyz = []
    for m in _as_mols(ligands):
        pos = m.GetConformer().GetPositions()
        heavy = [a.GetIdx() for a in m.GetAtoms() if a.GetAtomicNum() > 1]
        xyz.append(pos[heavy])
    if not xyz:
        raise ValueError("no ligand coordinates for the box")
    xyz = np.concatenate(xyz)
    centre = xyz.mean(axis=0)
    size = xyz.max(axis=0) - xyz.min(axis=0) + padding
    return centre.tolist(), size.tolist()


class VinaPeer:
    """AutoDock Vina 1.2 scorer with receptor PDBQT and maps prepared once."""

    def __init__(self, protein_pdb: Path | str, box_center: Sequence[float],
                 box_size: Sequence[float], sf_name: str = "vina", spacing: float = 0.375,
                 cpu: int = 1, workdir: Path | str | None = None) -> None:
        from vina import Vina  # bench-only dependency

        self.protein_pdb = Path(protein_pdb)
        self.box_center = [float(x) for x in box_center]
        self.box_size = [float(x) for x in box_size]
        self._tmp = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="vina_peer_")
            workdir = self._tmp.name
        self.receptor_pdbqt = prepare_receptor_pdbqt(
            self.protein_pdb, Path(workdir) / (self.protein_pdb.stem + "_receptor.pdbqt"))
        self.v = Vina(sf_name=sf_name, cpu=cpu, verbosity=0)
        self.v.set_receptor(str(self.receptor_pdbqt))
        self.v.compute_vina_maps(center=self.box_center, box_size=self.box_size, spacing=spacing)
        from meeko import MoleculePreparation, PDBQTWriterLegacy

        self._prep = MoleculePreparation()
        self._writer = PDBQTWriterLegacy
        self.n_failed = 0
        self._c = np.asarray(self.box_center)
        self._half = np.asarray(self.box_size) / 2.0

    @classmethod
    def from_ligand_box(cls, protein_pdb: Path | str,
                        ref_ligand: Chem.Mol | str | Path | Iterable[Chem.Mol],
                        padding: float = 8.0, **kw) -> "VinaPeer":
        """Box around a reference ligand (SDF path, mol or mols): centroid, extent + padding."""
        c, s = ligand_box(ref_ligand, padding)
        return cls(protein_pdb, c, s, **kw)

    def ligand_pdbqt(self, mol: Chem.Mol) -> str:
        """RDKit mol (3D) -> meeko PDBQT string (explicit H added with coordinates)."""
        molh = Chem.AddHs(mol, addCoords=True)
        setups = self._prep.prepare(molh)
        if len(setups) != 1:
            raise ValueError(f"meeko returned {len(setups)} setups")
        pdbqt, ok, err = self._writer.write_string(setups[0])
        if not ok:
            raise ValueError(f"meeko PDBQT writer: {err}")
        return pdbqt

    def score_mol(self, mol: Chem.Mol, local_opt: bool = False) -> float:
        """Vina score (kcal/mol) of the pose as given, or after local optimisation.

        Returns ``nan`` (and logs why) on any failure; never raises.
        """
        try:
            if mol is None:
                raise ValueError("mol is None")
            self.v.set_ligand_from_string(self.ligand_pdbqt(mol))
            try:
                e = self.v.optimize()[0] if local_opt else self.v.score()[0]
            except RuntimeError as exc:  # Vina prints its reason on stderr only
                xyz = mol.GetConformer().GetPositions()
                out = (np.abs(xyz - self._c) > self._half).any()
                raise RuntimeError("ligand outside the grid box (enlarge box/padding)" if out
                                   else str(exc) or "Vina error (see stderr)") from None
            e = float(e)
            if not math.isfinite(e):
                raise ValueError(f"non-finite score {e}")
            return e
        except Exception as exc:  # noqa: BLE001 - a batch must never die
            self.n_failed += 1
            name = mol.GetProp("_Name") if mol is not None and mol.HasProp("_Name") else "?"
            log.warning("vina failed on %s: %s: %s", name, type(exc).__name__, exc)
            return float("nan")

    def score_sdf(self, sdf_path: Path | str, local_opt: bool = False) -> list[dict]:
        """Score every record of an SDF: [{name, index, vina_kcal, time}] (time in s)."""
        out = []
        suppl = Chem.SDMolSupplier(str(sdf_path), removeHs=False)
        for i in range(len(suppl)):
            t0 = time.perf_counter()
            try:
                mol = suppl[i]
            except Exception as exc:  # noqa: BLE001
                log.warning("record %d unreadable: %s", i, exc)
                mol = None
            name = mol.GetProp("_Name") if mol is not None and mol.HasProp("_Name") else ""
            if mol is None:
                log.warning("record %d of %s not parsed by RDKit", i, sdf_path)
                e = float("nan")
            else:
                e = self.score_mol(mol, local_opt=local_opt)
            out.append({"name": name, "index": i, "vina_kcal": e,
                        "time": time.perf_counter() - t0})
        return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Score poses with AutoDock Vina (bench peer).")
    ap.add_argument("protein", type=Path, help="protein PDB (waters are stripped)")
    ap.add_argument("poses", type=Path, help="SDF of posed ligands")
    ap.add_argument("--local-opt", action="store_true", help="local optimisation before scoring")
    ap.add_argument("--box-ligand", type=Path, default=None,
                    help="SDF defining the box (default: all poses)")
    ap.add_argument("--padding", type=float, default=8.0)
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if a.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    RDLogger.DisableLog("rdApp.*")
    t0 = time.perf_counter()
    peer = VinaPeer.from_ligand_box(a.protein, a.box_ligand or a.poses, padding=a.padding)
    t_setup = time.perf_counter() - t0
    t1 = time.perf_counter()
    rows = peer.score_sdf(a.poses, local_opt=a.local_opt)
    dt = time.perf_counter() - t1
    print("index\tname\tvina_kcal\ttime_s")
    for r in rows:
        print(f"{r['index']}\t{r['name']}\t{r['vina_kcal']:.3f}\t{r['time']:.4f}")
    n_ok = sum(math.isfinite(r["vina_kcal"]) for r in rows)
    print(f"# {len(rows)} poses ({n_ok} scored) in {dt:.2f} s: {len(rows) / max(dt, 1e-9):.2f} "
          f"poses/s ({'local-opt' if a.local_opt else 'score-only'}); setup {t_setup:.2f} s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
