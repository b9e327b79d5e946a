"""The training loop: a thin controller around `TrainStep`.

It owns what the step does not: the data, checkpoints (restored before the
first iteration), TensorBoard summaries, a JSON-lines metrics file, sample
grids, progress lines and the guard against non-finite losses. The step runs
`iterations_per_call` iterations per call; the loop shortens a call so that
every logging, sampling and checkpoint boundary is hit exactly.

Workdir layout:
    run.json             the config of the run (checked on resume)
    flags.txt            the script's flags, for `--flagfile` (scripts only)
    checkpoints/         tf.train.CheckpointManager files
    best/                the networks at the lowest --eval_every FCD so far
    metrics.jsonl        one JSON object per log line
    loss_curves.png      metrics.jsonl plotted, at the end (and on a stop)
    samples/             step_XXXXXXX.png grids from fixed noise, and final.png
    events.*             TensorBoard summaries

Faults: a NaN/Inf metric stops the run (`NonFiniteLossError`) without saving,
so the latest checkpoint is the last good one; SIGINT/SIGTERM write a
checkpoint and raise `Interrupted`; a run killed outright resumes from the
newest checkpoint the `checkpoint` state file lists, which TensorFlow only
updates once a checkpoint's files are complete.
"""

import dataclasses
import json
import math
import os
import shutil
import signal
import threading
import time
from typing import Any, Dict, Optional

import keras
import tensorflow as tf

from gantape import checkpoints
from gantape import data as data_lib
from gantape import distribute as distribute_lib
from gantape import ema as ema_lib
from gantape import evaluation
from gantape import step as step_lib
from gantape import variants
from gantape.training import curves
from gantape.training import samples as samples_lib
from gantape.training import summaries
from gantape.training.config import TrainConfig, total_iterations
from gantape.errors import Interrupted, NonFiniteLossError, UsageError

RUN_FILE = "run.json"
FLAGS_FILE = "flags.txt"
METRICS_FILE = curves.METRICS_FILE
CURVES_FILE = "loss_curves.png"


@dataclasses.dataclass(frozen=True)
class TrainResult:
  """What `train` returns: the trained step and where things went."""
  step: step_lib.TrainStep
  final_metrics: Dict[str, float]
  final_grid: str
  iterations: int


def _run_record(config: TrainConfig) -> Dict[str, Any]:
  record = dataclasses.asdict(config)
  record.pop("workdir")
  return record


def _start_from(items: Dict[str, Any], config: TrainConfig, log) -> None:
  """Restores `config.resume_from` into `items`.

  Also copies the source run's metric records up to that iteration.

  Raises:
    UsageError: the checkpoint does not fit this run (another variant, or
      an EMA in one run and not in the other).
  """
  path = config.resume_from
  names = [name for name, _ in tf.train.list_variables(path)]
  has_ema = any(n.startswith("ema_generator/") for n in names)
  if has_ema != ("ema_generator" in items):
    raise UsageError(
        f"resume_from={path!r} was written {'with' if has_ema else 'without'} "
        f"an EMA generator and this run is {'not ' if has_ema else ''}using "
        f"one; pass " + ("an --ema_decay > 0 (e.g. 0.999)" if has_ema else
                         "--ema_decay=0") + " as that run did.")
  reason = checkpoints.try_restore(
      _without_missing_iterator(items, path, log), path)
  if reason is not None:
    raise UsageError(
        f"resume_from={path!r} cannot be restored into a {config.variant!r} "
        f"run with options {config.variant_options} ({reason}); start from "
        f"a checkpoint of the same variant.")
  step = int(items["global_step"].numpy())
  source = os.path.join(os.path.dirname(os.path.dirname(path)), METRICS_FILE)
  target = os.path.join(config.workdir, METRICS_FILE)
  if os.path.exists(source) and not os.path.exists(target):
    shutil.copyfile(source, target)  # then cut to `step` by the caller
  log(f"Started from {path} (another run's checkpoint) at iteration {step}.")


