"""What a training run does between calls of the step, one class each.

Each is an action of `runner.Runner`: called with a `runner.Progress` after
the calls that end at its interval (`every`), or after every call when it
has none. `loop.train` builds them, in the order they run:

  UpdateEma        the generator's moving average, after every call
  NonFiniteGuard   a NaN/Inf metric: plot, name the first bad iteration, raise
  LogProgress      a progress line and a metrics record, every --log_every
  Evaluate         FCD and friends, and the best checkpoint, every --eval_every
  SampleGrids      a grid of fixed-noise samples, every --sample_every
  SaveCheckpoint   a checkpoint, every --checkpoint_every
  SaturationWarning  one warning when both gradients stay ~0 for long
"""

import math
import os
import time
from typing import Callable, Optional, Sequence

import tensorflow as tf

from gantape import distribute as distribute_lib
from gantape import ema as ema_lib
from gantape import optimizers as optimizers_lib
from gantape import step as step_lib
from gantape import variants
from gantape.errors import NonFiniteLossError
from gantape.training import checkpoint_files
from gantape.training import checkpoints
from gantape.training import curves
from gantape.training import samples as samples_lib
from gantape.training import summaries
from gantape.training import workdir as workdir_lib
from gantape.training.runner import Action, Progress
from gantape.variants import base

Log = Callable[[str], None]
# Images in a sample grid: 10 x 10, row r asking for digit r.
GRID_SIZE = 100


def plot_curves(workdir: str, title: str, log: Log) -> None:
  """Writes loss_curves.png; a plotting failure must not fail the run."""
  try:
    curves.plot_metrics(os.path.join(workdir, curves.METRICS_FILE),
                        os.path.join(workdir, workdir_lib.CURVES_FILE),
                        title=title)
  except Exception as e:  # pylint: disable=broad-except
    log(f"warning: could not plot the loss curves ({type(e).__name__}: {e}).")


class UpdateEma(Action):
  """Moves the networks' averages by the iterations of the last call."""

  def __init__(self, averages: Sequence[ema_lib.ModelEma]):
    self._averages = averages

  def __call__(self, progress: Progress) -> None:
    for average in self._averages:
      average.update(progress.iteration - progress.previous,
                     step=progress.iteration)


class LogProgress(Action):
  """A progress line and a metrics record (with the speed), every `every`.

  Also at the last iteration, and as a line alone (no record) between
  boundaries: the first `FIRST_LINE_SECONDS` after tracing, then whenever
  none came for `QUIET_SECONDS`, so a slow run shows progress from its
  start. The speed is over the iterations since the previous line; the ETA
  uses the average speed since the step was traced (`Progress.traced`), so
  tracing does not count.
  """
  at_end = True
  between_boundaries = True
  FIRST_LINE_SECONDS = 5.0
  QUIET_SECONDS = 30.0

  def __init__(self, every: int, sink: summaries.MetricsSink, log: Log, *,
               name: str, start: int, clock: Callable[[], float] = time.perf_counter):
    self.every = every
    self._sink = sink
    self._log = log
    self._name = name
    self._clock = clock
    self._last_time = self._start_time = clock()
    self._last_done = self._start_done = start
    self._lines = 0

  def _since_tracing(self, progress: Progress):
    """(iteration, time) the rates start from: tracing's end if known."""
    if progress.traced is not None and progress.traced[0] < progress.iteration:
      return progress.traced
    return self._start_done, self._start_time

  def __call__(self, progress: Progress) -> None:
    done, total = progress.iteration, progress.total
    now = self._clock()
    if progress.partial:
      wait = self.QUIET_SECONDS if self._lines else self.FIRST_LINE_SECONDS
      if progress.traced is None or now - max(
          self._last_time, progress.traced[1]) < wait:
        return
    if self._lines == 0 and progress.traced is not None:
      self._last_done, self._last_time = self._since_tracing(progress)
    rate = (done - self._last_done) / max(now - self._last_time, 1e-9)
    self._last_time, self._last_done = now, done
    self._lines += 1
    since_done, since_time = self._since_tracing(progress)
    eta = (total - done) / max(
        (done - since_done) / max(now - since_time, 1e-9), 1e-9)
    if not progress.partial:
      self._sink.write(done, progress.metrics,
                       timing={"iterations_per_s": rate})
    self._log(f"[{self._name}] {done}/{total} "
              + " ".join(f"{k}={v:.4f}" for k, v in progress.metrics.items())
              + f" | {rate:.2f} it/s | ETA {_format_seconds(eta)}")


