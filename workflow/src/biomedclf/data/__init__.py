"""Data preparation: sources, decoding, splits and the uint8 tensor cache.

Entry points (import the submodule; this package imports nothing heavy):

* :func:`biomedclf.data.synthetic.generate_synthetic` writes the embedded synthetic data set as a
  class-folder tree of PNG files (2 to 12 classes).
* :func:`biomedclf.data.classes.source_classes` returns a ``data:`` config's ordered class list
  (label k is the k-th class) without opening an image or importing torch, and refuses a config
  whose classes cannot work (one class, ``data.classes`` naming an absent class,
  ``data.positive_class`` with more than two classes), naming the key.
* :func:`biomedclf.data.prepare.prepare_dataset` indexes and validates a source (``folder``,
  pre-split folders, ``manifest`` CSV, ``medmnist`` .npz; PNG, JPEG, TIFF, BMP, DICOM and
  NIfTI files) with two or more classes, orders and selects the classes by the same rules,
  decodes it in parallel, removes leakage (groups, patients, exact duplicates), splits it
  (stratified over all classes) and writes the cache with its manifest.
* :func:`biomedclf.data.cache.load_split` / :func:`~biomedclf.data.cache.load_splits` read the
  cache back.

Modules: ``sources`` (indexing and validation, one module per source kind, and the cheap class
listing of each; file kinds; DICOM headers for patient groups and frames), ``classes`` (class
order, subsets, the positive class), ``decode`` (Pillow decoding, modes, resizing, decoding
into one buffer), ``clinical`` (the ``data.dicom`` and ``data.nifti`` settings), ``dicom`` and
``dicom_pixels`` (DICOM with pydicom: reading, frames, rejections; Modality LUT, windows,
MONOCHROME1, colour), ``nifti`` (NIfTI with nibabel), ``intensity`` (value ranges to 0..255),
``dedupe`` (exact duplicates), ``assign`` (given splits and the split of each image),
``split`` (group-aware stratified cuts), ``layout`` (each split a contiguous block of the
decode buffer), ``outputs`` (writing the files), ``cache`` (the ``.pt`` files, pixel
statistics), ``prepare`` (the step), ``synthetic`` and ``synthetic_lesions`` (the generator
and its classes beyond two).
"""
