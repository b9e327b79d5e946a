"""Learning-rate schedules by GAN iteration, and keeping rates across restores.

A schedule is a function of the optimizer's update count, which the
optimizer checkpoints (`optimizer.iterations`); the schedule itself is built
from the run's settings and is not in the checkpoint. So a resumed run
follows the schedule exactly where it left off, and a run resumed with other
settings follows its new schedule from the iteration it has reached.
"""

import contextlib
from typing import Iterator, Sequence

import keras
import tensorflow as tf

from gantape.errors import UsageError


@keras.saving.register_keras_serializable(package="gantape")
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
  """Constant, then linearly down to 0 over a range of GAN iterations.

  lr(t) = learning_rate * clip((end - t) / (end - start), 0, 1), where
  t = floor(updates / updates_per_iteration) is the number of GAN iterations
  done before this update: `learning_rate` up to iteration `start`, 0 from
  `end` on (the decay of Salimans et al. 2016's CIFAR-10 and SVHN code).
  """

  def __init__(self, learning_rate: float, start: int, end: int,
               updates_per_iteration: int = 1):
    """Builds the schedule.

    Args:
      learning_rate: the rate before `start`.
      start: the iteration the decay begins at.
      end: the iteration the rate reaches 0 at; > start.
      updates_per_iteration: how many updates this optimizer makes per GAN
        iteration (`TrainStep.updates_per_iteration`).

    Raises:
      UsageError: a bad range or count.
    """
    if not 0 <= start < end:
      raise UsageError(
          f"the learning-rate decay must start before it ends, at an "
          f"iteration >= 0; got start {start}, end {end} (e.g. "
          f"--lr_decay_start=100000 with --steps=180000).")
    if updates_per_iteration < 1:
      raise UsageError(f"updates_per_iteration must be >= 1, got "
                       f"{updates_per_iteration}.")
    self.learning_rate = float(learning_rate)
    self.start = int(start)
    self.end = int(end)
    self.updates_per_iteration = int(updates_per_iteration)

  def at_iteration(self, iteration) -> tf.Tensor:
    """The rate of the updates of GAN iteration `iteration` (0-based)."""
    t = tf.cast(iteration, tf.float32)
    fraction = (self.end - t) / float(self.end - self.start)
    return self.learning_rate * tf.clip_by_value(fraction, 0.0, 1.0)

  def __call__(self, step):
    return self.at_iteration(step // self.updates_per_iteration)

  def get_config(self):
    return {"learning_rate": self.learning_rate, "start": self.start,
            "end": self.end,
            "updates_per_iteration": self.updates_per_iteration}


def is_scheduled(optimizer: keras.optimizers.Optimizer) -> bool:
  """Whether `optimizer`'s learning rate is a schedule, not a variable."""
  return not isinstance(optimizer.learning_rate, keras.Variable)


@contextlib.contextmanager
def rates_kept(optimizers: Sequence[keras.optimizers.Optimizer]
               ) -> Iterator[None]:
  """Keeps the optimizers' learning rates through checkpoint restores.

  A constant learning rate is a variable that a restore brings back from
  the checkpoint; inside this block the rate set now wins, so a run resumed
  with another --learning_rate uses it. A schedule is not restored and needs
  nothing.
  """
  kept = [(o, float(o.learning_rate.numpy())) for o in optimizers
          if not is_scheduled(o)]
  yield
  for optimizer, rate in kept:
    optimizer.learning_rate = rate
