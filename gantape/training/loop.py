"""The training loop: resolve, open the workdir, build, restore, run.

`train` reads top to bottom: the config is resolved once into a `run.Run`
(the variant class, the preset, the settings a resumed run keeps, the data's
shape and networks, checked against what the workdir recorded); the
`workdir.Workdir` says where this process writes; `gantape.build` makes the
variant, its optimizers, the `TrainStep` and the weight averages; the newest
checkpoint (or `resume_from`) is restored before the first iteration; and
`runner.Runner` runs the actions of `actions.py` (progress lines and
metrics, evaluation, sample grids, checkpoints, the NaN guard).

Faults: a NaN/Inf metric stops the run (`NonFiniteLossError`) without saving,
so the latest checkpoint is the last good one; SIGINT/SIGTERM write a
checkpoint and raise `Interrupted` (a second signal quits at once,
`signals.py`); a run killed outright resumes from the
newest checkpoint the `checkpoint` state file lists, which TensorFlow only
updates once a checkpoint's files are complete. One run holds a workdir at a
time (`lock.py`); what else a workdir survives is in `workdir.py`,
`checkpoint_files.py` and docs/troubleshooting.md ("Faults and guarantees").
"""

import dataclasses
import time
from typing import Any, Collection, Dict, Optional, Type

import keras
import tensorflow as tf

from gantape import build as build_lib
from gantape import data as data_lib
from gantape import distribute as distribute_lib
from gantape import optimizers as optimizers_lib
from gantape import networks as networks_lib
from gantape import step as step_lib
from gantape import variants
from gantape.errors import Interrupted
from gantape.evaluation.training import TrainingEvaluator
from gantape.training import actions as actions_lib
from gantape.training import checkpoint_files
from gantape.training import checkpoints
from gantape.training import curves
from gantape.training import lock as lock_lib
from gantape.training import memory
from gantape.training import model_summary
from gantape.training import resume as resume_lib
from gantape.training import run as run_lib
from gantape.training import run_data
from gantape.training import runner as runner_lib
from gantape.training import signals
from gantape.training import summaries
from gantape.training import workdir as workdir_lib
from gantape.training.config import TrainConfig


@dataclasses.dataclass(frozen=True)
class TrainResult:
  """What `train` returns: the trained step and where things went."""
  step: step_lib.TrainStep
  final_metrics: Dict[str, float]
  final_grid: str
  iterations: int


def _log(line: str) -> None:
  # Flushed, so progress shows up at once in `... | tee log` and `nohup`.
  print(line, flush=True)


def train(config: TrainConfig,
          strategy: Optional[tf.distribute.Strategy] = None,
          log=_log, *,
          dataset: Optional[data_lib.Dataset] = None,
          flags_text: Optional[str] = None,
          variant: Optional[Type[variants.Variant]] = None,
          given: Optional[Collection[str]] = None,
          allow_data_change: bool = False,
          summary: bool = False) -> TrainResult:
  """Trains (or resumes) the run described by `config`.

  Rerunning with the same workdir resumes from its latest checkpoint, with
  the data order, noise generator and optimizer state where they were. The
  settings that may change on resume (`resume.MAY_CHANGE_ON_RESUME`, e.g.
  the learning rate, which a resumed run may lower) are this call's where
  given, else the run's; the others must equal the run's.

  Args:
    config: the run.
    strategy: a `tf.distribute.Strategy`; default: the current one.
    log: where progress lines go.
    dataset: the data (a `data.Dataset`), in memory; None loads
      `config.dataset` from `config.data_path`. The run trains on
      `config.train_subset` of its training images where set, and
      evaluates against the whole of it.
    flags_text: the command's flags as `--flagfile` lines, saved to
      workdir/flags.txt once the workdir is known to be this run's.
    variant: a `Variant` subclass defined anywhere, trained instead of
      `config.variant`; run.json records it as "module:QualName", by which
      `gantape sample`, `export` and `evaluate` import it again.
    given: the names of the settings the caller chose; on resume, one that
      may change and is not named keeps the run's value. Default: the
      fields of `config` that differ from `TrainConfig`'s defaults.
    allow_data_change: resume (or start from `config.resume_from`) on
      training data other than the run's; its data order starts over.
    summary: also log Keras's summary of both networks before training.

  Returns:
    A `TrainResult`.

  Raises:
    UsageError: bad config, missing data, data the variant cannot take
      (labels it needs, a shape), a workdir of another run, or other data
      than the run's without `allow_data_change`.
    NonFiniteLossError: a loss became NaN or Inf; the message names the
      first such iteration, and the latest checkpoint is the last good one.
    Interrupted: SIGINT or SIGTERM arrived; a checkpoint was written first.
  """
  with signals.StopSignals() as stop_signals, lock_lib.WorkdirLock() as lock:
    if given is None:
      given = resume_lib.given_settings(config)
    cls = variant or variants.get_class(config.variant)
    config.validate(cls)
    if dataset is None:
      dataset = run_data.load(config)
    training_data = run_data.training_data(config, dataset)
    run = run_lib.resolve(
        config, training_data, variant_class=cls, given=given,
        allow_data_change=allow_data_change,
        variant_name=variants.register(variant) if variant else None)
    workdir = workdir_lib.Workdir.open(run.config.workdir, strategy)
    try:
      return _train(run, workdir, training_data, dataset, strategy, log,
                    flags_text, stop_signals, lock, summary)
    finally:
      workdir.close(strategy)


