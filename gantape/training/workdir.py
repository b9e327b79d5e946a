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

A rerun resumes the workdir; what it keeps, may change and must not change is
in `resume.py`.
"""

import dataclasses
import json
import os
import shutil
from typing import Any, Dict, List, Optional

import tensorflow as tf

from gantape import distribute as distribute_lib
from gantape import files
from gantape.errors import UsageError
from gantape.training import checkpoint_files
from gantape.training import checkpoints
from gantape.training import curves
from gantape.training import resume
from gantape.training import seed_generators
from gantape.training.config import TrainConfig

FLAGS_FILE = "flags.txt"
CURVES_FILE = "loss_curves.png"
SAMPLE_DIR = "samples"


@dataclasses.dataclass(frozen=True)
class Workdir:
  """A run's folder: where each of its files is, and where this process
  writes.

  Attributes:
    path: the run's folder (the chief's).
    own: where this process writes: `path` on the chief; on the other
      workers of a multi-worker strategy, a private folder for what
      TensorFlow makes every worker write (checkpoints) and the rest,
      deleted at the end (`close`, gantape/distribute.py).
  """
  path: str
  own: str

  @classmethod
  def open(cls, path: str,
           strategy: Optional[tf.distribute.Strategy] = None) -> "Workdir":
    """The workdir at `path`, seen from this process of `strategy`."""
    return cls(path, distribute_lib.worker_workdir(path, strategy))

  def close(self, strategy: Optional[tf.distribute.Strategy] = None) -> None:
    """Deletes this worker's private folder (nothing on the chief)."""
    distribute_lib.cleanup_worker_workdir(self.path, strategy)

  @property
  def is_chief(self) -> bool:
    """Whether this process writes the run's own files."""
    return self.own == self.path

  def file(self, name: str) -> str:
    """The path of `name` (e.g. `METRICS_FILE`) where this process writes."""
    return os.path.join(self.own, name)

  @property
  def checkpoints(self) -> str:
    """This process's checkpoint folder."""
    return self.file(checkpoints.CHECKPOINT_DIR)

  @property
  def best(self) -> str:
    """This process's folder of the lowest-FCD networks."""
    return self.file(checkpoints.BEST_DIR)

  @property
  def chief_checkpoints(self) -> str:
    """The run's checkpoint folder, which every worker resumes from."""
    return os.path.join(self.path, checkpoints.CHECKPOINT_DIR)

  @property
  def chief_best(self) -> str:
    """The run's folder of the lowest-FCD networks."""
    return os.path.join(self.path, checkpoints.BEST_DIR)


def prepare_checkpoints(workdir: Workdir, config: TrainConfig, log) -> str:
  """Readies the checkpoint folder for the run; returns its path.

  Creates it; deletes the `*_temp*` of a save that a kill -9 cut short; and
  when the state file that lists the checkpoints is gone (a clean-up, a
  partial copy), or lists checkpoints that `tf.train.CheckpointManager`
  would ignore (timestamps later than this machine's clock, or none),
  rebuilds it from the checkpoint files, so the run resumes them instead of
  starting over on top of them. Call it holding the workdir's lock.

  Raises:
    UsageError: the folder cannot be created, or the workdir has metric
      records but no checkpoint to resume them from.
  """
  path = workdir.checkpoints
  try:
    os.makedirs(path, exist_ok=True)
  except OSError as e:
    raise UsageError(f"cannot create the workdir {workdir.own!r} "
                     f"({e.strerror}); pass a writable --workdir.") from None
  # Partial saves hold nothing a complete checkpoint lacks: removed quietly.
  for folder in (path, workdir.best):
    checkpoint_files.remove_stale_temps(folder)
  found = checkpoint_files.found_on_disk(path)
  state = f"{path}/{checkpoint_files.STATE_FILE} (the list of checkpoints)"
  if checkpoint_files.listed(path) is None:
    if found:
      checkpoint_files.write_state(path, found)
      log(f"warning: {state} was missing; rebuilt it from the "
          f"{len(found)} checkpoint(s) found on disk, newest {found[-1]}.")
    elif config.resume_from is None:
      _refuse_orphan_metrics(workdir.own)
  elif found and checkpoint_files.ignored_by_manager(path):
    checkpoint_files.write_state(path, found)
    log(f"warning: {state} has timestamps later than this machine's clock, "
        f"or none, so TensorFlow would not resume from it; rebuilt it from "
        f"the {len(found)} checkpoint(s) found on disk, newest {found[-1]}.")
  return path


def _refuse_orphan_metrics(workdir: str) -> None:
  """Refuses to start over in a workdir whose metrics have no checkpoint."""
  path = os.path.join(workdir, curves.METRICS_FILE)
  if os.path.exists(path) and curves.read_metrics(path):
    raise UsageError(
        f"{workdir!r} holds {curves.METRICS_FILE} records but no checkpoint "
        f"to resume them from; starting over would erase them. Use a new "
        f"--workdir, or move {curves.METRICS_FILE} away to start over here.")


