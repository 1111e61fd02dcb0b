"""Datasets: MNIST from IDX files or Nielsen's pickle, and an embedded mini subset.

from nnlab.data import load_dataset, scale_pixels
ds = load_dataset("mnist", split="nielsen")      # uint8 pixels
X = scale_pixels(ds.train.X, 256, np.float32)    # Nielsen's pixel/256
"""

from nnlab.data.datasets import (
    DATASETS,
    SPLITS,
    Dataset,
    DatasetSpec,
    Split,
    default_data_dir,
    load_dataset,
    scale_pixels,
)
from nnlab.data.safe_pickle import safe_load_pickle

__all__ = [
    "DATASETS",
    "SPLITS",
    "Dataset",
    "DatasetSpec",
    "Split",
    "default_data_dir",
    "load_dataset",
    "safe_load_pickle",
    "scale_pixels",
]
