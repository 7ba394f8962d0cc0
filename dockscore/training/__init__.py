"""Training and model selection: data, decoys and non-binders, losses, the loop, folds, the
element-contact fit, baselines and the cross-validation. Nothing a user's run imports lives here."""
