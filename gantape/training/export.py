"""Samples and SavedModels from a training workdir.

`write_samples` draws N images into an `.npz` (plus a PNG grid beside it);
`export_generator` writes the generator as a SavedModel that needs only
TensorFlow to load:

    model = tf.saved_model.load(export_dir)
    out = model.signatures["serving_default"](
        noise=tf.random.uniform([8, 100], -1.0, 1.0),
        labels=tf.range(8) % 10)          # conditional variants only
    out["images"]                         # float32 [8, H, W, C] in [0, 1]

Both use the generator the run's own sample grids used: the exponential
moving average of its weights when the run kept one, else the generator.
"""

import errno
import json
import math
import os
import re
import shutil
from typing import Any, Dict, List, Optional

import numpy as np
import tensorflow as tf

from gantape import files
from gantape.errors import UsageError
from gantape.training import checkpoints
from gantape.training import memory
from gantape.training import samples as samples_lib
from gantape.variants import base

# The PNG beside an .npz shows at most this many samples (10 x 10).
GRID_MAX = 100
# Written into every export: a folder holding it and a SavedModel's files
# only is gantape's to replace.
MARKER_FILE = "gantape_export.json"
# What `tf.saved_model.save` writes at the top of its folder.
_SAVED_MODEL_ENTRIES = {"saved_model.pb", "fingerprint.pb", "variables",
                        "assets", MARKER_FILE}
_VARIABLES_FILE = re.compile(r"variables\.(index|data-\d+-of-\d+)")


def _requested_labels(variant: base.Variant, num: int,
                      label: Optional[int]) -> Optional[np.ndarray]:
  if not variant.conditional:
    if label is not None:
      raise UsageError(
          f"--label works with conditional variants only; {variant.name!r} "
          f"cannot be told which digit to draw: drop --label, or sample a "
          f"cgan run.")
    return None
  if label is None:
    return samples_lib.cycling_labels(num, variant.num_classes)
  if not 0 <= label < variant.num_classes:
    raise UsageError(f"label must be a class in 0..{variant.num_classes - 1}"
                     f", got {label}.")
  return np.full([num], label, np.int32)


def _check_memory(variant: base.Variant, num: int) -> None:
  """Refuses `num` samples that cannot fit in memory, before drawing them.

  The estimate: the float32 noise, and the images twice (the generator's
  chunks and the array they are joined into).
  """
  per_sample = 4 * (variant.noise_dim + 2 * math.prod(variant.image_shape))
  too_big = memory.shortfall(num * per_sample)
  if too_big:
    largest = memory.available_bytes() // per_sample
    raise UsageError(
        f"num={num} samples need {too_big}; pass a --num of at most "
        f"{largest}, and run several with different --seed and --output for "
        f"more.")


