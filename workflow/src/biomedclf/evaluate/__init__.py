"""Metrics of a trained run on the test split (checked against scikit-learn), and the readers of
the files a run leaves behind.

Used by ``workflow/rules/evaluate.smk``; may import ``data`` and ``train``."""
