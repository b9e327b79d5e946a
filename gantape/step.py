"""The train step: the research API.

    variant = gantape.variants.build("dcgan")
    d_opt, g_opt = gantape.optimizers.make_optimizers(variant)
    options = gantape.step.StepOptions(updates_per_batch=2, jit_compile=True)
    step = gantape.step.TrainStep(variant, d_opt, g_opt, seed=0,
                                  options=options)
    iterator = step.make_input(dataset, batch_size=64, seed=0)
    metrics = step(iterator, num_iterations=100)  # 100 GAN iterations, 1 call

One iteration is `variant.n_critic` discriminator updates, each on a fresh real
batch and fresh random inputs, then one generator update that reuses the last
of those (the seed reuses the discriminator's noise for the generator). Each
update differentiates its network's loss with respect to that network's
trainable variables only, with both networks in training mode.

`TrainStep` holds that iteration and the state it moves (the step counter,
the optimizers, the random generator). Where the rest lives:

- how iterations run, chosen by `StepOptions`: `gantape.executors` (`HostLoop`,
  K iterations per `tf.function` call on any input, and `CompiledDeviceLoop`,
  runs of iterations under XLA on device input); both draw the same noise, so
  a run with `jit_compile=True` sees the numbers of one without;
- the iterators it reads (`make_input`, `make_iterator`):
  `gantape.data.iterators`;
- averaging over the replicas of a `tf.distribute.Strategy` (the loss over
  the global batch, the random inputs drawn once for the global batch and
  cut per replica, so N replicas see what one device would):
  `gantape.distribute`;
- float16 loss scaling: `gantape.precision`.
"""

import dataclasses
from typing import Dict, Optional

import keras
import tensorflow as tf

from gantape import distribute
from gantape import executors
from gantape import precision as precision_lib
from gantape.data import iterators
from gantape.errors import UsageError
from gantape.variants import base


def check_variable_partition(variant: base.Variant) -> None:
  """Fails unless the two variable lists are disjoint and cover the variant.

  Raises:
    UsageError: a variable is in both lists, in neither, or a list is empty.
  """
  g_vars = list(variant.generator_variables)
  d_vars = list(variant.discriminator_variables)
  if not g_vars or not d_vars:
    raise UsageError(
        f"variant {variant.name!r} has no trainable "
        f"{'generator' if not g_vars else 'discriminator'} variables; build "
        f"its networks (give them an Input) before making the step.")
  g_ids, d_ids = {id(v) for v in g_vars}, {id(v) for v in d_vars}
  shared = [v.path for v in g_vars if id(v) in d_ids]
  if shared:
    raise UsageError(
        f"variant {variant.name!r}: variables {shared} are in both the "
        f"generator's and the discriminator's lists, so each step would move "
        f"the other network; give each network its own layers.")
  orphans = [v.path for v in variant.all_trainable_variables()
             if id(v) not in g_ids | d_ids]
  if orphans:
    raise UsageError(
        f"variant {variant.name!r}: trainable variables {orphans} are in "
        f"neither network's list and would never train; add them to "
        f"generator_variables or discriminator_variables, or make them "
        f"non-trainable.")


@dataclasses.dataclass(frozen=True)
class StepOptions:
  """How a `TrainStep` splits its batches, compiles and reads its input.

  `jit_compile` and `input_pipeline` choose the executor: device input under
  XLA runs on `executors.CompiledDeviceLoop`, everything else on
  `executors.HostLoop`.

  Attributes:
    updates_per_batch: split each replica's batch and random inputs into
      this many equal slices and update each network once per slice (all
      discriminator updates, then all generator updates); 2 is the seed's
      schedule. The per-replica batch must divide evenly.
    jit_compile: compile each iteration's math with XLA; on device input,
      runs of up to `executors.QUEUED_RUN_ITERATIONS` iterations.
    input_pipeline: the iterator `TrainStep.make_input` makes, one of
      `data.INPUT_PIPELINES`: "host" (`tf.data`) or "device"
      (`data.DeviceBatches`, one replica only).
    precision: "float32", "mixed_float16" or "mixed_bfloat16", the Keras
      dtype policy the variant's networks were built under
      (`gantape.precision.policy`); None: theirs. mixed_float16 wraps both
      optimizers in a dynamic `keras.optimizers.LossScaleOptimizer`, which
      the step's optimizers and checkpoint then hold.

  Raises:
    UsageError: updates_per_batch is not a positive integer, or an unknown
      input_pipeline.
  """
  updates_per_batch: int = 1
  jit_compile: bool = False
  input_pipeline: str = "host"
  precision: Optional[str] = None

  def __post_init__(self):
    if (not isinstance(self.updates_per_batch, int)
        or self.updates_per_batch < 1):
      raise UsageError(f"updates_per_batch must be a positive integer, got "
                       f"{self.updates_per_batch!r}.")
    iterators.check_pipeline(self.input_pipeline)


