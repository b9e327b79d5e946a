"""The cheap evaluation that a training run makes every `eval_every` iterations.

`TrainingEvaluator` loads the evaluation classifier once, measures the
real-data floor once, then at each call scores a few thousand samples and
returns `eval/*` scalars for the run's metrics sink, logging a progress line
and any `degeneration_warnings`.
"""

from typing import Any, Callable, Dict, Optional

from gantape import data as data_lib
from gantape.errors import UsageError
from gantape.evaluation import classifier as classifier_lib
from gantape.evaluation import evaluator as evaluator_lib
from gantape.evaluation import features as features_lib
from gantape.variants import base

# Scores of `evaluate_variant` reported only where the variant has them.
_OPTIONAL_KEYS = ("classifier_score", "coverage", "conditional_accuracy",
                  "test_accuracy")
# Test images for the discriminator's accuracy: all of them (None), the
# number papers report; one pass of a classifier costs little next to the
# samples' FCD.
_TEST_IMAGES = None


class TrainingEvaluator:
  """The cheap evaluation `gantape.train` runs every `eval_every` iterations.

  Scores `num_samples` generated images (no per-class FCD: too few samples
  per class), compares FCD with the real floor at the same sample count,
  returns `eval/*` scalars for TensorBoard and metrics.jsonl, and logs
  warning lines when coverage drops below all classes or FCD jumps above
  `FCD_JUMP_FACTOR` x the best so far. The caller keeps the best so far (the
  training loop's `checkpoints.BestCheckpoint`), so one value serves both the
  warning and the best checkpoint, across resumes too.
  """

  def __init__(self, dataset: data_lib.Dataset, *, num_samples: int = 2000,
               seed: int = 0, classifier: Optional[str] = None,
               feature_layer: str = classifier_lib.FEATURE_LAYER,
               log: Callable[[str], None] = print):
    """Loads (or trains once, minutes on CPU) the cached classifier.

    Args:
      dataset: the data.
      num_samples: images generated per evaluation.
      seed: seeds the generated inputs (the same at every evaluation).
      classifier: a model instead of the cache
        (`features.load_feature_model`).
      feature_layer: its feature layer.
      log: progress and warning lines.

    Raises:
      UsageError: the dataset is unlabelled and no classifier is given, so
        FCD, which the best checkpoint follows, cannot be measured.
    """
    model = features_lib.evaluation_classifier(dataset, classifier,
                                               feature_layer, log=log)
    if model is None:
      name = dataset.name
      raise UsageError(
          f"--eval_every measures FCD, which cannot be computed on the "
          f"unlabelled dataset {name} without a classifier (gantape trains "
          "its own on the labels); train without --eval_every and score "
          "samples with `gantape evaluate --classifier=MODEL`.")
    self.evaluator = evaluator_lib.Evaluator(dataset, model)
    self.num_samples = num_samples
    self.seed = seed
    self.log = log
    self.floor_fcd = self.evaluator.floor(num_samples, seed=seed)["floor_fcd"]

  def _evaluate(self, variant: base.Variant,
                test_images: int) -> Dict[str, Any]:
    """`evaluate_variant` at this evaluator's sample count and seed."""
    return self.evaluator.evaluate_variant(
        variant, self.num_samples, seed=self.seed, per_class=False,
        test_images=test_images)

  def _live_scores(self, variant: base.Variant, live_variant: base.Variant,
                   result: Dict[str, Any]) -> Dict[str, float]:
    """`live_fcd`, `live_coverage` and, where the discriminator is averaged,
    `live_test_accuracy`. A generator the average leaves live draws the
    samples `result` scored, so only the discriminator is scored again."""
    averaged_d = live_variant.discriminator is not variant.discriminator
    test_images = _TEST_IMAGES if averaged_d else 0  # 0: no test accuracy
    if live_variant.generator is variant.generator:
      live = {k: result[k] for k in ("fcd", "coverage") if k in result}
      live["test_accuracy"] = self.evaluator.test_accuracy(live_variant,
                                                           test_images)
    else:
      live = self._evaluate(live_variant, test_images)
    scores = {"live_fcd": live["fcd"]}
    scores.update({f"live_{k}": float(live[k])
                   for k in ("coverage", "test_accuracy")
                   if live.get(k) is not None})
    return scores

  def __call__(self, variant: base.Variant, step: int,
               live_variant: Optional[base.Variant] = None,
               best_fcd: Optional[float] = None) -> Dict[str, float]:
    """Evaluates `variant` now.

    Args:
      variant: what samples are drawn from (the EMA view when there is one).
      step: the iteration, for log lines.
      live_variant: the live networks' variant when `variant` holds an
        average; it is scored too (`eval/live_*`, with its test accuracy
        when the discriminator is averaged), so the average's gain is
        measured, not assumed. Warnings follow `variant`.
      best_fcd: the lowest FCD of the run so far, for the jump warning; None
        before the first evaluation.

    Returns:
      Scalars `eval/fcd`, `eval/fcd_over_floor`, `eval/floor_fcd`, where
      they apply (labelled data) `eval/classifier_score`, `eval/coverage`,
      `eval/conditional_accuracy`, `eval/test_accuracy`, and with
      `live_variant` `eval/live_fcd`, `eval/live_coverage`,
      `eval/live_test_accuracy`.
    """
    result = self._evaluate(variant, _TEST_IMAGES)
    for line in evaluator_lib.degeneration_warnings(result, best_fcd, step):
      self.log(line)
    scalars = {"fcd": result["fcd"],
               "fcd_over_floor": result["fcd"] / max(self.floor_fcd, 1e-12),
               "floor_fcd": self.floor_fcd}
    scalars.update({k: float(result[k]) for k in _OPTIONAL_KEYS
                    if k in result})
    if live_variant is not None:
      scalars.update(self._live_scores(variant, live_variant, result))
    histogram = (f" histogram={result['class_histogram']}"
                 if "class_histogram" in result else "")
    self.log(f"[eval] step {step}: " + " ".join(
        f"{k}={v:.4g}" for k, v in scalars.items()) + histogram)
    return {f"eval/{k}": float(v) for k, v in scalars.items()}
