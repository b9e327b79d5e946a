"""How a `TrainStep` runs its iterations: two executors over the same
iteration (`TrainStep.iteration`), which its `StepOptions` choose between.

`HostLoop` runs on any iterator: K iterations per `tf.function` call in a
`tf.range` loop, so calls with any K share one trace; each iteration draws
its real batches, draws the random inputs once for the global batch and cuts
them per replica (`distribute.split_over_replicas`), and runs the iteration
with `strategy.run`, compiled with XLA under `jit_compile`.

`CompiledDeviceLoop` runs on `data.DeviceBatches` under XLA on one replica:
whole runs of up to `QUEUED_RUN_ITERATIONS` iterations as one XLA launch,
between refills of the device input's queue. It draws the same batches and
random inputs in the same order as `HostLoop`, so both train alike.

Randomness comes from the step's seeded `tf.random.Generator`, drawn outside
any XLA cluster, so a run sees the same noise with and without XLA.
"""

from typing import Dict

import tensorflow as tf

from gantape import data as data_lib
from gantape import distribute
from gantape.errors import UsageError

# The most iterations one XLA launch runs on device input. XLA compiles a
# program per input shape, so a run's random inputs always fill a block of
# this many iterations' draws, whatever the run's length.
QUEUED_RUN_ITERATIONS = 64


class HostLoop:
  """K iterations per call, one `strategy.run` of the iteration each.

  Attributes:
    train: the `tf.function(iterator, num_iterations)` that runs them and
      returns the last iteration's metrics, averaged over the replicas.
  """

  def __init__(self, step, *, jit_compile: bool = False):
    """Runs `step` (a `TrainStep`: its strategy, variant, rng, global_step
    and iteration); `jit_compile` compiles each iteration with XLA."""
    self._step = step
    self._iteration = tf.function(step.iteration,
                                  jit_compile=True if jit_compile else None)
    self.train = tf.function(self._train_loop)

  def check(self, iterator) -> None:
    """Any iterator of the step's global batches will do."""

  def _train_loop(self, iterator, num_iterations):
    # The first iteration is peeled off so the loop's metrics have a
    # structure to carry; `_iteration` is one traced function either way.
    metrics = self._one_iteration(iterator)
    for _ in tf.range(num_iterations - 1):
      metrics = self._one_iteration(iterator)
    return metrics

  def _one_iteration(self, iterator) -> Dict[str, tf.Tensor]:
    step = self._step
    batches, inputs = [], []
    for _ in range(step.variant.n_critic):
      batch = next(iterator)
      batches.append(batch)
      inputs.append(self._replica_inputs(batch))
    per_replica = step.strategy.run(self._iteration,
                                    args=(tuple(batches), tuple(inputs)))
    step.global_step.assign_add(1)
    return distribute.reduce_mean(step.strategy, per_replica)

  def _replica_inputs(self, batch):
    """One global draw of the random inputs for `batch`, cut per replica."""
    step = self._step
    local = step.strategy.experimental_local_results(batch["image"])[0]
    per_replica = tf.shape(local)[0]
    replicas = step.strategy.num_replicas_in_sync
    inputs = step.variant.sample_inputs(step.rng, per_replica * replicas)
    return distribute.split_over_replicas(step.strategy, inputs, per_replica)


class CompiledDeviceLoop:
  """Device input under XLA: whole runs of iterations as one XLA
  computation each, between refills of the input queue.

  One XLA launch per iteration can cost as much as the iteration itself for
  a small network on a CPU (a launch passes every variable in and out), so
  the loop itself is compiled. The queue's refill cannot be (it reads a
  `tf.data` iterator) and neither can the random draws be moved in without
  changing their numbers (XLA's generator kernels differ), so both run
  before each compiled run: the batches and random inputs are those of
  `HostLoop`.

  Attributes:
    train: the `tf.function(iterator, num_iterations)` that runs them and
      returns the last run's metrics.
  """

  def __init__(self, step):
    """Runs `step` (a `TrainStep` on one replica: its strategy, variant,
    rng, global_step and iteration)."""
    self._step = step
    self._queued_loop = tf.function(self._replica_queued_loop,
                                    jit_compile=True)
    self.train = tf.function(self._train_loop)

  def check(self, iterator) -> None:
    """Raises UsageError unless `iterator` is device input."""
    if not isinstance(iterator, data_lib.DeviceBatches):
      raise UsageError(
          f"the step runs on device input (input_pipeline='device' with "
          f"jit_compile), and got a {type(iterator).__name__}; make the "
          f"iterator with the step's make_input, or give the step "
          f"StepOptions(input_pipeline='host').")

  def _train_loop(self, iterator, num_iterations):
    metrics, done = self._queued_run(iterator, num_iterations)
    while done < num_iterations:
      metrics, n = self._queued_run(iterator, num_iterations - done)
      done += n
    return metrics

  def _queued_run(self, iterator, most):
    """Up to `most` iterations on the queued batches, in one XLA launch."""
    step = self._step
    iterator.reserve()
    n = tf.minimum(tf.minimum(most, QUEUED_RUN_ITERATIONS),
                   iterator.queued_batches() // step.variant.n_critic)
    inputs = self._draw_inputs(n, iterator.batch_size)
    per_replica = step.strategy.run(self._queued_loop,
                                    args=(iterator, inputs, n))
    step.global_step.assign_add(tf.cast(n, tf.int64))
    return distribute.reduce_mean(step.strategy, per_replica), n

  def _draw_inputs(self, n, batch_size):
    """The random inputs of n iterations, drawn in `HostLoop`'s order: a
    tuple (one per critic update) of structures stacked on axis 0 into
    `QUEUED_RUN_ITERATIONS` rows, the last ones zeros when n is fewer."""
    variant, rng = self._step.variant, self._step.rng

    def draw():
      return [variant.sample_inputs(rng, batch_size)
              for _ in range(variant.n_critic)]
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
      return self._step.iteration(batches, drawn)
    metrics = iteration(0)
    # A `while`, not a `for` over `tf.range(n)`: that loop has n as its
    # maximum_iterations, which XLA needs as a constant, so it would compile
    # one program per run length.
    i = tf.constant(1)
    while i < n:
      metrics = iteration(i)
      i += 1
    return metrics
