"""Rebuilding a trained variant from a training workdir.

A workdir written by `gantape.train.train` holds `run.json` (the variant, its
options, and the data's image shape and class count) and `checkpoints/`
(tf.train.CheckpointManager files). That is all it takes to rebuild the
variant and restore its networks, without the optimizers or the data:

    restored = gantape.checkpoints.restore_from_workdir("/tmp/gantape/dcgan")
    images = restored.sampler.generate(inputs, training=False)

Sampling (`gantape sample`) and export (`gantape export`) start here.

A run that evaluated during training (`--eval_every`) also keeps `best/`: the
networks at the lowest FCD it measured (`BestCheckpoint`). Every reader here
takes `checkpoint="best"` to use it instead of the latest.
"""

import contextlib
import dataclasses
import gc
import json
import math
import os
import sys
from typing import Any, Callable, Dict, Optional

import tensorflow as tf

from gantape import ema as ema_lib
from gantape import variants
from gantape.errors import UsageError
from gantape.training import checkpoint_files
from gantape.variants import base

RUN_FILE = "run.json"
CHECKPOINT_DIR = "checkpoints"
BEST_DIR = "best"
LATEST, BEST = "latest", "best"
Log = Callable[[str], None]
# The FCD is saved in the checkpoint itself, under this name.
_BEST_FCD_KEY = "best_fcd/.ATTRIBUTES/VARIABLE_VALUE"


@dataclasses.dataclass
class RestoredRun:
  """A variant rebuilt from a training workdir.

  Attributes:
    variant: the variant with the checkpoint's weights.
    run: the workdir's run.json.
    checkpoint: the checkpoint restored.
    step: its iteration.
    ema_variant: a view of `variant` with the exponential moving averages
      of the generator's and/or the discriminator's weights, when the run
      kept them (`ema_decay`, `discriminator_ema_decay`); else None.
  """
  variant: base.Variant
  run: Dict[str, Any]
  checkpoint: str
  step: int
  ema_variant: Optional[base.Variant] = None

  @property
  def sampler(self) -> base.Variant:
    """What the run's own sample grids used: the EMA view if any, else `variant`."""
    return self.ema_variant or self.variant


def read_run(workdir: str) -> Dict[str, Any]:
  """The workdir's run.json.

  Raises:
    UsageError: the folder is missing, or holds no (readable) run.json.
  """
  if not os.path.isdir(workdir):
    raise UsageError(f"workdir {workdir!r} does not exist; pass the --workdir "
                     f"of a run made with gantape train.")
  path = os.path.join(workdir, RUN_FILE)
  if not os.path.exists(path):
    raise UsageError(f"{workdir!r} holds no {RUN_FILE}, so it is not a "
                     f"gantape training run; pass the --workdir of a run made "
                     f"with gantape train.")
  try:
    with open(path) as f:
      run = json.load(f)
    run["variant"]  # pylint: disable=pointless-statement
  except (ValueError, KeyError, TypeError) as e:
    raise UsageError(f"{path} is not a readable run record ({type(e).__name__}:"
                     f" {e}); rerun gantape train with this --workdir to "
                     f"rewrite it.") from None
  return run


@contextlib.contextmanager
def tf_logs_muted():
  """Raises TensorFlow's Python logger to ERROR for the block."""
  logger = tf.get_logger()
  level = logger.level
  logger.setLevel("ERROR")
  try:
    yield
  finally:
    logger.setLevel(level)


def exists(prefix: str) -> bool:
  """Whether a TensorFlow checkpoint was written at `prefix`."""
  return tf.io.gfile.exists(f"{prefix}.index")


def try_restore(items: Dict[str, Any], path: str, *,
                expect_partial: bool = False) -> Optional[str]:
  """Restores `items` from the checkpoint at `path`.

  Every object in `items` must be matched by the checkpoint. With
  `expect_partial`, values of the checkpoint that `items` lacks (e.g. the
  optimizers, for sampling) are left behind silently.

  Returns:
    None on success, else why it failed, in one line.
  """
  # A Checkpoint per try, dropped with TensorFlow's logger muted: one whose
  # restore failed warns, when collected, about every value it left
  # unrestored, and the caller's one line already says why.
  with tf_logs_muted():
    try:
      status = tf.train.Checkpoint(**items).restore(path)
      status.assert_existing_objects_matched()
      if expect_partial:
        status.expect_partial()
      return None
    # A damaged file surfaces as DataLossError, IndexError, ValueError...;
    # another model's checkpoint as AssertionError or ValueError.
    except Exception as e:  # pylint: disable=broad-except
      reason = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:200]}"
    gc.collect()
  return reason


