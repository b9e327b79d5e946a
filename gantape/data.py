"""MNIST loading and the `tf.data` pipelines that feed the train step.

Where MNIST comes from, in order:

1. an explicit path: a Keras-layout ``.npz`` file (``x_train``, ``y_train``,
   ``x_test``, ``y_test``, uint8) or a folder holding the four standard IDX files
   (raw or ``.gz``), or a folder holding ``mnist.npz``;
2. otherwise ``keras.datasets.mnist.load_data()``, which downloads once and then
   uses Keras's cache (``~/.keras/datasets``).

Images stay uint8 in host memory and are scaled to [0, 1] on the fly, as the seed
does (``x / 255``); images of another dtype are accepted only when they hold the
whole numbers 0..255 (`pixels`), so data already scaled to [0, 1] is refused
rather than trained on as near-black images.
"""

import dataclasses
import gzip
import os
import struct
from typing import Optional

import numpy as np
import tensorflow as tf

from gantape.errors import DataError, UsageError

NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28)

_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
# IDX type codes other than 0x08 (unsigned byte), named in the refusal.
_IDX_TYPES = {0x09: "signed-byte", 0x0B: "int16", 0x0C: "int32",
              0x0D: "float32", 0x0E: "float64"}
_HOW_TO_FIX = (
    "pass --data_path=/path/to/mnist.npz (Keras layout: x_train, y_train, x_test, "
    "y_test) or a folder with the four MNIST IDX files (raw or .gz)")


@dataclasses.dataclass(frozen=True)
class Mnist:
  """MNIST as uint8 arrays: images [N, 28, 28] and labels [N] in 0..9."""
  x_train: np.ndarray
  y_train: np.ndarray
  x_test: np.ndarray
  y_test: np.ndarray


def load_mnist(path: Optional[str] = None) -> Mnist:
  """Loads MNIST from `path`, or through Keras's downloader when `path` is None.

  Args:
    path: a Keras-layout `.npz` file, or a folder holding `mnist.npz` or the four
      IDX files (raw or `.gz`). None falls back to `keras.datasets.mnist`.

  Returns:
    The validated dataset.

  Raises:
    DataError: the data is missing, unreadable, empty, of the wrong shape,
      or not pixels 0..255 (`pixels`); the message says how to fix it.
  """
  if path is None:
    arrays = _load_with_keras()
    source = "keras.datasets.mnist"
  else:
    path = os.path.expanduser(path)
    if os.path.isdir(path):
      npz = os.path.join(path, "mnist.npz")
      arrays = _load_npz(npz) if os.path.isfile(npz) else _load_idx_folder(path)
    elif os.path.isfile(path):
      arrays = _load_npz(path)
    else:
      raise DataError(f"MNIST not found: {path!r} does not exist; {_HOW_TO_FIX}.")
    source = path
  return _validate(arrays, source)


def _load_with_keras():
  import keras  # pylint: disable=g-import-not-at-top
  try:
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
  except Exception as e:  # download refused, hash mismatch, no network...
    raise DataError(
        f"MNIST could not be loaded through keras.datasets.mnist "
        f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
        f"{_HOW_TO_FIX}.") from None
  return dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def _load_npz(path):
  # numpy's own messages for a file that is not an .npz suggest loading it
  # with allow_pickle, which would run code from the file: never pass that on.
  not_npz = (f"{path} is not a valid .npz file (not a zip archive of numpy "
             f"arrays); it may be truncated, corrupt or of another format; "
             f"{_HOW_TO_FIX}.")
  try:
    with np.load(path, allow_pickle=False) as f:
      if not isinstance(f, np.lib.npyio.NpzFile):
        raise DataError(not_npz)
      missing = [k for k in _IDX_FILES if k not in f.files]
      if missing:
        raise DataError(
            f"{path} is not a Keras-layout MNIST file: it lacks {missing}; "
            f"{_HOW_TO_FIX}.")
      return {k: _npz_array(f, k, path) for k in _IDX_FILES}
  except DataError:
    raise
  except AttributeError:  # a single .npy array has no context manager
    raise DataError(not_npz) from None
  except Exception:  # zipfile.BadZipFile, ValueError, OSError, EOFError...
    raise DataError(not_npz) from None


def _npz_array(npz, key, path):
  try:
    return npz[key]
  except ValueError:  # an object (pickled) array
    raise DataError(
        f"{path}: {key} is an array of Python objects, not of numbers; "
        f"{_HOW_TO_FIX}.") from None


