"""The train step: the research API.

    variant = gantape.variants.build("dcgan")
    d_opt, g_opt = gantape.optimizers.make_optimizers(variant)
    step = gantape.step.TrainStep(variant, d_opt, g_opt, seed=0)
    iterator = step.make_iterator(variant.make_dataset(mnist, batch_size=64, seed=0))
    metrics = step(iterator, num_iterations=100)   # 100 GAN iterations, one call

One iteration is `variant.n_critic` discriminator updates, each on a fresh real
batch and fresh random inputs, then one generator update that reuses the last
of those (the seed reuses the discriminator's noise for the generator). Each
update differentiates its network's loss with respect to that network's
trainable variables only, with both networks in training mode.

`num_iterations` is fed as a tensor to a `tf.range` loop inside one
`tf.function`, so calls with any count share one trace. Randomness comes from a
seeded `tf.random.Generator` drawn outside the XLA cluster, so a run with
`jit_compile=True` sees the same noise as one without.

Under a `tf.distribute.Strategy` the same code runs `strategy.run` per
iteration; losses are averaged over the global batch with
`tf.nn.compute_average_loss`, and the random inputs are drawn once for the
global batch and sliced per replica, so N replicas see the same examples and
noise as one device would.
"""

from typing import Dict, Optional

import keras
import tensorflow as tf

from gantape import data as data_lib
from gantape import precision as precision_lib
from gantape.errors import UsageError
from gantape.variants import base


# The most iterations one XLA launch runs on device input. XLA compiles a
# program per input shape, so a run's random inputs always fill a block of
# this many iterations' draws, whatever the run's length.
QUEUED_RUN_ITERATIONS = 64


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


def _check_schedule(updates_per_batch, jit_compile: bool,
                    strategy: tf.distribute.Strategy) -> None:
  """Raises UsageError for a bad updates_per_batch, or XLA asked for on a
  multi-replica strategy other than TPU."""
  if not isinstance(updates_per_batch, int) or updates_per_batch < 1:
    raise UsageError(f"updates_per_batch must be a positive integer, got "
                     f"{updates_per_batch!r}.")
  is_tpu = isinstance(strategy, (tf.distribute.TPUStrategy,))
  if jit_compile and strategy.num_replicas_in_sync > 1 and not is_tpu:
    raise UsageError(
        "jit_compile=True runs on one replica (or TPU, which always "
        "compiles); drop it for a multi-replica strategy.")


def _average(per_example: tf.Tensor) -> tf.Tensor:
  """Mean over the global batch: sum / (per-replica batch x replicas)."""
  return tf.nn.compute_average_loss(per_example)