class BestCheckpoint:
  """Keeps, in `<workdir>/best/`, the networks at the lowest FCD so far.

  A long run can end worse than it was: the seed's DCGAN collapses between
  iterations 23k and 24k (README, "Sample quality"), and the rolling
  checkpoints move past the good state while nobody watches. The training
  loop offers every `--eval_every` FCD here; a lower one saves the networks
  (not the optimizers or the input pipeline: a sampling checkpoint of 5 MB
  for DCGAN, not a resumable one). The FCD is a variable inside the checkpoint,
  so score and weights land together, and a resumed run compares against
  the best of its earlier part.
  """

  def __init__(self, items: Dict[str, Any], directory: str,
               previous_directory: Optional[str] = None):
    """Opens (or starts) the best-checkpoint folder.

    Args:
      items: the networks and `global_step`, as for `tf.train.Checkpoint`.
      directory: where to save.
      previous_directory: where an earlier part of the run saved; default
        `directory`. (A non-chief worker saves privately but must take the
        chief's decisions, so it starts from the chief's best.)
    """
    self.fcd = tf.Variable(math.inf, dtype=tf.float64, trainable=False)
    self._manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(best_fcd=self.fcd, **items), directory,
        max_to_keep=1)
    previous = tf.train.latest_checkpoint(previous_directory or directory)
    if previous:
      self.fcd.assign(tf.train.load_variable(previous, _BEST_FCD_KEY))

  def offer(self, fcd: float, step: int) -> bool:
    """Saves the networks if `fcd` is the lowest yet; returns whether it did."""
    if not fcd < float(self.fcd.numpy()):  # also refuses NaN
      return False
    self.fcd.assign(fcd)
    checkpoint_files.save(self._manager, step)
    return True


def best_fcd(path: str) -> float:
  """The FCD a `BestCheckpoint` checkpoint at `path` was saved for."""
  return float(tf.train.load_variable(path, _BEST_FCD_KEY))


def _candidates(workdir: str, checkpoint: Optional[str], log: Log):
  """Checkpoint paths to try, newest first, for `restore_from_workdir`."""
  if checkpoint in (None, LATEST):
    directory = os.path.join(workdir, CHECKPOINT_DIR)
    listed = checkpoint_files.listed(directory)
    if listed is None:  # the state file is lost: read the files themselves
      listed = checkpoint_files.found_on_disk(directory)
      if listed:
        log(f"warning: {directory}/{checkpoint_files.STATE_FILE} (the list "
            f"of checkpoints) is missing; using the {len(listed)} "
            f"checkpoint(s) found on disk.")
    candidates = list(reversed(listed))
    if not candidates:
      raise UsageError(f"{workdir!r} holds no checkpoint yet; train first "
                       f"(gantape train --workdir={workdir}).")
    return candidates
  if checkpoint == BEST:
    best = tf.train.latest_checkpoint(os.path.join(workdir, BEST_DIR))
    if best is None:
      raise UsageError(
          f"{workdir!r} holds no best checkpoint: it is written when training "
          f"evaluates (--eval_every); use the latest checkpoint instead, or "
          f"resume the run with --eval_every.")
    return [best]
  if not exists(checkpoint):
    raise UsageError(
        f"checkpoint {checkpoint!r} does not exist (no {checkpoint}.index); "
        f"pass latest, best, or a prefix such as "
        f"{os.path.join(workdir, CHECKPOINT_DIR, 'ckpt-1000')}.")
  return [checkpoint]


def _warn(line: str) -> None:
  print(line, file=sys.stderr, flush=True)


def _averages(variant_class: type, run: Dict[str, Any],
              data: Dict[str, Any], options: Dict[str, Any]
              ) -> Dict[str, Any]:
  """{"generator"/"discriminator": a new network} for each network whose
  weight average the run kept (`ema.averaged_networks`)."""
  kept = ema_lib.averaged_networks(run)
  if not kept:
    return {}
  spare = variants.build(variant_class, **data, **options)
  return {network: getattr(spare, network) for network in kept}


