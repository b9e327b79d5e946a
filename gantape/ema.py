"""An exponential moving average (EMA) of the generator's weights, for sampling.

GAN generators oscillate around a good solution rather than converge to it;
averaging their weights over time (Yazici et al. 2019, "The Unusual
Effectiveness of Averaging in GAN Training"; Karras et al. 2018) smooths the
oscillation out at no training cost. The average never feeds back into
training: it is only used for sample grids and evaluation.

The average covers all generator weights, BatchNorm's moving statistics
included, so the averaged generator runs in inference mode like the live one.

The decay warms up as in `tf.train.ExponentialMovingAverage` with
`num_updates`: iteration t uses min(decay, (1 + t) / (10 + t)), so early
iterations (random weights) are forgotten quickly and short runs are not
dominated by the initialisation; from t of about 10 / (1 - decay) on, the
decay is `decay` (with 0.999, the average then spans about the last 1000
iterations).

`gantape.train` updates it once per train-step call, i.e. every
`iterations_per_call` iterations (K), with the product of those K
iterations' decays: that is the per-iteration EMA with the weights sampled
every K iterations instead of every iteration.
"""

import copy
from typing import Optional

import keras
import tensorflow as tf

from gantape.errors import UsageError
from gantape.variants import base


class GeneratorEma:
  """Keeps `average` = EMA of `source`'s weights.

  Attributes:
    source: the live generator.
    average: a generator of the same architecture holding the average
      (checkpoint it to resume the average).
    decay: per-iteration decay in [0, 1).
  """

  def __init__(self, source: keras.Model, average: keras.Model, decay: float):
    """Copies `source`'s weights into `average`.

    Args:
      source: the generator being trained.
      average: a separately built generator of the same architecture.
      decay: per-iteration decay, e.g. 0.999.

    Raises:
      UsageError: decay out of [0, 1) or the two models differ in shape.
    """
    if not 0.0 <= decay < 1.0:
      raise UsageError(f"ema_decay must be in [0, 1), got {decay!r}.")
    shapes = [tuple(w.shape) for w in source.weights]
    if shapes != [tuple(w.shape) for w in average.weights]:
      raise UsageError("the EMA generator's architecture differs from the "
                       "generator's.")
    self.source = source
    self.average = average
    self.decay = decay
    for a, s in zip(average.weights, source.weights):
      a.assign(s)
    self._update = tf.function(self._update_fn)

  def _update_fn(self, decay):
    for a, s in zip(self.average.weights, self.source.weights):
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


def sampling_view(variant: base.Variant, generator: keras.Model
                  ) -> base.Variant:
  """A shallow copy of `variant` that generates with `generator` (the average).

  Sharing everything else, it samples and evaluates like `variant`.
  """
  view = copy.copy(variant)
  view.generator = generator
  return view
