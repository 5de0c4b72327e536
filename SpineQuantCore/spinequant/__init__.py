"""SpineQuant core: pure-Python quantitative lumbar-spine MRI (no Slicer, VTK or Qt imports)."""

__version__ = "0.1.0"
