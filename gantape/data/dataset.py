"""The `Dataset` every loader returns, and the checks its arrays pass.

Images stay uint8 in host memory and are scaled to [0, 1] on the fly, as the
seed does (``x / 255``); images of another dtype are accepted only when they
hold the whole numbers 0..255 (`pixels`), so data already scaled to [0, 1] is
refused rather than trained on as near-black images.

One-channel images are stored [N, H, W], as MNIST ships them; colour images
[N, H, W, 3]. `Dataset.image_shape` is (H, W, C) either way.
"""

import dataclasses
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from gantape.errors import DataError

NUM_CLASSES = 10


@dataclasses.dataclass(frozen=True)
class Dataset:
  """Images (uint8) and integer labels, split into train and test.

  Attributes:
    x_train: uint8 [N, H, W] (one channel) or [N, H, W, C], C in (1, 3).
    y_train: integer labels [N] in 0..num_classes-1, or None: unlabelled.
    x_test: images as `x_train`; may hold no examples (a folder too small for
      a held-out split).
    y_test: labels as `y_train`.
    name: "mnist", "fashion_mnist", "cifar10", "folder:<path>", or any name
      for arrays of your own.
    num_classes: the number of classes; None: one more than the largest
      label (None when unlabelled).
    class_names: one name per class, when known.
  """
  x_train: np.ndarray
  y_train: Optional[np.ndarray]
  x_test: np.ndarray
  y_test: Optional[np.ndarray]
  name: str = "arrays"
  num_classes: Optional[int] = None
  class_names: Optional[Tuple[str, ...]] = None

  def __post_init__(self):
    if self.y_train is None:
      object.__setattr__(self, "num_classes", None)
    elif self.num_classes is None:
      labels = [a for a in (self.y_train, self.y_test)
                if a is not None and len(a)]
      object.__setattr__(self, "num_classes",
                         int(max(np.max(a) for a in labels)) + 1)

  @property
  def image_shape(self) -> Tuple[int, int, int]:
    """(H, W, C) of one image; C = 1 for [N, H, W] arrays."""
    shape = tuple(int(d) for d in self.x_train.shape[1:])
    return shape + (1,) if len(shape) == 2 else shape

  @property
  def labelled(self) -> bool:
    """Whether the examples carry class labels."""
    return self.y_train is not None


def integral(a: np.ndarray) -> bool:
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
  if not integral(images):
    raise DataError(
        f"{what} is {images.dtype} with non-integer values in [{low:g}, "
        f"{high:g}]; {fix}.")
  if low < 0 or high > 255:
    raise DataError(
        f"{what} is {images.dtype} with values in [{low}, {high}], outside "
        f"0..255; {fix}.")
  return images.astype(np.uint8)


def validate_arrays(arrays: Dict[str, np.ndarray], *, source: str,
                    image_shape: Sequence[int], num_classes: int,
                    fix: str) -> Dict[str, np.ndarray]:
  """Checks and normalizes `x_train`, `y_train`, `x_test`, `y_test`.

  Args:
    arrays: the four arrays as read from a file.
    source: names the data in messages, e.g. "MNIST from /data/m.npz".
    image_shape: the shape of one image, (28, 28) or (32, 32, 3); a trailing
      channel of 1 in the arrays is dropped to match (28, 28).
    num_classes: labels must lie in 0..num_classes-1.
    fix: how to fix bad data, appended to every message.

  Returns:
    The arrays with uint8 images and integer labels [N].

  Raises:
    DataError: one line naming the array, what is wrong and `fix`.
  """
  shape = tuple(image_shape)
  out = {}
  for split in ("train", "test"):
    x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
    if x.ndim == len(shape) + 2 and x.shape[-1] == 1:
      x = x[..., 0]
    if y.ndim == 2 and y.shape[1] == 1:  # Keras's CIFAR-10 labels, [N, 1]
      y = y[:, 0]
    if tuple(x.shape[1:]) != shape:
      raise DataError(
          f"{source}: x_{split} has shape {x.shape}, expected "
          f"[N, {', '.join(map(str, shape))}] images; {fix}.")
    if not len(x):
      raise DataError(
          f"{source}: x_{split} holds no examples (shape {x.shape}); {fix}.")
    if y.ndim != 1 or len(y) != len(x):
      raise DataError(
          f"{source}: y_{split} has shape {y.shape}, expected [{len(x)}] "
          f"labels to match x_{split}; {fix}.")
    if (not integral(y)) or y.min() < 0 or y.max() >= num_classes:
      raise DataError(
          f"{source}: y_{split} holds labels outside the integers "
          f"0..{num_classes - 1}; {fix}.")
    out[f"x_{split}"] = np.asarray(pixels(x, f"{source}: x_{split}"))
    out[f"y_{split}"] = np.asarray(
        y if np.issubdtype(y.dtype, np.integer) else y.astype(np.int64))
  return out


def check_training_set(dataset: Dataset, batch_size: int) -> None:
  """Refuses a training set that cannot fill one batch without repeats.

  A batch larger than the training set would hold the same images several
  times over in every batch: the discriminator would see duplicates as a
  matter of course, which no run intends. (A small labelled subset for
  SSGAN is repeated on purpose; it is not checked here.)

  Args:
    dataset: the data, e.g. from `load_dataset` or built in memory.
    batch_size: the global batch size.

  Raises:
    DataError: the training set is empty, not uint8 pixels, or smaller than
      `batch_size`.
  """
  n = len(dataset.x_train)
  if not n:
    raise DataError(
        f"the training set of {dataset.name} holds no examples; pass "
        f"--data_path with images in it.")
  pixels(dataset.x_train, "the training images")
  if batch_size > n == 1:
    raise DataError(
        f"batch_size={batch_size} is larger than the 1 training example; add "
        f"images, or pass --batch_size=1 --updates_per_batch=1 (a batch of "
        f"one cannot be split into several updates).")
  if batch_size > n:
    raise DataError(
        f"batch_size={batch_size} is larger than the {n} training examples; "
        f"use --batch_size={n} or less, or more data.")
