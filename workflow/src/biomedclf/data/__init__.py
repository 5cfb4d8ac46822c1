"""Data preparation: sources, decoding, splits and the uint8 tensor cache.

Entry points (import the submodule; this package imports nothing heavy):

* :func:`biomedclf.data.synthetic.generate_synthetic` writes the embedded synthetic data set as a
  class-folder tree of PNG files.
* :func:`biomedclf.data.prepare.prepare_dataset` indexes and validates a source (``folder``,
  pre-split folders, ``manifest`` CSV, ``medmnist`` .npz), decodes it in parallel, removes
  leakage (groups, exact duplicates), splits it and writes the cache with its manifest.
* :func:`biomedclf.data.cache.load_split` / :func:`~biomedclf.data.cache.load_splits` read the
  cache back.

Modules: ``sources`` (indexing, validation), ``decode`` (Pillow decoding, modes, resizing),
``split`` (group-aware stratified splits), ``cache`` (the ``.pt`` files), ``prepare`` (the step),
``synthetic`` (the generator).
"""