def refuse_unlisted(directory: str) -> None:
  """Refuses to start from iteration 0 while `directory` holds checkpoints.

  Call it when the checkpoint manager lists none: `prepare_checkpoints`
  rebuilds a state file it would ignore, so this is the last guard.
  """
  found = checkpoint_files.found_on_disk(directory)
  if found:
    raise UsageError(
        f"{directory} holds {len(found)} checkpoint(s), newest {found[-1]}, "
        f"that its {checkpoint_files.STATE_FILE} file does not list as "
        f"TensorFlow resumes them; starting over would overwrite them. Move "
        f"{directory}/{checkpoint_files.STATE_FILE} away (it is rebuilt from "
        f"the files), or use a new --workdir.")


def write_records(workdir: Workdir, config: TrainConfig,
                  flags_text: Optional[str],
                  data: Optional[Dict[str, Any]] = None,
                  kept: Optional[Dict[str, Any]] = None) -> None:
  """Writes run.json (the config less its workdir) and flags.txt.

  Args:
    config: the run, resolved.
    flags_text: the command's flags as `--flagfile` lines; None writes no
      flags.txt.
    data: what the data decided, recorded beside the config: `image_shape`
      and `num_classes` (`run_data.DataShape.record`), which rebuild the
      variant for sampling and export, and the data's identity.
    kept: settings the command did not give and the run kept
      (`resume.keep_recorded`): flags.txt gets their values, not the
      flags' defaults.
  """
  record = dataclasses.asdict(config)
  record.pop("workdir")
  record.update(data or {})
  files.write_json(workdir.file(checkpoints.RUN_FILE), record)
  if flags_text is not None:
    files.write_text(workdir.file(FLAGS_FILE),
                     _flags_with(flags_text, kept or {}))


def _flags_with(flags_text: str, values: Dict[str, Any]) -> str:
  """`flags_text` (`--name=value` lines, `--name`/`--noname` for booleans)
  with the flags of `values` set to them; a None value leaves its flag out."""
  def name(line):
    flag = line[2:].split("=", 1)[0]
    return flag[2:] if "=" not in line and flag[2:] in values else flag
  lines = [line for line in flags_text.splitlines()
           if line and name(line) not in values]
  for key, value in sorted(values.items()):
    if value is not None:
      text = str(value).lower() if isinstance(value, bool) else value
      lines.append(f"--{key}={text}")
  return "".join(line + "\n" for line in lines)


def truncate_metrics(path: str, step: int) -> None:
  """Drops metric records past `step`, and lines that are not records.

  After a crash the run resumes from an earlier checkpoint and redoes those
  iterations; without this they would be in the file twice. Every line that
  parses as a record is kept, a last one without its newline too (the
  newline is added); only what does not parse (a torn or garbled line) goes.
  """
  if not os.path.exists(path):
    return
  with open(path, errors="replace") as f:  # not UTF-8: U+FFFD, never a crash
    text = f.read()
  keep = []
  for line in text.split("\n"):
    try:
      record = json.loads(line)
    except json.JSONDecodeError:
      continue
    if isinstance(record, dict) and record.get("step", 0) <= step:
      keep.append(line + "\n")
  if "".join(keep) != text:
    files.write_text(path, "".join(keep))


def _variable_names(path: str) -> Optional[List[str]]:
  """The checkpoint's variable names; None when its index is unreadable."""
  try:
    return [name for name, _ in tf.train.list_variables(path)]
  except Exception:  # pylint: disable=broad-except
    return None  # damaged: the restore that follows says why


def _try_restore(items: Dict[str, Any], path: str, log) -> Optional[str]:
  """`checkpoints.try_restore` of `items` less those the checkpoint at
  `path` was written without.

  A multi-replica run cannot checkpoint its distributed iterator, so its
  checkpoints resume on one device too, with the data order restarted (a
  note says so). Checkpoints from before run records hold no
  `resume.RECORD_ITEM`. Without an iterator in `items` (several replicas,
  or other data) the checkpoint's is left behind on purpose.
  """
  names = _variable_names(path)
  if names is not None:
    has = {name.split("/", 1)[0] for name in names}
    if "iterator" in items and "iterator" not in has:
      log(f"note: {path} holds no data-iterator state (a multi-replica run "
          f"wrote it); the data order restarts from the seed's first batch.")
    seed_generators.warn_if_missing(items, has, path, log)
    items = {k: v for k, v in items.items() if k in has or k not in (
        "iterator", resume.RECORD_ITEM, seed_generators.ITEM)}
  return checkpoints.try_restore(items, path,
                                 expect_partial="iterator" not in items)


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
    reason = _try_restore(items, path, log)
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


def start_from(items: Dict[str, Any], workdir: Workdir, config: TrainConfig,
               log) -> None:
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
  reason = _try_restore(items, path, log)
  if reason is not None:
    raise UsageError(
        f"resume_from={path!r} cannot be restored into a {config.variant!r} "
        f"run with options {config.variant_options} ({reason}); start from "
        f"a checkpoint of the same variant.")
  step = int(items["global_step"].numpy())
  source = os.path.join(os.path.dirname(os.path.dirname(path)),
                        curves.METRICS_FILE)
  target = workdir.file(curves.METRICS_FILE)
  if os.path.exists(source) and not os.path.exists(target):
    shutil.copyfile(source, target)
  log(f"Started from {path} (another run's checkpoint) at iteration {step}.")
