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


def grid_labels(num: int, rows: int,
                num_classes: int = data_lib.NUM_CLASSES) -> np.ndarray:
  """Labels for a grid of `num` images in `rows` rows: row r asks for class
  r (modulo `num_classes`)."""
  per_row = max(num // rows, 1)
  return (np.arange(num) // per_row % num_classes).astype(np.int32)


def cycling_labels(num: int,
                   num_classes: int = data_lib.NUM_CLASSES) -> np.ndarray:
  """Labels 0, 1, ..., K-1, 0, 1, ...: each class asked for equally often."""
  return (np.arange(num) % num_classes).astype(np.int32)


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
        cycling_labels(num, variant.num_classes) if labels is None
        else labels, tf.int32)
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
    labels: int [num] classes to ask for, for conditional variants; None
      cycles through them.
    chunk: images per generator call.

  Returns:
    float32 [num, H, W] in [0, 1] for one channel (as MNIST's arrays),
    [num, H, W, C] for more; a flat generator's [num, H*W*C] is shaped by
    `variant.image_shape`.
  """
  inputs = fixed_inputs(variant, num, seed=seed, labels=labels)
  out = []
  for start in range(0, num, chunk):
    part = {k: v[start:start + chunk] for k, v in inputs.items()}
    images = variant.generate(part, training=False)
    out.append(_image_layout(images.numpy(), variant.image_shape))
  return np.concatenate(out)


def _image_layout(images: np.ndarray, image_shape) -> np.ndarray:
  """Generator outputs as float32 [N, H, W] (one channel) or [N, H, W, C]."""
  if images.ndim != 4:  # flat
    images = np.reshape(images, [-1, *image_shape])
  if images.shape[-1] == 1:
    images = images[..., 0]
  return images.astype(np.float32)


def tile(images: np.ndarray, rows: int = 10) -> np.ndarray:
  """Tiles images in [0, 1] into one uint8 grid of `rows` rows.

  Args:
    images: [N, H, W] (grayscale) or [N, H, W, C] (C = 3: colour).
    rows: rows of the grid; the columns follow from N.

  Returns:
    uint8 [rows*H, cols*W], or [rows*H, cols*W, C] for colour images.
  """
  n, height, width = images.shape[:3]
  channels = images.shape[3:]
  cols = -(-n // rows)
  padded = np.zeros([rows * cols, height, width, *channels], np.float32)
  padded[:n] = images
  grid = padded.reshape(rows, cols, height, width, *channels)
  grid = np.swapaxes(grid, 1, 2).reshape(rows * height, cols * width,
                                         *channels)
  return np.round(np.clip(grid, 0.0, 1.0) * 255).astype(np.uint8)


def write_png(path: str, grid: np.ndarray) -> None:
  """Writes a uint8 [H, W] (grayscale) or [H, W, C] image as PNG,
  atomically."""
  png = tf.io.encode_png(grid if grid.ndim == 3 else grid[..., None]).numpy()
  with files.atomic_path(path) as tmp:
    with open(tmp, "wb") as f:
      f.write(png)
