"""Colour MNIST: MNIST's digits at 32x32x3 on random colours.

A 32x32x3 colour dataset built from MNIST alone, for measuring how a recipe
trains beyond grayscale 28x28 where no other data can be downloaded. Each
digit is padded by 2 pixels to 32x32 and painted with a foreground colour on
a background colour, both drawn per image, independent of the digit and of
each other apart from a minimum contrast:

    image = background * (1 - a) + foreground * a,   a = digit pixel / 255

with background, foreground ~ U[0, 1]^3, the foreground redrawn until
||foreground - background||_2 >= `MIN_CONTRAST`. The colours are drawn from
a fixed seed per split, so every load gives the same images.
"""

import dataclasses

import numpy as np

from gantape.data.dataset import Dataset

SIDE = 32
MIN_CONTRAST = 0.6
_SEEDS = {"train": 0, "test": 1}


def colours(n: int, seed: int) -> np.ndarray:
  """[n, 2, 3] float32: each image's background and foreground colours."""
  rng = np.random.default_rng(seed)
  background = rng.uniform(size=(n, 3))
  foreground = rng.uniform(size=(n, 3))
  low = np.linalg.norm(foreground - background, axis=1) < MIN_CONTRAST
  while low.any():
    foreground[low] = rng.uniform(size=(int(low.sum()), 3))
    low = np.linalg.norm(foreground - background, axis=1) < MIN_CONTRAST
  return np.stack([background, foreground], axis=1).astype(np.float32)


def paint(digits: np.ndarray, seed: int) -> np.ndarray:
  """uint8 [N, 32, 32, 3]: 28x28 uint8 `digits` padded and coloured."""
  pad = (SIDE - digits.shape[1]) // 2
  alpha = np.pad(digits, ((0, 0), (pad, pad), (pad, pad)))
  alpha = alpha.astype(np.float32)[..., None] / 255.
  pair = colours(len(digits), seed)
  background, foreground = pair[:, None, None, 0], pair[:, None, None, 1]
  images = background * (1. - alpha) + foreground * alpha
  return np.round(images * 255.).astype(np.uint8)


def colour_mnist(mnist: Dataset) -> Dataset:
  """The colour version of a loaded MNIST `Dataset` (name "colour_mnist")."""
  return dataclasses.replace(
      mnist, name="colour_mnist",
      x_train=paint(mnist.x_train, _SEEDS["train"]),
      x_test=paint(mnist.x_test, _SEEDS["test"]))