class TrainStep:
  """The compiled GAN train step over explicit variable lists.

  Attributes:
    variant: the variant it trains.
    global_step: int64 variable, +1 per GAN iteration.
    rng: the `tf.random.Generator` every random input is drawn from.
    strategy: the `tf.distribute.Strategy` it runs under.
  """

  def __init__(self, variant: base.Variant,
               d_optimizer: keras.optimizers.Optimizer,
               g_optimizer: keras.optimizers.Optimizer, *,
               seed: int = 0,
               strategy: Optional[tf.distribute.Strategy] = None,
               jit_compile: bool = False,
               updates_per_batch: int = 1,
               precision: Optional[str] = None):
    """Builds the step; variables and optimizer slots are created here.

    Args:
      variant: the variant to train. Build it (and the optimizers) inside
        `strategy.scope()` when `strategy` is given.
      d_optimizer: updates `variant.discriminator_variables` only.
      g_optimizer: updates `variant.generator_variables` only.
      seed: seeds the random-input generator.
      strategy: a `tf.distribute.Strategy`; default: the current one.
      jit_compile: compile each iteration's math with XLA; on device input
        (`make_input`), runs of up to `QUEUED_RUN_ITERATIONS` iterations.
      updates_per_batch: split each replica's batch and random inputs into
        this many equal slices and update each network once per slice (all
        discriminator updates, then all generator updates); 2 is the seed's
        schedule. The per-replica batch must divide evenly.
      precision: "float32", "mixed_float16" or "mixed_bfloat16", the Keras
        dtype policy the variant's networks were built under
        (`gantape.precision.policy`); None: theirs. mixed_float16 wraps
        both optimizers in a dynamic `keras.optimizers.LossScaleOptimizer`,
        which `d_optimizer`, `g_optimizer` and the checkpoint then hold.

    Raises:
      UsageError: the variable lists overlap or miss a variable, XLA is
        asked for on a multi-replica non-TPU strategy, updates_per_batch
        is not a positive integer, or the networks were built under another
        precision.
    """
    check_variable_partition(variant)
    self.precision = precision_lib.of_variant(variant, precision)
    d_optimizer = precision_lib.with_loss_scaling(d_optimizer, self.precision)
    g_optimizer = precision_lib.with_loss_scaling(g_optimizer, self.precision)
    self.strategy = strategy or tf.distribute.get_strategy()
    _check_schedule(updates_per_batch, jit_compile, self.strategy)
    self.updates_per_batch = updates_per_batch
    self.variant = variant
    self.d_optimizer = d_optimizer
    self.g_optimizer = g_optimizer
    self.jit_compile = jit_compile
    self._create_state(seed)
    self._iteration = tf.function(self._replica_iteration,
                                  jit_compile=True if jit_compile else None)
    self._queued_loop = tf.function(self._replica_queued_loop,
                                    jit_compile=True)
    self._train = tf.function(self._train_loop)

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

  def make_iterator(self, dataset: tf.data.Dataset):
    """An iterator over `dataset` (global batches) distributed as needed.

    With several replicas each global batch is split into per-replica
    batches, in replica order. Across workers the split is by data (each
    worker runs the seeded pipeline and keeps its replicas' slices): the
    pipeline reads arrays in memory, not files, so there are no files to
    shard, and the replicas together see the batch one device would.

    Raises:
      UsageError: the global batch does not split evenly over the replicas
        and, on each, into `updates_per_batch` slices.
    """
    replicas = self.strategy.num_replicas_in_sync
    self._check_batch(tf.nest.flatten(dataset.element_spec)[0].shape[0])
    if replicas > 1:
      options = tf.data.Options()
      options.experimental_distribute.auto_shard_policy = (
          tf.data.experimental.AutoShardPolicy.DATA)
      dataset = self.strategy.experimental_distribute_dataset(
          dataset.with_options(options))
    return iter(dataset)

  def make_input(self, data: data_lib.Dataset, *, batch_size: int, seed: int,
                 input_pipeline: str = "host"):
    """An iterator of the variant's real batches of `data`, for `__call__`.

    Both pipelines give the same batches for the same seed. "host" is
    `make_iterator(variant.make_dataset(...))`. "device" keeps the arrays on
    the device and gathers each batch inside the step
    (`data.DeviceBatches` over `variant.input_streams`): no `tf.data`
    element or host-to-device copy per batch. Checkpoint either iterator
    beside `checkpoint_items()` for an exact resume.

    Args:
      data: the in-memory dataset.
      batch_size: the global batch size.
      seed: seeds the data order.
      input_pipeline: one of `data.INPUT_PIPELINES`.

    Raises:
      UsageError: an unknown pipeline, or a batch that does not split over
        the replicas and updates; "device" under a multi-replica strategy
        or for a variant that overrides `make_dataset`.
    """
    variant = self.variant
    if input_pipeline not in data_lib.INPUT_PIPELINES:
      raise UsageError(
          f"unknown input_pipeline {input_pipeline!r}; choose one of "
          f"{', '.join(data_lib.INPUT_PIPELINES)}.")
    if input_pipeline == "host":
      return self.make_iterator(variant.make_dataset(
          data, batch_size=batch_size, seed=seed))
    replicas = self.strategy.num_replicas_in_sync
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
    self._check_batch(batch_size)
    return data_lib.DeviceBatches(variant.input_streams(data, seed=seed),
                                  batch_size=batch_size,
                                  batches_per_iteration=variant.n_critic)

  def _check_batch(self, batch: Optional[int]) -> None:
    """Raises UsageError unless the global batch `batch` splits evenly over
    the replicas and, on each, into `updates_per_batch` slices."""
    replicas = self.strategy.num_replicas_in_sync
    if batch is not None and batch % replicas:
      raise UsageError(
          f"the global batch of {batch} does not split evenly over "
          f"{replicas} replicas; use a batch_size that is a multiple of "
          f"{replicas}, e.g. {max(1, batch // replicas) * replicas}.")
    slices = replicas * self.updates_per_batch
    if batch is not None and batch % slices:
      raise UsageError(
          f"the global batch of {batch} does not split into "
          f"{self.updates_per_batch} updates on each of {replicas} "
          f"replica(s); use a batch_size that is a multiple of {slices}.")

  def __call__(self, iterator, num_iterations=1) -> Dict[str, tf.Tensor]:
    """Runs `num_iterations` GAN iterations in one `tf.function` call.

    Args:
      iterator: from `make_iterator`.
      num_iterations: a positive int or int tensor; any value reuses the
        trace.

    Returns:
      Scalar metrics of the last iteration: `d_loss`, `g_loss`, the
      gradients' global norms `d_grad_norm` and `g_grad_norm`, and the
      variant's own (e.g. `d_real`, `d_fake`).
    """
    if not tf.is_tensor(num_iterations):
      if int(num_iterations) < 1:
        raise UsageError(
            f"num_iterations must be at least 1, got {num_iterations}.")
      num_iterations = tf.constant(int(num_iterations), tf.int32)
    return self._train(iterator, num_iterations)

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
    return tf.function(self._replica_iteration).get_concrete_function(
        (batch_spec,) * n, (inputs_spec,) * n)

  # ---- inside the tf.function ----------------------------------------

  def _train_loop(self, iterator, num_iterations):
    if (self.jit_compile and isinstance(iterator, data_lib.DeviceBatches)
        and self.strategy.num_replicas_in_sync == 1):
      return self._train_queued(iterator, num_iterations)
    # The first iteration is peeled off so the loop's metrics have a
    # structure to carry; `_iteration` is one traced function either way.
    metrics = self._one_iteration(iterator)
    for _ in tf.range(num_iterations - 1):
      metrics = self._one_iteration(iterator)
    return metrics

  def _one_iteration(self, iterator):
    batches, inputs = [], []
    for _ in range(self.variant.n_critic):
      batch = next(iterator)
      batches.append(batch)
      inputs.append(self._distributed_inputs(batch))
    per_replica = self.strategy.run(self._iteration,
                                    args=(tuple(batches), tuple(inputs)))
    self.global_step.assign_add(1)
    return self._reduce_mean(per_replica)

  def _train_queued(self, iterator, num_iterations):
    """`_train_loop` on device input under XLA: whole runs of iterations as
    one XLA computation each, between refills of the input queue.

    One XLA launch per iteration can cost as much as the iteration itself
    for a small network on a CPU (a launch passes every variable in and
    out), so the loop itself is compiled. The queue's refill cannot be (it reads a
    `tf.data` iterator) and neither can the random draws be moved in
    without changing their numbers (XLA's generator kernels differ), so
    both run before each compiled run: the batches and random inputs are
    those of the per-iteration path.
    """
    metrics, done = self._queued_run(iterator, num_iterations)
    while done < num_iterations:
      metrics, n = self._queued_run(iterator, num_iterations - done)
      done += n
    return metrics

  def _queued_run(self, iterator, most):
    """Up to `most` iterations on the queued batches, in one XLA launch."""
    iterator.reserve()
    n = tf.minimum(tf.minimum(most, QUEUED_RUN_ITERATIONS),
                   iterator.queued_batches() // self.variant.n_critic)
    inputs = self._draw_inputs(n, iterator.batch_size)
    per_replica = self.strategy.run(self._queued_loop,
                                    args=(iterator, inputs, n))
    self.global_step.assign_add(tf.cast(n, tf.int64))
    return self._reduce_mean(per_replica), n

  def _reduce_mean(self, per_replica):
    """Each metric's mean over the replicas."""
    return {k: self.strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
            for k, v in per_replica.items()}

  def _draw_inputs(self, n, batch_size):
    """The random inputs of n iterations, drawn in the per-iteration order:
    a tuple (one per critic update) of structures stacked on axis 0 into
    `QUEUED_RUN_ITERATIONS` rows, the last ones zeros when n is fewer."""
    def draw():
      return [self.variant.sample_inputs(self.rng, batch_size)
              for _ in range(self.variant.n_critic)]
    arrays = tf.nest.map_structure(
        lambda t: tf.TensorArray(t.dtype, size=QUEUED_RUN_ITERATIONS,
                                 element_shape=t.shape).write(0, t), draw())
    for i in tf.range(1, n):
      arrays = tf.nest.map_structure(lambda a, t: a.write(i, t), arrays,
                                     draw())
    return tuple(tf.nest.map_structure(lambda a: a.stack(), arrays))

  def _replica_queued_loop(self, iterator, inputs, n):
    def iteration(i):
      batches = tuple(iterator.next_queued() for _ in inputs)
      drawn = tuple(tf.nest.map_structure(lambda t: t[i], x) for x in inputs)
      return self._replica_iteration(batches, drawn)
    metrics = iteration(0)
    # A `while`, not a `for` over `tf.range(n)`: that loop has n as its
    # maximum_iterations, which XLA needs as a constant, so it would compile
    # one program per run length.
    i = tf.constant(1)
    while i < n:
      metrics = iteration(i)
      i += 1
    return metrics

  def _distributed_inputs(self, batch):
    """One global draw of the random inputs, sliced per replica."""
    local_images = self.strategy.experimental_local_results(batch["image"])[0]
    per_replica = tf.shape(local_images)[0]
    replicas = self.strategy.num_replicas_in_sync
    inputs = self.variant.sample_inputs(self.rng, per_replica * replicas)
    if replicas == 1:
      return inputs

    def replica_slice(ctx):
      start = ctx.replica_id_in_sync_group * per_replica
      return tf.nest.map_structure(lambda t: t[start:start + per_replica],
                                   inputs)
    return self.strategy.experimental_distribute_values_from_function(
        replica_slice)

  def _replica_iteration(self, batches, inputs):
    for batch, batch_inputs in zip(batches, inputs):
      for piece in self._slices(batch, batch_inputs):
        d_metrics = self.discriminator_step(*piece)
    for piece in self._slices(batches[-1], inputs[-1]):
      g_metrics = self.generator_step(*piece)
    return {**d_metrics, **g_metrics}

  def _slices(self, batch, inputs):
    """(batch, inputs) cut into `updates_per_batch` equal slices, in order."""
    n = self.updates_per_batch
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
    loss = _average(precision_lib.to_float32(out.per_example))
    scaled = loss if scale is None else optimizer.scale_loss(loss)
  grads = tape.gradient(scaled, variables)
  optimizer.apply_gradients(zip(grads, variables))
  norm = tf.linalg.global_norm(grads)
  metrics = {f"{prefix}_loss": _replica_mean(loss),
             f"{prefix}_grad_norm": norm, **out.metrics}
  if scale is not None:
    metrics.update(precision_lib.scaled_update_metrics(prefix, norm, scale,
                                                       optimizer))
  return metrics


def _replica_mean(global_average: tf.Tensor) -> tf.Tensor:
  """Undoes the division by replicas in `compute_average_loss`.

  The loss is divided by the global batch so that summed gradients are right;
  for logging we want this replica's mean, which the cross-replica MEAN then
  turns into the global mean.
  """
  replicas = tf.distribute.get_replica_context().num_replicas_in_sync
  return global_average * tf.cast(replicas, global_average.dtype)
