"""Evaluating a training run's checkpoint and the result files it writes.

`evaluate_workdir` (behind `gantape evaluate`) restores a workdir's
checkpoint, scores its generator against its dataset's test set and the
real-data floor, and writes the result into the workdir as
`result_file(checkpoint)`, which `gantape.evaluation.report` reads back.
What cannot be scored (an unlabelled dataset without a classifier) is named
with why in the result's `skipped`.
"""

import os
from typing import Any, Callable, Dict, Optional

from gantape import data as data_lib
from gantape import files
from gantape.data import NUM_CLASSES
from gantape.errors import UsageError
from gantape.evaluation import classifier as classifier_lib
from gantape.evaluation import evaluator as evaluator_lib
from gantape.evaluation import features as features_lib
from gantape.training import checkpoints

# The result of evaluating a workdir's latest checkpoint.
RESULT_FILE = "evaluation.json"
# What of the plain generator's scores a result keeps beside the EMA's.
_RAW_GENERATOR_KEYS = ("fcd", "classifier_score", "coverage",
                       "conditional_accuracy", "per_class_fcd")


def result_file(checkpoint: Optional[str] = checkpoints.LATEST) -> str:
  """The file in the workdir that `evaluate_workdir(checkpoint=...)` writes.

  `evaluation.json` for the latest checkpoint, `evaluation_best.json` for the
  best, `evaluation_<name>.json` for a checkpoint prefix `.../<name>`.
  """
  if checkpoint in (None, checkpoints.LATEST):
    return RESULT_FILE
  name = (checkpoints.BEST if checkpoint == checkpoints.BEST
          else os.path.basename(checkpoint))
  return f"evaluation_{name}.json"


def _run_info(restored: checkpoints.RestoredRun, seed: int) -> Dict[str, Any]:
  """What a result records of the run and the checkpoint it scored."""
  return {"variant": restored.run["variant"],
          "variant_options": restored.run.get("variant_options", {}),
          "checkpoint": restored.checkpoint, "step": restored.step,
          "sampling": "ema" if restored.ema_variant else "generator",
          "seed": seed}


def _add_discriminator_scores(result: Dict[str, Any],
                              restored: checkpoints.RestoredRun,
                              dataset: data_lib.Dataset) -> None:
  """Adds the test error (and the live discriminator's, when the run keeps an
  average), and the accuracy with per-batch BatchNorm statistics.

  The second uses each batch's own statistics, as the seed's discriminator
  did, on the restored copy (it moves that copy's BatchNorm statistics).
  """
  result["test_error"] = 1.0 - result["test_accuracy"]
  sampler = restored.sampler
  if sampler.discriminator is not restored.variant.discriminator:
    # test_error is the average discriminator's; the live one's beside it.
    result["live_test_error"] = 1.0 - evaluator_lib.discriminator_test_accuracy(
        restored.variant, dataset.x_test, dataset.y_test, batch_size=500)
  result["test_accuracy_batch_stats"] = (
      evaluator_lib.discriminator_test_accuracy(
          restored.variant, dataset.x_test, dataset.y_test, batch_size=100,
          training=True))


def load_run_dataset(run: Dict[str, Any],
                     data_path: Optional[str] = None) -> data_lib.Dataset:
  """The dataset a run trained on, as its run.json records it.

  Args:
    run: the run.json dict (`dataset`, `data_path`, `image_size`, `channels`;
      a run without `dataset` trained on MNIST).
    data_path: read the data from here instead of the run's `data_path`.
  """
  path = data_path or run.get("data_path")
  # A run.json that names no dataset is an MNIST run's.
  return data_lib.load_dataset(run.get("dataset", "mnist"), path,
              image_size=run.get("image_size"), channels=run.get("channels"))


def _log_skipped(skipped: Dict[str, str], log: Callable[[str], None]) -> None:
  """One line per reason, naming the scores it skips."""
  by_reason: Dict[str, list] = {}
  for score, why in skipped.items():
    by_reason.setdefault(why, []).append(score)
  for why, scores in by_reason.items():
    log(f"Not computed: {', '.join(scores)}: {why}.")