@dataclasses.dataclass
class _Training:
  """What `_train` builds: the run's trainable, its data iterator, and the
  checkpoint of both."""
  trainable: build_lib.Trainable
  iterator: Any
  items: Dict[str, Any]
  checkpoint: tf.train.Checkpoint


def _train(run: run_lib.Run, workdir: workdir_lib.Workdir, training_data,
           dataset, strategy, log, flags_text, stop_signals, lock,
           summary=False):
  """`train`'s body, with SIGINT/SIGTERM caught into `stop_signals`: trains
  on `training_data` and evaluates against the whole `dataset`."""
  config = run.config
  strategy = strategy or tf.distribute.get_strategy()
  keras.utils.set_random_seed(config.seed)
  training = _build(run, training_data, strategy)
  trainable = training.trainable
  # Refused before the run's first write; the lock is that write.
  memory.check(trainable.variant, batch_size=config.batch_size,
               updates_per_batch=config.updates_per_batch)
  lock.acquire(workdir.own)
  manager = _restore(training, run, workdir, strategy, log)
  done = int(trainable.step.global_step.numpy())
  workdir_lib.truncate_metrics(workdir.file(curves.METRICS_FILE), done)
  workdir_lib.write_records(workdir, config, flags_text, run.data, run.kept)

  sink = summaries.MetricsSink(workdir.own)
  sink.settings(dataclasses.asdict(config), done)
  actions, saver, grids = _actions(run, training, dataset, manager, sink,
                                   workdir, strategy, log)
  runner = runner_lib.Runner(
      trainable.step, training.iterator, actions, total=run.total_iterations,
      iterations_per_call=config.iterations_per_call,
      should_stop=lambda: _should_stop(runner, trainable.step, stop_signals),
      # Workers must make the same calls, which their clocks would not size.
      seconds_per_call=(None if distribute_lib.num_workers(strategy) > 1
                        else runner_lib.SECONDS_PER_CALL))
  if summary:
    log(model_summary.full(trainable.variant))
  log(_start_line(run, workdir, strategy, done,
                  model_summary.counts(trainable.variant)))
  started = time.perf_counter()
  result = _finish(runner.run(), trainable, workdir, config, saver, grids,
                   sink, stop_signals, log)
  log(_end_line(result, run.total_iterations, saver,
                time.perf_counter() - started))
  return result


