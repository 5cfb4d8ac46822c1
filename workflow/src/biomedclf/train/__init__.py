"""Training one variant with one seed: models, losses, the loop, checkpoints, what a run writes.

Used by ``workflow/rules/train.smk`` (and the explain and predict stages, which load models);
may import ``data`` only."""
