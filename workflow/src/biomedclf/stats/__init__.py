"""The statistics of a study over seeds and test images: bootstrap intervals, paired tests,
the ranking, and the typed records of ``stats/stats.json``.

Used by ``workflow/rules/stats.smk``; may import ``evaluate``, ``train`` and ``data``."""