def _check_workdir(config: TrainConfig) -> None:
  """Refuses a workdir that holds another variant's run."""
  path = os.path.join(config.workdir, RUN_FILE)
  if not os.path.exists(path):
    return
  try:
    with open(path) as f:
      previous = json.load(f)
    previous.get("variant")
  except (OSError, ValueError, AttributeError) as e:
    raise UsageError(
        f"{path} is unreadable ({type(e).__name__}: {e}); delete it to "
        f"resume this workdir (its checkpoints are still checked against "
        f"--variant), or use a new --workdir.") from None
  # Runs from before presets wrote ema_decay=None for "no EMA", no preset.
  previous["ema_decay"] = previous.get("ema_decay") or 0.0
  previous.setdefault("preset", config.preset)
  # Options that equal the variant's defaults build the same variant,
  # whether a flag or nothing set them.
  previous["variant_options"] = variants.nondefault_options(
      config.variant, previous.get("variant_options") or {})
  compared = dataclasses.replace(
      config, variant_options=variants.nondefault_options(
          config.variant, config.variant_options))
  for key in ("variant", "preset", "variant_options", "ema_decay"):
    if previous.get(key) != getattr(compared, key):
      raise UsageError(
          f"workdir {config.workdir!r} holds a run with {key}="
          f"{previous.get(key)!r}, not {getattr(config, key)!r}; use a new "
          f"--workdir, or the same {key} to resume it.")


def _write_json_atomically(path: str, obj) -> None:
  tmp = f"{path}.tmp-{os.getpid()}"
  with open(tmp, "w") as f:
    json.dump(obj, f, indent=2, sort_keys=True)
  os.replace(tmp, path)


def _next_boundary(done: int, every: int) -> int:
  return (done // every + 1) * every


def _log(line: str) -> None:
  # Flushed, so progress shows up at once in `... | tee log` and `nohup`.
  print(line, flush=True)


class _StopSignals:
  """Turns SIGINT/SIGTERM into a request to checkpoint and stop.

  Python runs the handler between bytecodes, so a signal that arrives during
  a `tf.function` call is seen when the call returns; the loop then saves and
  stops. A second signal restores the previous handler and re-sends itself,
  so pressing Ctrl-C twice quits at once. Outside the main thread (where
  Python refuses handlers) this does nothing.
  """

  def __init__(self):
    self.signum: Optional[int] = None
    self._previous = {}

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for signum in (signal.SIGINT, signal.SIGTERM):
        self._previous[signum] = signal.signal(signum, self._handle)
    return self

  def _handle(self, signum, frame):
    del frame
    if self.signum is not None:
      self._restore()
      signal.raise_signal(signum)
      return
    self.signum = signum

  def _restore(self):
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)
    self._previous = {}

  def __exit__(self, *exc_info):
    self._restore()
    return False


def _truncate_metrics(path: str, step: int) -> None:
  """Drops metric records past `step`, and a torn last line.

  After a crash the run resumes from an earlier checkpoint and redoes those
  iterations; without this they would be in the file twice.
  """
  if not os.path.exists(path):
    return
  with open(path) as f:
    lines = f.readlines()
  keep = []
  for line in lines:
    try:
      record = json.loads(line)
    except json.JSONDecodeError:
      continue
    if line.endswith("\n") and record.get("step", 0) <= step:
      keep.append(line)
  if len(keep) != len(lines):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
      f.writelines(keep)
    os.replace(tmp, path)


def _restore_latest(items: Dict[str, Any],
                    manager: tf.train.CheckpointManager, config: TrainConfig,
                    log) -> str:
  """Restores the newest checkpoint that loads; returns its path.

  The manager lists only checkpoints whose files were complete when the state
  file was written, so a run killed mid-save never offers its partial files.
  A listed checkpoint whose files were damaged later (a full disk, a copy cut
  short) is skipped with a warning for the next older one.

  Raises:
    UsageError: none of them fits this variant: the workdir holds another
      model's checkpoints.
  """
  errors = []
  for path in reversed(manager.checkpoints):
    reason = checkpoints.try_restore(
        _without_missing_iterator(items, path, log), path)
    if reason is None:
      return path
    errors.append(reason)
    log(f"warning: cannot restore {path} ({reason}); trying an older "
        f"checkpoint.")
  raise UsageError(
      f"none of the {len(errors)} checkpoints in {manager.directory} can be "
      f"restored into a {config.variant!r} run with options "
      f"{config.variant_options} (newest: {errors[0]}); they are damaged or "
      f"the workdir holds another model's checkpoints: use a new --workdir, "
      f"or the variant and options that wrote them.")


