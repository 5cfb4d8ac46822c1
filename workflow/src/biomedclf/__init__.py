"""biomedclf: run, compare and report image-classifier experiments on biomedical images.

The package is free of Snakemake: the workflow's script adapters call into it, and the tests
call it directly. Importing the package itself is cheap (no torch); heavy modules are imported
only by the jobs that use them.
"""

__version__ = "0.1.0"
