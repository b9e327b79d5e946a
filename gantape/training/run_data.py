"""What a training run takes from its data: the images' shape and classes.

The dataset decides the image shape [H, W, C] and the number of classes;
`DataShape` carries them to the variant's constructor (`variants.build`,
`base.DATA_ARGUMENTS`), to run.json and from there to sampling, export and
evaluation. `networks_for` picks the networks a shape needs and
`check_fits` refuses data a run cannot train on. `training_data` is what
the run trains on: the dataset, or `--train_subset` images of its training
split; evaluation keeps the whole dataset.
"""

import dataclasses
from typing import Any, Dict, Optional, Tuple

import numpy as np

from gantape import data as data_lib
from gantape import networks as networks_lib
from gantape.errors import UsageError
from gantape.training.config import TrainConfig


@dataclasses.dataclass(frozen=True)
class DataShape:
  """What the networks take from the data: [H, W, C] and the class count
  (None for unlabelled images)."""
  image_shape: Tuple[int, int, int]
  num_classes: Optional[int]

  @classmethod
  def of(cls, dataset: data_lib.Dataset) -> "DataShape":
    """The shape of a `data.Dataset`."""
    return cls(dataset.image_shape, dataset.num_classes)

  def record(self) -> Dict[str, Any]:
    """What run.json records of it."""
    return {"image_shape": list(self.image_shape),
            "num_classes": self.num_classes}


def load(config: TrainConfig) -> data_lib.Dataset:
  """`config.dataset` from `config.data_path` (`data.load_dataset`).

  Raises:
    UsageError: the data is missing or bad.
  """
  return data_lib.load_dataset(config.dataset, config.data_path,
                               image_size=config.image_size,
                               channels=config.channels)


# The seed of the `--train_subset` draw: fixed, so every --seed trains on the
# same images.
SUBSET_SEED = 0


def training_data(config: TrainConfig,
                  dataset: data_lib.Dataset) -> data_lib.Dataset:
  """What the run trains on: `dataset`, or with `config.train_subset`, that
  many of its training images (`data.balanced_subset` with `SUBSET_SEED`:
  the same for every `config.seed`, N/K per class when labelled) and its
  test split whole.

  Raises:
    UsageError: N is not a multiple of the K classes, or more than the
      training split (or one of its classes) holds.
  """
  num = config.train_subset
  if num is None:
    return dataset
  if dataset.labelled:
    labels, classes = dataset.y_train, dataset.num_classes
    if num % classes:
      low = max(num // classes, 1) * classes
      raise UsageError(
          f"train_subset={num} is not a multiple of the {classes} classes "
          f"of the {dataset.name} images; pass a multiple of {classes} "
          f"(e.g. --train_subset={low}), so every class has as many.")
  else:  # one class: a plain draw
    labels, classes = np.zeros(len(dataset.x_train), np.int64), 1
  indices = data_lib.balanced_subset(labels, num, SUBSET_SEED, classes,
                                     setting="train_subset")
  return dataclasses.replace(
      dataset, x_train=dataset.x_train[indices],
      y_train=None if dataset.y_train is None else dataset.y_train[indices])


def check_fits(variant_class: type, config: TrainConfig, shape: DataShape,
               name: str) -> None:
  """Refuses data the run cannot train on.

  Args:
    variant_class: the class `config.variant` names.
    config: the run's settings.
    shape: the data's.
    name: the data's name, for the message.

  Raises:
    UsageError: a variant that needs labels, or `eval_every` (its FCD needs
      a classifier of the data's classes), on unlabelled data.
  """
  if variant_class.needs_labels and shape.num_classes is None:
    raise UsageError(
        f"variant {config.variant!r} trains on class labels and the "
        f"{name} images have none; give --data_path one subfolder per "
        f"class, or train an unconditional variant (gan, dcgan, wgan_gp).")
  if config.eval_every is not None and shape.num_classes is None:
    raise UsageError(
        f"--eval_every measures FCD with a classifier of the data's classes, "
        f"and the {name} images have none; leave --eval_every out, and score "
        f"the run afterwards with `gantape evaluate --classifier=MODEL`.")


def networks_for(variant_class: type, variant_options: Dict[str, Any],
                 shape: DataShape) -> Optional[str]:
  """The `networks` option the data's shape needs when `variant_options`
  leave it unset; else None.

  Images other than the seed's 28x28x1 get `networks.default_family`
  among those the variant offers (`networks_offered`).
  """
  if ("networks" in variant_options
      or shape.image_shape == networks_lib.IMAGE_SHAPE):
    return None
  return networks_lib.default_family(shape.image_shape,
                                     variant_class.networks_offered)