class TrainStep:
  """The GAN iteration over explicit variable lists, and its state.

  Attributes:
    variant: the variant it trains.
    options: its `StepOptions`.
    precision: the dtype policy its networks run under (`options.precision`
      or, if None, theirs).
    global_step: int64 variable, +1 per GAN iteration.
    rng: the `tf.random.Generator` every random input is drawn from.
    strategy: the `tf.distribute.Strategy` it runs under.
    executor: what runs its calls (`gantape.executors`), as `options` chose.
  """

  def __init__(self, variant: base.Variant,
               d_optimizer: keras.optimizers.Optimizer,
               g_optimizer: keras.optimizers.Optimizer, *,
               seed: int = 0,
               strategy: Optional[tf.distribute.Strategy] = None,
               options: StepOptions = StepOptions()):
    """Builds the step; variables and optimizer slots are created here.

    Args:
      variant: the variant to train. Build it (and the optimizers) inside
        `strategy.scope()` when `strategy` is given.
      d_optimizer: updates `variant.discriminator_variables` only.
      g_optimizer: updates `variant.generator_variables` only.
      seed: seeds the random-input generator.
      strategy: a `tf.distribute.Strategy`; default: the current one.
      options: how it runs (`StepOptions`).

    Raises:
      UsageError: the variable lists overlap or miss a variable, XLA is
        asked for on a multi-replica non-TPU strategy, or the networks were
        built under another precision.
    """
    check_variable_partition(variant)
    self.strategy = strategy or tf.distribute.get_strategy()
    is_tpu = isinstance(self.strategy, tf.distribute.TPUStrategy)
    if (options.jit_compile and self.strategy.num_replicas_in_sync > 1
        and not is_tpu):
      raise UsageError(
          "jit_compile=True runs on one replica (or TPU, which always "
          "compiles); drop it for a multi-replica strategy.")
    self.options = options
    self.precision = precision_lib.of_variant(variant, options.precision)
    self.variant = variant
    self.d_optimizer = precision_lib.with_loss_scaling(d_optimizer,
                                                       self.precision)
    self.g_optimizer = precision_lib.with_loss_scaling(g_optimizer,
                                                       self.precision)
    self._create_state(seed)
    if options.jit_compile and options.input_pipeline == "device":
      self.executor = executors.CompiledDeviceLoop(self)
    else:
      self.executor = executors.HostLoop(self, jit_compile=options.jit_compile)

  def _create_state(self, seed: int) -> None:
    """The step counter, the optimizers' slots and the random generator."""
    with self.strategy.scope():
      self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False,
                                     name="global_step")
      # Slots now, not at the first step: a checkpoint then restores them at
      # once, and the first call does not create variables inside tf.function.
      self.d_optimizer.build(self.variant.discriminator_variables)
      self.g_optimizer.build(self.variant.generator_variables)
      # Lazy R1 counts discriminator updates with the optimizer's own
      # checkpointed counter, so a resumed run penalizes the same updates.
      self.variant.count_updates_with(self.d_optimizer.iterations)
    # Drawn in the cross-replica context only (one global draw per
    # iteration): such a draw gives the numbers this seed gives on one
    # device, whether or not the generator was made in a strategy's scope
    # (its per-replica hashing applies to draws inside `strategy.run`).
    self.rng = tf.random.Generator.from_seed(seed)

  # ---- public --------------------------------------------------------

  def make_input(self, data, *, batch_size: int, seed: int):
    """`data.iterators.make_input` for this step: the variant's real batches
    of the dataset `data`, from `options.input_pipeline`, split over the
    step's replicas and updates. Raises what that raises."""
    return iterators.make_input(
        self.variant, data, batch_size=batch_size, seed=seed,
        input_pipeline=self.options.input_pipeline, strategy=self.strategy,
        updates_per_batch=self.options.updates_per_batch)

  def make_iterator(self, dataset: tf.data.Dataset):
    """`data.iterators.make_iterator` for this step: an iterator over the
    `tf.data` global batches `dataset`, split over the step's replicas and
    updates. Raises what that raises."""
    return iterators.make_iterator(
        dataset, strategy=self.strategy,
        updates_per_batch=self.options.updates_per_batch)

  def __call__(self, iterator, num_iterations=1) -> Dict[str, tf.Tensor]:
    """Runs `num_iterations` GAN iterations in one `tf.function` call.

    Args:
      iterator: from `make_input` or `make_iterator`.
      num_iterations: a positive int or int tensor; any value reuses the
        trace.

    Returns:
      Scalar metrics of the last iteration: `d_loss`, `g_loss`, the
      gradients' global norms `d_grad_norm` and `g_grad_norm`, and the
      variant's own (e.g. `d_real`, `d_fake`).

    Raises:
      UsageError: num_iterations below 1, or an iterator the executor does
        not run on (a `tf.data` one for device input under XLA).
    """
    if not tf.is_tensor(num_iterations):
      if int(num_iterations) < 1:
        raise UsageError(
            f"num_iterations must be at least 1, got {num_iterations}.")
      num_iterations = tf.constant(int(num_iterations), tf.int32)
    self.executor.check(iterator)
    return self.executor.train(iterator, num_iterations)

  def checkpoint_items(self) -> Dict[str, object]:
    """What a `tf.train.Checkpoint` needs to resume this step exactly."""
    return {"generator": self.variant.generator,
            "discriminator": self.variant.discriminator,
            "d_optimizer": self.d_optimizer,
            "g_optimizer": self.g_optimizer,
            "global_step": self.global_step,
            "rng": self.rng}

  def trace_iteration(self, batch_spec, inputs_spec):
    """One replica's GAN iteration traced into a graph, without running it.

    The graph holds what one iteration computes on a replica: the
    `n_critic` discriminator updates and the generator update, cut into
    `updates_per_batch` slices, with the real batches and random inputs as
    arguments (no input pipeline, no random draw). It is traced without XLA
    and in the default replica context; nothing is trained. For graph
    analysis, e.g. counting an iteration's FLOPs (`gantape.benchmark`).

    Args:
      batch_spec: `tf.TensorSpec` structure of one replica's real batch, e.g.
        the dataset's `element_spec` on one device.
      inputs_spec: `tf.TensorSpec` structure of `variant.sample_inputs` for
        that batch.

    Returns:
      A `tf.types.experimental.ConcreteFunction`; its `graph` is the
      iteration and its outputs are the metrics a call returns.
    """
    n = self.variant.n_critic
    return tf.function(self.iteration).get_concrete_function(
        (batch_spec,) * n, (inputs_spec,) * n)

  # ---- one replica's iteration ------------------------------------------

  def iteration(self, batches, inputs) -> base.Metrics:
    """One replica's GAN iteration: a discriminator update per batch and
    its random inputs (`n_critic` of each), then a generator update on the
    last, each cut into `updates_per_batch` slices. The executors run it in
    `strategy.run`; returns the last updates' metrics."""
    for batch, batch_inputs in zip(batches, inputs):
      for piece in self._slices(batch, batch_inputs):
        d_metrics = self.discriminator_step(*piece)
    for piece in self._slices(batches[-1], inputs[-1]):
      g_metrics = self.generator_step(*piece)
    return {**d_metrics, **g_metrics}

  def _slices(self, batch, inputs):
    """(batch, inputs) cut into `updates_per_batch` equal slices, in order."""
    n = self.options.updates_per_batch
    if n == 1:
      return [(batch, inputs)]

    def cut(structure):
      parts = [tf.split(t, n, axis=0) for t in tf.nest.flatten(structure)]
      return [tf.nest.pack_sequence_as(structure, [p[i] for p in parts])
              for i in range(n)]
    return list(zip(cut(batch), cut(inputs)))

  # ---- one network's update (per replica) ----------------------------

  def discriminator_step(self, batch, inputs) -> base.Metrics:
    """One discriminator update on one replica's batch and random inputs.

    Differentiates `variant.discriminator_loss` w.r.t.
    `variant.discriminator_variables` only; the generator's trainable
    variables are never touched. Called by the iteration; public so a custom
    schedule can call it directly (eagerly or in its own `tf.function`).

    Returns:
      `d_loss` (this replica's mean), `d_grad_norm` (the global norm of this
      replica's gradient, the loss scaled by 1/replicas) and the variant's
      discriminator metrics.
    """
    return _update("d", self.variant.discriminator_loss,
                   self.variant.discriminator_variables, self.d_optimizer,
                   batch, inputs)

  def generator_step(self, batch, inputs) -> base.Metrics:
    """One generator update; the mirror of `discriminator_step`."""
    return _update("g", self.variant.generator_loss,
                   self.variant.generator_variables, self.g_optimizer,
                   batch, inputs)


def _update(prefix, loss_fn, variables, optimizer, batch,
            inputs) -> base.Metrics:
  """Differentiates `loss_fn` w.r.t. `variables` only and applies it.

  Under a `LossScaleOptimizer` the loss, and the inner gradient of a
  penalty (`precision.scale_inner`), are multiplied by its loss scale; the
  metrics then add `<prefix>_loss_scale`, and an update it skips for
  non-finite gradients reports a gradient norm of 0.
  """
  scale = precision_lib.loss_scale(optimizer)
  with tf.GradientTape() as tape, precision_lib.inner_scale(scale):
    out = loss_fn(batch, inputs)
    loss = distribute.global_average(precision_lib.to_float32(out.per_example))
    scaled = loss if scale is None else optimizer.scale_loss(loss)
  grads = tape.gradient(scaled, variables)
  optimizer.apply_gradients(zip(grads, variables))
  norm = tf.linalg.global_norm(grads)
  metrics = {f"{prefix}_loss": distribute.replica_mean(loss),
             f"{prefix}_grad_norm": norm, **out.metrics}
  if scale is not None:
    metrics.update(precision_lib.scaled_update_metrics(prefix, norm, scale,
                                                       optimizer))
  return metrics
