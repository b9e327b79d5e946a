"""The training loop: builds a run, restores it, and hands it to the runner.

`train` builds the variant, its optimizers, the `TrainStep`, the EMA and the
checkpoint manager; restores the newest checkpoint (or `resume_from`) before
the first iteration; then runs `runner.Runner` with the actions of
`actions.py` (progress lines and metrics, evaluation, sample grids,
checkpoints, the NaN guard). The workdir's files are listed in
`workdir.py`.

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
import os
import time
from typing import Any, Collection, Dict, FrozenSet, List, Optional, Type

import keras
import tensorflow as tf

from gantape import data as data_lib
from gantape import distribute as distribute_lib
from gantape import ema as ema_lib
from gantape import optimizers as optimizers_lib
from gantape import networks as networks_lib
from gantape import precision as precision_lib
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
from gantape.training import run_data
from gantape.training import runner as runner_lib
from gantape.training import signals
from gantape.training import summaries
from gantape.training import workdir as workdir_lib
from gantape.training import config as config_lib
from gantape.training.config import TrainConfig, total_iterations
from gantape.variants import base


@dataclasses.dataclass(frozen=True)
class TrainResult:
  """What `train` returns: the trained step and where things went."""
  step: step_lib.TrainStep
  final_metrics: Dict[str, float]
  final_grid: str
  iterations: int


@dataclasses.dataclass
class _Run:
  """What `_build` makes: the training state and what checkpoints it."""
  variant: base.Variant
  optimizers: List[keras.optimizers.Optimizer]
  step: step_lib.TrainStep
  iterator: Any
  averages: List[ema_lib.ModelEma]
  sampler: base.Variant
  items: Dict[str, Any]
  checkpoint: tf.train.Checkpoint


def _log(line: str) -> None:
  # Flushed, so progress shows up at once in `... | tee log` and `nohup`.
  print(line, flush=True)


def train(config: TrainConfig,
          strategy: Optional[tf.distribute.Strategy] = None,
          log=_log, *,
          dataset: Optional[data_lib.Dataset] = None,
          flags_text: Optional[str] = None,
          variant: Optional[Type[base.Variant]] = None,
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
      `config.dataset` from `config.data_path`.
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
    try:
      if variant is not None:
        config = dataclasses.replace(config,
                                     variant=variants.register(variant))
      if given is None:
        given = resume_lib.given_settings(config)
      return _train(config, strategy, log, dataset, flags_text, stop_signals,
                    lock, _Resume(frozenset(given), allow_data_change),
                    summary)
    finally:
      distribute_lib.cleanup_worker_workdir(config.workdir, strategy)


@dataclasses.dataclass(frozen=True)
class _Resume:
  """How `train` treats what the workdir recorded (`train`'s arguments)."""
  given: FrozenSet[str]
  allow_data_change: bool


def _train(config, strategy, log, dataset, flags_text, stop_signals, lock,
           resume, summary=False):
  """`train`'s body, with SIGINT/SIGTERM caught into `stop_signals`."""
  config, recorded, kept, changes = resume_lib.settle(config, resume.given)
  strategy = strategy or tf.distribute.get_strategy()
  if dataset is None:
    dataset = run_data.load(config)
  shape = run_data.DataShape.of(dataset)
  config = run_data.fit_to_data(config, shape, dataset)
  resume_lib.check(config, recorded)
  data = {**shape.record(), **resume_lib.data_identity(dataset)}
  data_changed = resume_lib.check_data(data, recorded,
                                       resume.allow_data_change)
  # Multi-worker: the chief writes into the workdir; each other worker
  # writes what TensorFlow makes every worker write (checkpoints) and the
  # rest into a private folder, deleted at the end (gantape/distribute.py).
  chief_workdir = config.workdir
  config = dataclasses.replace(
      config, workdir=distribute_lib.worker_workdir(config.workdir, strategy))
  total = total_iterations(config)
  data_lib.check_training_set(dataset, config.batch_size)
  keras.utils.set_random_seed(config.seed)
  run = _build(config, strategy, dataset, shape,
               resume_lib.record(config, data))
  # Refused before the run's first write; the lock is that write.
  memory.check(run.variant, batch_size=config.batch_size,
               updates_per_batch=config.updates_per_batch)
  lock.acquire(config.workdir)
  manager = _restore(run, config, chief_workdir, strategy, log,
                     changes=changes, data_changed=data_changed)
  workdir_lib.truncate_metrics(
      os.path.join(config.workdir, curves.METRICS_FILE),
      int(run.step.global_step.numpy()))
  workdir_lib.write_records(config, flags_text, data, kept)

  sink = summaries.MetricsSink(config.workdir)
  sink.settings(dataclasses.asdict(config), int(run.step.global_step.numpy()))
  actions, saver, grids = _actions(config, run, dataset, manager, sink,
                                   chief_workdir, strategy, log)
  runner = runner_lib.Runner(
      run.step, run.iterator, actions, total=total,
      iterations_per_call=config.iterations_per_call,
      should_stop=lambda: _should_stop(runner, run.step, stop_signals),
      # Workers must make the same calls, which their clocks would not size.
      seconds_per_call=(None if distribute_lib.num_workers(strategy) > 1
                        else runner_lib.SECONDS_PER_CALL))
  if summary:
    log(model_summary.full(run.variant))
  log(_start_line(config, strategy, int(run.step.global_step.numpy()), total,
                  shape, model_summary.counts(run.variant)))
  started = time.perf_counter()
  result = _finish(runner.run(), run, config, saver, grids, sink,
                   stop_signals, log)
  log(_end_line(result, total, saver, time.perf_counter() - started))
  return result


def _actions(config: TrainConfig, run: _Run, dataset, manager, sink,
             chief_workdir: str, strategy, log):
  """The run's actions, in the order they run after a call.

  Returns:
    (actions, the checkpoint saver, the sample-grid writer): the last two
    also finish the run.
  """
  grids = actions_lib.SampleGrids(
      config.sample_every, run.sampler,
      os.path.join(config.workdir, workdir_lib.SAMPLE_DIR), sink,
      seed=config.seed)
  saver = actions_lib.SaveCheckpoint(config.checkpoint_every, manager)
  evaluate = None
  if config.eval_every is not None:
    evaluate = _evaluate_action(config, run, dataset, sink, chief_workdir,
                                strategy, log)
  # Built after the evaluator: its clock must not count the evaluator's
  # set-up (minutes when the classifier is trained first).
  logger = actions_lib.LogProgress(
      config.log_every, sink, log, name=config.variant,
      start=int(run.step.global_step.numpy()))
  guard = actions_lib.NonFiniteGuard(
      run.step, run.iterator, run.checkpoint, manager, log,
      workdir=config.workdir, variant_name=config.variant,
      iterator_saved="iterator" in run.items)
  update_ema = (actions_lib.UpdateEma(run.averages) if run.averages
                else None)
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


def _start_line(config: TrainConfig, strategy: tf.distribute.Strategy,
                done: int, total: int, shape: run_data.DataShape,
                counts: str) -> str:
  """The line before the first call, which traces the step first."""
  if done > total:
    return (f"Nothing to train: the workdir {config.workdir} is at "
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
          f"{config.workdir}; tracing the step first, which takes a while.")


def _end_line(result: TrainResult, total: int,
              saver: actions_lib.SaveCheckpoint, seconds: float) -> str:
  """The line after the last iteration: where the results are."""
  minutes, secs = divmod(int(round(seconds)), 60)
  if result.iterations > total:
    return (f"Done: nothing trained; the latest checkpoint is still "
            f"{saver.latest} (iteration {result.iterations}).")
  return (f"Done: iteration {result.iterations}/{total} in {minutes}m{secs:02d}s"
          f"; samples {result.final_grid}; latest checkpoint {saver.latest}.")


def _build(config: TrainConfig, strategy: tf.distribute.Strategy,
           dataset: data_lib.Dataset, shape: run_data.DataShape,
           record: Dict[str, Any]) -> _Run:
  """The variant, its optimizers, the step, the EMA and the data iterator;
  the checkpoints also hold `record` (`resume.record`)."""
  def build():
    with precision_lib.policy(config.precision):
      return variants.build(config.variant, image_shape=shape.image_shape,
                            num_classes=shape.num_classes,
                            **config.variant_options)
  with strategy.scope():
    variant = build()
    d_opt, g_opt = optimizers_lib.make_optimizers(
        variant, learning_rate=config.learning_rate, beta_1=config.beta_1,
        beta_2=config.beta_2, adam_epsilon=config.adam_epsilon,
        lr_decay=config_lib.lr_decay_range(config),
        updates_per_batch=config.updates_per_batch)
    train_step = step_lib.TrainStep(
        variant, d_opt, g_opt, seed=config.seed, strategy=strategy,
        options=step_lib.StepOptions(
            updates_per_batch=config.updates_per_batch,
            jit_compile=config.jit_compile,
            input_pipeline=config.input_pipeline,
            precision=config.precision))
  iterator = train_step.make_input(dataset, batch_size=config.batch_size,
                                   seed=config.seed)
  items = train_step.checkpoint_items()
  items[resume_lib.RECORD_ITEM] = resume_lib.record_variable(record)
  averages = {}
  for network, decay in (("generator", config.ema_decay),
                         ("discriminator", config.discriminator_ema_decay)):
    if decay:
      with strategy.scope():
        averages[network] = ema_lib.ModelEma(
            getattr(variant, network), getattr(build(), network), decay)
      items[f"ema_{network}"] = averages[network].average
  sampler = variant
  if averages:
    sampler = ema_lib.sampling_view(
        variant, **{k: ema.average for k, ema in averages.items()})
  if strategy.num_replicas_in_sync == 1:
    items["iterator"] = iterator  # exact resume: the data order continues
  return _Run(variant, [d_opt, g_opt], train_step, iterator,
              list(averages.values()), sampler, items,
              tf.train.Checkpoint(**items))


def _restore(run: _Run, config: TrainConfig, chief_workdir: str,
             strategy: tf.distribute.Strategy, log, *, changes=(),
             data_changed=False):
  """Opens the checkpoint manager and restores the newest checkpoint.

  Without a checkpoint of its own the run starts from `resume_from`, or
  from scratch; either way its first iteration is saved at once, so a NaN
  or a stop in the first interval still leaves a good state to resume from
  and to replay. With `data_changed`, the data order starts over.

  Returns:
    The checkpoint manager.

  Raises:
    UsageError: the manager lists no checkpoint though the folder holds
      some (`workdir.refuse_unlisted`), or none that fits the run.
  """
  directory = workdir_lib.prepare_checkpoints(config, log)
  manager = tf.train.CheckpointManager(
      run.checkpoint, directory, max_to_keep=config.keep_checkpoints,
      step_counter=run.step.global_step)
  if config.workdir != chief_workdir:  # a non-chief worker resumes the chief's
    manager = distribute_lib.WorkerCheckpointManager(
        manager, run.checkpoint,
        os.path.join(chief_workdir, checkpoints.CHECKPOINT_DIR))
  # Every worker has listed the chief's checkpoints before the chief saves.
  distribute_lib.barrier(strategy)
  items = run.items
  if data_changed and "iterator" in items:
    log("note: the training data is not the run's (allowed by "
        "allow_data_change); the data order starts from the seed's first "
        "batch.")
    items = {k: v for k, v in items.items() if k != "iterator"}
  if manager.checkpoints or config.resume_from is not None:
    record = run.items[resume_lib.RECORD_ITEM]
    ours = record.numpy()
    # A restore brings back the checkpoint's learning rates; this run's
    # flags win.
    with optimizers_lib.rates_kept(run.optimizers):
      if manager.checkpoints:
        restored = workdir_lib.restore_latest(items, manager, config, log)
        log(f"Resumed from {restored} at iteration "
            f"{int(run.step.global_step.numpy())}"
            + (f"; changed: {', '.join(changes)}." if changes else "."))
      else:
        workdir_lib.start_from(items, config, log)
    record.assign(ours)  # this run's: the data's identity may differ
  if not manager.checkpoints:
    workdir_lib.refuse_unlisted(directory)
    checkpoint_files.save(manager, int(run.step.global_step.numpy()))
  return manager


def _evaluate_action(config: TrainConfig, run: _Run, dataset: data_lib.Dataset,
                     sink: summaries.MetricsSink, chief_workdir: str,
                     strategy: tf.distribute.Strategy,
                     log) -> actions_lib.Evaluate:
  """The --eval_every evaluation, with the run's best checkpoint."""
  evaluator = TrainingEvaluator(dataset, num_samples=config.eval_samples,
                                seed=config.seed, log=log)
  best_dir = os.path.join(config.workdir, checkpoints.BEST_DIR)
  best = checkpoints.BestCheckpoint(
      {k: v for k, v in run.items.items()
       if k in ("generator", "discriminator", "ema_generator",
                "ema_discriminator", "global_step")},
      best_dir,
      previous_directory=os.path.join(chief_workdir, checkpoints.BEST_DIR))
  return actions_lib.Evaluate(
      config.eval_every, evaluator, best, best_dir, sink, log,
      sampler=run.sampler,
      live_variant=run.variant if run.averages else None,
      strategy=strategy)


def _finish(progress: runner_lib.Progress, run: _Run, config: TrainConfig,
            saver: actions_lib.SaveCheckpoint,
            grids: actions_lib.SampleGrids, sink: summaries.MetricsSink,
            stop_signals: signals.StopSignals, log) -> TrainResult:
  """Saves the last iteration, plots, and stops or writes the final grid.

  Raises:
    Interrupted: a stop signal ended the run before its last iteration.
  """
  done = progress.iteration
  saver.save_unless_saved(done)
  actions_lib.plot_curves(config.workdir, config.variant, log)
  if stop_signals.signum is not None and done < progress.total:
    sink.flush()
    raise Interrupted(
        f"stopped by {stop_signals.name} at iteration {done}/"
        f"{progress.total}; saved {saver.latest}. Rerun the same command to "
        f"resume.", stop_signals.signum)
  final = grids.write("final.png", done)
  sink.flush()
  return TrainResult(run.step, progress.metrics, final, done)
