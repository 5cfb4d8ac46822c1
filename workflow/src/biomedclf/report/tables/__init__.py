"""The study's tables as CSV (every number) and Markdown (for reading)."""
