"""What a training run takes from its data: the images' shape and classes.

The dataset decides the image shape [H, W, C] and the number of classes;
`DataShape` carries them to the variant's constructor (`variants.build`,
`base.DATA_ARGUMENTS`), to run.json and from there to sampling, export and
evaluation. `networks_for` picks the networks a shape needs and
`check_fits` refuses data a run cannot train on.
"""

import dataclasses
from typing import Any, Dict, Optional, Tuple

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
