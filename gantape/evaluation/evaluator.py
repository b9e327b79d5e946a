"""Scores of generated images: samples in, statistics out.

`Evaluator` runs the evaluation classifier over images and compares them with
MNIST's test set (`gantape.evaluation.metrics`); `generate_samples` draws
images from a variant's generator; `discriminator_test_accuracy` measures an
11-way discriminator as a classifier; `degeneration_warnings` turns a score
during training into warning lines.
"""

import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf

from gantape import data as data_lib
from gantape.data import NUM_CLASSES
from gantape.evaluation import classifier as classifier_lib
from gantape.evaluation import metrics
from gantape.training import samples as samples_lib
from gantape.variants import base

# FCD above this multiple of the best FCD so far counts as a jump.
FCD_JUMP_FACTOR = 2.0


def _batched(fn: Callable[[np.ndarray], Sequence[np.ndarray]],
             images: np.ndarray, batch_size: int) -> List[np.ndarray]:
  """`fn` over `images` in batches, each of its outputs concatenated."""
  outputs = [fn(images[i:i + batch_size])
             for i in range(0, len(images), batch_size)]
  return [np.concatenate(parts) for parts in zip(*outputs)]


def _per_class_fcd(features: np.ndarray, labels: np.ndarray,
                   test_features: np.ndarray,
                   test_labels: np.ndarray) -> List[float]:
  """FCD of each digit's features against its test features, by digit."""
  return [metrics.feature_distance(features[labels == d],
                                   test_features[test_labels == d])
          for d in range(NUM_CLASSES)]


