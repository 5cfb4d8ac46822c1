"""The statistics of a study over seeds and test images: recipe-level intervals over training
runs and test images (the verdicts' and the ranking's), bootstrap intervals over test images,
paired tests, the ranking, and the typed records of ``stats/stats.json`` (written by
:func:`biomedclf.stats.study.write_study_statistics`, read by
:func:`biomedclf.stats.records.read_stats`).

Used by ``workflow/rules/stats.smk``; may import ``evaluate``, ``train`` and ``data``."""
