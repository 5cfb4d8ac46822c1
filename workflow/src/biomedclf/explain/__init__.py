"""Saliency maps of trained models (captum), their sanity check by randomisation, which test
images they are drawn for, and the files they are kept in.

Used by ``workflow/rules/explain.smk``; may import ``evaluate``, ``train`` and ``data``."""
