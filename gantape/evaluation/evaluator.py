"""Scores of generated images: samples in, statistics out.

`Evaluator` runs the evaluation classifier over images and compares them with
the dataset's test set (`gantape.evaluation.metrics`); `generate_samples`
draws images from a variant's generator; `discriminator_test_accuracy`
measures a (K + 1)-way discriminator as a classifier;
`degeneration_warnings` turns a score
during training into warning lines.
"""

import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import keras
import numpy as np

from gantape import data as data_lib
from gantape.evaluation import classifier as classifier_lib
from gantape.evaluation import features as features_lib
from gantape.evaluation import metrics
from gantape.training import samples as samples_lib
from gantape.variants import base

# FCD above this multiple of the best FCD so far counts as a jump.
FCD_JUMP_FACTOR = 2.0
# The scores that need classes: labelled data and a classifier of its classes.
_CLASS_SCORES = ("classifier_score", "coverage", "conditional_accuracy")


def _batched(fn: Callable[[np.ndarray], Sequence[np.ndarray]],
             images: np.ndarray, batch_size: int) -> List[np.ndarray]:
  """`fn` over `images` in batches, each of its outputs concatenated."""
  outputs = [fn(images[i:i + batch_size])
             for i in range(0, len(images), batch_size)]
  return [np.concatenate(parts) for parts in zip(*outputs)]


def _per_class_fcd(features: np.ndarray, labels: np.ndarray,
                   test_features: np.ndarray, test_labels: np.ndarray,
                   num_classes: int) -> List[Optional[float]]:
  """FCD of each class's features against its test features, by class.

  None for a class with fewer than two images on either side (a covariance
  needs two), which only happens with a few samples per class.
  """
  by_class = []
  for c in range(num_classes):
    ours, theirs = features[labels == c], test_features[test_labels == c]
    by_class.append(metrics.feature_distance(ours, theirs)
                    if min(len(ours), len(theirs)) >= 2 else None)
  return by_class


def _mean(values: List[Optional[float]]) -> Optional[float]:
  """The mean of the values that are not None; None if none is."""
  known = [v for v in values if v is not None]
  return float(np.mean(known)) if known else None