def _without_missing_iterator(items: Dict[str, Any], path: str,
                              log) -> Dict[str, Any]:
  """`items` less the data iterator when the checkpoint at `path` has none.

  A multi-replica run cannot checkpoint its distributed iterator, so its
  checkpoints resume on one device too, with the data order restarted.
  """
  names = [name for name, _ in tf.train.list_variables(path)]
  if "iterator" not in items or any(n.startswith("iterator/") for n in names):
    return items
  log(f"note: {path} holds no data-iterator state (a multi-replica run "
      f"wrote it); the data order restarts from the seed's first batch.")
  return {k: v for k, v in items.items() if k != "iterator"}


def _first_non_finite(train_step: step_lib.TrainStep, iterator,
                      checkpoint: tf.train.Checkpoint, latest: Optional[str],
                      before: int, done: int):
  """Replays from `latest` to find the first iteration with a non-finite metric.

  The step reports the metrics of the last iteration of a call only, so a NaN
  in a call of many iterations is pinned by restoring the last good
  checkpoint (the iterator included), running up to `before` in one call and
  then one iteration per call. Training stops afterwards, so moving the
  in-memory state is harmless.

  Returns:
    (iteration, metrics) of the first non-finite iteration, or None when the
    replay does not reproduce it (nondeterministic kernels) or cannot run.
  """
  if latest is None:
    return None
  checkpoint.restore(latest)
  start = int(train_step.global_step.numpy())
  if start < before:
    out = train_step(iterator, before - start)
    if not all(math.isfinite(float(v)) for v in out.values()):
      return None
  for iteration in range(before + 1, done + 1):
    metrics = {k: float(v) for k, v in train_step(iterator, 1).items()}
    if not all(math.isfinite(v) for v in metrics.values()):
      return iteration, metrics
  return None


def train(config: TrainConfig,
          strategy: Optional[tf.distribute.Strategy] = None,
          log=_log, *,
          mnist: Optional[data_lib.Mnist] = None,
          flags_text: Optional[str] = None) -> TrainResult:
  """Trains (or resumes) the run described by `config`.

  Rerunning with the same workdir resumes from its latest checkpoint, with
  the data order, noise generator and optimizer state where they were. The
  learning rate is this call's: a resumed run may lower it.

  Args:
    config: the run.
    strategy: a `tf.distribute.Strategy`; default: the current one.
    log: where progress lines go.
    mnist: the data, in memory; None loads `config.data_path`.
    flags_text: the script's flags as `--flagfile` lines, saved to
      workdir/flags.txt once the workdir is known to be this run's.

  Returns:
    A `TrainResult`.

  Raises:
    UsageError: bad config, missing data, or a workdir of another run.
    NonFiniteLossError: a loss became NaN or Inf; the message names the
      first such iteration, and the latest checkpoint is the last good one.
    Interrupted: SIGINT or SIGTERM arrived; a checkpoint was written first.
  """
  with _StopSignals() as stop_signals:
    try:
      return _train(config, strategy, log, mnist, flags_text, stop_signals)
    finally:
      distribute_lib.cleanup_worker_workdir(config.workdir, strategy)


