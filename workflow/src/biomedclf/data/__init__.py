"""Data preparation: sources (folders, manifests, MedMNIST; PNG to DICOM and NIfTI), decoding
(in one job, or over many with ``shards``), duplicates, splits and folds, the uint8 tensor
cache, and the synthetic generator; for multi-label studies the label tables (``multilabel``),
their patient-grouped iterative stratification (``multilabel_split``) and a synthetic
multi-label set (``synthetic_multilabel``).

Used by ``workflow/rules/data.smk`` (and by training and explain jobs, which read the cache);
imports no other stage. Importing the package is cheap: each job imports the modules it uses.
"""
