"""What a rerun of a workdir keeps, may change, and must not change.

A rerun resumes its workdir. The settings in `MAY_CHANGE_ON_RESUME` may
differ from the run's; one the caller did not give keeps the run's recorded
value (`keep_recorded`), so a resume by the same command less a flag does not
fall back to the flag's default. Every other setting (`FIXED_ON_RESUME`)
decides the checkpoints' shapes, the data order or the optimization itself,
and must equal the run's (`check`); so must the training data, by its
fingerprint (`check_data`), unless the caller accepts other data.

The fixed settings and the data's identity are recorded in run.json and
inside every checkpoint (`RECORD_ITEM`), so a workdir that lost its run.json,
and a `resume_from` checkpoint, are checked too: all before the run writes
anything.
"""

import dataclasses
import hashlib
import json
import os
from typing import Any, Collection, Dict, List, Mapping, Optional, Tuple

import numpy as np
import tensorflow as tf

from gantape import precision as precision_lib
from gantape import variants
from gantape.errors import UsageError
from gantape.training import checkpoint_files
from gantape.training import checkpoints
from gantape.training.config import TrainConfig

# What a rerun may change; every other setting (but the workdir) is fixed by
# the run's first command, since it decides the checkpoints' shapes, the data
# order or the optimization itself.
MAY_CHANGE_ON_RESUME = (
    "steps", "learning_rate", "d_learning_rate", "lr_decay_start", "lr_decay_end", "data_path",
    "iterations_per_call", "log_every",
    "sample_every", "checkpoint_every", "keep_checkpoints", "jit_compile",
    "eval_every", "eval_samples", "resume_from")
FIXED_ON_RESUME = tuple(
    f.name for f in dataclasses.fields(TrainConfig)
    if f.name not in MAY_CHANGE_ON_RESUME + ("workdir",))
# Per command, never kept from the run: ignored once the workdir has
# checkpoints, and its source may be gone by then.
_NOT_KEPT = ("resume_from",)
# The checkpoint item holding `record(...)` as JSON.
RECORD_ITEM = "run_record"
_RECORD_KEY = f"{RECORD_ITEM}/.ATTRIBUTES/VARIABLE_VALUE"


@dataclasses.dataclass(frozen=True)
class Record:
  """A record of a run, and where it was found."""
  where: str  # e.g. "workdir '/tmp/run'", "checkpoint /tmp/run/ckpt-4"
  holds: str  # e.g. "holds a run", "was written by a run"
  values: Dict[str, Any]
  branch: bool = False  # the run `resume_from` came from


@dataclasses.dataclass(frozen=True)
class Recorded:
  """What the run being resumed (or started from) recorded, before any write.

  Attributes:
    run: the workdir's run.json; None without one.
    records: each `Record` to check the rerun against:
      run.json, the newest checkpoint of the workdir that holds a record,
      and for a workdir without checkpoints, the `resume_from` checkpoint's
      record (or its run's run.json).
  """
  run: Optional[Dict[str, Any]]
  records: List[Record]


def given_settings(config: TrainConfig) -> List[str]:
  """The fields of an unresolved `config` that differ from their default:
  the settings a library caller chose (the CLI passes the flags given)."""
  return [f.name for f in dataclasses.fields(TrainConfig)
          if f.default is dataclasses.MISSING
          or getattr(config, f.name) != f.default]


def read_run(workdir: str) -> Optional[Dict[str, Any]]:
  """The workdir's run.json; None without one.

  Raises:
    UsageError: run.json is unreadable.
  """
  path = os.path.join(workdir, checkpoints.RUN_FILE)
  if not os.path.exists(path):
    return None
  try:
    with open(path) as f:
      run = json.load(f)
    run.get("variant")
  except (OSError, ValueError, AttributeError) as e:
    raise UsageError(
        f"{path} is unreadable ({type(e).__name__}: {e}); delete it to "
        f"resume this workdir (its checkpoints are still checked against "
        f"--variant), or use a new --workdir.") from None
  return run


def checkpoint_record(path: str) -> Optional[Dict[str, Any]]:
  """The record a checkpoint holds; None for one without (or unreadable)."""
  try:
    record = json.loads(tf.train.load_variable(path, _RECORD_KEY))
  except Exception:  # pylint: disable=broad-except
    return None  # older, or damaged: the restore says why
  return record if isinstance(record, dict) else None


def read(config: TrainConfig) -> Recorded:
  """What the workdir (or `config.resume_from`) recorded; reads only.

  Raises:
    UsageError: run.json is unreadable.
  """
  run = read_run(config.workdir)
  records = [] if run is None else [
      Record(f"workdir {config.workdir!r}", "holds a run", run)]
  on_disk = checkpoint_files.found_on_disk(
      os.path.join(config.workdir, checkpoints.CHECKPOINT_DIR))
  # The newest that loads; a few at most, as older ones record no more.
  for path in reversed(on_disk[-3:]):
    record = checkpoint_record(path)
    if record is not None:
      records.append(Record(f"checkpoint {path}", "was written by a run",
                            record))
      break
  if not on_disk and config.resume_from is not None:
    source = checkpoint_record(config.resume_from)
    if source is None:  # a checkpoint from before records: its run's
      try:
        source = read_run(os.path.dirname(os.path.dirname(
            config.resume_from)))
      except UsageError:
        source = None
    if source is not None:
      records.append(Record(f"resume_from={config.resume_from!r}",
                            "was written by a run", source, branch=True))
  return Recorded(run, records)