def _format_seconds(seconds: float) -> str:
  seconds = int(seconds)
  return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Evaluate(Action):
  """Scores samples every `every` iterations and keeps the best networks.

  The scores go to the sink; a lower FCD than any so far (across resumes)
  saves the networks into the `BestCheckpoint`.
  """

  def __init__(self, every: int, evaluator, best: checkpoints.BestCheckpoint,
               best_dir: str, sink: summaries.MetricsSink, log: Log, *,
               sampler: base.Variant, live_variant: Optional[base.Variant],
               strategy: Optional[tf.distribute.Strategy] = None):
    """Sets up the evaluation; the evaluator is built by the caller.

    Args:
      every: iterations between evaluations.
      evaluator: `TrainingEvaluator`-like: (variant, step, live_variant=,
        best_fcd=) -> {"eval/fcd": ..., ...}.
      best: where the lowest-FCD networks go.
      best_dir: its folder, for the log line.
      sink: where the scores go.
      log: where the log line goes.
      sampler: the variant samples are drawn from (the EMA view if any).
      live_variant: the live generator's variant when `sampler` is an EMA
        view, scored too; else None.
      strategy: all workers take the chief's decision to save.
    """
    self.every = every
    self._evaluator = evaluator
    self._best = best
    self._best_dir = best_dir
    self._sink = sink
    self._log = log
    self._sampler = sampler
    self._live_variant = live_variant
    self._strategy = strategy

  def __call__(self, progress: Progress) -> None:
    done = progress.iteration
    lowest = float(self._best.fcd.numpy())  # inf before any evaluation
    scores = self._evaluator(
        self._sampler, done, live_variant=self._live_variant,
        best_fcd=lowest if math.isfinite(lowest) else None)
    self._sink.write(done, scores)
    fcd = distribute_lib.same_on_all_workers(scores["eval/fcd"],
                                             self._strategy)
    if self._best.offer(fcd, done):
      self._log(f"[eval] lowest FCD so far; kept in {self._best_dir}/")


class SampleGrids(Action):
  """A grid of samples from fixed noise, every `every` iterations.

  The noise (and, for conditional variants, row r's digit r) is the same at
  every grid, so successive grids show the generator change.
  """

  def __init__(self, every: int, sampler: base.Variant, folder: str,
               sink: summaries.MetricsSink, *, seed: int):
    self.every = every
    self._sampler = sampler
    self._folder = folder
    self._sink = sink
    self._seed = seed
    os.makedirs(folder, exist_ok=True)

  def write(self, name: str, step: int) -> str:
    """Writes a grid to `<folder>/<name>` and TensorBoard; returns its path."""
    labels = (samples_lib.grid_labels(GRID_SIZE, 10,
                                      self._sampler.num_classes)
              if self._sampler.conditional else None)
    grid = samples_lib.tile(samples_lib.generate(
        self._sampler, GRID_SIZE, seed=self._seed, labels=labels))
    path = os.path.join(self._folder, name)
    samples_lib.write_png(path, grid)
    self._sink.image("samples", grid, step=step)
    return path

  def __call__(self, progress: Progress) -> None:
    self.write(f"step_{progress.iteration:07d}.png", progress.iteration)


class SaveCheckpoint(Action):
  """A checkpoint every `every` iterations, numbered by the iteration."""

  def __init__(self, every: int, manager: tf.train.CheckpointManager):
    self.every = every
    self._manager = manager

  def __call__(self, progress: Progress) -> None:
    checkpoint_files.save(self._manager, progress.iteration)

  @property
  def latest(self) -> Optional[str]:
    """The newest checkpoint's path, or None."""
    return self._manager.latest_checkpoint

  def save_unless_saved(self, step: int) -> None:
    """Saves at `step` unless the latest checkpoint is of `step`."""
    if self.latest is None or not self.latest.endswith(f"-{step}"):
      checkpoint_files.save(self._manager, step)


