"""The iterators a train step reads: a variant's real batches, fed from the
host or gathered on the device, split over a strategy's replicas.

    iterator = gantape.data.iterators.make_input(
        variant, dataset, batch_size=64, seed=0, input_pipeline="host",
        strategy=strategy, updates_per_batch=2)

`TrainStep.make_input` and `TrainStep.make_iterator` call these with the
step's strategy and options. Not imported by `gantape.data` itself, as it
reads the variant's base class, which imports `gantape.data`.
"""

from typing import Optional

import tensorflow as tf

from gantape.data import dataset as dataset_lib
from gantape.data import device
from gantape.errors import UsageError
from gantape.variants import base


def check_pipeline(input_pipeline: str) -> None:
  """Raises UsageError unless `input_pipeline` is in `INPUT_PIPELINES`."""
  if input_pipeline not in device.INPUT_PIPELINES:
    raise UsageError(
        f"unknown input_pipeline {input_pipeline!r}; choose one of "
        f"{', '.join(device.INPUT_PIPELINES)}.")


def check_batch(batch: Optional[int], *, replicas: int,
                updates_per_batch: int) -> None:
  """Raises UsageError unless the global batch `batch` splits evenly over
  `replicas` and, on each, into `updates_per_batch` slices (None: unknown,
  not checked)."""
  if batch is not None and batch % replicas:
    raise UsageError(
        f"the global batch of {batch} does not split evenly over "
        f"{replicas} replicas; use a batch_size that is a multiple of "
        f"{replicas}, e.g. {max(1, batch // replicas) * replicas}.")
  slices = replicas * updates_per_batch
  if batch is not None and batch % slices:
    raise UsageError(
        f"the global batch of {batch} does not split into "
        f"{updates_per_batch} updates on each of {replicas} "
        f"replica(s); use a batch_size that is a multiple of {slices}.")


def make_iterator(dataset: tf.data.Dataset, *,
                  strategy: Optional[tf.distribute.Strategy] = None,
                  updates_per_batch: int = 1):
  """An iterator over `dataset` (global batches) distributed as needed.

  With several replicas each global batch is split into per-replica
  batches, in replica order. Across workers the split is by data (each
  worker runs the seeded pipeline and keeps its replicas' slices): the
  pipeline reads arrays in memory, not files, so there are no files to
  shard, and the replicas together see the batch one device would.

  Args:
    dataset: a `tf.data.Dataset` of global batches.
    strategy: the step's strategy; default: the current one.
    updates_per_batch: the step's slices per replica batch.

  Raises:
    UsageError: the global batch does not split evenly over the replicas
      and, on each, into `updates_per_batch` slices.
  """
  strategy = strategy or tf.distribute.get_strategy()
  replicas = strategy.num_replicas_in_sync
  check_batch(tf.nest.flatten(dataset.element_spec)[0].shape[0],
              replicas=replicas, updates_per_batch=updates_per_batch)
  if replicas > 1:
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    dataset = strategy.experimental_distribute_dataset(
        dataset.with_options(options))
  return iter(dataset)


def make_input(variant: base.Variant, data: dataset_lib.Dataset, *,
               batch_size: int, seed: int, input_pipeline: str = "host",
               strategy: Optional[tf.distribute.Strategy] = None,
               updates_per_batch: int = 1):
  """An iterator of `variant`'s real batches of `data`, for its step.

  Both pipelines give the same batches for the same seed. "host" is
  `make_iterator(variant.make_dataset(...))`. "device" keeps the arrays on
  the device and gathers each batch inside the step
  (`data.DeviceBatches` over `variant.input_streams`): no `tf.data`
  element or host-to-device copy per batch. Checkpoint either iterator
  beside the step's `checkpoint_items()` for an exact resume.

  Args:
    variant: the variant the step trains.
    data: the in-memory dataset.
    batch_size: the global batch size.
    seed: seeds the data order.
    input_pipeline: one of `data.INPUT_PIPELINES`.
    strategy: the step's strategy; default: the current one.
    updates_per_batch: the step's slices per replica batch.

  Raises:
    UsageError: an unknown pipeline, or a batch that does not split over
      the replicas and updates; "device" under a multi-replica strategy
      or for a variant that overrides `make_dataset`.
  """
  check_pipeline(input_pipeline)
  strategy = strategy or tf.distribute.get_strategy()
  if input_pipeline == "host":
    return make_iterator(
        variant.make_dataset(data, batch_size=batch_size, seed=seed),
        strategy=strategy, updates_per_batch=updates_per_batch)
  replicas = strategy.num_replicas_in_sync
  if replicas > 1:
    raise UsageError(
        f"input_pipeline='device' feeds one replica, and this strategy has "
        f"{replicas}; use input_pipeline='host' (--input_pipeline=host), "
        f"whose batches are split over the replicas.")
  if type(variant).make_dataset is not base.Variant.make_dataset:
    raise UsageError(
        f"variant {variant.name!r} builds its own tf.data pipeline "
        f"(make_dataset), which cannot move to the device; define "
        f"input_streams instead, or use input_pipeline='host'.")
  check_batch(batch_size, replicas=1, updates_per_batch=updates_per_batch)
  return device.DeviceBatches(variant.input_streams(data, seed=seed),
                              batch_size=batch_size,
                              batches_per_iteration=variant.n_critic)
