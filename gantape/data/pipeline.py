"""The `tf.data` pipelines that feed the train step, and labelled subsets."""

from typing import Optional

import numpy as np
import tensorflow as tf

from gantape.data.dataset import NUM_CLASSES, pixels
from gantape.errors import DataError, UsageError


def to_float_images(images_uint8: tf.Tensor, flat: bool) -> tf.Tensor:
  """Scales uint8 images to float32 in [0, 1], shaped for a network.

  Args:
    images_uint8: uint8 tensor [B, H, W] or [B, H, W, C], with a static
      image shape.
    flat: True for [B, H*W*C] (an MLP), False for [B, H, W, C] (a CNN; C = 1
      for [B, H, W] input).

  Returns:
    float32 tensor, `x / 255`.
  """
  shape = images_uint8.shape[1:].as_list()
  if len(shape) == 2:
    shape.append(1)
  x = tf.cast(images_uint8, tf.float32) / 255.0
  return tf.reshape(x, [-1, int(np.prod(shape))] if flat else [-1] + shape)


def batches(images: np.ndarray, labels: Optional[np.ndarray], *,
            batch_size: int, seed: int, flat: bool) -> tf.data.Dataset:
  """An endless, seeded stream of shuffled batches `{"image", "label"}`.

  Each epoch is a fresh permutation, so indices within a batch are drawn
  without replacement (as the seed's `random.sample` does) whenever
  `batch_size <= N`; batches run across epoch boundaries, so every batch is
  full even for a small labelled subset. The shuffle acts on
  indices, not images, so the pipeline's checkpointable state is small, and the
  batch is gathered in one op.

  Args:
    images: uint8 [N, H, W] or [N, H, W, C].
    labels: integer [N], or None for unlabelled data: the batches then hold
      zeros under "label", so every variant sees the same keys.
    batch_size: examples per batch; every batch is full (drop_remainder).
    seed: shuffle seed.
    flat: image layout, see `to_float_images`.

  Returns:
    A `tf.data.Dataset` of dicts: "image" float32, "label" int32 [batch_size].

  Raises:
    UsageError: `batch_size` is not positive.
    DataError: no images, or images that are not pixels 0..255.
  """
  if batch_size <= 0:
    raise UsageError(f"batch_size must be positive, got {batch_size}.")
  n = len(images)
  if not n:
    raise DataError("no examples to make batches of; pass --data_path with "
                    "images in it.")
  images_t = tf.constant(pixels(images), dtype=tf.uint8)
  labels_t = tf.constant(np.zeros([n]) if labels is None else labels,
                         dtype=tf.int32)

  def gather(idx):
    return {"image": to_float_images(tf.gather(images_t, idx), flat),
            "label": tf.gather(labels_t, idx)}

  return (tf.data.Dataset.range(n)
          .shuffle(n, seed=seed, reshuffle_each_iteration=True)
          .repeat()
          .batch(batch_size, drop_remainder=True)
          .map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
          .prefetch(tf.data.AUTOTUNE))


def balanced_subset(labels: np.ndarray, num: int, seed: int,
                    num_classes: int = NUM_CLASSES) -> np.ndarray:
  """Indices of `num` examples balanced over the classes, chosen by `seed`.

  Each class gets `num // num_classes` examples; the remainder goes one each
  to the lowest classes.

  Args:
    labels: integer labels [N] in 0..num_classes-1.
    num: how many indices to choose.
    seed: the choice's seed.
    num_classes: the number of classes.

  Returns:
    The sorted indices.

  Raises:
    UsageError: `num` is below the number of classes or above what the data
      (or one of its classes) holds.
  """
  if num < num_classes:
    raise UsageError(
        f"num_labeled={num} is smaller than the {num_classes} classes; use at "
        f"least {num_classes} so every class has a label.")
  if num > len(labels):
    raise UsageError(
        f"num_labeled={num} is larger than the {len(labels)} training examples; "
        f"use at most {len(labels)} (or leave it unset for all).")
  rng = np.random.RandomState(seed)
  chosen = []
  for c in range(num_classes):
    want = num // num_classes + (1 if c < num % num_classes else 0)
    pool = np.flatnonzero(labels == c)
    if want > len(pool):
      raise UsageError(
          f"num_labeled={num} asks {want} examples of class {c} but the data "
          f"holds {len(pool)}; lower num_labeled.")
    chosen.append(rng.choice(pool, size=want, replace=False))
  return np.sort(np.concatenate(chosen))
