"""Layer kinds, each one class with ``forward``/``backward`` side by side (see ``nnlab.layers.base``).

- ``dense``: z = x W + b, a = f(z), optional dropout on a (``nnlab.layers.dense``);
- ``conv2d``, ``maxpool2d``, ``flatten``: the convolutional layers of
  Nielsen's chapter 6 (``nnlab.layers.conv``).
"""

from nnlab.layers.base import LAYERS, Layer, Shape
from nnlab.layers.conv import Conv2D, Flatten, MaxPool2D
from nnlab.layers.dense import Dense

__all__ = ["LAYERS", "Conv2D", "Dense", "Flatten", "Layer", "MaxPool2D", "Shape"]
