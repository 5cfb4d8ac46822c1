"""Data preparation: sources, decoding, splits and the uint8 tensor cache."""
