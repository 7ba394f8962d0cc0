"""What dockscore's numbers mean: the score's unit and meaning, and when a pose is physically
valid. Kept apart from the model so that the command line can name them without loading torch."""

SCORE_UNIT = "pK"
SCORE_MEANING = "predicted binding affinity, pK = -log10(Kd/M); higher = tighter binding"
POSE_SCORE_MEANING = ("for choosing among poses of one ligand in one protein: the score plus (w - 1) x its Vina-prior "
                      "term (w = the model's pose_prior_weight), in pK units; higher = more native-like; compare it "
                      "between poses of one ligand, not between ligands")

# A beyond van der Waals contact: C–C closer than 2.6 A, N–O closer than 2.3 A, O–O closer than
# 2.2 A, metal–O closer than 1.7 A (H-bonds stop near 2.5 A, metal coordination near 1.9 A).
OVERLAP_ONSET = 1.2
# A of summed excess overlap (past the onset, over the pose's pairs) that costs nothing: the most
# any of the 636 training + validation crystal poses has is 1.53 A (1.1 % have over 1.0 A); a pose
# pushed 1-2 A into its protein has a median of 5.2 A (94 % over 2 A). It spares a crystal pose's
# one short contact (a metal, a covalent bond) and a modelled pose's one misplaced substituent.
OVERLAP_ALLOWANCE = 1.5
