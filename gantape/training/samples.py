"""Sample images from a variant: the one generator, grids and PNG files.

`generate` is how every part of gantape draws images from a generator: the
training loop's grids, `export.write_samples` and the evaluation. It draws
the random inputs once from `seed` (so the same seed gives the same images
however many are asked for at a time) and runs the generator in chunks, in
inference mode. Pass the EMA view of a variant (`ema.sampling_view`, or
`RestoredRun.sampler`) to sample the averaged weights.
"""

from typing import Dict, Optional

import numpy as np
import tensorflow as tf

from gantape import data as data_lib
from gantape import files
from gantape.variants import base

# Images per generator call: N can be large without holding every image's
# activations at once.
CHUNK = 500


def grid_labels(num: int, rows: int) -> np.ndarray:
  """Labels for a grid of `num` images in `rows` rows: row r asks for digit r."""
  per_row = max(num // rows, 1)
  return (np.arange(num) // per_row % data_lib.NUM_CLASSES).astype(np.int32)


def cycling_labels(num: int) -> np.ndarray:
  """Labels 0, 1, ..., 9, 0, 1, ...: each digit asked for equally often."""
  return (np.arange(num) % data_lib.NUM_CLASSES).astype(np.int32)


def fixed_inputs(variant: base.Variant, num: int, *, seed: int = 0,
                 labels: Optional[np.ndarray] = None) -> Dict[str, tf.Tensor]:
  """The generator inputs of `num` images, drawn at once from `seed`.

  Args:
    variant: the variant whose `sample_inputs` draws them.
    num: how many.
    seed: seeds the noise; the same seed gives the same inputs.
    labels: int [num] digits to ask for (conditional variants only); None
      asks for `cycling_labels(num)`.

  Returns:
    `variant.sample_inputs`'s dict, with `labels` replaced for conditional
    variants.

  Raises:
    ValueError: `labels` for a variant that is not conditional.
  """
  inputs = variant.sample_inputs(tf.random.Generator.from_seed(seed), num)
  if variant.conditional:
    inputs["labels"] = tf.constant(
        cycling_labels(num) if labels is None else labels, tf.int32)
  elif labels is not None:
    raise ValueError(f"variant {variant.name!r} is not conditional; it takes "
                     f"no labels.")
  return inputs


def generate(variant: base.Variant, num: int, *, seed: int = 0,
             labels: Optional[np.ndarray] = None,
             chunk: int = CHUNK) -> np.ndarray:
  """`num` images from `variant`'s generator in inference mode.

  Args:
    variant: the variant to sample; its EMA view samples the average.
    num: how many images.
    seed: seeds the noise (`fixed_inputs`).
    labels: int [num] digits to ask for, for conditional variants; None
      cycles through 0..9.
    chunk: images per generator call.

  Returns:
    float32 [num, 28, 28] in [0, 1].
  """
  inputs = fixed_inputs(variant, num, seed=seed, labels=labels)
  out = []
  for start in range(0, num, chunk):
    part = {k: v[start:start + chunk] for k, v in inputs.items()}
    images = variant.generate(part, training=False)
    out.append(np.reshape(images.numpy(), [-1, 28, 28]).astype(np.float32))
  return np.concatenate(out)


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
  """Writes a uint8 [H, W] image as PNG, atomically."""
  png = tf.io.encode_png(grid[..., None]).numpy()
  with files.atomic_path(path) as tmp:
    with open(tmp, "wb") as f:
      f.write(png)
