"""Exponential moving averages (EMA) of a network's weights, for evaluation.

GAN generators oscillate around a good solution rather than converge to it;
averaging their weights over time (Yazici et al. 2019, "The Unusual
Effectiveness of Averaging in GAN Training"; Karras et al. 2018) smooths the
oscillation out at no training cost. The same holds for a discriminator that
is also a classifier: Salimans et al. 2016 measure SSGAN's test error with
an average of its weights. An average never feeds back into training: it is
only used for sample grids and evaluation.

The average covers all of a network's floating-point weights, BatchNorm's
moving statistics included, so the averaged network runs in inference mode
like the live one; integer state (a noise layer's seed) is not averaged.

The decay warms up as in `tf.train.ExponentialMovingAverage` with
`num_updates`: iteration t uses min(decay, (1 + t) / (10 + t)), so early
iterations (random weights) are forgotten quickly and short runs are not
dominated by the initialisation; from t of about 10 / (1 - decay) on, the
decay is `decay` (with 0.999, the average then spans about the last 1000
iterations).

`gantape.train` updates it at each of the run's boundaries (the multiples
of `iterations_per_call` and of the logging, sampling, evaluation and
checkpoint intervals: `training/runner.py`), with the product of the decays
of the K iterations since the last: the per-iteration EMA with the weights
sampled every K iterations instead of every iteration.
"""

import copy
from typing import Any, Dict, Mapping, Optional

import keras
import tensorflow as tf

from gantape.errors import UsageError
from gantape.variants import base


# The setting that keeps a weight average of each network, in a
# `TrainConfig` and in run.json.
DECAY_SETTINGS = {"generator": "ema_decay",
                  "discriminator": "discriminator_ema_decay"}


def averaged_networks(settings: Mapping[str, Any]) -> Dict[str, float]:
  """{network: decay} for each network whose weight average a run keeps,
  from its settings by name (`dataclasses.asdict(config)` or run.json)."""
  return {network: settings[name]
          for network, name in DECAY_SETTINGS.items() if settings.get(name)}


class ModelEma:
  """Keeps `average` = EMA of `source`'s weights.

  Attributes:
    source: the live network.
    average: a network of the same architecture holding the average
      (checkpoint it to resume the average).
    decay: per-iteration decay in [0, 1).
  """

  def __init__(self, source: keras.Model, average: keras.Model, decay: float):
    """Copies `source`'s weights into `average`.

    Args:
      source: the network being trained.
      average: a separately built network of the same architecture.
      decay: per-iteration decay, e.g. 0.999.

    Raises:
      UsageError: decay out of [0, 1) or the two models differ in shape.
    """
    if not 0.0 <= decay < 1.0:
      raise UsageError(f"ema_decay must be in [0, 1), got {decay!r}.")
    shapes = [tuple(w.shape) for w in source.weights]
    if shapes != [tuple(w.shape) for w in average.weights]:
      raise UsageError(f"the average's architecture differs from "
                       f"{source.name!r}'s.")
    self.source = source
    self.average = average
    self.decay = decay
    self._pairs = [(a, s) for a, s in zip(average.weights, source.weights)
                   if tf.as_dtype(a.dtype).is_floating]
    for a, s in self._pairs:
      a.assign(s)
    self._update = tf.function(self._update_fn)

  def _update_fn(self, decay):
    for a, s in self._pairs:
      a.assign(decay * a + (1.0 - decay) * tf.cast(s, a.dtype))

  def decay_at(self, iteration: int) -> float:
    """The decay of iteration `iteration` (1-based), warm-up included."""
    return min(self.decay, (1.0 + iteration) / (10.0 + iteration))

  def update(self, iterations: int = 1, step: Optional[int] = None) -> None:
    """Moves the average after `iterations` training iterations.

    Args:
      iterations: how many iterations ran since the last update.
      step: the global iteration count now; None skips the warm-up (plain
        decay**iterations).
    """
    if step is None:
      decay = self.decay ** iterations
    else:
      decay = 1.0
      for t in range(step - iterations + 1, step + 1):
        decay *= self.decay_at(t)
    self._update(tf.constant(decay, tf.float32))


def sampling_view(variant: base.Variant,
                  generator: Optional[keras.Model] = None, *,
                  discriminator: Optional[keras.Model] = None
                  ) -> base.Variant:
  """A shallow copy of `variant` with `generator` and/or `discriminator`
  (averages) in place of its own.

  Sharing everything else, it samples and evaluates like `variant`: grids and
  scores from the average generator, the test accuracy of a classifying
  discriminator from the average discriminator.
  """
  view = copy.copy(variant)
  if generator is not None:
    view.generator = generator
  if discriminator is not None:
    view.discriminator = discriminator
  return view
