"""The study's figures (PNG, deterministic bytes), drawn with matplotlib's Agg canvas."""
