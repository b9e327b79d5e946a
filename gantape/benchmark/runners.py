"""Runners: one implementation on one variant, trained n iterations at a time.

The measure loop (`gantape.benchmark.suite.measure`) sees every
implementation through `Runner`: `run(n)` trains n GAN iterations and returns
once they are done, with n a multiple of `unit`, the iterations of one call.
This module holds gantape's own runners and the seed's; the Keras 3 `fit`
runner is in `keras_fit`.
"""

import tensorflow as tf

from gantape import data as data_lib
from gantape import precision as precision_lib
from gantape import optimizers as optimizers_lib
from gantape import step as step_lib
from gantape import variants
from gantape.benchmark import seed_fit
from gantape.benchmark.config import BenchmarkConfig
from gantape.training import run_data


def round_up(n: float, unit: int) -> int:
  """`n` iterations rounded up to whole calls of `unit`, at least one call."""
  return max(unit, -(-int(n) // unit) * unit)


class Runner:
  """One implementation on one variant: `run(n)` trains n iterations.

  Attributes:
    unit: iterations per call; `n` is always a multiple of it.
  """
  unit = 1

  def run(self, n: int) -> None:
    """Trains `n` iterations and waits until they are done."""
    raise NotImplementedError


def build_variant(name: str, data, config: BenchmarkConfig):
  """The variant `name` with the config's options, for `data`'s image shape
  and classes (as `gantape train` builds it)."""
  shape = run_data.DataShape.of(data)
  return variants.build(name, image_shape=shape.image_shape,
                        num_classes=shape.num_classes,
                        **config.variant_options)


class GantapeRunner(Runner):
  """`TrainStep`, `k` iterations per call, with or without XLA.

  Attributes:
    variant: the variant, built with the config's options.
    step: its `TrainStep`.
    element_spec: the spec of one real batch of its dataset.
  """

  def __init__(self, name: str, dataset: data_lib.Dataset,
               config: BenchmarkConfig, k: int, jit: bool):
    with precision_lib.policy(config.precision):
      self.variant = build_variant(name, dataset, config)
    d_opt, g_opt = optimizers_lib.make_optimizers(self.variant)
    self.step = step_lib.TrainStep(
        self.variant, d_opt, g_opt, seed=config.seed,
        options=step_lib.StepOptions(
            updates_per_batch=config.updates_per_batch, jit_compile=jit,
            input_pipeline=config.input_pipeline,
            precision=config.precision))
    self.iterator = self.step.make_input(
        dataset, batch_size=config.batch_size, seed=config.seed)
    self.element_spec = self.iterator.element_spec
    self.unit = k
    self._k = tf.constant(k, tf.int32)

  def run(self, n: int) -> None:
    for _ in range(n // self.unit):
      metrics = self.step(self.iterator, self._k)
    metrics["d_loss"].numpy()  # waits for the last call


class InputRunner(Runner):
  """The input pipeline alone: `run(n)` draws the real batches of n
  iterations (n x n_critic) inside one `tf.function` per call of `unit`,
  and trains nothing; its rate is the iterations/s the pipeline can feed."""

  def __init__(self, name: str, dataset: data_lib.Dataset,
               config: BenchmarkConfig, k: int):
    variant = build_variant(name, dataset, config)
    d_opt, g_opt = optimizers_lib.make_optimizers(variant)
    step = step_lib.TrainStep(
        variant, d_opt, g_opt, seed=config.seed,
        options=step_lib.StepOptions(input_pipeline=config.input_pipeline))
    self.iterator = step.make_input(
        dataset, batch_size=config.batch_size, seed=config.seed)
    self.unit = k
    self._batches = tf.constant(k * variant.n_critic, tf.int32)
    self._draw = tf.function(_draw_batches)

  def run(self, n: int) -> None:
    for _ in range(n // self.unit):
      total = self._draw(self.iterator, self._batches)
    total.numpy()


def _draw_batches(iterator, num_batches):
  """Draws `num_batches` batches; sums them, so none is optimised away."""
  total = tf.constant(0.0)
  for _ in tf.range(num_batches):
    for t in tf.nest.flatten(next(iterator)):
      total += tf.reduce_sum(tf.cast(t, tf.float32))
  return total


class SeedFitRunner(Runner):
  """The post's loop body: two `fit()` calls per iteration."""

  def __init__(self, name: str, dataset: data_lib.Dataset,
               config: BenchmarkConfig):
    self.trainer = seed_fit.SeedTrainer(name, dataset,
                                        batch_size=config.batch_size,
                                        seed=config.seed)

  def run(self, n: int) -> None:
    for _ in range(n):
      self.trainer.iteration()
