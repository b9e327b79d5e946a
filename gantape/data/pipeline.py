"""The `tf.data` pipelines that feed the train step, and labelled subsets.

A variant's real data is one or more streams (`Stream`): images, labels, a
shuffle seed and a layout. `stream_batches` turns them into the host
`tf.data` pipeline; `gantape.data.device.DeviceBatches` gathers the same
batches on the device. Both take their order from `shuffled_indices`.
"""

import dataclasses
from typing import Mapping, Optional, Tuple

import numpy as np
import tensorflow as tf

from gantape.data.dataset import NUM_CLASSES, pixels
from gantape.errors import DataError, UsageError


# x / 255 for every uint8 value x, correctly rounded.
_PIXEL_VALUES = np.arange(256, dtype=np.float32) / np.float32(255)


def to_float_images(images_uint8: tf.Tensor, flat: bool) -> tf.Tensor:
  """Scales uint8 images to float32 in [0, 1], shaped for a network.

  Args:
    images_uint8: uint8 tensor [B, H, W] or [B, H, W, C], with a static
      image shape.
    flat: True for [B, H*W*C] (an MLP), False for [B, H, W, C] (a CNN; C = 1
      for [B, H, W] input).

  Returns:
    float32 tensor, `x / 255`, looked up rather than divided: a graph
    optimizer may turn a division by 255 into a product with 1/255, a
    rounding apart, and the host and device pipelines must agree exactly.
  """
  shape = images_uint8.shape[1:].as_list()
  if len(shape) == 2:
    shape.append(1)
  x = tf.gather(_PIXEL_VALUES, tf.cast(images_uint8, tf.int32))
  return tf.reshape(x, [-1, int(np.prod(shape))] if flat else [-1] + shape)


@dataclasses.dataclass(frozen=True)
class Stream:
  """One endless, seeded stream of shuffled batches of in-memory examples.

  Attributes:
    images: uint8 [N, H, W] or [N, H, W, C].
    labels: integer [N], or None for unlabelled data: the batches then hold
      zeros under "label", so every variant sees the same keys.
    seed: the shuffle seed.
    flat: image layout, see `to_float_images`.
  """
  images: np.ndarray
  labels: Optional[np.ndarray]
  seed: int
  flat: bool


def stream_arrays(stream: Stream) -> Tuple[np.ndarray, np.ndarray]:
  """The stream's images and its labels (zeros when unlabelled).

  Raises:
    DataError: no images.
  """
  n = len(stream.images)
  if not n:
    raise DataError("no examples to make batches of; pass --data_path with "
                    "images in it.")
  labels = np.zeros([n]) if stream.labels is None else stream.labels
  return stream.images, labels


def shuffled_indices(n: int, seed: int) -> tf.data.Dataset:
  """The endless index order of a stream of `n` examples: int64 scalars.

  Each epoch is a fresh permutation of 0..n-1 drawn from `seed`, so indices
  within a batch are drawn without replacement (as the seed's
  `random.sample` does) whenever the batch is at most `n`.
  """
  return (tf.data.Dataset.range(n)
          .shuffle(n, seed=seed, reshuffle_each_iteration=True)
          .repeat())


def batches(images: np.ndarray, labels: Optional[np.ndarray], *,
            batch_size: int, seed: int, flat: bool) -> tf.data.Dataset:
  """An endless, seeded stream of shuffled batches `{"image", "label"}`.

  The order is `shuffled_indices`; batches run across epoch boundaries, so
  every batch is full even for a small labelled subset. The shuffle acts on
  indices, not images, so the pipeline's checkpointable state is small, and
  the batch is gathered in one op.

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
  images, labels = stream_arrays(Stream(images, labels, seed, flat))
  images_t = tf.constant(pixels(images), dtype=tf.uint8)
  labels_t = tf.constant(labels, dtype=tf.int32)

  def gather(idx):
    return {"image": to_float_images(tf.gather(images_t, idx), flat),
            "label": tf.gather(labels_t, idx)}

  return (shuffled_indices(len(images), seed)
          .batch(batch_size, drop_remainder=True)
          .map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
          .prefetch(tf.data.AUTOTUNE))


def stream_batches(streams: Mapping[str, Stream], *,
                   batch_size: int) -> tf.data.Dataset:
  """The host pipeline of a variant's streams, zipped batch by batch.

  Args:
    streams: by key prefix: stream `p` gives the batch's `p + "image"` and
      `p + "label"`; the first stream is usually `""`.
    batch_size: examples per batch, of every stream.

  Returns:
    A `tf.data.Dataset` of dicts; one stream's is `batches`'s own.

  Raises:
    UsageError: no streams, or `batch_size` is not positive.
    DataError: as `batches`.
  """
  if not streams:
    raise UsageError("stream_batches needs at least one stream.")
  datasets = [batches(s.images, s.labels, batch_size=batch_size, seed=s.seed,
                      flat=s.flat) for s in streams.values()]
  prefixes = list(streams)
  if prefixes == [""]:
    return datasets[0]

  def merge(*elements):
    return {p + k: v for p, e in zip(prefixes, elements) for k, v in e.items()}
  return tf.data.Dataset.zip(tuple(datasets)).map(merge)


def check_num_labeled(num: int, num_classes: int) -> None:
  """Refuses fewer labelled examples than classes.

  Raises:
    UsageError: `num` is below `num_classes`.
  """
  if num < num_classes:
    raise UsageError(
        f"num_labeled={num} is smaller than the {num_classes} classes; use at "
        f"least {num_classes} so every class has a label.")


def balanced_subset(labels: np.ndarray, num: int, seed: int,
                    num_classes: int = NUM_CLASSES, *,
                    setting: str = "num_labeled") -> np.ndarray:
  """Indices of `num` examples balanced over the classes, chosen by `seed`.

  Each class gets `num // num_classes` examples; the remainder goes one each
  to the lowest classes. With one class (labels all 0) it is a plain draw
  of `num` examples.

  Args:
    labels: integer labels [N] in 0..num_classes-1.
    num: how many indices to choose.
    seed: the choice's seed.
    num_classes: the number of classes.
    setting: the setting `num` came from, named in messages.

  Returns:
    The sorted indices.

  Raises:
    UsageError: `num` is below the number of classes or above what the data
      (or one of its classes) holds.
  """
  check_num_labeled(num, num_classes)
  if num > len(labels):
    raise UsageError(
        f"{setting}={num} is larger than the {len(labels)} training examples; "
        f"use at most {len(labels)} (or leave it unset for all).")
  rng = np.random.RandomState(seed)
  chosen = []
  for c in range(num_classes):
    want = num // num_classes + (1 if c < num % num_classes else 0)
    pool = np.flatnonzero(labels == c)
    if want > len(pool):
      raise UsageError(
          f"{setting}={num} asks {want} examples of class {c} but the data "
          f"holds {len(pool)}; lower {setting}.")
    chosen.append(rng.choice(pool, size=want, replace=False))
  return np.sort(np.concatenate(chosen))
