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
    .lock                held by the run in progress (`lock.py`)

A rerun resumes the workdir; only the settings in `MAY_CHANGE_ON_RESUME` may
differ from run.json's (`check`).
"""

import dataclasses
import json
import os
import shutil
from typing import Any, Dict, List, Optional

import tensorflow as tf

from gantape import files
from gantape import precision as precision_lib
from gantape import variants
from gantape.errors import UsageError
from gantape.training import checkpoint_files
from gantape.training import checkpoints
from gantape.training import curves
from gantape.training.config import TrainConfig

FLAGS_FILE = "flags.txt"
CURVES_FILE = "loss_curves.png"
SAMPLE_DIR = "samples"


# What a rerun may change; every other setting (but the workdir) is fixed by
# the run's first command, since it decides the checkpoints' shapes, the data
# order or the optimization itself.
MAY_CHANGE_ON_RESUME = (
    "steps", "learning_rate", "lr_decay_start", "lr_decay_end", "data_path",
    "iterations_per_call", "log_every",
    "sample_every", "checkpoint_every", "keep_checkpoints", "jit_compile",
    "eval_every", "eval_samples", "resume_from")
FIXED_ON_RESUME = tuple(
    f.name for f in dataclasses.fields(TrainConfig)
    if f.name not in MAY_CHANGE_ON_RESUME + ("workdir",))


def check(config: TrainConfig) -> None:
  """Refuses a rerun that changes a setting fixed by the workdir's run.

  Reads run.json only, so a refused run leaves the workdir as it was.

  Args:
    config: the rerun, resolved.

  Raises:
    UsageError: run.json is unreadable, or records another value of a
      setting in `FIXED_ON_RESUME` (the first one that differs).
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
  # Runs from before dtype policies trained in float32.
  previous.setdefault("precision", precision_lib.FLOAT32)
  # Options that equal the variant's defaults build the same variant,
  # whether a flag or nothing set them.
  previous["variant_options"] = variants.nondefault_options(
      config.variant, previous.get("variant_options") or {})
  compared = dataclasses.replace(
      config, variant_options=variants.nondefault_options(
          config.variant, config.variant_options))
  for key in FIXED_ON_RESUME:
    if key in previous and previous[key] != getattr(compared, key):
      flag = ("" if key == "variant_options" else
              f" (--{key}={previous[key]})")
      raise UsageError(
          f"workdir {config.workdir!r} holds a run with {key}="
          f"{previous[key]!r}, not {getattr(config, key)!r}; use a new "
          f"--workdir, or the same {key} to resume it{flag}. Only these may "
          f"change on resume: {', '.join(MAY_CHANGE_ON_RESUME)}.")


def prepare_checkpoints(config: TrainConfig, log) -> str:
  """Readies the checkpoint folder for the run; returns its path.

  Creates it; deletes the `*_temp*` of a save that a kill -9 cut short; and
  when the state file that lists the checkpoints is gone (a clean-up, a
  partial copy), rebuilds it from the checkpoint files, so the run resumes
  them instead of starting over on top of them. Call it holding the
  workdir's lock.

  Raises:
    UsageError: the folder cannot be created, or the workdir has metric
      records but no checkpoint to resume them from.
  """
  path = os.path.join(config.workdir, checkpoints.CHECKPOINT_DIR)
  try:
    os.makedirs(path, exist_ok=True)
  except OSError as e:
    raise UsageError(f"cannot create the workdir {config.workdir!r} "
                     f"({e.strerror}); pass a writable --workdir.") from None
  # Partial saves hold nothing a complete checkpoint lacks: removed quietly.
  for folder in (path, os.path.join(config.workdir, checkpoints.BEST_DIR)):
    checkpoint_files.remove_stale_temps(folder)
  if checkpoint_files.listed(path) is None:
    found = checkpoint_files.found_on_disk(path)
    if found:
      checkpoint_files.write_state(path, found)
      log(f"warning: {path}/{checkpoint_files.STATE_FILE} (the list of "
          f"checkpoints) was missing; rebuilt it from the "
          f"{len(found)} checkpoint(s) found on disk, newest {found[-1]}.")
    elif config.resume_from is None:
      _refuse_orphan_metrics(config.workdir)
  return path


def _refuse_orphan_metrics(workdir: str) -> None:
  """Refuses to start over in a workdir whose metrics have no checkpoint."""
  path = os.path.join(workdir, curves.METRICS_FILE)
  if os.path.exists(path) and curves.read_metrics(path):
    raise UsageError(
        f"{workdir!r} holds {curves.METRICS_FILE} records but no checkpoint "
        f"to resume them from; starting over would erase them. Use a new "
        f"--workdir, or move {curves.METRICS_FILE} away to start over here.")


def write_records(config: TrainConfig, flags_text: Optional[str],
                  data: Optional[Dict[str, Any]] = None) -> None:
  """Writes run.json (the config less its workdir) and flags.txt.

  Args:
    config: the run, resolved.
    flags_text: the command's flags as `--flagfile` lines; None writes no
      flags.txt.
    data: what the data decided, recorded beside the config: `image_shape`
      and `num_classes` (`run_data.DataShape.record`), which rebuild the
      variant for sampling and export.
  """
  record = dataclasses.asdict(config)
  record.pop("workdir")
  record.update(data or {})
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


def _variable_names(path: str) -> Optional[List[str]]:
  """The checkpoint's variable names; None when its index is unreadable."""
  try:
    return [name for name, _ in tf.train.list_variables(path)]
  except Exception:  # pylint: disable=broad-except
    return None  # damaged: the restore that follows says why


def without_missing_iterator(items: Dict[str, Any], path: str,
                             log) -> Dict[str, Any]:
  """`items` less the data iterator when the checkpoint at `path` has none.

  A multi-replica run cannot checkpoint its distributed iterator, so its
  checkpoints resume on one device too, with the data order restarted.
  """
  names = _variable_names(path)
  if (names is None or "iterator" not in items
      or any(n.startswith("iterator/") for n in names)):
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
  names = _variable_names(path)
  if names is None:
    raise UsageError(
        f"resume_from={path!r} is damaged: {checkpoints.try_restore({}, path)}"
        f"; pass an older checkpoint of that run.")
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
