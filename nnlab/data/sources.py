"""Where the MNIST-format datasets come from, and what their files must hash to.

Each ``IdxSource`` is four IDX files (train/t10k images/labels), the
mirrors to try in order, and the sha256 and size of each file: of the
*uncompressed payload* for MNIST (its mirrors recompress the .gz files, so
their bytes differ), of the *.gz file as published* for Fashion-MNIST (every
mirror serves Zalando's own .gz files). ``nnlab.data.fetch`` downloads them;
``nnlab.data.mnist`` reads and verifies them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class IdxSource:
    """A dataset in MNIST's IDX format: 60k training and 10k test 28x28 grey images, labels 0..9.

    ``folders``: where in the data folder its files may be, in search order
    (``""`` is the data folder itself); the first named one is where a fetch
    puts them. ``mirrors``: base URLs tried in this order, unless ``$<mirrors_env>``
    (comma-separated) or ``nnlab data fetch --mirror URL`` names others.
    ``hash_of``: what ``files``' sha256 and size describe.
    """

    name: str
    title: str
    folders: tuple[str, ...]
    mirrors: tuple[str, ...]
    mirrors_env: str
    files: dict[str, tuple[str, int]] = field(hash=False)
    hash_of: Literal["payload", "gz"]

    @property
    def fetch_folder(self) -> str:
        return next(f for f in self.folders if f)


MNIST = IdxSource(
    name="mnist",
    title="MNIST",
    folders=("", "mnist", "mnist-idx"),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    mirrors_env="NNLAB_MNIST_MIRRORS",
    # the sha256 of the uncompressed files as distributed at http://yann.lecun.com/exdb/mnist/,
    # the values many projects pin (nnlab/data/MNIST-MINI.md lists them too)
    files={
        "train-images-idx3-ubyte": ("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47_040_016),
        "train-labels-idx1-ubyte": ("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60_008),
        "t10k-images-idx3-ubyte": ("0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7_840_016),
        "t10k-labels-idx1-ubyte": ("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10_008),
    },
    hash_of="payload",
)

FASHION_MNIST = IdxSource(
    name="fashion-mnist",
    title="Fashion-MNIST",
    folders=("fashion-mnist",),
    # Zalando's own bucket, the files in its GitHub repository, and Keras' copy of them
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    ),
    mirrors_env="NNLAB_FASHION_MNIST_MIRRORS",
    # the sha256 of the .gz files as published by Zalando Research
    # (github.com/zalandoresearch/fashion-mnist); the same values are pinned by
    # torchvision's dataset builder (torchvision/prototype/datasets/_builtin/mnist.py)
    # and by TensorFlow Datasets, and the files' md5 are those of Zalando's README
    # (8d4fb7e6..., 25c81989..., bef4ecab..., bb300cfd...)
    files={
        "train-images-idx3-ubyte": ("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26_421_880),
        "train-labels-idx1-ubyte": ("a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29_515),
        "t10k-images-idx3-ubyte": ("346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4_422_102),
        "t10k-labels-idx1-ubyte": ("67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5_148),
    },
    hash_of="gz",
)

SOURCES = {s.name: s for s in (MNIST, FASHION_MNIST)}
