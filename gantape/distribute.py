"""Choosing a `tf.distribute.Strategy`, and what each worker writes.

gantape runs its one train step on TensorFlow's own distribution engine:

    strategy = gantape.distribute.make_strategy("mirrored")  # first TF call
    gantape.train.train(config, strategy=strategy)

    default       the default strategy: one device
    mirrored      tf.distribute.MirroredStrategy: every local GPU
    multiworker   tf.distribute.MultiWorkerMirroredStrategy: every GPU of
                  every worker in the cluster that `TF_CONFIG` describes
    tpu           tf.distribute.TPUStrategy: every TPU core

`TrainConfig.batch_size` is always the global batch: each of N replicas gets
`batch_size / N` examples per update, and the loss is averaged over the global
batch, so one step means the same on any number of replicas.

Multi-worker runs follow TensorFlow's rules for files: every worker writes a
checkpoint whenever the chief does (a save may need collectives from all of
them), the chief into the run's workdir and each other worker into a
temporary folder of its own (`worker_workdir`), deleted at the end; every
worker resumes from the chief's checkpoints (`WorkerCheckpointManager`).
Samples, summaries and metrics come from the chief alone.

The train step's replica arithmetic lives here too: a loss is averaged over
the global batch (`global_average`) so that the replicas' summed gradients are
one device's, logged per replica (`replica_mean`) and averaged over the
replicas (`reduce_mean`); random inputs are drawn once for the global batch
and cut per replica (`split_over_replicas`), so N replicas see the numbers one
device would.
"""

import os
import shutil
from typing import Any, Dict, Optional

import tensorflow as tf

from gantape.errors import UsageError

STRATEGIES = ("default", "mirrored", "multiworker", "tpu")
# Inside a run's workdir: where the non-chief workers of a multi-worker run
# write what TensorFlow makes them write; deleted when they finish.
WORKER_TMP_DIR = ".worker_tmp"


def make_strategy(name: str = "default", *,
                  tpu: Optional[str] = None) -> tf.distribute.Strategy:
  """Builds the strategy `name`; call it before any other TensorFlow work.

  MultiWorkerMirroredStrategy and TPU initialization must come before any op
  runs, so scripts call this first.

  Args:
    name: one of `STRATEGIES`.
    tpu: for "tpu": the TPU's name or `grpc://host:port` address; "local"
      for a TPU VM; None lets the resolver find it (Cloud TPU environment
      variables).

  Returns:
    The strategy.

  Raises:
    UsageError: an unknown name, `tpu` given without "tpu", a malformed
      `TF_CONFIG`, or no TPU at `tpu`.
  """
  if name not in STRATEGIES:
    raise UsageError(f"unknown strategy {name!r}; choose one of: "
                     f"{', '.join(STRATEGIES)}.")
  if tpu is not None and name != "tpu":
    raise UsageError(f"--tpu={tpu!r} needs --strategy=tpu, not {name!r}.")
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    return tf.distribute.MirroredStrategy()
  if name == "multiworker":
    try:
      return tf.distribute.MultiWorkerMirroredStrategy()
    except (ValueError, KeyError, TypeError) as e:
      raise UsageError(
          f"cannot build MultiWorkerMirroredStrategy from TF_CONFIG "
          f"({type(e).__name__}: {e}); set TF_CONFIG on every worker to "
          f'{{"cluster": {{"worker": ["host1:port", "host2:port"]}}, '
          f'"task": {{"type": "worker", "index": <this worker>}}}}.') from None
  try:
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
        tpu=tpu or "")
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
  except (ValueError, tf.errors.OpError) as e:
    raise UsageError(
        f"no TPU found at {tpu or '(auto-detected)'} ({type(e).__name__}: "
        f"{str(e).strip().splitlines()[0] if str(e).strip() else ''}); pass "
        f"--tpu=<name or grpc://host:8470>, or --tpu=local on a TPU VM."
    ) from None
  return tf.distribute.TPUStrategy(resolver)


def is_chief(strategy: Optional[tf.distribute.Strategy] = None) -> bool:
  """Whether this process writes the run's files (samples, logs, checkpoints).

  True except on the non-chief workers of a multi-worker strategy.
  """
  strategy = strategy or tf.distribute.get_strategy()
  return bool(strategy.extended.should_checkpoint)


def task_id(strategy: Optional[tf.distribute.Strategy] = None) -> int:
  """This worker's index in its cluster (0 without a cluster)."""
  strategy = strategy or tf.distribute.get_strategy()
  resolver = strategy.cluster_resolver
  if resolver is None or resolver.task_id is None:
    return 0
  return int(resolver.task_id)


def worker_workdir(workdir: str,
                   strategy: Optional[tf.distribute.Strategy] = None) -> str:
  """Where this worker writes: `workdir` on the chief, else a private folder.

  A non-chief worker gets `workdir/.worker_tmp/<task_id>`, emptied now so it
  starts clean; `cleanup_worker_workdir` deletes it at the end.
  """
  if is_chief(strategy):
    return workdir
  path = os.path.join(workdir, WORKER_TMP_DIR, str(task_id(strategy)))
  shutil.rmtree(path, ignore_errors=True)
  os.makedirs(path, exist_ok=True)
  return path


