"""Rebuilding a trained variant from a training workdir.

A workdir written by `gantape.train.train` holds `run.json` (the variant and
its options) and `checkpoints/` (tf.train.CheckpointManager files). That is
all it takes to rebuild the variant and restore its networks, without the
optimizers or the data:

    restored = gantape.checkpoints.restore_from_workdir("/tmp/gantape/dcgan")
    images = restored.sampler.generate(inputs, training=False)

Sampling (`scripts/sample.py`) and export (`scripts/export.py`) start here.
"""

import contextlib
import copy
import dataclasses
import gc
import json
import os
from typing import Any, Dict, Optional

import tensorflow as tf

from gantape import variants
from gantape.errors import UsageError
from gantape.variants import base

RUN_FILE = "run.json"
CHECKPOINT_DIR = "checkpoints"


@dataclasses.dataclass
class RestoredRun:
  """A variant rebuilt from a training workdir.

  Attributes:
    variant: the variant with the checkpoint's weights.
    run: the workdir's run.json.
    checkpoint: the checkpoint restored.
    step: its iteration.
    ema_variant: a view of `variant` that generates with the exponential
      moving average of the generator's weights, when the run kept one
      (`ema_decay`); else None.
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
                     f"of a run made with scripts/train.py.")
  path = os.path.join(workdir, RUN_FILE)
  if not os.path.exists(path):
    raise UsageError(f"{workdir!r} holds no {RUN_FILE}, so it is not a "
                     f"gantape training run; pass the --workdir of a run made "
                     f"with scripts/train.py.")
  try:
    with open(path) as f:
      run = json.load(f)
    run["variant"]  # pylint: disable=pointless-statement
  except (ValueError, KeyError, TypeError) as e:
    raise UsageError(f"{path} is not a readable run record ({type(e).__name__}:"
                     f" {e}); rerun scripts/train.py with this --workdir to "
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


def _view(variant: base.Variant, generator) -> base.Variant:
  """A shallow copy of `variant` that generates with `generator` instead."""
  view = copy.copy(variant)
  view.generator = generator
  return view


def restore_from_workdir(workdir: str,
                         checkpoint: Optional[str] = None) -> RestoredRun:
  """Rebuilds the variant of a training workdir and restores its networks.

  Without `checkpoint`, the newest listed checkpoint that loads is used; one
  whose files were damaged after it was written is skipped for the next
  older one, as `gantape.train` does on resume.

  Args:
    workdir: a folder written by `gantape.train.train`.
    checkpoint: a checkpoint prefix (e.g. `.../checkpoints/ckpt-1000`);
      default: the latest.

  Returns:
    A `RestoredRun`; its networks are in inference mode only when called so
    (`training=False`).

  Raises:
    UsageError: no run there, no checkpoint yet, or checkpoints that do not
      fit the variant run.json names.
  """
  run = read_run(workdir)
  options = run.get("variant_options") or {}
  if checkpoint is None:
    state = tf.train.get_checkpoint_state(os.path.join(workdir, CHECKPOINT_DIR))
    candidates = list(reversed(state.all_model_checkpoint_paths)) if state else []
    if state and state.model_checkpoint_path not in candidates:
      candidates.insert(0, state.model_checkpoint_path)
  else:
    candidates = [checkpoint]
  if not candidates:
    raise UsageError(f"{workdir!r} holds no checkpoint yet; train first "
                     f"(scripts/train.py --workdir={workdir}).")
  variant = variants.build(run["variant"], **options)
  items = {"generator": variant.generator,
           "discriminator": variant.discriminator}
  ema_variant = None
  if run.get("ema_decay"):  # None or 0: no EMA
    ema_variant = _view(variant, variants.build(run["variant"],
                                                **options).generator)
    items["ema_generator"] = ema_variant.generator
  global_step = tf.Variable(0, dtype=tf.int64, name="global_step")
  errors = []
  for path in candidates:
    # A Checkpoint per try, dropped with TensorFlow's logger muted: one whose
    # restore failed warns about every value it left unrestored.
    with tf_logs_muted():
      try:
        status = tf.train.Checkpoint(global_step=global_step,
                                     **items).restore(path)
        status.assert_existing_objects_matched()
        status.expect_partial()  # the optimizers and the iterator stay behind
        return RestoredRun(variant, run, path, int(global_step.numpy()),
                           ema_variant)
      except Exception as e:  # pylint: disable=broad-except
        # Damaged files raise DataLossError, IndexError...; another model's
        # checkpoint AssertionError or ValueError.
        errors.append(f"{os.path.basename(path)}: {type(e).__name__}: "
                      f"{str(e).strip().splitlines()[0][:200]}")
      gc.collect()
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