class Evaluator:
  """Scores images against MNIST's test set in the classifier's feature space.

  Test-set features are computed once, on first use.
  """

  def __init__(self, mnist: data_lib.Mnist, classifier: keras.Model, *,
               batch_size: int = 500):
    """Wraps a classifier for scoring.

    Args:
      mnist: the data; its test set is the reference.
      classifier: from `load_or_train_classifier`.
      batch_size: images per classifier call.
    """
    self.mnist = mnist
    self.classifier = classifier
    self.batch_size = batch_size
    self._model = classifier_lib.features_and_probs_model(classifier)
    self._predict = tf.function(lambda x: self._model(x, training=False))
    self._test = None

  def features_and_probs(self, images: np.ndarray
                         ) -> Tuple[np.ndarray, np.ndarray]:
    """Penultimate features [N, D] and class probabilities [N, 10] of images."""
    images = classifier_lib.as_images(images)
    features, probs = _batched(
        lambda x: [t.numpy() for t in self._predict(tf.constant(x))],
        images, self.batch_size)
    return features.astype(np.float64), probs.astype(np.float64)

  def test_features(self) -> Tuple[np.ndarray, np.ndarray]:
    """Features and probabilities of the 10k test images (cached)."""
    if self._test is None:
      self._test = self.features_and_probs(self.mnist.x_test)
    return self._test

  def evaluate_images(self, images: np.ndarray,
                      labels: Optional[np.ndarray] = None,
                      per_class: bool = True) -> Dict[str, Any]:
    """Quality statistics of generated images.

    Args:
      images: [N, 28, 28] (or [N, 784], [N, 28, 28, 1]) in [0, 1].
      labels: for conditional samples, the digit each image was asked for.
      per_class: with `labels`, also compute the per-class FCD (needs enough
        samples per class for a covariance: a few hundred at least).

    Returns:
      A dict with `fcd`, `kid` and `kid_std` (`metrics.kernel_distance`),
      `classifier_score`, `coverage`, `class_histogram`, and with `labels`
      `conditional_accuracy` (and `per_class_fcd`, `per_class_fcd_by_digit`).
    """
    features, probs = self.features_and_probs(images)
    test_features, _ = self.test_features()
    predictions = np.argmax(probs, axis=1)
    histogram = metrics.class_histogram(predictions)
    kid, kid_std = metrics.kernel_distance(features, test_features)
    result = {
        "num_samples": int(len(features)),
        "fcd": metrics.feature_distance(features, test_features),
        "kid": kid,
        "kid_std": kid_std,
        "classifier_score": metrics.classifier_score(probs),
        "coverage": metrics.coverage(histogram),
        "class_histogram": histogram.tolist(),
    }
    if labels is not None:
      labels = np.asarray(labels)
      result["conditional_accuracy"] = metrics.accuracy(predictions, labels)
      if per_class:
        by_digit = _per_class_fcd(features, labels, test_features,
                                  self.mnist.y_test)
        result["per_class_fcd"] = float(np.mean(by_digit))
        result["per_class_fcd_by_digit"] = by_digit
    return result

  def floor(self, num_samples: int = 10_000, seed: int = 0,
            per_class: bool = False) -> Dict[str, float]:
    """The real-data floor: FCD of `num_samples` training images vs the test set.

    Generated samples cannot be expected to beat real ones, and FCD is biased
    upwards at small N, so compare a model's FCD with the floor at the same N.

    Returns:
      `{"floor_fcd": ...}`, and with `per_class` `per_class_floor_fcd` (each
      digit's training images against its test images, averaged over digits).
    """
    rng = np.random.default_rng(seed)
    index = rng.choice(len(self.mnist.x_train),
                       min(num_samples, len(self.mnist.x_train)),
                       replace=False)
    features, _ = self.features_and_probs(self.mnist.x_train[index])
    test_features, _ = self.test_features()
    result = {"floor_fcd": metrics.feature_distance(features, test_features)}
    if per_class:
      result["per_class_floor_fcd"] = float(np.mean(_per_class_fcd(
          features, self.mnist.y_train[index], test_features,
          self.mnist.y_test)))
    return result

  def evaluate_variant(self, variant: base.Variant, num_samples: int, *,
                       seed: int = 0, per_class: bool = True,
                       test_images: Optional[int] = None,
                       log: Optional[Callable[[str], None]] = None
                       ) -> Dict[str, Any]:
    """Generates `num_samples` images (inference mode) and scores them.

    Conditional variants are asked for each digit equally often. A variant
    whose discriminator has 11 outputs (ten digits + fake: SSGAN, and CGAN's
    too) also gets `test_accuracy`, its discriminator's accuracy on the test
    set over the ten real classes.

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
    n = len(self.mnist.x_test) if test_images is None else test_images
    if discriminator_classifies(variant) and n > 0:
      result["test_accuracy"] = discriminator_test_accuracy(
          variant, self.mnist.x_test[:n], self.mnist.y_test[:n],
          batch_size=self.batch_size)
    return result


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
  """`num_samples` images [N, 28, 28] from the generator in inference mode.

  Args:
    variant: the variant to sample (its EMA view samples the average).
    num_samples: how many images.
    seed: seeds the noise.
    batch_size: images per generator call.
    log: where progress lines ("sampled 2500/10000 images (3s)") go, a few
      per call; None: nowhere.

  Returns:
    (images, labels): labels are the digits asked for (cycling 0..9) for a
    conditional variant, else None.
  """
  labels = (samples_lib.cycling_labels(num_samples) if variant.conditional
            else None)
  if log is not None:
    variant = _ProgressView(variant, num_samples, log)
  images = samples_lib.generate(variant, num_samples, seed=seed,
                                labels=labels, chunk=batch_size)
  return images, labels


def discriminator_classifies(variant: base.Variant) -> bool:
  """Whether the discriminator outputs ten digits + "fake" (SSGAN, CGAN)."""
  return variant.discriminator.outputs[0].shape[-1] == NUM_CLASSES + 1


def discriminator_test_accuracy(variant: base.Variant, images: np.ndarray,
                                labels: np.ndarray, *, batch_size: int = 500,
                                training: bool = False) -> float:
  """Accuracy of an 11-way discriminator over the ten real classes.

  Args:
    variant: a variant whose discriminator outputs ten digits + "fake".
    images: test images (uint8 or [0, 1]).
    labels: their digits.
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
  return metrics.accuracy(np.argmax(probs[:, :NUM_CLASSES], axis=1), labels)


def degeneration_warnings(result: Dict[str, Any],
                          best_fcd: Optional[float],
                          step: int) -> List[str]:
  """Warning lines for an evaluation during training (empty when all is well).

  Args:
    result: from `Evaluator.evaluate_variant`.
    best_fcd: the lowest FCD of the run's earlier evaluations, or None.
    step: the iteration, for the message.

  Returns:
    One line per problem: coverage below all ten classes, FCD above
    `FCD_JUMP_FACTOR` x `best_fcd`.
  """
  warnings = []
  if result["coverage"] < NUM_CLASSES:
    warnings.append(
        f"WARNING: step {step}: class coverage dropped to "
        f"{result['coverage']}/{NUM_CLASSES} (classes with >= "
        f"{metrics.COVERAGE_THRESHOLD:.0%} of samples; histogram "
        f"{result['class_histogram']}): the generator is collapsing modes.")
  if best_fcd is not None and result["fcd"] > FCD_JUMP_FACTOR * best_fcd:
    warnings.append(
        f"WARNING: step {step}: FCD jumped to {result['fcd']:.2f}, more than "
        f"{FCD_JUMP_FACTOR:g}x the best so far ({best_fcd:.2f}): samples are "
        "degenerating; compare samples/ grids, and consider the latest good "
        "checkpoint.")
  return warnings
