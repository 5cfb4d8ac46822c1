"""``summary.md``: what was run, the tables, and each claim beside this run's evidence."""
