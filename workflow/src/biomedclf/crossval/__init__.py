"""Cross-validation: the k fold models of a run combined (out-of-fold predictions, the fold
ensemble), and the statistics across folds.

Used by ``workflow/rules/crossval.smk``; may import ``evaluate``, ``train`` and ``data``."""