def _load_idx_folder(folder):
  arrays = {}
  for key, stem in _IDX_FILES.items():
    candidates = [os.path.join(folder, stem + ext) for ext in ("", ".gz")]
    found = [c for c in candidates if os.path.isfile(c)]
    if not found:
      raise DataError(
          f"MNIST not found in folder {folder!r}: it has neither mnist.npz nor "
          f"{stem}[.gz]; {_HOW_TO_FIX}.")
    arrays[key] = _read_idx(found[0])
  return arrays


def _read_idx(path):
  """Reads one IDX file (the format of the MNIST distribution)."""
  opener = gzip.open if path.endswith(".gz") else open
  try:
    with opener(path, "rb") as f:
      raw = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0:
      raise ValueError("bad magic number")
    if dtype_code != 0x08:
      raise ValueError(
          f"it holds {_IDX_TYPES.get(dtype_code, 'unknown')} data (type code "
          f"0x{dtype_code:02X}), not the unsigned bytes 0..255 of MNIST")
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
      raise ValueError(f"header says {dims} but the file holds {data.size} bytes")
    return data.reshape(dims)
  except Exception as e:
    raise DataError(
        f"{path} is not a valid IDX file ({type(e).__name__}: {e}); {_HOW_TO_FIX}."
    ) from None


def _validate(arrays, source):
  for split in ("train", "test"):
    x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
    if x.ndim != 3 or tuple(x.shape[1:]) != IMAGE_SHAPE:
      raise DataError(
          f"MNIST from {source}: x_{split} has shape {x.shape}, expected "
          f"[N, 28, 28] images; {_HOW_TO_FIX}.")
    if not len(x):
      raise DataError(
          f"MNIST from {source}: x_{split} holds no examples (shape "
          f"{x.shape}); {_HOW_TO_FIX}.")
    if y.ndim != 1 or len(y) != len(x):
      raise DataError(
          f"MNIST from {source}: y_{split} has shape {y.shape}, expected "
          f"[{len(x)}] labels to match x_{split}; {_HOW_TO_FIX}.")
    if (not _integral(y)) or y.min() < 0 or y.max() >= NUM_CLASSES:
      raise DataError(
          f"MNIST from {source}: y_{split} holds labels outside the integers "
          f"0..9; {_HOW_TO_FIX}.")
    arrays[f"x_{split}"] = pixels(x, f"MNIST from {source}: x_{split}")
    if not np.issubdtype(y.dtype, np.integer):
      arrays[f"y_{split}"] = y.astype(np.int64)
  return Mnist(**{k: np.asarray(v) for k, v in arrays.items()})


def _integral(a: np.ndarray) -> bool:
  """Whether `a` is of an integer dtype, or a float dtype holding integers."""
  if np.issubdtype(a.dtype, np.integer):
    return True
  if not np.issubdtype(a.dtype, np.floating):
    return False
  return bool(np.all(np.isfinite(a)) and np.all(a == np.round(a)))


def pixels(images: np.ndarray, what: str = "images") -> np.ndarray:
  """`images` as uint8 pixels 0..255, or a `DataError` saying why not.

  The pipeline divides by 255, so images already scaled to [0, 1] would
  train on near-black images: a non-uint8 array whose values all lie in
  [0, 1] is refused, as is anything that is not whole numbers in 0..255.
  Other whole numbers 0..255 of another dtype (int64, float32 holding
  0., 1., ... 255.) are exact and converted.

  Args:
    images: the image array.
    what: names the array in the message, e.g. "MNIST from m.npz: x_train".

  Returns:
    `images` as a uint8 array (the same array when it already is).

  Raises:
    DataError: the values are not the integers 0..255, or are floats in
      [0, 1].
  """
  if images.dtype == np.uint8:
    return images
  fix = ("gantape wants uint8 pixels 0..255 (it divides by 255 itself); "
         "convert with (x * 255).round().astype(np.uint8) if x is in [0, 1]")
  if not images.size:
    return images.astype(np.uint8)
  low, high = np.nanmin(images), np.nanmax(images)
  if 0 <= low and high <= 1:  # images scaled to [0, 1], or a binary mask
    raise DataError(
        f"{what} is {images.dtype} with values in [0, 1], already scaled to "
        f"[0, 1]; {fix}.")
  if not _integral(images):
    raise DataError(
        f"{what} is {images.dtype} with non-integer values in [{low:g}, "
        f"{high:g}]; {fix}.")
  if low < 0 or high > 255:
    raise DataError(
        f"{what} is {images.dtype} with values in [{low}, {high}], outside "
        f"0..255; {fix}.")
  return images.astype(np.uint8)