def _first_that_restores(items: Dict[str, Any], candidates, errors, log
                         ) -> Optional[str]:
  """The first of `candidates` that restores into `items` (the optimizers
  stay behind); each failure is appended to `errors`, and warned about when
  an older candidate follows."""
  for path in candidates:
    reason = try_restore(items, path, expect_partial=True)
    if reason is None:
      return path
    errors.append(f"{os.path.basename(path)}: {reason}")
    if path != candidates[-1]:
      log(f"warning: cannot restore {path} ({reason}); trying an older "
          f"checkpoint.")
  return None


def _restorable_items(variant: base.Variant, run: Dict[str, Any],
                      data: Dict[str, Any], options: Dict[str, Any]):
  """The checkpoint items a sampling restore reads (networks, weight
  averages, global step), and the sampling view of the averages (None
  without them)."""
  items = {"generator": variant.generator,
           "discriminator": variant.discriminator}
  averages = _averages(type(variant), run, data, options)
  items.update({f"ema_{network}": model for network, model in averages.items()})
  ema_variant = (ema_lib.sampling_view(variant, **averages) if averages
                 else None)
  items["global_step"] = tf.Variable(0, dtype=tf.int64, name="global_step")
  return items, ema_variant


def restore_from_workdir(workdir: str, checkpoint: Optional[str] = None, *,
                         log: Log = _warn,
                         trusted_variant: Optional[Any] = None
                         ) -> RestoredRun:
  """Rebuilds the variant of a training workdir and restores its networks.

  Without `checkpoint`, the newest listed checkpoint that loads is used; one
  whose files were damaged after it was written is skipped, with a warning,
  for the next older one, as `gantape.train` does on resume. A workdir that
  lost its state file (the list of checkpoints) is read from the checkpoint
  files themselves. When none loads, the list is read once more: a run
  still training (`--keep_checkpoints=1`) may have rotated the checkpoint
  away while it was read, and the newer one it saved is tried.

  Args:
    workdir: a folder written by `gantape.train.train`.
    checkpoint: "latest" (or None), "best" (the lowest-FCD checkpoint kept
      by `BestCheckpoint`) or a checkpoint prefix (e.g.
      `.../checkpoints/ckpt-1000`).
    log: where warnings go (a skipped checkpoint); default stderr.
    trusted_variant: the class (or "package.module:ClassName") the user
      trusts, for a run of a variant from outside gantape: run.json alone
      never makes gantape import code (`variants.run_class`).

  Returns:
    A `RestoredRun`; its networks are in inference mode only when called so
    (`training=False`).

  Raises:
    UsageError: no run there, no checkpoint yet (or no best one), an
      untrusted variant from outside gantape, or checkpoints that do not
      fit the variant run.json names.
  """
  run = read_run(workdir)
  cls = variants.run_class(run["variant"], trusted=trusted_variant)
  options = run.get("variant_options") or {}
  candidates = _candidates(workdir, checkpoint, log)
  data = {k: run.get(k) for k in base.DATA_ARGUMENTS}  # MNIST's when absent
  variant = variants.build(cls, **data, **options)
  items, ema_variant = _restorable_items(variant, run, data, options)
  global_step = items["global_step"]
  errors = []
  path = _first_that_restores(items, candidates, errors, log)
  if path is None and checkpoint in (None, LATEST):
    # Rotated away while read (a run still training)? Try what replaced it.
    path = _first_that_restores(
        items, [c for c in _candidates(workdir, checkpoint, log)
                if c not in candidates], errors, log)
  if path is not None:
    return RestoredRun(variant, run, path, int(global_step.numpy()),
                       ema_variant)
  # The networks hold what the failed restores left pending; free them while
  # muted too, or they warn at exit after our one-line error.
  with tf_logs_muted():
    del variant, items, ema_variant
    gc.collect()
  raise UsageError(
      f"no checkpoint in {workdir!r} restores a {run['variant']!r} variant "
      f"with options {options} ({'; '.join(errors)}); they are damaged or "
      f"belong to another run than its {RUN_FILE} describes: pass the "
      f"--workdir of an intact run.")
