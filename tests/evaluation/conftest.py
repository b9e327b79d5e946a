"""Shared by the evaluation tests: a classifier that trains in seconds, and
fake datasets of any image shape."""

import dataclasses
from typing import Optional, Tuple

import numpy as np

from gantape import data as data_lib
from gantape.evaluation import classifier as classifier_lib

TINY = classifier_lib.ClassifierConfig(width=4, feature_dim=8, epochs=1,
                                       batch_size=50)


@dataclasses.dataclass(frozen=True)
class _FakeDataset:
  """`gantape.data.Dataset`'s fields, for a gantape.data without it."""
  x_train: np.ndarray
  y_train: Optional[np.ndarray]
  x_test: np.ndarray
  y_test: Optional[np.ndarray]
  name: str = "mnist"
  num_classes: Optional[int] = 10
  class_names: Optional[Tuple[str, ...]] = None


def make_fake_dataset(image_shape=(32, 32, 3), num_classes=10,
                      num_train=100, num_test=40, name="cifar10", seed=0):
  """Random uint8 images [N, H, W, C] (or [N, H, W] for C = 1), balanced
  labels; `num_classes=None` makes an unlabelled dataset."""
  rng = np.random.RandomState(seed)
  shape = tuple(image_shape[:2]) if image_shape[2] == 1 else tuple(image_shape)

  def images(n):
    return rng.randint(0, 256, [n, *shape]).astype(np.uint8)

  def labels(n):
    return None if num_classes is None else (
        np.arange(n) % num_classes).astype(np.uint8)

  cls = getattr(data_lib, "Dataset", _FakeDataset)
  return cls(x_train=images(num_train), y_train=labels(num_train),
             x_test=images(num_test), y_test=labels(num_test), name=name,
             num_classes=num_classes)