def keep_recorded(values: Mapping[str, Any], run: Optional[Dict[str, Any]],
                  given: Collection[str]
                  ) -> Tuple[Dict[str, Any], List[str]]:
  """The run's values of the changeable settings the caller did not give.

  Args:
    values: the rerun's settings by name, the preset applied.
    run: the workdir's run.json; None: nothing to keep.
    given: the settings the caller chose.

  Returns:
    ({setting: value} kept from the run where it differs from `values`,
    the changes from the run as "name old -> new"; `steps` is left out of
    those, as the start line names the target iteration).
  """
  if run is None:
    return {}, []
  recorded = [name for name in MAY_CHANGE_ON_RESUME
              if name in run and name not in _NOT_KEPT]
  kept = {name: run[name] for name in recorded
          if name not in given and run[name] != values[name]}
  values = {**values, **kept}
  changes = [f"{name} {run[name]} -> {values[name]}"
             for name in recorded
             if name != "steps" and run[name] != values[name]]
  return kept, changes


def _normalized(config: TrainConfig, previous: Dict[str, Any],
                variant_class: type) -> Dict[str, Any]:
  """`previous` as a record of today would say it, for comparison."""
  previous = dict(previous)
  # Runs from before presets wrote ema_decay=None for "no EMA", no preset.
  previous["ema_decay"] = previous.get("ema_decay") or 0.0
  previous.setdefault("preset", config.preset)
  # Runs from before dtype policies trained in float32.
  previous.setdefault("precision", precision_lib.FLOAT32)
  # Runs from before d_beta_1 and d_beta_2 gave D the generator's betas.
  previous.setdefault("d_beta_1", None)
  previous.setdefault("d_beta_2", None)
  # Runs from before train_subset trained on every image.
  previous.setdefault("train_subset", None)
  # Options that equal the variant's defaults build the same variant,
  # whether a flag or nothing set them.
  previous["variant_options"] = variants.nondefault_options(
      variant_class, previous.get("variant_options") or {})
  return previous


def check(config: TrainConfig, recorded: Recorded,
          variant_class: type) -> None:
  """Refuses a rerun that changes a setting fixed by the recorded run.

  Args:
    config: the rerun, resolved.
    recorded: what the run recorded (`read`).
    variant_class: the class `config.variant` names.

  Raises:
    UsageError: a record holds another value of a setting in
      `FIXED_ON_RESUME` (the first one that differs).
  """
  compared = {key: getattr(config, key) for key in FIXED_ON_RESUME}
  compared["variant_options"] = variants.nondefault_options(
      variant_class, config.variant_options)
  for rec in recorded.records:
    previous = _normalized(config, rec.values, variant_class)
    for key in FIXED_ON_RESUME:
      if key in previous and previous[key] != compared[key]:
        flag = ("" if key == "variant_options" else
                f" (--{key}={previous[key]})")
        advice = (f"pass the same {key} to start from it{flag}. Only these "
                  f"may differ from the run it came from" if rec.branch else
                  f"use a new --workdir, or the same {key} to resume it"
                  f"{flag}. Only these may change on resume")
        raise UsageError(
            f"{rec.where} {rec.holds} with {key}={previous[key]!r}, not "
            f"{getattr(config, key)!r}; {advice}: "
            f"{', '.join(MAY_CHANGE_ON_RESUME)}.")


def data_identity(dataset) -> Dict[str, Any]:
  """The training images' count and SHA-256 (of images and labels)."""
  digest = hashlib.sha256()
  for array in (dataset.x_train, dataset.y_train):
    if array is not None:
      array = np.ascontiguousarray(array)
      digest.update(f"{array.dtype.str}{array.shape}".encode())
      digest.update(array.data)
  return {"train_images": int(len(dataset.x_train)),
          "data_sha256": digest.hexdigest()}


def check_data(identity: Dict[str, Any], recorded: Recorded,
               allow_change: bool) -> bool:
  """Refuses training data other than the recorded run's, unless allowed.

  Args:
    identity: `data_identity` of this run's data.
    recorded: what the run recorded; records from before fingerprints
      accept any data.
    allow_change: accept other data.

  Returns:
    Whether the data differs from the recorded run's (allowed): the data
    order then restarts, as the saved position means nothing in other data.

  Raises:
    UsageError: other data, not allowed.
  """
  for rec in recorded.records:
    old = rec.values.get("data_sha256")
    if old is None or old == identity["data_sha256"]:
      continue
    if allow_change:
      return True
    raise UsageError(
        f"the training data ({identity['train_images']} images, sha256 "
        f"{identity['data_sha256'][:12]}) is not the data of the run in "
        f"{rec.where} ({rec.values.get('train_images')} images, sha256 "
        f"{old[:12]}); pass that run's --dataset and --data_path, or "
        f"--allow_data_change to go on with this data (its order then "
        f"starts over).")
  return False


def record(config: TrainConfig, data: Dict[str, Any]) -> Dict[str, Any]:
  """What a checkpoint records of its run: the fixed settings and the data."""
  fixed = {key: getattr(config, key) for key in FIXED_ON_RESUME}
  return json.loads(json.dumps({**fixed, **data}))


def record_variable(value: Dict[str, Any]) -> tf.Variable:
  """The checkpoint item holding `value` (`RECORD_ITEM`)."""
  with tf.device("CPU:0"):  # a string: no accelerator holds one
    return tf.Variable(json.dumps(value, sort_keys=True), dtype=tf.string,
                       trainable=False, name=RECORD_ITEM)
