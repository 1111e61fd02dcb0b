"""nnlab: a transparent, fast NumPy engine for deep fully-connected networks."""

__version__ = "0.1.0"
