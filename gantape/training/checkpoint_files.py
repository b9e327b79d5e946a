"""The files of a checkpoint folder, beneath `tf.train.CheckpointManager`.

The manager writes `ckpt-<n>` as `ckpt-<n>_temp/` first, merges it into
`ckpt-<n>.index` and `ckpt-<n>.data-*`, and only then names it in the state
file `checkpoint`, the list the manager (and `tf.train.latest_checkpoint`)
reads. This module covers what goes wrong around that:

  a lost state file:   `found_on_disk` lists the checkpoints from their
                       files; `write_state` rebuilds the list from them.
  a state file the manager ignores (timestamps later than the clock, as
                       in a workdir copied from a machine whose clock was
                       ahead, or none, as `update_checkpoint_state` writes):
                       `ignored_by_manager` finds it, for `write_state`.
  a failed save:       `save` removes the partial files and says why in one
                       line (`CheckpointWriteError`), e.g. on a full disk.
  a save killed -9:    `remove_stale_temps` deletes the `*_temp*` it left.
"""

import contextlib
import errno
import glob
import os
import re
import shutil
import time
from typing import List, Optional, Sequence

import tensorflow as tf

from gantape import files
from gantape.errors import GantapeError

STATE_FILE = "checkpoint"
# The manager's default prefix: checkpoint <n> is `<folder>/ckpt-<n>`.
PREFIX = "ckpt"
_INDEX = re.compile(rf"^{PREFIX}-(\d+)\.index$")


class CheckpointWriteError(GantapeError):
  """A checkpoint could not be written (a full disk, a read-only folder)."""


def found_on_disk(directory: str) -> List[str]:
  """The checkpoint prefixes with an index file in `directory`, oldest first."""
  try:
    names = os.listdir(directory)
  except OSError:
    return []
  numbers = sorted(int(m.group(1)) for m in map(_INDEX.match, names) if m)
  return [os.path.join(directory, f"{PREFIX}-{n}") for n in numbers]


def listed(directory: str) -> Optional[List[str]]:
  """The checkpoints the state file lists, oldest first; None without one."""
  if not os.path.exists(os.path.join(directory, STATE_FILE)):
    return None
  try:
    state = tf.train.get_checkpoint_state(directory)
  except UnicodeDecodeError:  # garbled bytes: as unreadable as a bad parse
    state = None
  if state is None:
    return None
  paths = list(state.all_model_checkpoint_paths)
  if state.model_checkpoint_path and state.model_checkpoint_path not in paths:
    paths.append(state.model_checkpoint_path)
  return paths


def ignored_by_manager(directory: str) -> List[str]:
  """The checkpoints the state file lists that a manager would not take over.

  `tf.train.CheckpointManager` takes over only the listed checkpoints whose
  timestamp (capped at the clock) is later than `last_preserved_timestamp`
  (capped too): none when the timestamps lie in the future, or are missing.
  A manager opened on such a folder lists nothing, and a run would start
  from iteration 0 on top of the checkpoints.
  """
  paths = listed(directory)
  if not paths:
    return []
  logger = tf.get_logger()
  level = logger.level
  logger.setLevel("ERROR")  # its "time.time() ... behind" warning
  try:
    taken = tf.train.CheckpointManager(
        tf.train.Checkpoint(), directory, max_to_keep=None).checkpoints
  finally:
    logger.setLevel(level)
  return [p for p in paths if p not in taken]


def write_state(directory: str, paths: Sequence[str]) -> None:
  """Writes a state file listing `paths` (oldest first), as the manager would.

  The timestamps are the index files' times: the manager only takes over
  (and later rotates) checkpoints newer than `last_preserved_timestamp`.
  """
  times = [min(os.path.getmtime(f"{p}.index"), time.time()) for p in paths]
  lines = [f'model_checkpoint_path: "{os.path.basename(paths[-1])}"']
  lines += [f'all_model_checkpoint_paths: "{os.path.basename(p)}"'
            for p in paths]
  lines += [f"all_model_checkpoint_timestamps: {t!r}" for t in times]
  lines.append(f"last_preserved_timestamp: {min(times) - 1.0!r}")
  files.write_text(os.path.join(directory, STATE_FILE), "\n".join(lines) + "\n")


def remove_stale_temps(directory: str) -> List[str]:
  """Deletes the `*_temp*` of saves that never finished; returns their paths.

  Call it only while no other process saves into `directory` (the training
  run holds the workdir's lock).
  """
  stale = sorted(glob.glob(os.path.join(glob.escape(directory),
                                        f"{PREFIX}-*_temp*")))
  for path in stale:
    _remove(path)
  return stale


def _remove(path: str) -> None:
  with contextlib.suppress(OSError):
    if os.path.isdir(path) and not os.path.islink(path):
      shutil.rmtree(path)
    else:
      os.remove(path)


def _why(error: BaseException) -> str:
  """An error in one line, saying so plainly when the disk is full."""
  text = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
  full = (isinstance(error, tf.errors.ResourceExhaustedError)
          or getattr(error, "errno", None) == errno.ENOSPC
          or "No space left on device" in text)
  return ("no space left on device; " if full else "") + (
      f"{type(error).__name__}: {text}")


def save(manager: tf.train.CheckpointManager, number: int) -> str:
  """`manager.save(checkpoint_number=number)`; a failure leaves no partial file.

  Returns:
    The saved checkpoint's path.

  Raises:
    CheckpointWriteError: the save failed (e.g. the disk is full). Its
      partial files are removed first; the checkpoints saved before stay.
  """
  # TensorFlow writes ckpt-N.index in place: a symbolic link there would
  # have its target overwritten. The link goes (never its target), as a
  # file of that name would be overwritten.
  prefix = os.path.join(manager.directory, f"{PREFIX}-{number}")
  for path in glob.glob(f"{glob.escape(prefix)}.*"):
    if os.path.islink(path):
      os.remove(path)
  try:
    return manager.save(checkpoint_number=number)
  except (tf.errors.OpError, OSError) as e:
    prefix = os.path.join(manager.directory, f"{PREFIX}-{number}")
    pattern = glob.escape(prefix)
    partial = glob.glob(f"{pattern}_temp*")
    if prefix not in manager.checkpoints:
      partial += glob.glob(f"{pattern}.index") + glob.glob(f"{pattern}.data-*")
    for path in partial:
      _remove(path)
    latest = manager.latest_checkpoint
    raise CheckpointWriteError(
        f"cannot save the checkpoint {prefix} ({_why(e)}); its partial files "
        f"were removed and the earlier checkpoints are intact (latest: "
        f"{latest}). Free some space (or make {manager.directory} writable) "
        f"and rerun the same command to resume.") from None
