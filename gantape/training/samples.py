"""Sample images from a variant: fixed inputs, grids and PNG files."""

import os
from typing import Dict, Optional

import numpy as np
import tensorflow as tf

from gantape import data as data_lib
from gantape.variants import base


def grid_labels(num: int, rows: int) -> tf.Tensor:
  """Labels for a grid of `num` images in `rows` rows: row r asks for digit r."""
  per_row = max(num // rows, 1)
  return tf.cast(tf.range(num) // per_row % data_lib.NUM_CLASSES, tf.int32)


def fixed_inputs(variant: base.Variant, num: int = 100, seed: int = 0,
                 labels: Optional[tf.Tensor] = None) -> Dict[str, tf.Tensor]:
  """Random inputs drawn once from `seed`, so successive grids are comparable.

  For conditional variants, `labels` default to `grid_labels(num, 10)`: in a
  10 x 10 grid row r shows digit r.
  """
  inputs = variant.sample_inputs(tf.random.Generator.from_seed(seed), num)
  if variant.conditional:
    inputs["labels"] = (grid_labels(num, 10) if labels is None
                        else tf.cast(labels, tf.int32))
  return inputs


def generate_images(variant: base.Variant, inputs: Dict[str, tf.Tensor]
                    ) -> np.ndarray:
  """Generator output in inference mode, as float32 [N, 28, 28] in [0, 1]."""
  images = variant.generate(inputs, training=False)
  return np.reshape(images.numpy(), [-1, 28, 28]).astype(np.float32)


def tile(images: np.ndarray, rows: int = 10) -> np.ndarray:
  """Tiles [N, 28, 28] images in [0, 1] into one uint8 [rows*28, cols*28] grid."""
  n = len(images)
  cols = -(-n // rows)
  padded = np.zeros([rows * cols, 28, 28], np.float32)
  padded[:n] = images
  grid = padded.reshape(rows, cols, 28, 28).transpose(0, 2, 1, 3)
  grid = grid.reshape(rows * 28, cols * 28)
  return np.round(np.clip(grid, 0.0, 1.0) * 255).astype(np.uint8)


def write_png(path: str, grid: np.ndarray) -> None:
  """Writes a uint8 [H, W] image as PNG, atomically (temp file, then rename)."""
  png = tf.io.encode_png(grid[..., None]).numpy()
  tmp = f"{path}.tmp-{os.getpid()}"
  with open(tmp, "wb") as f:
    f.write(png)
  os.replace(tmp, path)