def check_training_set(mnist: Mnist, batch_size: int) -> None:
  """Refuses a training set that cannot fill one batch without repeats.

  A batch larger than the training set would hold the same images several
  times over in every batch: the discriminator would see duplicates as a
  matter of course, which no MNIST-sized run intends. (A small labelled
  subset for SSGAN is repeated on purpose; it is not checked here.)

  Args:
    mnist: the data, e.g. from `load_mnist` or built in memory.
    batch_size: the global batch size.

  Raises:
    DataError: the training set is empty, not uint8 pixels, or smaller than
      `batch_size`.
  """
  n = len(mnist.x_train)
  if not n:
    raise DataError(f"the training set holds no examples; {_HOW_TO_FIX}.")
  pixels(mnist.x_train, "the training images")
  if batch_size > n:
    raise DataError(
        f"batch_size={batch_size} is larger than the {n} training examples; "
        f"use --batch_size={n} or less, or more data.")


def to_float_images(images_uint8: tf.Tensor, flat: bool) -> tf.Tensor:
  """Scales uint8 images [B, 28, 28] to float32 in [0, 1], shaped for a network.

  Args:
    images_uint8: uint8 tensor [B, 28, 28].
    flat: True for [B, 784] (the MLP GAN), False for [B, 28, 28, 1].

  Returns:
    float32 tensor, `x / 255`.
  """
  x = tf.cast(images_uint8, tf.float32) / 255.0
  return tf.reshape(x, [-1, 784] if flat else [-1, 28, 28, 1])


def batches(images: np.ndarray, labels: np.ndarray, *, batch_size: int,
            seed: int, flat: bool) -> tf.data.Dataset:
  """An endless, seeded stream of shuffled batches `{"image", "label"}`.

  Each epoch is a fresh permutation, so indices within a batch are drawn
  without replacement (as the seed's `random.sample` does) whenever
  `batch_size <= N`; batches run across epoch boundaries, so every batch is
  full even for a small labelled subset. The shuffle acts on
  indices, not images, so the pipeline's checkpointable state is small, and the
  batch is gathered in one op.

  Args:
    images: uint8 [N, 28, 28].
    labels: integer [N].
    batch_size: examples per batch; every batch is full (drop_remainder).
    seed: shuffle seed.
    flat: image layout, see `to_float_images`.

  Returns:
    A `tf.data.Dataset` of dicts: "image" float32, "label" int32 [batch_size].
  """
  if batch_size <= 0:
    raise UsageError(f"batch_size must be positive, got {batch_size}.")
  if not len(images):
    raise DataError(f"no examples to make batches of; {_HOW_TO_FIX}.")
  images_t = tf.constant(pixels(images), dtype=tf.uint8)
  labels_t = tf.constant(labels, dtype=tf.int32)
  n = len(images)

  def gather(idx):
    return {"image": to_float_images(tf.gather(images_t, idx), flat),
            "label": tf.gather(labels_t, idx)}

  return (tf.data.Dataset.range(n)
          .shuffle(n, seed=seed, reshuffle_each_iteration=True)
          .repeat()
          .batch(batch_size, drop_remainder=True)
          .map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
          .prefetch(tf.data.AUTOTUNE))


def balanced_subset(labels: np.ndarray, num: int, seed: int) -> np.ndarray:
  """Indices of `num` examples balanced over the 10 classes, chosen by `seed`.

  Each class gets `num // 10` examples; the remainder goes one each to the
  lowest classes.

  Raises:
    UsageError: `num` is below the number of classes or above what the data
      (or one of its classes) holds.
  """
  if num < NUM_CLASSES:
    raise UsageError(
        f"num_labeled={num} is smaller than the {NUM_CLASSES} classes; use at "
        f"least {NUM_CLASSES} so every class has a label.")
  if num > len(labels):
    raise UsageError(
        f"num_labeled={num} is larger than the {len(labels)} training examples; "
        f"use at most {len(labels)} (or leave it unset for all).")
  rng = np.random.RandomState(seed)
  chosen = []
  for c in range(NUM_CLASSES):
    want = num // NUM_CLASSES + (1 if c < num % NUM_CLASSES else 0)
    pool = np.flatnonzero(labels == c)
    if want > len(pool):
      raise UsageError(
          f"num_labeled={num} asks {want} examples of digit {c} but the data "
          f"holds {len(pool)}; lower num_labeled.")
    chosen.append(rng.choice(pool, size=want, replace=False))
  return np.sort(np.concatenate(chosen))
