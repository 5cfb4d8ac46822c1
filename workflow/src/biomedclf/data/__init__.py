"""Data preparation: sources (folders, manifests, MedMNIST; PNG to DICOM and NIfTI), decoding,
duplicates, splits and folds, the uint8 tensor cache, and the synthetic generator.

Used by ``workflow/rules/data.smk`` (and by training and explain jobs, which read the cache);
imports no other stage. Importing the package is cheap: each job imports the modules it uses.
"""
