"""The two Adams a GAN trains with: presets, learning-rate schedules by GAN
iteration, and learning rates kept across checkpoint restores.

A schedule is a function of the optimizer's update count, which the
optimizer checkpoints (`optimizer.iterations`); the schedule itself is built
from the run's settings and is not in the checkpoint. So a resumed run
follows the schedule exactly where it left off, and a run resumed with other
settings follows its new schedule from the iteration it has reached.
"""

import contextlib
from typing import Iterator, Optional, Sequence, Tuple

import keras
import tensorflow as tf

from gantape.errors import UsageError
from gantape.variants import base
from gantape.variants import settings


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
        iteration (the step's `StepOptions.updates_per_batch`, times
        `n_critic` for the discriminator's).

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


def make_optimizers(variant: base.Variant, *,
                    preset: str = settings.DEFAULT_PRESET,
                    learning_rate: Optional[float] = None,
                    d_learning_rate: Optional[float] = None,
                    beta_1: Optional[float] = None,
                    beta_2: Optional[float] = None,
                    d_beta_1: Optional[float] = None,
                    d_beta_2: Optional[float] = None,
                    adam_epsilon: Optional[float] = None,
                    lr_decay: Optional[Tuple[int, int]] = None,
                    updates_per_batch: Optional[int] = None
                    ) -> Tuple[keras.optimizers.Optimizer,
                               keras.optimizers.Optimizer]:
  """Adam for the discriminator and for the generator.

  Unset arguments take the variant's `preset` (see `Variant.presets`: the
  seed's Adam(1e-3) for its four variants, Adam(1e-4, 0.5, 0.9) for WGAN-GP).
  Call it inside `strategy.scope()` when training distributed.

  Args:
    learning_rate, beta_1, beta_2: both networks' Adam; default: the
      preset's.
    d_learning_rate: the discriminator's rate, when it differs from the
      generator's (two time-scale updates, Heusel et al. 2017); default:
      `learning_rate`.
    d_beta_1, d_beta_2: the discriminator's betas, when they differ from
      the generator's; default: `beta_1`, `beta_2`.
    lr_decay: (start, end) GAN iterations: the learning rate falls linearly
      from `learning_rate` at `start` to 0 at `end`
      (`LinearDecay`); None keeps it constant.
    updates_per_batch: the `TrainStep`'s, which the schedule needs to count
      GAN iterations from updates (default: the preset's).

  Returns:
    (discriminator_optimizer, generator_optimizer).

  Raises:
    UsageError: a rate that is not positive, or a beta outside [0, 1),
      named by its argument (the flag of the same name).
  """
  d = variant.preset(preset)
  g_adam = dict(learning_rate=d.learning_rate if learning_rate is None
                else learning_rate,
                beta_1=d.beta_1 if beta_1 is None else beta_1,
                beta_2=d.beta_2 if beta_2 is None else beta_2)
  d_adam = {name: g_adam[name] if value is None else value
            for name, value in (("learning_rate", d_learning_rate),
                                ("beta_1", d_beta_1), ("beta_2", d_beta_2))}
  for prefix, values in (("", g_adam), ("d_", d_adam)):
    _check_adam(prefix, **values)
  epsilon = d.adam_epsilon if adam_epsilon is None else adam_epsilon
  per_batch = (d.updates_per_batch if updates_per_batch is None
               else updates_per_batch)

  def adam(name, values, updates_per_iteration):
    values = dict(values)
    if lr_decay is not None:
      values["learning_rate"] = LinearDecay(
          values["learning_rate"], *lr_decay, updates_per_iteration)
    return keras.optimizers.Adam(name=name, epsilon=epsilon, **values)
  # One iteration makes n_critic discriminator updates per slice.
  return (adam("d_adam", d_adam, variant.n_critic * per_batch),
          adam("g_adam", g_adam, per_batch))


def _check_adam(prefix: str, learning_rate: float, beta_1: float,
                beta_2: float) -> None:
  """Raises UsageError for a rate <= 0 or a beta outside [0, 1), named
  `prefix` + its name."""
  if not learning_rate > 0:
    raise UsageError(f"{prefix}learning_rate must be positive, got "
                     f"{learning_rate}.")
  for name, value in (("beta_1", beta_1), ("beta_2", beta_2)):
    if not 0.0 <= value < 1.0:
      raise UsageError(f"{prefix}{name} must be in [0, 1), got {value!r}; "
                       f"pass {prefix}{name}=B with 0 <= B < 1, or leave it "
                       f"unset for the default.")