def _train(config, strategy, log, mnist, flags_text, stop_signals):
  """`train`'s body, with SIGINT/SIGTERM caught into `stop_signals`."""
  config.validate()
  config = config.resolved()
  strategy = strategy or tf.distribute.get_strategy()
  _check_workdir(config)
  # Multi-worker: the chief writes into the workdir; each other worker
  # writes what TensorFlow makes every worker write (checkpoints) and the
  # rest into a private folder, deleted at the end (gantape/distribute.py).
  chief_workdir = config.workdir
  config = dataclasses.replace(
      config, workdir=distribute_lib.worker_workdir(config.workdir, strategy))
  total = total_iterations(config)
  if mnist is None:
    mnist = data_lib.load_mnist(config.data_path)
  keras.utils.set_random_seed(config.seed)

  with strategy.scope():
    variant = variants.build(config.variant, **config.variant_options)
    d_opt, g_opt = step_lib.make_optimizers(
        variant, learning_rate=config.learning_rate, beta_1=config.beta_1,
        beta_2=config.beta_2)
    train_step = step_lib.TrainStep(
        variant, d_opt, g_opt, seed=config.seed, strategy=strategy,
        jit_compile=config.jit_compile,
        updates_per_batch=config.updates_per_batch)
  dataset = variant.make_dataset(mnist, batch_size=config.batch_size,
                                 seed=config.seed)
  iterator = train_step.make_iterator(dataset)

  items = train_step.checkpoint_items()
  ema, sampler = None, variant
  if config.ema_decay:
    with strategy.scope():
      ema = ema_lib.GeneratorEma(
          variant.generator, variants.build(
              config.variant, **config.variant_options).generator,
          config.ema_decay)
    items["ema_generator"] = ema.average
    sampler = ema_lib.sampling_view(variant, ema.average)
  if strategy.num_replicas_in_sync == 1:
    items["iterator"] = iterator  # exact resume: the data order continues
  checkpoint = tf.train.Checkpoint(**items)
  checkpoint_dir = os.path.join(config.workdir, checkpoints.CHECKPOINT_DIR)
  try:
    os.makedirs(checkpoint_dir, exist_ok=True)
  except OSError as e:
    raise UsageError(f"cannot create the workdir {config.workdir!r} "
                     f"({e.strerror}); pass a writable --workdir.") from None
  manager = tf.train.CheckpointManager(
      checkpoint, checkpoint_dir, max_to_keep=config.keep_checkpoints,
      step_counter=train_step.global_step)
  if config.workdir != chief_workdir:  # a non-chief worker resumes the chief's
    manager = distribute_lib.WorkerCheckpointManager(
        manager, checkpoint,
        os.path.join(chief_workdir, checkpoints.CHECKPOINT_DIR))
  # Every worker has listed the chief's checkpoints before the chief saves.
  distribute_lib.barrier(strategy)
  if manager.checkpoints or config.resume_from is not None:
    # The optimizers' learning rates are variables, so a restore would bring
    # back the old ones; this run's flags win.
    learning_rates = [float(o.learning_rate.numpy()) for o in (d_opt, g_opt)]
    if manager.checkpoints:
      restored = _restore_latest(items, manager, config, log)
      log(f"Resumed from {restored} at iteration "
          f"{int(train_step.global_step.numpy())}.")
    else:
      _start_from(items, config, log)
    for opt, lr in zip((d_opt, g_opt), learning_rates):
      opt.learning_rate = lr
  if not manager.checkpoints:
    # The first iteration is a checkpoint too: a NaN or a stop in the first
    # interval still leaves a good state to resume from and to replay.
    manager.save(checkpoint_number=int(train_step.global_step.numpy()))
  _truncate_metrics(os.path.join(config.workdir, METRICS_FILE),
                    int(train_step.global_step.numpy()))
  _write_json_atomically(os.path.join(config.workdir, RUN_FILE),
                         _run_record(config))
  if flags_text is not None:
    flags_path = os.path.join(config.workdir, FLAGS_FILE)
    with open(f"{flags_path}.tmp-{os.getpid()}", "w") as f:
      f.write(flags_text)
    os.replace(f"{flags_path}.tmp-{os.getpid()}", flags_path)

  sample_dir = os.path.join(config.workdir, "samples")
  os.makedirs(sample_dir, exist_ok=True)
  fixed = samples_lib.fixed_inputs(variant, 100, seed=config.seed)
  writer = tf.summary.create_file_writer(config.workdir)
  metrics_path = os.path.join(config.workdir, METRICS_FILE)
  evaluator = best = None
  if config.eval_every is not None:
    evaluator = evaluation.TrainingEvaluator(
        mnist, num_samples=config.eval_samples, seed=config.seed, log=log)
    best_dir = os.path.join(config.workdir, checkpoints.BEST_DIR)
    best = checkpoints.BestCheckpoint(
        {k: v for k, v in items.items()
         if k in ("generator", "discriminator", "ema_generator",
                  "global_step")},
        best_dir,
        previous_directory=os.path.join(chief_workdir, checkpoints.BEST_DIR))

  def write_grid(name):
    grid = samples_lib.tile(samples_lib.generate_images(sampler, fixed))
    path = os.path.join(sample_dir, name)
    samples_lib.write_png(path, grid)
    with writer.as_default():
      summaries.image("samples", grid, step=int(train_step.global_step.numpy()))
    return path

  done = int(train_step.global_step.numpy())
  metrics: Dict[str, float] = {}
  last_time, last_done = time.perf_counter(), done
  start_time, start_done = last_time, done
  while done < total and stop_signals.signum is None:
    stop = min(total, done + config.iterations_per_call,
               _next_boundary(done, config.log_every),
               _next_boundary(done, config.sample_every),
               _next_boundary(done, config.checkpoint_every),
               _next_boundary(done, config.eval_every or total))
    before = done
    out = train_step(iterator, stop - done)
    metrics = {k: float(v) for k, v in out.items()}
    done = int(train_step.global_step.numpy())
    if ema is not None:
      ema.update(done - before, step=done)
    if not all(math.isfinite(v) for v in metrics.values()):
      _plot_curves(config, log)
      raise _non_finite_error(config, train_step, iterator, checkpoint,
                              manager, "iterator" in items, before, done,
                              metrics, log)
    if done % config.log_every == 0 or done == total:
      now = time.perf_counter()
      rate = (done - last_done) / max(now - last_time, 1e-9)
      last_time, last_done = now, done
      eta = (total - done) / max((done - start_done) / (now - start_time), 1e-9)
      with writer.as_default():
        for k, v in {**metrics, "iterations_per_s": rate}.items():
          summaries.scalar(k, v, step=done)
      with open(metrics_path, "a") as f:
        f.write(json.dumps({"step": done, "iterations_per_s": rate,
                            "time": time.time(), **metrics}) + "\n")
      log(f"[{config.variant}] {done}/{total} "
          + " ".join(f"{k}={v:.4f}" for k, v in metrics.items())
          + f" | {rate:.2f} it/s | ETA {_format_seconds(eta)}")
    if evaluator is not None and done % config.eval_every == 0:
      lowest = float(best.fcd.numpy())  # inf before any evaluation
      scores = evaluator(sampler, done,
                         live_variant=variant if ema is not None else None,
                         best_fcd=lowest if math.isfinite(lowest) else None)
      with writer.as_default():
        for k, v in scores.items():
          summaries.scalar(k, v, step=done)
      with open(metrics_path, "a") as f:
        f.write(json.dumps({"step": done, "time": time.time(), **scores})
                + "\n")
      if best.offer(distribute_lib.same_on_all_workers(scores["eval/fcd"],
                                                       strategy), done):
        log(f"[eval] lowest FCD so far; kept in {best_dir}/")
    if done % config.sample_every == 0:
      write_grid(f"step_{done:07d}.png")
    if done % config.checkpoint_every == 0:
      manager.save(checkpoint_number=done)
  if manager.latest_checkpoint is None or not manager.latest_checkpoint.endswith(
      f"-{done}"):
    manager.save(checkpoint_number=done)
  _plot_curves(config, log)
  if stop_signals.signum is not None and done < total:
    writer.flush()
    name = signal.Signals(stop_signals.signum).name
    raise Interrupted(
        f"stopped by {name} at iteration {done}/{total}; saved "
        f"{manager.latest_checkpoint}. Rerun the same command to resume.",
        stop_signals.signum)
  final = write_grid("final.png")
  writer.flush()
  return TrainResult(train_step, metrics, final, done)