def evaluate_workdir(workdir: str, *, num_samples: int = 10_000,
                     data_path: Optional[str] = None, seed: int = 0,
                     classifier: Optional[str] = None,
                     feature_layer: str = classifier_lib.FEATURE_LAYER,
                     checkpoint: str = checkpoints.LATEST,
                     log: Callable[[str], None] = print,
                     trusted_variant: Optional[str] = None) -> Dict[str, Any]:
  """Evaluates a training run's checkpoint and writes the result.

  Samples come from the EMA generator when the run kept one (the plain
  generator's scores are added under `raw_generator`).

  Args:
    workdir: a `gantape.train` workdir.
    num_samples: images generated; the floor uses as many training images.
    data_path: the run's dataset from another path; default: the run's.
    seed: seeds the generated inputs and the floor's training subset.
    classifier: a Keras model file (.keras, .h5), a SavedModel folder or
      gantape's classifier weights (.weights.h5); default: gantape's
      classifier for the run's dataset, from the cache (trained first if
      missing), none for an unlabelled dataset.
    feature_layer: the classifier's layer (a SavedModel's output) whose
      output FCD and KID compare.
    checkpoint: "latest", "best" or a checkpoint prefix
      (`checkpoints.restore_from_workdir`).
    log: progress lines, and one line per kind of score not computed.
    trusted_variant: for a run of a variant from outside gantape, its
      "package.module:ClassName", which the user trusts to be imported.

  Returns:
    The result dict, also written into the workdir as `result_file(checkpoint)`.

  Raises:
    UsageError: `num_samples` is too small for per-class statistics, or the
      workdir, its checkpoint, the data or the classifier cannot be used.
  """
  if num_samples < 2 * NUM_CLASSES:
    raise UsageError(f"num_samples must be at least {2 * NUM_CLASSES}, got "
                     f"{num_samples}.")
  restored = checkpoints.restore_from_workdir(
      workdir, checkpoint, trusted_variant=trusted_variant)
  dataset = load_run_dataset(restored.run, data_path)
  model = features_lib.evaluation_classifier(dataset, classifier,
                                             feature_layer, log=log)
  evaluator = evaluator_lib.Evaluator(dataset, model)
  _log_skipped(evaluator.skipped, log)
  result = _run_info(restored, seed)
  result["dataset"] = dataset.name
  if model is not None:
    result.update(model.info)
  _score(result, evaluator, restored, num_samples, seed, log,
         with_classifier=model is not None)
  if "test_accuracy" in result:
    _add_discriminator_scores(result, restored, dataset)
  files.write_json(os.path.join(workdir, result_file(checkpoint)), result)
  return result


def _score(result: Dict[str, Any], evaluator, restored, num_samples: int,
           seed: int, log, *, with_classifier: bool) -> None:
  """Adds the sample scores, the real-data floor and, for a run with an
  EMA, the plain generator's scores to `result`."""
  variant = restored.ema_variant or restored.variant
  log(f"Evaluating {restored.checkpoint} (iteration {restored.step}): "
      f"{num_samples} images from the "
      f"{'EMA generator' if restored.ema_variant else 'generator'}.")
  result.update(evaluator.evaluate_variant(variant, num_samples, seed=seed,
                                           log=log))
  if not with_classifier:
    return
  log("Scoring training images for the real-data floor.")
  result.update(evaluator.floor(num_samples, seed=seed,
                                per_class=variant.conditional))
  result["fcd_over_floor"] = result["fcd"] / max(result["floor_fcd"], 1e-12)
  result["reference"] = evaluator.reference
  if restored.ema_variant is not None:
    log(f"{num_samples} images from the plain generator, for comparison.")
    raw = evaluator.evaluate_variant(restored.variant, num_samples, seed=seed,
                                     log=log)
    result["raw_generator"] = {k: raw[k] for k in _RAW_GENERATOR_KEYS
                               if k in raw}
