"""One builder: a resolved run (`training.run.Run`) -> what trains.

    trainable = gantape.build.for_data(dataset, variant="dcgan", seed=0)
    iterator = trainable.input(dataset)
    for _ in range(10):
      metrics = trainable.train(iterator, 100)  # 100 iterations, EMA updated

`build` makes the variant (its networks under the run's dtype policy, the
preset's options applied), the two Adams with the run's schedule, the
`TrainStep`, and the weight averages the run keeps; `Trainable` also says
what a checkpoint of them holds. `gantape train`, the benchmark, the Keras
`fit` adapter and the restore for sampling all build through here, so a
preset is applied once, in `training.run.settings`, and reaches every one
of them the same way.
"""

import dataclasses
from typing import Any, Dict, Optional

import keras
import tensorflow as tf

from gantape import data as data_lib
from gantape import ema as ema_lib
from gantape import optimizers as optimizers_lib
from gantape import precision as precision_lib
from gantape import step as step_lib
from gantape import variants
from gantape.training import run as run_lib
from gantape.training import run_data
from gantape.training import seed_generators
from gantape.training.config import TrainConfig
from gantape.variants import base

@dataclasses.dataclass
class Trainable:
  """A run's variant, optimizers, step and weight averages.

  Attributes:
    run: what it was built from.
    variant: the variant, with its networks.
    d_optimizer, g_optimizer: the two Adams (loss-scaled under
      mixed_float16).
    step: the `TrainStep`.
    averages: {"generator"/"discriminator": `ema.ModelEma`} for each network
      whose weight average the run keeps.
    sampler: the variant as sampling and evaluation see it: with the
      averaged networks where kept.
  """
  run: run_lib.Run
  variant: base.Variant
  d_optimizer: keras.optimizers.Optimizer
  g_optimizer: keras.optimizers.Optimizer
  step: step_lib.TrainStep
  averages: Dict[str, ema_lib.ModelEma]
  sampler: base.Variant

  def checkpoint_items(self) -> Dict[str, Any]:
    """What a `tf.train.Checkpoint` holds to resume it: the step's items,
    the networks' random generators (`seed_generators.items`) and each
    average as "ema_<network>"."""
    items = self.step.checkpoint_items()
    items.update(seed_generators.items(self.variant))
    items.update({f"ema_{network}": ema.average
                  for network, ema in self.averages.items()})
    return items

  def input(self, dataset: data_lib.Dataset):
    """An iterator of the run's real batches of `dataset`, for `train`."""
    config = self.run.config
    return self.step.make_input(dataset, batch_size=config.batch_size,
                                seed=config.seed)

  def train(self, iterator, num_iterations: int) -> Dict[str, tf.Tensor]:
    """Runs `num_iterations` iterations in one call, then moves the weight
    averages over them; returns the last iteration's metrics."""
    metrics = self.step(iterator, num_iterations)
    for ema in self.averages.values():
      ema.update(int(num_iterations), step=int(self.step.global_step))
    return metrics


def step_options(config: TrainConfig) -> step_lib.StepOptions:
  """How the run's `TrainStep` splits, compiles and reads its input."""
  return step_lib.StepOptions(updates_per_batch=config.updates_per_batch,
                              jit_compile=config.jit_compile,
                              input_pipeline=config.input_pipeline,
                              precision=config.precision)


def build_variant(run: run_lib.Run) -> base.Variant:
  """The run's variant with new networks, under the run's dtype policy."""
  config = run.config
  with precision_lib.policy(config.precision):
    return variants.build(run.variant_class,
                          image_shape=run.shape.image_shape,
                          num_classes=run.shape.num_classes,
                          **config.variant_options)


def build(run: run_lib.Run,
          strategy: Optional[tf.distribute.Strategy] = None) -> Trainable:
  """Builds what trains `run`, inside `strategy.scope()`.

  Args:
    run: a resolved run (`training.run.resolve`, or `Run.for_shape`).
    strategy: a `tf.distribute.Strategy`; default: the current one.

  Raises:
    UsageError: options the variant does not take, or a step it cannot run
      (`TrainStep`'s checks).
  """
  config = run.config
  strategy = strategy or tf.distribute.get_strategy()
  with strategy.scope():
    variant = build_variant(run)
    d_opt, g_opt = optimizers_lib.make_optimizers(
        variant, learning_rate=config.learning_rate,
        d_learning_rate=config.d_learning_rate, beta_1=config.beta_1,
        beta_2=config.beta_2, d_beta_1=config.d_beta_1,
        d_beta_2=config.d_beta_2, adam_epsilon=config.adam_epsilon,
        lr_decay=run.lr_decay, updates_per_batch=config.updates_per_batch)
    train_step = step_lib.TrainStep(
        variant, d_opt, g_opt, seed=config.seed, strategy=strategy,
        options=step_options(config))
    decays = ema_lib.averaged_networks(dataclasses.asdict(config))
    spare = build_variant(run) if decays else None
    averages = {network: ema_lib.ModelEma(getattr(variant, network),
                                          getattr(spare, network), decay)
                for network, decay in decays.items()}
  sampler = variant
  if averages:
    sampler = ema_lib.sampling_view(
        variant, **{k: ema.average for k, ema in averages.items()})
  return Trainable(run, variant, train_step.d_optimizer,
                   train_step.g_optimizer, train_step, averages, sampler)


def for_data(dataset: data_lib.Dataset, *,
             strategy: Optional[tf.distribute.Strategy] = None,
             **settings) -> Trainable:
  """What `gantape train` would train on `dataset` with `settings`.

  Args:
    dataset: the training data; its shape and classes size the networks.
    strategy: as `build`'s.
    **settings: `TrainConfig` fields (variant, preset, seed, batch_size,
      variant options in `variant_options`, ...); the rest as `gantape
      train`'s defaults. Nothing is written, so `workdir` is not needed.

  Raises:
    UsageError: a bad setting.
  """
  config = TrainConfig(**{"workdir": "", **settings})
  run = run_lib.Run.for_shape(config, run_data.DataShape.of(dataset))
  return build(run, strategy)
