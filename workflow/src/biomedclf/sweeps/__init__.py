"""Hyperparameter sweeps: each point's validation numbers, the choice of a point on the
validation split alone (best mean, or the one-standard-error rule), the record of that choice
(``sweeps/{sweep}.json``) and the chosen point's runs as the study variant ``{sweep}.selected``.
The config's ``sweeps:`` section is expanded into points by :mod:`biomedclf.config.sweeps`;
the sweep's table, figure and summary section are drawn by :mod:`biomedclf.report`.

Used by ``workflow/rules/sweeps.smk``; may import ``evaluate``, ``train`` and ``data``, never
``stats``, ``crossval`` or ``explain`` (its siblings)."""