def _actions(run: run_lib.Run, training: _Training, dataset, manager, sink,
             workdir: workdir_lib.Workdir, strategy, log):
  """The run's actions, in the order they run after a call.

  Returns:
    (actions, the checkpoint saver, the sample-grid writer): the last two
    also finish the run.
  """
  config, trainable = run.config, training.trainable
  grids = actions_lib.SampleGrids(
      config.sample_every, trainable.sampler,
      workdir.file(workdir_lib.SAMPLE_DIR), sink, seed=config.seed)
  saver = actions_lib.SaveCheckpoint(config.checkpoint_every, manager)
  evaluate = None
  if config.eval_every is not None:
    evaluate = _evaluate_action(config, training, dataset, sink, workdir,
                                strategy, log)
  # Built after the evaluator: its clock must not count the evaluator's
  # set-up (minutes when the classifier is trained first).
  logger = actions_lib.LogProgress(
      config.log_every, sink, log, name=config.variant,
      start=int(trainable.step.global_step.numpy()))
  guard = actions_lib.NonFiniteGuard(
      trainable.step, training.iterator, training.checkpoint, manager, log,
      workdir=workdir.own, variant_name=config.variant,
      iterator_saved="iterator" in training.items)
  averages = list(trainable.averages.values())
  update_ema = actions_lib.UpdateEma(averages) if averages else None
  # The EMA moves before the guard looks; nothing saves before the guard.
  saturation = actions_lib.SaturationWarning(log, variant_name=config.variant)
  actions = [a for a in (update_ema, guard, logger, saturation, evaluate,
                         grids, saver) if a is not None]
  return actions, saver, grids


def _should_stop(runner: runner_lib.Runner, train_step: step_lib.TrainStep,
                 stop_signals: signals.StopSignals) -> bool:
  """Asked before each call; tells `stop_signals` the call's length."""
  done = int(train_step.global_step.numpy())
  stop_signals.call_length = runner.next_stop(done) - done
  return stop_signals.signum is not None


def _device(strategy: tf.distribute.Strategy) -> str:
  """The devices a run trains on, in words, e.g. "CPU" or "2 GPUs"."""
  kind = next((k for k in ("TPU", "GPU")
               if tf.config.list_logical_devices(k)), "CPU")
  replicas = strategy.num_replicas_in_sync
  return kind if replicas == 1 else f"{replicas} {kind}s"


def _start_line(run: run_lib.Run, workdir: workdir_lib.Workdir,
                strategy: tf.distribute.Strategy, done: int,
                counts: str) -> str:
  """The line before the first call, which traces the step first."""
  config, total, shape = run.config, run.total_iterations, run.shape
  if done > total:
    return (f"Nothing to train: the workdir {workdir.own} is at "
            f"iteration {done}, past --steps={total}; pass a --steps above "
            f"{done} to train further.")
  start = f"from iteration {done} " if done else ""
  networks = config.variant_options.get("networks")
  on = (f" on {config.dataset} {'x'.join(map(str, shape.image_shape))}"
        + (f" with the {networks} networks" if networks else ""))
  if shape.image_shape == networks_lib.IMAGE_SHAPE and not networks:
    on = ""  # the seed's MNIST runs keep their line
  return (f"Training {config.variant} (preset {config.preset}; {counts})"
          f"{on} {start}to "
          f"iteration {total} on {_device(strategy)}, workdir "
          f"{workdir.own}; tracing the step first, which takes a while.")


def _end_line(result: TrainResult, total: int,
              saver: actions_lib.SaveCheckpoint, seconds: float) -> str:
  """The line after the last iteration: where the results are."""
  minutes, secs = divmod(int(round(seconds)), 60)
  if result.iterations > total:
    return (f"Done: nothing trained; the latest checkpoint is still "
            f"{saver.latest} (iteration {result.iterations}).")
  return (f"Done: iteration {result.iterations}/{total} in {minutes}m{secs:02d}s"
          f"; samples {result.final_grid}; latest checkpoint {saver.latest}.")


def _build(run: run_lib.Run, dataset: data_lib.Dataset,
           strategy: tf.distribute.Strategy) -> _Training:
  """The run's trainable (`gantape.build`), its data iterator, and the
  checkpoint of both with the run's record (`resume.record`)."""
  trainable = build_lib.build(run, strategy)
  iterator = trainable.input(dataset)
  items = trainable.checkpoint_items()
  items[resume_lib.RECORD_ITEM] = resume_lib.record_variable(run.record)
  if strategy.num_replicas_in_sync == 1:
    items["iterator"] = iterator  # exact resume: the data order continues
  return _Training(trainable, iterator, items, tf.train.Checkpoint(**items))