def cleanup_worker_workdir(workdir: str,
                           strategy: Optional[tf.distribute.Strategy] = None
                           ) -> None:
  """Deletes this worker's private folder (nothing on the chief)."""
  if is_chief(strategy):
    return
  path = os.path.join(workdir, WORKER_TMP_DIR, str(task_id(strategy)))
  shutil.rmtree(path, ignore_errors=True)
  try:
    os.rmdir(os.path.join(workdir, WORKER_TMP_DIR))  # only when empty
  except OSError:
    pass


def num_workers(strategy: Optional[tf.distribute.Strategy] = None) -> int:
  """How many processes run `strategy` together (1 but for multi-worker).

  A TPU strategy has one client process however many hosts it spans.
  """
  strategy = strategy or tf.distribute.get_strategy()
  resolver = strategy.cluster_resolver
  if resolver is None or isinstance(strategy, tf.distribute.TPUStrategy):
    return 1
  spec = resolver.cluster_spec().as_dict()
  return max(1, sum(len(spec.get(job, ())) for job in ("chief", "worker")))


def same_on_all_workers(value: float,
                        strategy: Optional[tf.distribute.Strategy] = None
                        ) -> float:
  """`value` made identical on every worker: their mean, all-reduced.

  Each worker computes the training-time evaluation by itself, and its float
  can differ in the last bits from another's (GPU kernels are not bitwise
  reproducible). A decision taken on it that involves a collective, such as
  saving a checkpoint, must be the same everywhere. Returns `value` itself in
  a single process.
  """
  strategy = strategy or tf.distribute.get_strategy()
  if num_workers(strategy) == 1:
    return value
  values = strategy.experimental_distribute_values_from_function(
      lambda _: tf.constant(value, tf.float64))
  return float(strategy.reduce(tf.distribute.ReduceOp.MEAN, values,
                               axis=None).numpy())


def barrier(strategy: Optional[tf.distribute.Strategy] = None) -> None:
  """Returns once every worker of a multi-worker `strategy` has reached it.

  The training loop calls it between reading the chief's checkpoint list and
  the chief's first save, so all workers decide alike whether they resume.
  A no-op in a single process.
  """
  strategy = strategy or tf.distribute.get_strategy()
  if num_workers(strategy) == 1:
    return
  value = strategy.experimental_distribute_values_from_function(
      lambda _: tf.constant(1.0))
  strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None).numpy()


class WorkerCheckpointManager:
  """A non-chief worker's checkpoints: resumes the chief's, saves its own.

  Wraps the worker's own `tf.train.CheckpointManager` (in its private
  folder) and reads the chief's checkpoint list, so the loop treats it as the
  chief treats its manager: `checkpoints`, `directory` and, until this worker
  first saves, `latest_checkpoint` are the chief's; `save` writes privately.
  Every worker therefore restores the same checkpoint and takes the same
  save decisions as the chief.
  """

  def __init__(self, own: tf.train.CheckpointManager,
               checkpoint: tf.train.Checkpoint, chief_directory: str):
    """Wraps `own`.

    Args:
      own: this worker's manager, in its private folder.
      checkpoint: the `tf.train.Checkpoint` both managers handle.
      chief_directory: the chief's checkpoint folder, read only.
    """
    self._own = own
    # max_to_keep=None: this manager never saves, so it never deletes.
    self._chief = tf.train.CheckpointManager(checkpoint, chief_directory,
                                             max_to_keep=None)

  @property
  def checkpoints(self):
    return self._chief.checkpoints

  @property
  def directory(self):
    return self._chief.directory

  @property
  def latest_checkpoint(self):
    return self._own.latest_checkpoint or self._chief.latest_checkpoint

  def save(self, *args, **kwargs):
    return self._own.save(*args, **kwargs)

  def __getattr__(self, name):
    return getattr(self._own, name)


def global_average(per_example: tf.Tensor) -> tf.Tensor:
  """Mean over the global batch: sum / (per-replica batch x replicas)."""
  return tf.nn.compute_average_loss(per_example)


def replica_mean(average: tf.Tensor) -> tf.Tensor:
  """This replica's mean of a `global_average`: undoes its division by the
  replicas.

  The loss is divided by the global batch so that summed gradients are right;
  for logging we want this replica's mean, which the cross-replica MEAN then
  turns into the global mean.
  """
  replicas = tf.distribute.get_replica_context().num_replicas_in_sync
  return average * tf.cast(replicas, average.dtype)


def reduce_mean(strategy: tf.distribute.Strategy,
                per_replica: Dict[str, Any]) -> Dict[str, tf.Tensor]:
  """Each metric's mean over the replicas."""
  return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
          for k, v in per_replica.items()}


def split_over_replicas(strategy: tf.distribute.Strategy, values: Any,
                        rows_per_replica: tf.Tensor) -> Any:
  """`values`, a structure of tensors drawn for the global batch, cut into
  `rows_per_replica` rows per replica, in replica order; `values` itself on
  one replica."""
  if strategy.num_replicas_in_sync == 1:
    return values

  def replica_slice(ctx):
    start = ctx.replica_id_in_sync_group * rows_per_replica
    return tf.nest.map_structure(
        lambda t: t[start:start + rows_per_replica], values)
  return strategy.experimental_distribute_values_from_function(replica_slice)
