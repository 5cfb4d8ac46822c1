"""``biomedclf predict``: a trained ``model.pt`` applied to new image files.

Used by the command line (``biomedclf.cli``), not by the workflow; may import ``train`` and
``data``."""
