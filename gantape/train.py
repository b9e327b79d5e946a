"""The training loop: a thin controller around `TrainStep`.

It owns what the step does not: the data, checkpoints (restored before the
first iteration), TensorBoard summaries, a JSON-lines metrics file, sample
grids, progress lines and the guard against non-finite losses. The step runs
`iterations_per_call` iterations per call; the loop shortens a call so that
every logging, sampling and checkpoint boundary is hit exactly.

Workdir layout:
    run.json             the config of the run (checked on resume)
    checkpoints/         tf.train.CheckpointManager files
    metrics.jsonl        one JSON object per log line
    samples/             step_XXXXXXX.png grids from fixed noise, and final.png
    events.*             TensorBoard summaries
"""

import dataclasses
import json
import math
import os
import time
from typing import Any, Dict, Optional

import keras
import tensorflow as tf

from gantape import data as data_lib
from gantape import ema as ema_lib
from gantape import evaluation
from gantape import samples as samples_lib
from gantape import step as step_lib
from gantape import summaries
from gantape import variants
from gantape.errors import NonFiniteLossError, UsageError

RUN_FILE = "run.json"


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """Everything that defines a training run.

  Attributes:
    workdir: where checkpoints, samples, summaries and metrics go.
    variant: a registered variant name (`gantape.variants.names()`).
    steps: GAN iterations in all; None takes the variant's seed default.
    batch_size: global batch size (the seed's 64).
    learning_rate, beta_1, beta_2: Adam settings; None takes the variant's.
    seed: seeds the data order, the noise and the networks' initial weights.
    data_path: MNIST `.npz` or IDX folder; None uses Keras's downloader.
    variant_options: keyword options for the variant (e.g. num_labeled).
    iterations_per_call: iterations per `tf.function` call.
    log_every: iterations between metric records and progress lines.
    sample_every: iterations between sample grids.
    checkpoint_every: iterations between checkpoints.
    keep_checkpoints: how many checkpoints to keep.
    jit_compile: compile the step with XLA.
    ema_decay: keep an exponential moving average of the generator's weights
      with this per-iteration decay (e.g. 0.999) and sample and evaluate with
      it; None (the seed) samples the live generator. See gantape/ema.py.
    eval_every: iterations between cheap sample-quality evaluations (FCD,
      classifier score, coverage; see gantape/evaluation.py); None: never.
    eval_samples: images generated per such evaluation.
  """
  workdir: str
  variant: str = "dcgan"
  steps: Optional[int] = None
  batch_size: int = 64
  learning_rate: Optional[float] = None
  beta_1: Optional[float] = None
  beta_2: Optional[float] = None
  seed: int = 0
  data_path: Optional[str] = None
  variant_options: Dict[str, Any] = dataclasses.field(default_factory=dict)
  iterations_per_call: int = 100
  log_every: int = 100
  sample_every: int = 1000
  checkpoint_every: int = 1000
  keep_checkpoints: int = 3
  jit_compile: bool = False
  ema_decay: Optional[float] = None
  eval_every: Optional[int] = None
  eval_samples: int = 2000

  def validate(self) -> None:
    """Raises UsageError naming the first bad field and how to fix it."""
    variants.get_class(self.variant)
    positive = ["batch_size", "iterations_per_call", "log_every",
                "sample_every", "checkpoint_every", "keep_checkpoints"]
    if self.steps is not None:
      positive.append("steps")
    if self.eval_every is not None:
      positive.append("eval_every")
    for field in positive:
      value = getattr(self, field)
      if not isinstance(value, int) or value <= 0:
        raise UsageError(f"{field} must be a positive integer, got {value!r}.")
    if self.learning_rate is not None and not self.learning_rate > 0:
      raise UsageError(
          f"learning_rate must be positive, got {self.learning_rate!r}.")
    for field in ("beta_1", "beta_2"):
      value = getattr(self, field)
      if value is not None and not 0.0 <= value < 1.0:
        raise UsageError(f"{field} must be in [0, 1), got {value!r}.")
    if self.ema_decay is not None and not 0.0 <= self.ema_decay < 1.0:
      raise UsageError(f"ema_decay must be in [0, 1), got {self.ema_decay!r}.")
    if self.eval_every is not None and not (
        isinstance(self.eval_samples, int) and self.eval_samples >= 20):
      raise UsageError(
          f"eval_samples must be an integer >= 20, got {self.eval_samples!r}.")
    if not self.workdir:
      raise UsageError("workdir must be set, e.g. --workdir=/tmp/gantape/dcgan.")


@dataclasses.dataclass(frozen=True)
class TrainResult:
  """What `train` returns: the trained step and where things went."""
  step: step_lib.TrainStep
  final_metrics: Dict[str, float]
  final_grid: str
  iterations: int


def total_iterations(config: TrainConfig) -> int:
  """`config.steps`, or the variant's seed default when unset."""
  if config.steps is not None:
    return config.steps
  return variants.get_class(config.variant).default_iterations


def _run_record(config: TrainConfig) -> Dict[str, Any]:
  record = dataclasses.asdict(config)
  record.pop("workdir")
  return record


def _check_workdir(config: TrainConfig) -> None:
  """Refuses a workdir that holds another variant's run."""
  path = os.path.join(config.workdir, RUN_FILE)
  if not os.path.exists(path):
    return
  with open(path) as f:
    previous = json.load(f)
  for key in ("variant", "variant_options", "ema_decay"):
    if previous.get(key) != getattr(config, key):
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


