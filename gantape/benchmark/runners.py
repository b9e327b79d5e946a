"""Runners: one implementation on one variant, trained n iterations at a time.

The measure loop (`gantape.benchmark.suite.measure`) sees every
implementation through `Runner`: `run(n)` trains n GAN iterations and returns
once they are done, with n a multiple of `unit`, the iterations of one call.
This module holds gantape's own runners and the seed's; the Keras 3 `fit`
runner is in `keras_fit`.
"""

import dataclasses
from typing import Optional

import tensorflow as tf

from gantape import build as build_lib
from gantape import data as data_lib
from gantape import variants
from gantape.benchmark import seed_fit
from gantape.benchmark.config import BenchmarkConfig
from gantape.training import run as run_lib
from gantape.training import run_data
from gantape.variants import settings


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


def trainable(name: str, dataset: data_lib.Dataset, config: BenchmarkConfig,
              *, k: int = 1, jit: bool = False,
              precision: Optional[str] = None) -> build_lib.Trainable:
  """What `gantape train` builds for variant `name` with the benchmark's
  settings (`gantape.build`), on `dataset`'s shape and classes.

  The losses are the constructor's (the seed's) plus `variant_options`:
  the step is timed without a preset's options and weight averages, unless
  the options name them.

  Args:
    name: a variant name.
    dataset: sizes the networks.
    config: the benchmark's settings.
    k: iterations per call.
    jit: compile with XLA.
    precision: the dtype policy; None: `config.step.precision`.
  """
  cls = variants.get_class(name)
  # The constructor's losses: the "seed" presets set no variant option.
  preset = "seed" if "seed" in cls.presets else settings.DEFAULT_PRESET
  step = dataclasses.replace(
      config.step, variant=name, preset=preset, ema_decay=0.0,
      discriminator_ema_decay=0.0, iterations_per_call=k, jit_compile=jit,
      precision=precision or config.step.precision)
  shape = run_data.DataShape.of(dataset)
  return build_lib.build(run_lib.Run.for_shape(step, shape, cls))


class GantapeRunner(Runner):
  """`TrainStep`, `k` iterations per call, with or without XLA.

  Attributes:
    variant: the variant, built with the config's options.
    step: its `TrainStep`.
    element_spec: the spec of one real batch of its dataset.
  """

  def __init__(self, name: str, dataset: data_lib.Dataset,
               config: BenchmarkConfig, k: int, jit: bool):
    built = trainable(name, dataset, config, k=k, jit=jit)
    self.variant = built.variant
    self.step = built.step
    self.iterator = built.input(dataset)
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
    built = trainable(name, dataset, config, k=k)
    variant = built.variant
    self.iterator = built.input(dataset)
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
                                        batch_size=config.step.batch_size,
                                        seed=config.step.seed)

  def run(self, n: int) -> None:
    for _ in range(n):
      self.trainer.iteration()