class Evaluator:
  """Scores images against a dataset's test set in a classifier's feature space.

  The reference images are the test set, or the training set for a dataset
  without a test split. Test-set features are computed once, on first use.
  What cannot be scored (every score without a classifier; the class-based
  ones on unlabelled data or with a classifier of other classes) is named,
  with why, in `skipped` and in every result.
  """

  def __init__(self, dataset: data_lib.Dataset,
               classifier: Union[keras.Model, features_lib.FeatureModel,
                                 None], *,
               batch_size: int = 500,
               feature_layer: str = classifier_lib.FEATURE_LAYER):
    """Wraps a classifier for scoring.

    Args:
      dataset: the data; its test set is the reference.
      classifier: a Keras classifier (`load_or_train_classifier`), a
        `features.FeatureModel`, or None (unlabelled data without one:
        nothing is scored, `skipped` says why).
      batch_size: images per classifier call.
      feature_layer: the Keras classifier's feature layer.
    """
    self.dataset = dataset
    self.batch_size = batch_size
    self.image_shape = dataset.image_shape
    self.num_classes = dataset.num_classes
    if isinstance(classifier, keras.Model):
      classifier = features_lib.from_keras(classifier, feature_layer)
    if classifier is not None:
      classifier.check_images(self.image_shape)
    self.classifier = classifier
    self.reference = "test" if len(dataset.x_test) else "train"
    self.skipped = _skipped(dataset, classifier, self.num_classes)
    self._test = None

  @property
  def scores_classes(self) -> bool:
    """Whether class-based scores apply (labels, and a classifier of them)."""
    return "coverage" not in self.skipped

  def _reference(self) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    if self.reference == "test":
      return self.dataset.x_test, self.dataset.y_test
    return self.dataset.x_train, self.dataset.y_train

  def features_and_probs(self, images: np.ndarray
                         ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Features [N, D] and class probabilities [N, K] (or None) of images."""
    images = classifier_lib.as_images(images, self.image_shape)
    parts = [self.classifier(images[i:i + self.batch_size])
             for i in range(0, len(images), self.batch_size)]
    features = np.concatenate([f for f, _ in parts]).astype(np.float64)
    if parts[0][1] is None:
      return features, None
    return features, np.concatenate([p for _, p in parts]).astype(np.float64)

  def test_features(self) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Features and probabilities of the reference images (cached)."""
    if self._test is None:
      self._test = self.features_and_probs(self._reference()[0])
    return self._test

  def evaluate_images(self, images: np.ndarray,
                      labels: Optional[np.ndarray] = None,
                      per_class: bool = True) -> Dict[str, Any]:
    """Quality statistics of generated images.

    Args:
      images: [N, H, W] (or [N, H*W*C], [N, H, W, C]) in [0, 1].
      labels: for conditional samples, the class each image was asked for.
      per_class: with `labels`, also compute the per-class FCD (needs enough
        samples per class for a covariance: a few hundred at least).

    Returns:
      A dict with `num_samples`, `fcd`, `kid` and `kid_std`
      (`metrics.kernel_distance`), `classifier_score`, `coverage`,
      `class_histogram`, and with `labels` `conditional_accuracy` (and
      `per_class_fcd`, `per_class_fcd_by_digit`); what could not be scored
      is left out and named in `skipped` ({score: why}).
    """
    result = {"num_samples": int(len(images))}
    if self.skipped:
      result["skipped"] = dict(self.skipped)
    if self.classifier is None:
      return result
    features, probs = self.features_and_probs(images)
    test_features, _ = self.test_features()
    kid, kid_std = metrics.kernel_distance(features, test_features)
    result.update(fcd=metrics.feature_distance(features, test_features),
                  kid=kid, kid_std=kid_std)
    if not self.scores_classes:
      return result
    predictions = np.argmax(probs, axis=1)
    histogram = metrics.class_histogram(predictions, self.num_classes)
    result.update(classifier_score=metrics.classifier_score(probs),
                  coverage=metrics.coverage(histogram),
                  class_histogram=histogram.tolist())
    if labels is not None:
      labels = np.asarray(labels)
      result["conditional_accuracy"] = metrics.accuracy(predictions, labels)
      if per_class:
        by_class = _per_class_fcd(features, labels, test_features,
                                  self._reference()[1], self.num_classes)
        result["per_class_fcd"] = _mean(by_class)
        result["per_class_fcd_by_digit"] = by_class
    return result

  def floor(self, num_samples: int = 10_000, seed: int = 0,
            per_class: bool = False) -> Dict[str, float]:
    """The real-data floor: FCD of `num_samples` training images vs the test set.

    Generated samples cannot be expected to beat real ones, and FCD is biased
    upwards at small N, so compare a model's FCD with the floor at the same N.
    Without a test split the reference is the training set itself, so the
    floor is lower than a held-out one would be.

    Returns:
      `{"floor_fcd": ...}`, and with `per_class` (and classes)
      `per_class_floor_fcd` (each class's training images against its test
      images, averaged over classes); `{}` without a classifier.
    """
    if self.classifier is None:
      return {}
    rng = np.random.default_rng(seed)
    x_train, y_train = self.dataset.x_train, self.dataset.y_train
    index = rng.choice(len(x_train), min(num_samples, len(x_train)),
                       replace=False)
    features, _ = self.features_and_probs(x_train[index])
    test_features, _ = self.test_features()
    result = {"floor_fcd": metrics.feature_distance(features, test_features)}
    if per_class and self.scores_classes:
      result["per_class_floor_fcd"] = _mean(_per_class_fcd(
          features, y_train[index], test_features, self._reference()[1],
          self.num_classes))
    return result

  def evaluate_variant(self, variant: base.Variant, num_samples: int, *,
                       seed: int = 0, per_class: bool = True,
                       test_images: Optional[int] = None,
                       log: Optional[Callable[[str], None]] = None
                       ) -> Dict[str, Any]:
    """Generates `num_samples` images (inference mode) and scores them.

    Conditional variants are asked for each class equally often. A variant
    whose discriminator has K + 1 outputs (K classes + fake: SSGAN, and
    CGAN's too) also gets `test_accuracy`, its discriminator's accuracy on
    the labelled test set over the K real classes.

    Args:
      variant: the variant (its current weights).
      num_samples: how many images to generate.
      seed: seeds the random inputs.
      per_class: compute per-class FCD for conditional variants.
      test_images: how many test images `test_accuracy` uses (None: all;
        0 skips it).
      log: where sampling progress lines go; None: nowhere.

    Returns:
      `evaluate_images`'s dict, plus `test_accuracy` where it applies.
    """
    images, labels = generate_samples(variant, num_samples, seed=seed,
                                      log=log)
    result = self.evaluate_images(images, labels, per_class=per_class)
    accuracy = self.test_accuracy(variant, test_images)
    if accuracy is not None:
      result["test_accuracy"] = accuracy
    return result

  def test_accuracy(self, variant: base.Variant,
                    test_images: Optional[int] = None) -> Optional[float]:
    """The discriminator's accuracy on the first `test_images` test images
    (None: all), or None where it does not apply: no test labels, 0 images,
    or a discriminator that does not classify (`discriminator_classifies`).
    """
    x_test, y_test = self.dataset.x_test, self.dataset.y_test
    n = len(x_test) if test_images is None else min(test_images, len(x_test))
    if y_test is None or n <= 0 or not discriminator_classifies(variant):
      return None
    return discriminator_test_accuracy(variant, x_test[:n], y_test[:n],
                                       batch_size=self.batch_size)


def _skipped(dataset, classifier: Optional[features_lib.FeatureModel],
             num_classes: Optional[int]) -> Dict[str, str]:
  """{score: why} for the scores that cannot be computed."""
  name = dataset.name
  skipped = {}
  if classifier is None:
    why = (f"dataset {name} is unlabelled and no --classifier was given: "
           "FCD and KID need a classifier's features (gantape trains its "
           "own on the labels)")
    skipped.update(fcd=why, kid=why)
  if num_classes is None:
    why = f"dataset {name} is unlabelled: these scores count classes"
    skipped["test_accuracy"] = why
  elif classifier is not None and classifier.num_outputs != num_classes:
    why = (f"classifier {classifier.description} predicts "
           f"{classifier.num_outputs} classes, dataset {name} has "
           f"{num_classes}")
  else:
    return skipped
  skipped.update({k: why for k in _CLASS_SCORES})
  return skipped


class _ProgressView:
  """A variant whose `generate` logs how many images it has made so far."""

  # Progress lines per sampling: often enough to show it moves, few enough
  # to read.
  LINES = 4

  def __init__(self, variant: base.Variant, total: int,
               log: Callable[[str], None]):
    self._variant = variant
    self._total = total
    self._log = log
    self._done = 0
    self._next = -(-total // self.LINES)
    self._start = time.perf_counter()

  def __getattr__(self, name):
    return getattr(self._variant, name)

  def generate(self, inputs, **kwargs):
    images = self._variant.generate(inputs, **kwargs)
    self._done += int(images.shape[0])
    if self._done >= self._next or self._done == self._total:
      self._next = self._done + -(-self._total // self.LINES)
      self._log(f"sampled {self._done}/{self._total} images "
                f"({time.perf_counter() - self._start:.0f}s)")
    return images


def generate_samples(variant: base.Variant, num_samples: int, *,
                     seed: int = 0, batch_size: int = samples_lib.CHUNK,
                     log: Optional[Callable[[str], None]] = None
                     ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
  """`num_samples` images [N, H, W(, C)] from the generator in inference mode.

  Args:
    variant: the variant to sample (its EMA view samples the average).
    num_samples: how many images.
    seed: seeds the noise.
    batch_size: images per generator call.
    log: where progress lines ("sampled 2500/10000 images (3s)") go, a few
      per call; None: nowhere.

  Returns:
    (images, labels): labels are the classes asked for (cycling 0..K-1) for
    a conditional variant, else None.
  """
  labels = (samples_lib.cycling_labels(num_samples, variant.num_classes)
            if variant.conditional else None)
  if log is not None:
    variant = _ProgressView(variant, num_samples, log)
  images = samples_lib.generate(variant, num_samples, seed=seed,
                                labels=labels, chunk=batch_size)
  return images, labels


def discriminator_classifies(variant: base.Variant) -> bool:
  """Whether the discriminator outputs K classes + "fake" (SSGAN, CGAN)."""
  try:
    width = variant.discriminator.outputs[0].shape[-1]
  except (AttributeError, ValueError):  # a subclassed discriminator
    return False
  return width == variant.num_classes + 1


def discriminator_test_accuracy(variant: base.Variant, images: np.ndarray,
                                labels: np.ndarray, *, batch_size: int = 500,
                                training: bool = False) -> float:
  """Accuracy of a (K + 1)-way discriminator over the K real classes.

  Args:
    variant: a variant whose discriminator outputs K classes + "fake".
    images: test images [N, H, W(, C)] (uint8 or [0, 1]).
    labels: their classes.
    batch_size: images per call.
    training: False uses BatchNorm's moving statistics; True uses each
      batch's own statistics, as the seed's discriminator always did. True
      also moves the BatchNorm statistics, so use it only on a throwaway copy.

  Returns:
    The share of images whose most likely real class is their label.
  """
  x = classifier_lib.as_images(images)
  (probs,) = _batched(
      lambda b: [variant.discriminator(b, training=training).numpy()],
      x, batch_size)
  return metrics.accuracy(
      np.argmax(probs[:, :variant.num_classes], axis=1), labels)


def degeneration_warnings(result: Dict[str, Any],
                          best_fcd: Optional[float],
                          step: int) -> List[str]:
  """Warning lines for an evaluation during training (empty when all is well).

  Args:
    result: from `Evaluator.evaluate_variant`.
    best_fcd: the lowest FCD of the run's earlier evaluations, or None.
    step: the iteration, for the message.

  Returns:
    One line per problem: coverage below all classes, FCD above
    `FCD_JUMP_FACTOR` x `best_fcd`; a score the result lacks is not checked.
  """
  warnings = []
  num_classes = len(result.get("class_histogram", ()))
  if "coverage" in result and result["coverage"] < num_classes:
    warnings.append(
        f"WARNING: step {step}: class coverage dropped to "
        f"{result['coverage']}/{num_classes} (classes with >= "
        f"{metrics.COVERAGE_THRESHOLD:.0%} of samples; histogram "
        f"{result['class_histogram']}): the generator is collapsing modes.")
  fcd = result.get("fcd")
  if best_fcd is not None and fcd is not None and (
      fcd > FCD_JUMP_FACTOR * best_fcd):
    warnings.append(
        f"WARNING: step {step}: FCD jumped to {result['fcd']:.2f}, more than "
        f"{FCD_JUMP_FACTOR:g}x the best so far ({best_fcd:.2f}): samples are "
        "degenerating; compare samples/ grids, and consider the latest good "
        "checkpoint.")
  return warnings