def _plot_curves(config: TrainConfig, log) -> None:
  """Writes loss_curves.png; a plotting failure must not fail the run."""
  try:
    curves.plot_metrics(os.path.join(config.workdir, METRICS_FILE),
                        os.path.join(config.workdir, CURVES_FILE),
                        title=config.variant)
  except Exception as e:  # pylint: disable=broad-except
    log(f"warning: could not plot the loss curves ({type(e).__name__}: {e}).")


def _non_finite_error(config, train_step, iterator, checkpoint, manager,
                      iterator_saved, before, done, metrics, log
                      ) -> NonFiniteLossError:
  """The error for a non-finite metric, naming the first bad iteration."""
  latest = manager.latest_checkpoint
  found = None
  if done - before > 1 and iterator_saved:
    log(f"Non-finite metric in iterations {before + 1}..{done}; replaying "
        f"from {latest} to find the first one.")
    found = _first_non_finite(train_step, iterator, checkpoint, latest,
                              before, done)
  if found is not None:
    where, metrics = found
    where = f"at iteration {where}"
  elif done - before == 1:
    where = f"at iteration {done}"
  else:
    where = f"in iterations {before + 1}..{done}"
  bad = ", ".join(f"{k}={v}" for k, v in sorted(metrics.items())
                  if not math.isfinite(v))
  other = ("" if config.variant == "wgan_gp" else
           ", or try --variant=wgan_gp in a new --workdir")
  return NonFiniteLossError(
      f"non-finite loss {where}: {bad}. Training stopped; the latest "
      f"checkpoint, {latest}, is the last good one. Lower --learning_rate "
      f"and rerun to resume from it{other}.")


def _format_seconds(seconds: float) -> str:
  seconds = int(seconds)
  return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
