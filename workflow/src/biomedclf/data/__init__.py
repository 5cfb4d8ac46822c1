"""Data preparation: sources, decoding, splits and the uint8 tensor cache.

Entry points (import the submodule; this package imports nothing heavy):

* :func:`biomedclf.data.synthetic.generate_synthetic` writes the embedded synthetic data set as a
  class-folder tree of PNG files.
* :func:`biomedclf.data.prepare.prepare_dataset` indexes and validates a source (``folder``,
  pre-split folders, ``manifest`` CSV, ``medmnist`` .npz), decodes it in parallel, removes
  leakage (groups, exact duplicates), splits it and writes the cache with its manifest.
* :func:`biomedclf.data.cache.load_split` / :func:`~biomedclf.data.cache.load_splits` read the
  cache back.

Modules: ``sources`` (indexing and validation, one module per source kind), ``decode`` (Pillow
decoding, modes, resizing, decoding into one buffer), ``dedupe`` (exact duplicates), ``assign``
(given splits and the split of each image), ``split`` (group-aware stratified cuts), ``layout``
(each split a contiguous block of the decode buffer), ``outputs`` (writing the files), ``cache``
(the ``.pt`` files, pixel statistics), ``prepare`` (the step), ``synthetic`` (the generator).
"""