class NonFiniteGuard(Action):
  """Stops the run at a NaN or Inf metric, naming the first bad iteration.

  Runs after every call, before anything saves, so the latest checkpoint is
  the last good one. It plots the curves so far, replays the call's
  iterations one by one from that checkpoint when the call ran several (the
  step reports only the last iteration's metrics), and raises
  `NonFiniteLossError`.
  """

  def __init__(self, train_step: step_lib.TrainStep, iterator,
               checkpoint: tf.train.Checkpoint,
               manager: tf.train.CheckpointManager, log: Log, *,
               workdir: str, variant_name: str, iterator_saved: bool):
    """Sets up the guard.

    Args:
      train_step, iterator: the run's step and data iterator.
      checkpoint: what `manager` saves, restored for the replay.
      manager: the run's checkpoints.
      log: where the replay's note goes.
      workdir: where the curves go.
      variant_name: the run's variant, for the message.
      iterator_saved: whether checkpoints hold the iterator; without it a
        replay would not see the same batches, so none is tried.
    """
    self._step = train_step
    self._iterator = iterator
    self._checkpoint = checkpoint
    self._manager = manager
    self._log = log
    self._workdir = workdir
    self._variant_name = variant_name
    self._iterator_saved = iterator_saved

  def __call__(self, progress: Progress) -> None:
    if all(math.isfinite(v) for v in progress.metrics.values()):
      return
    plot_curves(self._workdir, self._variant_name, self._log)
    raise self._error(progress)

  def _error(self, progress: Progress) -> NonFiniteLossError:
    before, done = progress.previous, progress.iteration
    latest = self._manager.latest_checkpoint
    metrics, found = progress.metrics, None
    if done - before > 1 and self._iterator_saved:
      self._log(f"Non-finite metric in iterations {before + 1}..{done}; "
                f"replaying from {latest} to find the first one.")
      found = self._first_non_finite(latest, before, done)
    if found is not None:
      where, metrics = found
      where = f"at iteration {where}"
    elif done - before == 1:
      where = f"at iteration {done}"
    else:
      where = f"in iterations {before + 1}..{done}"
    bad = ", ".join(f"{k}={v}" for k, v in sorted(metrics.items())
                    if not math.isfinite(v))
    return NonFiniteLossError(
        f"non-finite loss {where}: {bad}. Training stopped; the latest "
        f"checkpoint, {latest}, is the last good one. Lower --learning_rate "
        f"and rerun to resume from it{_other_variants(self._variant_name)}.")

  def _first_non_finite(self, latest: Optional[str], before: int, done: int):
    """Replays from `latest` to find the first iteration with a bad metric.

    Restores the last good checkpoint (the iterator included), runs up to
    `before` in one call and then one iteration per call. Training stops
    afterwards, so moving the in-memory state is harmless.

    Returns:
      (iteration, metrics) of the first non-finite iteration, or None when
      the replay does not reproduce it (nondeterministic kernels) or cannot
      run.
    """
    if latest is None:
      return None
    # The checkpoint holds the learning rates it was saved with, which a
    # resume may have changed: replay at this run's.
    with optimizers_lib.rates_kept((self._step.d_optimizer,
                                    self._step.g_optimizer)):
      self._checkpoint.restore(latest)
    start = int(self._step.global_step.numpy())
    if start < before:
      out = self._step(self._iterator, before - start)
      if not all(math.isfinite(float(v)) for v in out.values()):
        return None
    for iteration in range(before + 1, done + 1):
      metrics = {k: float(v)
                 for k, v in self._step(self._iterator, 1).items()}
      if not all(math.isfinite(v) for v in metrics.values()):
        return iteration, metrics
    return None


class SaturationWarning(Action):
  """Warns once when both gradient norms stay ~0 for `iterations` or more.

  A saturated discriminator (outputs pinned at 0 or 1) passes no gradient
  to either network, and the losses can look calm while nothing learns.
  The step reports each call's last iteration, so a streak counts the calls
  whose last iteration had both `d_grad_norm` and `g_grad_norm` below
  `threshold`; one warning per streak.
  """

  def __init__(self, log: Log, *, variant_name: str, iterations: int = 300,
               threshold: float = 1e-6):
    self._log = log
    self._variant_name = variant_name
    self._iterations = iterations
    self._threshold = threshold
    self._since: Optional[int] = None
    self._warned = False

  def __call__(self, progress: Progress) -> None:
    norms = [progress.metrics.get(k) for k in ("d_grad_norm", "g_grad_norm")]
    if any(n is None or not abs(n) < self._threshold for n in norms):
      self._since, self._warned = None, False
      return
    if self._since is None:
      self._since = progress.previous
    if (not self._warned
        and progress.iteration - self._since >= self._iterations):
      self._warned = True
      self._log(
          f"warning: d_grad_norm and g_grad_norm have stayed below "
          f"{self._threshold:g} since iteration {self._since} "
          f"({progress.iteration - self._since} iterations): the "
          f"discriminator saturated and neither network is learning. Resume "
          f"an earlier checkpoint with a lower --learning_rate (--resume_from "
          f"in a new --workdir){_other_variants(self._variant_name)}.")


def _other_variants(name: str) -> str:
  """The error's hint: the variants that declare `suggested_for_divergence`."""
  others = [other for other in variants.names() if other != name
            and variants.get_class(other).suggested_for_divergence]
  if not others:
    return ""
  return (", or try " + " or ".join(f"--variant={o}" for o in others)
          + " in a new --workdir")