def _restore(training: _Training, run: run_lib.Run,
             workdir: workdir_lib.Workdir,
             strategy: tf.distribute.Strategy, log):
  """Opens the checkpoint manager and restores the newest checkpoint.

  Without a checkpoint of its own the run starts from `resume_from`, or
  from scratch; either way its first iteration is saved at once, so a NaN
  or a stop in the first interval still leaves a good state to resume from
  and to replay. On data other than the run's, the data order starts over.

  Returns:
    The checkpoint manager.

  Raises:
    UsageError: the manager lists no checkpoint though the folder holds
      some (`workdir.refuse_unlisted`), or none that fits the run.
  """
  config, trainable = run.config, training.trainable
  directory = workdir_lib.prepare_checkpoints(workdir, config, log)
  manager = tf.train.CheckpointManager(
      training.checkpoint, directory, max_to_keep=config.keep_checkpoints,
      step_counter=trainable.step.global_step)
  if not workdir.is_chief:  # a non-chief worker resumes the chief's
    manager = distribute_lib.WorkerCheckpointManager(
        manager, training.checkpoint, workdir.chief_checkpoints)
  # Every worker has listed the chief's checkpoints before the chief saves.
  distribute_lib.barrier(strategy)
  items = training.items
  if run.data_changed and "iterator" in items:
    log("note: the training data is not the run's (allowed by "
        "allow_data_change); the data order starts from the seed's first "
        "batch.")
    items = {k: v for k, v in items.items() if k != "iterator"}
  if manager.checkpoints or config.resume_from is not None:
    record = training.items[resume_lib.RECORD_ITEM]
    ours = record.numpy()
    # A restore brings back the checkpoint's learning rates; this run's
    # flags win.
    with optimizers_lib.rates_kept([trainable.d_optimizer,
                                    trainable.g_optimizer]):
      if manager.checkpoints:
        restored = workdir_lib.restore_latest(items, manager, config, log)
        log(f"Resumed from {restored} at iteration "
            f"{int(trainable.step.global_step.numpy())}"
            + (f"; changed: {', '.join(run.changes)}." if run.changes
               else "."))
      else:
        workdir_lib.start_from(items, workdir, config, log)
    record.assign(ours)  # this run's: the data's identity may differ
  if not manager.checkpoints:
    workdir_lib.refuse_unlisted(directory)
    checkpoint_files.save(manager, int(trainable.step.global_step.numpy()))
  return manager


def _evaluate_action(config: TrainConfig, training: _Training,
                     dataset: data_lib.Dataset, sink: summaries.MetricsSink,
                     workdir: workdir_lib.Workdir,
                     strategy: tf.distribute.Strategy,
                     log) -> actions_lib.Evaluate:
  """The --eval_every evaluation, with the run's best checkpoint."""
  trainable = training.trainable
  evaluator = TrainingEvaluator(dataset, num_samples=config.eval_samples,
                                seed=config.seed, log=log)
  best = checkpoints.BestCheckpoint(
      {k: v for k, v in training.items.items()
       if k in ("generator", "discriminator", "ema_generator",
                "ema_discriminator", "global_step")},
      workdir.best, previous_directory=workdir.chief_best)
  return actions_lib.Evaluate(
      config.eval_every, evaluator, best, workdir.best, sink, log,
      sampler=trainable.sampler,
      live_variant=trainable.variant if trainable.averages else None,
      strategy=strategy)


def _finish(progress: runner_lib.Progress, trainable: build_lib.Trainable,
            workdir: workdir_lib.Workdir, config: TrainConfig,
            saver: actions_lib.SaveCheckpoint,
            grids: actions_lib.SampleGrids, sink: summaries.MetricsSink,
            stop_signals: signals.StopSignals, log) -> TrainResult:
  """Saves the last iteration, plots, and stops or writes the final grid.

  Raises:
    Interrupted: a stop signal ended the run before its last iteration.
  """
  done = progress.iteration
  saver.save_unless_saved(done)
  actions_lib.plot_curves(workdir.own, config.variant, log)
  if stop_signals.signum is not None and done < progress.total:
    sink.flush()
    raise Interrupted(
        f"stopped by {stop_signals.name} at iteration {done}/"
        f"{progress.total}; saved {saver.latest}. Rerun the same command to "
        f"resume.", stop_signals.signum)
  final = grids.write("final.png", done)
  sink.flush()
  return TrainResult(trainable.step, progress.metrics, final, done)