def grid_of(images: np.ndarray, columns: int = 10) -> np.ndarray:
  """The first `GRID_MAX` images as a uint8 grid, `columns` per row.

  With labels cycling 0..9, column c shows class c.
  """
  images = images[:GRID_MAX]
  n = len(images)
  columns = min(columns, n)
  rows = -(-n // columns)
  padded = np.zeros([rows * columns, *images.shape[1:]], np.float32)
  padded[:n] = images
  return samples_lib.tile(padded, rows=rows)


def write_samples(workdir: str, output: str, num: int, *,
                  label: Optional[int] = None, seed: int = 0,
                  checkpoint: str = checkpoints.LATEST,
                  trusted_variant: Optional[str] = None) -> Dict[str, Any]:
  """Writes `num` samples of a run's checkpoint to `output` (.npz).

  The `.npz` holds `x`, float32 [num, H, W] in [0, 1] for one channel
  (as MNIST's arrays) or [num, H, W, C] for colour, and for conditional
  variants `y`, int32 [num], the classes asked for: all `label`, or 0..K-1
  cycling without it. A PNG grid of the first 100 samples (ten per row, so
  with cycling labels column c is digit c) goes beside it, same name with
  `.png`.

  Args:
    workdir: a training workdir.
    output: the `.npz` path; its folder is created.
    num: how many samples, at least 1.
    label: the digit to draw (conditional variants only).
    seed: seeds the noise.
    checkpoint: "latest", "best" or a checkpoint prefix
      (`checkpoints.restore_from_workdir`).
    trusted_variant: for a run of a variant from outside gantape, its
      "package.module:ClassName", which the user trusts to be imported.

  Returns:
    {"npz", "png", "checkpoint", "step", "num"}.

  Raises:
    UsageError: bad num, label or output, or no usable run in workdir.
  """
  if num is None or num < 1:
    raise UsageError(f"num must be a positive integer, got {num!r}.")
  if not output or not output.endswith(".npz"):
    raise UsageError(f"output must be an .npz path, got {output!r}; e.g. "
                     f"--output=/tmp/samples.npz.")
  restored = checkpoints.restore_from_workdir(
      workdir, checkpoint, trusted_variant=trusted_variant)
  variant = restored.sampler
  labels = _requested_labels(variant, num, label)
  _check_memory(variant, num)
  images = samples_lib.generate(variant, num, labels=labels, seed=seed)
  arrays = {"x": images}
  if labels is not None:
    arrays["y"] = labels
  png = output[:-len(".npz")] + ".png"
  path = output
  try:
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with files.atomic_path(output) as tmp:
      with open(tmp, "wb") as f:  # a file object: np.savez adds no suffix
        np.savez(f, **arrays)
    path = png
    samples_lib.write_png(png, grid_of(images))
  except OSError as e:
    raise files.cannot_write(path, e) from None
  return {"npz": output, "png": png, "checkpoint": restored.checkpoint,
          "step": restored.step, "num": num}


class _ServingGenerator(tf.Module):
  """The generator behind a `serving_default` signature.

  Attributes it keeps in the SavedModel: `noise_dim` and `conditional`
  (variables a loader can read), and `generator` (the Keras model's weights).
  """

  def __init__(self, variant: base.Variant):
    super().__init__(name="gantape_generator")
    self.generator = variant.generator
    self.noise_dim = tf.Variable(variant.noise_dim, trainable=False,
                                 name="noise_dim")
    self.conditional = tf.Variable(variant.conditional, trainable=False,
                                   name="conditional")
    self._variant = variant
    noise_spec = tf.TensorSpec([None, variant.noise_dim], tf.float32,
                               name="noise")
    if variant.conditional:
      self.serve = tf.function(
          self._serve_conditional,
          input_signature=[noise_spec,
                           tf.TensorSpec([None], tf.int32, name="labels")])
    else:
      self.serve = tf.function(self._serve, input_signature=[noise_spec])

  def _images(self, inputs):
    images = self._variant.generate(inputs, training=False)
    return {"images": tf.reshape(tf.cast(images, tf.float32),
                                 [-1, *self._variant.image_shape])}

  def _serve(self, noise):
    return self._images({"noise": noise})

  def _serve_conditional(self, noise, labels):
    in_range = f"labels must be classes in 0..{self._variant.num_classes - 1}"
    checks = [
        tf.debugging.assert_equal(
            tf.shape(noise)[0], tf.shape(labels)[0],
            message="noise and labels need the same batch size"),
        tf.debugging.assert_greater_equal(labels, 0, message=in_range),
        tf.debugging.assert_less(labels, self._variant.num_classes,
                                 message=in_range)]
    with tf.control_dependencies(checks):
      noise = tf.identity(noise)
    return self._images({"noise": noise, "labels": labels})


def export_generator(workdir: str, export_dir: str, *,
                     checkpoint: str = checkpoints.LATEST,
                     trusted_variant: Optional[str] = None) -> Dict[str, Any]:
  """Writes a run's generator (by default the latest) as a SavedModel.

  The `serving_default` signature takes `noise` float32 [batch, noise_dim]
  and, for conditional variants, `labels` int32 [batch] in 0..K-1; it
  returns `images` float32 [batch, H, W, C] in [0, 1] (inference mode: BatchNorm
  uses its moving statistics). Loading needs TensorFlow only. The folder is
  written beside `export_dir` and renamed into place, so a failed export
  leaves no half-written model.

  Args:
    workdir: a training workdir.
    export_dir: the SavedModel folder. An earlier export there (holding
      `MARKER_FILE` and a SavedModel's files, nothing else) is replaced;
      any other non-empty folder is refused.
    checkpoint: "latest", "best" or a checkpoint prefix
      (`checkpoints.restore_from_workdir`).
    trusted_variant: as for `write_samples`.

  Returns:
    {"export_dir", "checkpoint", "step", "noise_dim", "conditional",
    "image_shape"}.

  Raises:
    UsageError: no usable run in workdir, export_dir is taken, or it
      cannot be written (a full disk: the previous export stays).
  """
  if not export_dir:
    raise UsageError("export_dir must be set, e.g. --export_dir=/tmp/gantape/"
                     "dcgan_saved_model.")
  export_dir = os.path.abspath(export_dir)
  _remove_killed_exports(export_dir)
  replace = _check_replaceable(export_dir)
  restored = checkpoints.restore_from_workdir(
      workdir, checkpoint, trusted_variant=trusted_variant)
  variant = restored.sampler
  module = _ServingGenerator(variant)
  marker = {"workdir": os.path.abspath(workdir),
            "checkpoint": restored.checkpoint, "step": restored.step}
  _save_in_place(module, export_dir, marker, replace=replace)
  return {"export_dir": export_dir, "checkpoint": restored.checkpoint,
          "step": restored.step, "noise_dim": variant.noise_dim,
          "conditional": variant.conditional,
          "image_shape": tuple(variant.image_shape)}


def _unexpected_files(export_dir: str) -> List[str]:
  """What in `export_dir` an export of gantape's would not hold."""
  entries = sorted(os.listdir(export_dir))
  unexpected = [e for e in entries if e not in _SAVED_MODEL_ENTRIES
                or os.path.islink(os.path.join(export_dir, e))]
  for sub, allowed in (("variables", _VARIABLES_FILE.fullmatch),
                       ("assets", lambda name: False)):
    path = os.path.join(export_dir, sub)
    if sub in entries and os.path.isdir(path) and not os.path.islink(path):
      unexpected += [f"{sub}/{e}" for e in sorted(os.listdir(path))
                     if not allowed(e)]
  return unexpected


def _check_replaceable(export_dir: str) -> bool:
  """Whether `export_dir` is an earlier export to replace (False: absent or
  empty).

  Raises:
    UsageError: it is a file, or a folder gantape did not write.
  """
  if not os.path.lexists(export_dir):
    return False
  if os.path.islink(export_dir) or not os.path.isdir(export_dir):
    raise UsageError(
        f"export_dir {export_dir!r} exists and is not a folder; pass a new "
        f"--export_dir.")
  if not os.listdir(export_dir):
    return False
  unexpected = _unexpected_files(export_dir)
  if unexpected:
    raise UsageError(
        f"export_dir {export_dir!r} holds files gantape did not write "
        f"({', '.join(unexpected)}); pass a new --export_dir, or move them "
        f"away.")
  if not os.path.isfile(os.path.join(export_dir, MARKER_FILE)):
    raise UsageError(
        f"export_dir {export_dir!r} holds a SavedModel without "
        f"{MARKER_FILE}, so not one gantape wrote (or one an older gantape "
        f"wrote); pass a new --export_dir, or delete it yourself.")
  return True


def _alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except (PermissionError, OverflowError):
    return pid < 2**22  # another user's process; above pid_max, none
  return True


def _remove_killed_exports(export_dir: str) -> None:
  """Removes the folders an export killed mid-way left beside `export_dir`:
  its temporary folder, or the old export between the two renames. Only
  folders holding `MARKER_FILE`, of processes that are gone, are removed."""
  folder, name = os.path.split(export_dir)
  pattern = re.compile(rf"\.tmp-(\d+)-{re.escape(name)}|"
                       rf"{re.escape(name)}\.old-(\d+)")
  for entry in os.listdir(folder) if os.path.isdir(folder) else ():
    found, path = pattern.fullmatch(entry), os.path.join(folder, entry)
    if (found and not os.path.islink(path)
        and os.path.isfile(os.path.join(path, MARKER_FILE))
        and not _alive(int(found.group(1) or found.group(2)))):
      shutil.rmtree(path, ignore_errors=True)


def _save_in_place(module: _ServingGenerator, export_dir: str,
                   marker: Dict[str, Any], *, replace: bool) -> None:
  """Saves `module` beside `export_dir`, then renames it into place.

  Args:
    module: what to save.
    export_dir: the SavedModel folder: absent, empty, or (with `replace`)
      an earlier export, which is deleted once the new one is in place.
    marker: written into the folder as `MARKER_FILE` (first, so that a
      killed export's temporary folder is recognised as gantape's).
    replace: whether `export_dir` holds an earlier export.

  Raises:
    UsageError: the folder cannot be written; nothing was replaced.
  """
  old = f"{export_dir}.old-{os.getpid()}"
  try:
    os.makedirs(os.path.dirname(export_dir), exist_ok=True)
    with files.atomic_path(export_dir) as tmp:
      try:
        os.makedirs(tmp)
        with open(os.path.join(tmp, MARKER_FILE), "w") as f:
          json.dump(marker, f, indent=2, sort_keys=True)
        tf.saved_model.save(module, tmp,
                            signatures={"serving_default": module.serve})
      except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a folder: atomic_path
        raise                                   # removes files only
      if replace:
        os.replace(export_dir, old)
      elif os.path.isdir(export_dir):
        os.rmdir(export_dir)  # empty, checked by the caller
  except (OSError, tf.errors.OpError) as e:
    if os.path.isdir(old) and not os.path.lexists(export_dir):
      os.replace(old, export_dir)
    reason = getattr(e, "strerror", None) or _first_line(e)
    full = (getattr(e, "errno", None) == errno.ENOSPC
            or isinstance(e, tf.errors.ResourceExhaustedError)
            or "No space left" in str(e))
    raise UsageError(
        f"cannot write the export {export_dir} ({reason}); "
        f"{'free some space' if full else 'make its folder writable'} and "
        f"rerun." + (" The previous export there is intact." if replace
                     else "")) from None
  shutil.rmtree(old, ignore_errors=True)


def _first_line(error: BaseException) -> str:
  text = str(error).strip()
  return text.splitlines()[0][:200] if text else type(error).__name__