def train(config: TrainConfig,
          strategy: Optional[tf.distribute.Strategy] = None,
          log=print) -> TrainResult:
  """Trains (or resumes) the run described by `config`.

  Rerunning with the same workdir resumes from its latest checkpoint.

  Args:
    config: the run.
    strategy: a `tf.distribute.Strategy`; default: the current one.
    log: where progress lines go.

  Returns:
    A `TrainResult`.

  Raises:
    UsageError: bad config, missing data, or a workdir of another run.
    NonFiniteLossError: a loss became NaN or Inf; the latest checkpoint is
      the last good one.
  """
  config.validate()
  strategy = strategy or tf.distribute.get_strategy()
  os.makedirs(config.workdir, exist_ok=True)
  _check_workdir(config)
  total = total_iterations(config)
  mnist = data_lib.load_mnist(config.data_path)
  keras.utils.set_random_seed(config.seed)

  with strategy.scope():
    variant = variants.build(config.variant, **config.variant_options)
    d_opt, g_opt = step_lib.make_optimizers(
        variant, learning_rate=config.learning_rate, beta_1=config.beta_1,
        beta_2=config.beta_2)
    train_step = step_lib.TrainStep(variant, d_opt, g_opt, seed=config.seed,
                                    strategy=strategy,
                                    jit_compile=config.jit_compile)
  dataset = variant.make_dataset(mnist, batch_size=config.batch_size,
                                 seed=config.seed)
  iterator = train_step.make_iterator(dataset)

  items = train_step.checkpoint_items()
  ema, sampler = None, variant
  if config.ema_decay is not None:
    with strategy.scope():
      ema = ema_lib.GeneratorEma(
          variant.generator, variants.build(
              config.variant, **config.variant_options).generator,
          config.ema_decay)
    items["ema_generator"] = ema.average
    sampler = evaluation.ema_view(variant, ema.average)
  if strategy.num_replicas_in_sync == 1:
    items["iterator"] = iterator  # exact resume: the data order continues
  checkpoint = tf.train.Checkpoint(**items)
  manager = tf.train.CheckpointManager(
      checkpoint, os.path.join(config.workdir, "checkpoints"),
      max_to_keep=config.keep_checkpoints, step_counter=train_step.global_step)
  if manager.latest_checkpoint:
    checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    log(f"Resumed from {manager.latest_checkpoint} at iteration "
        f"{int(train_step.global_step)}.")
  _write_json_atomically(os.path.join(config.workdir, RUN_FILE),
                         _run_record(config))

  sample_dir = os.path.join(config.workdir, "samples")
  os.makedirs(sample_dir, exist_ok=True)
  fixed = samples_lib.fixed_inputs(variant, 100, seed=config.seed)
  writer = tf.summary.create_file_writer(config.workdir)
  metrics_path = os.path.join(config.workdir, "metrics.jsonl")
  evaluator = None
  if config.eval_every is not None:
    evaluator = evaluation.TrainingEvaluator(
        mnist, num_samples=config.eval_samples, seed=config.seed, log=log)

  def write_grid(name):
    grid = samples_lib.tile(samples_lib.generate_images(sampler, fixed))
    path = os.path.join(sample_dir, name)
    samples_lib.write_png(path, grid)
    with writer.as_default():
      summaries.image("samples", grid, step=int(train_step.global_step))
    return path

  done = int(train_step.global_step)
  metrics: Dict[str, float] = {}
  last_time, last_done = time.perf_counter(), done
  start_time, start_done = last_time, done
  while done < total:
    stop = min(total, done + config.iterations_per_call,
               _next_boundary(done, config.log_every),
               _next_boundary(done, config.sample_every),
               _next_boundary(done, config.checkpoint_every),
               _next_boundary(done, config.eval_every or total))
    before = done
    out = train_step(iterator, stop - done)
    metrics = {k: float(v) for k, v in out.items()}
    done = int(train_step.global_step)
    if ema is not None:
      ema.update(done - before)
    bad = sorted(k for k, v in metrics.items() if not math.isfinite(v))
    if bad:
      raise NonFiniteLossError(
          f"{', '.join(f'{k}={metrics[k]}' for k in bad)} in iterations "
          f"{before + 1}..{done}; the latest checkpoint, {manager.latest_checkpoint}, is the last "
          f"good one. Lower --learning_rate or try another variant.")
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
      scores = evaluator(sampler, done)
      with writer.as_default():
        for k, v in scores.items():
          summaries.scalar(k, v, step=done)
      with open(metrics_path, "a") as f:
        f.write(json.dumps({"step": done, "time": time.time(), **scores})
                + "\n")
    if done % config.sample_every == 0:
      write_grid(f"step_{done:07d}.png")
    if done % config.checkpoint_every == 0:
      manager.save(checkpoint_number=done)
  if manager.latest_checkpoint is None or not manager.latest_checkpoint.endswith(
      f"-{done}"):
    manager.save(checkpoint_number=done)
  final = write_grid("final.png")
  writer.flush()
  return TrainResult(train_step, metrics, final, done)


def _format_seconds(seconds: float) -> str:
  seconds = int(seconds)
  return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
