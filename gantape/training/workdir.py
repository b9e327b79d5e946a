"""A training workdir: whose run it holds, how a run resumes, its records.

Layout:
    run.json             the config of the run (checked on resume)
    flags.txt            the command's flags, for `--flagfile`
    checkpoints/         tf.train.CheckpointManager files
    best/                the networks at the lowest --eval_every FCD so far
    metrics.jsonl        one JSON object per log line and per evaluation
    loss_curves.png      metrics.jsonl plotted, at the end (and on a stop)
    samples/             step_XXXXXXX.png grids from fixed noise, and final.png
    events.*             TensorBoard summaries
"""

import dataclasses
import json
import os
import shutil
from typing import Any, Dict, Optional

import tensorflow as tf

from gantape import files
from gantape import variants
from gantape.errors import UsageError
from gantape.training import checkpoints
from gantape.training import curves
from gantape.training.config import TrainConfig

FLAGS_FILE = "flags.txt"
CURVES_FILE = "loss_curves.png"
SAMPLE_DIR = "samples"


def check(config: TrainConfig) -> None:
  """Refuses a workdir that holds another variant's run.

  Raises:
    UsageError: run.json is unreadable, or names another variant, preset,
      variant options or EMA.
  """
  path = os.path.join(config.workdir, checkpoints.RUN_FILE)
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


def checkpoint_dir(workdir: str) -> str:
  """Creates (if need be) and returns the workdir's checkpoint folder.

  Raises:
    UsageError: the workdir cannot be created.
  """
  path = os.path.join(workdir, checkpoints.CHECKPOINT_DIR)
  try:
    os.makedirs(path, exist_ok=True)
  except OSError as e:
    raise UsageError(f"cannot create the workdir {workdir!r} "
                     f"({e.strerror}); pass a writable --workdir.") from None
  return path


def write_records(config: TrainConfig, flags_text: Optional[str]) -> None:
  """Writes run.json (the config less its workdir) and flags.txt.

  Args:
    config: the run, resolved.
    flags_text: the command's flags as `--flagfile` lines; None writes no
      flags.txt.
  """
  record = dataclasses.asdict(config)
  record.pop("workdir")
  files.write_json(os.path.join(config.workdir, checkpoints.RUN_FILE), record)
  if flags_text is not None:
    files.write_text(os.path.join(config.workdir, FLAGS_FILE), flags_text)


def truncate_metrics(path: str, step: int) -> None:
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
    files.write_text(path, "".join(keep))


def without_missing_iterator(items: Dict[str, Any], path: str,
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


def restore_latest(items: Dict[str, Any], manager: tf.train.CheckpointManager,
                   config: TrainConfig, log) -> str:
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
        without_missing_iterator(items, path, log), path)
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


def start_from(items: Dict[str, Any], config: TrainConfig, log) -> None:
  """Restores `config.resume_from` into `items`.

  Also copies the source run's metric records (the caller then cuts them to
  the restored iteration with `truncate_metrics`).

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
      without_missing_iterator(items, path, log), path)
  if reason is not None:
    raise UsageError(
        f"resume_from={path!r} cannot be restored into a {config.variant!r} "
        f"run with options {config.variant_options} ({reason}); start from "
        f"a checkpoint of the same variant.")
  step = int(items["global_step"].numpy())
  source = os.path.join(os.path.dirname(os.path.dirname(path)),
                        curves.METRICS_FILE)
  target = os.path.join(config.workdir, curves.METRICS_FILE)
  if os.path.exists(source) and not os.path.exists(target):
    shutil.copyfile(source, target)
  log(f"Started from {path} (another run's checkpoint) at iteration {step}.")
