"""Sample quality: a gantape-trained MNIST classifier and the statistics on it.

The classifier is a compact convnet trained here, seeded, by
`train_classifier` (or `scripts/train_classifier.py`); nothing is downloaded.
`load_or_train_classifier` caches its weights at

    $GANTAPE_CACHE/mnist_classifier/<hash>.weights.h5   (default
    GANTAPE_CACHE=~/.cache/gantape)

where <hash> covers the `ClassifierConfig` and a fingerprint of the MNIST
arrays, so another config or other data never reuses a stale model. A JSON
file beside the weights records the config and the test accuracy.
$GANTAPE_CLASSIFIER (or a `classifier=` argument) names a weights file to use
instead; its JSON sidecar, when present, gives its config.

On top of the classifier (all statistics are pure numpy functions):

- FCD, the Frechet Classifier Distance: the Frechet (2-Wasserstein) distance
  between Gaussians fitted to the classifier's penultimate features of
  generated images and of the MNIST test set. It is FID with an MNIST
  classifier instead of Inception; numbers are not comparable with FID.
  Like FID it is biased upwards for small sample counts: compare FCDs computed
  from the same number of samples, e.g. against `floor_fcd` (10k training
  images against the test set).
- the classifier score, the Inception-score analogue
  exp(E_x KL(p(y|x) || p(y))), between 1 and 10,
- class coverage: the histogram of predicted classes and the number of
  classes holding at least 5% of the samples (mode collapse drops it below 10),
- for conditional variants (CGAN), conditional accuracy (the classifier sees
  the digit that was asked for) and the per-class FCD (samples asked for digit
  d against test images of digit d, averaged over d),
- for variants whose discriminator classifies (SSGAN), the discriminator's
  own test accuracy over the ten real classes.
"""

import dataclasses
import hashlib
import json
import os
from typing import Any, Callable, Dict, Optional, Tuple

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from gantape import checkpoints
from gantape import data as data_lib
from gantape import samples as samples_lib
from gantape.errors import UsageError
from gantape.variants import base

NUM_CLASSES = data_lib.NUM_CLASSES
CACHE_ENV = "GANTAPE_CACHE"
# A weights file to use instead of the cache (its .json sidecar, when present,
# gives its ClassifierConfig).
CLASSIFIER_ENV = "GANTAPE_CLASSIFIER"
DEFAULT_CACHE = os.path.join("~", ".cache", "gantape")
FEATURE_LAYER = "features"
# A class "is covered" when it holds at least this share of the samples.
COVERAGE_THRESHOLD = 0.05
RESULT_FILE = "evaluation.json"


# ---------------------------------------------------------------------------
# Pure statistics (numpy).
# ---------------------------------------------------------------------------


def gaussian_stats(features: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
  """Mean [D] and covariance [D, D] (unbiased, float64) of features [N, D]."""
  features = np.asarray(features, np.float64)
  if features.ndim != 2 or len(features) < 2:
    raise ValueError(f"need features [N >= 2, D], got shape {features.shape}.")
  return features.mean(axis=0), np.cov(features, rowvar=False).reshape(
      features.shape[1], features.shape[1])


def sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
  """Square root of a symmetric positive semi-definite matrix via `eigh`.

  Eigenvalues that rounding made slightly negative are clipped to 0.
  """
  matrix = np.asarray(matrix, np.float64)
  values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
  return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray,
                     sigma2: np.ndarray) -> float:
  """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2).

  d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)).

  S1 S2 is not symmetric, so its square root is not taken directly: it is
  similar to the PSD matrix A = S1^(1/2) S2 S1^(1/2), which has the same
  eigenvalues, so tr((S1 S2)^(1/2)) = sum(sqrt(eig(A))), computed with the
  symmetric solver `eigh` (no scipy, no complex parts to discard).

  Returns:
    The squared distance d^2 (as FID reports it), clipped at 0.
  """
  mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
  sigma1 = np.atleast_2d(np.asarray(sigma1, np.float64))
  sigma2 = np.atleast_2d(np.asarray(sigma2, np.float64))
  root1 = sqrtm_psd(sigma1)
  product = root1 @ sigma2 @ root1
  values = np.linalg.eigvalsh((product + product.T) / 2)
  trace_sqrt = np.sum(np.sqrt(np.clip(values, 0.0, None)))
  diff = mu1 - mu2
  distance = (diff @ diff + np.trace(sigma1) + np.trace(sigma2)
              - 2.0 * trace_sqrt)
  return float(max(distance, 0.0))


def feature_distance(features1: np.ndarray, features2: np.ndarray) -> float:
  """`frechet_distance` between Gaussians fitted to two feature sets."""
  return frechet_distance(*gaussian_stats(features1),
                          *gaussian_stats(features2))


def classifier_score(probs: np.ndarray, eps: float = 1e-12) -> float:
  """exp(E_x KL(p(y|x) || p(y))) of class probabilities [N, C].

  1 when every sample gets the same distribution; C when every sample is
  classified with certainty and the classes are used equally.
  """
  probs = np.asarray(probs, np.float64)
  marginal = probs.mean(axis=0, keepdims=True)
  kl = np.sum(probs * (np.log(probs + eps) - np.log(marginal + eps)), axis=1)
  return float(np.exp(kl.mean()))


def class_histogram(predictions: np.ndarray,
                    num_classes: int = NUM_CLASSES) -> np.ndarray:
  """Counts [num_classes] of predicted class indices [N]."""
  return np.bincount(np.asarray(predictions, np.int64).ravel(),
                     minlength=num_classes)[:num_classes]


def coverage(histogram: np.ndarray,
             threshold: float = COVERAGE_THRESHOLD) -> int:
  """How many classes hold at least `threshold` of the samples."""
  histogram = np.asarray(histogram, np.float64)
  total = histogram.sum()
  if total <= 0:
    return 0
  return int(np.sum(histogram / total >= threshold))


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
  """Share of `predictions` equal to `labels`."""
  return float(np.mean(np.asarray(predictions) == np.asarray(labels)))


# ---------------------------------------------------------------------------
# The classifier.
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
  """The evaluation classifier and how it is trained.

  Attributes:
    width: filters of the first conv block (the second has twice as many).
    feature_dim: size of the penultimate (feature) layer used by FCD.
    dropout: dropout rate before the output layer.
    epochs: passes over the 60k training images.
    batch_size: training batch size.
    learning_rate: initial Adam learning rate, decayed by a cosine to 0.
    seed: seeds initial weights, dropout and data order.
    version: bump when the architecture or training changes, so caches of
      the old model are not reused.
  """
  width: int = 32
  feature_dim: int = 128
  dropout: float = 0.4
  epochs: int = 3
  batch_size: int = 128
  learning_rate: float = 2e-3
  seed: int = 0
  version: int = 1


def build_classifier(config: ClassifierConfig = ClassifierConfig()
                     ) -> keras.Model:
  """A compact convnet: [B, 28, 28, 1] in [0, 1] -> class probabilities [B, 10].

  Two blocks of two 3x3 convs (BatchNorm, ReLU) and 2x2 max-pooling, then a
  Dense(feature_dim) layer named "features" (BatchNorm, ReLU), dropout and a
  softmax. FCD uses the "features" output.
  """
  w = config.width

  def conv(filters):
    return [layers.Conv2D(filters, 3, use_bias=False),
            layers.BatchNormalization(), layers.ReLU()]

  return keras.Sequential([
      keras.Input((28, 28, 1), name="image"),
      *conv(w), *conv(w), layers.MaxPool2D(2),
      *conv(2 * w), *conv(2 * w), layers.MaxPool2D(2),
      layers.Flatten(),
      layers.Dense(config.feature_dim, use_bias=False),
      layers.BatchNormalization(),
      layers.ReLU(name=FEATURE_LAYER),
      layers.Dropout(config.dropout),
      layers.Dense(NUM_CLASSES, activation="softmax", name="probs"),
  ], name="mnist_classifier")


def features_and_probs_model(classifier: keras.Model) -> keras.Model:
  """A model mapping images to `[features, probs]`, sharing `classifier`'s weights."""
  return keras.Model(classifier.inputs,
                     [classifier.get_layer(FEATURE_LAYER).output,
                      classifier.outputs[0]],
                     name="features_and_probs")


def _as_images(x: np.ndarray) -> np.ndarray:
  """uint8 or float images [N, 28, 28(, 1)] or [N, 784] -> float32 [N, 28, 28, 1] in [0, 1]."""
  x = np.asarray(x)
  scale = 1.0 / 255.0 if x.dtype == np.uint8 else 1.0
  return (x.astype(np.float32) * scale).reshape(-1, 28, 28, 1)


def train_classifier(mnist: data_lib.Mnist,
                     config: ClassifierConfig = ClassifierConfig(),
                     log: Callable[[str], None] = print
                     ) -> Tuple[keras.Model, float]:
  """Trains the evaluation classifier on MNIST's training set.

  Args:
    mnist: the data; the test set is only used to report accuracy.
    config: architecture and training settings.
    log: where progress lines go.

  Returns:
    (classifier, test accuracy).
  """
  keras.utils.set_random_seed(config.seed)
  model = build_classifier(config)
  steps = config.epochs * -(-len(mnist.x_train) // config.batch_size)
  schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, steps)
  model.compile(optimizer=keras.optimizers.Adam(schedule),
                loss="sparse_categorical_crossentropy", metrics=["accuracy"])
  x_train = _as_images(mnist.x_train)
  y_train = mnist.y_train.astype(np.int32)
  order = np.random.default_rng(config.seed)
  for epoch in range(config.epochs):
    perm = order.permutation(len(x_train))
    history = model.fit(x_train[perm], y_train[perm],
                        batch_size=config.batch_size, epochs=1, shuffle=False,
                        verbose=0)
    log(f"classifier epoch {epoch + 1}/{config.epochs}: "
        f"loss={history.history['loss'][-1]:.4f} "
        f"accuracy={history.history['accuracy'][-1]:.4f}")
  test_accuracy = classifier_accuracy(model, mnist.x_test, mnist.y_test)
  log(f"classifier test accuracy: {test_accuracy:.4f}")
  return model, test_accuracy


def classifier_accuracy(classifier: keras.Model, images: np.ndarray,
                        labels: np.ndarray, batch_size: int = 1000) -> float:
  """Test accuracy of `classifier` (inference mode)."""
  probs = classifier.predict(_as_images(images), batch_size=batch_size,
                             verbose=0)
  return accuracy(np.argmax(probs, axis=1), labels)


def data_fingerprint(mnist: data_lib.Mnist) -> str:
  """A short hash of the MNIST arrays, so other data never reuses a cache."""
  digest = hashlib.sha256()
  for array in (mnist.x_train, mnist.y_train, mnist.x_test, mnist.y_test):
    digest.update(np.ascontiguousarray(array).tobytes())
  return digest.hexdigest()[:16]


def cache_dir(root: Optional[str] = None) -> str:
  """The classifier cache folder: `root`, else $GANTAPE_CACHE, else ~/.cache/gantape."""
  root = root or os.environ.get(CACHE_ENV) or DEFAULT_CACHE
  return os.path.join(os.path.expanduser(root), "mnist_classifier")


def classifier_path(mnist: data_lib.Mnist,
                    config: ClassifierConfig = ClassifierConfig(),
                    root: Optional[str] = None) -> str:
  """Where the classifier for `config` and this data is cached."""
  key = json.dumps({"config": dataclasses.asdict(config),
                    "data": data_fingerprint(mnist)}, sort_keys=True)
  name = hashlib.sha256(key.encode()).hexdigest()[:16]
  return os.path.join(cache_dir(root), f"{name}.weights.h5")


def load_or_train_classifier(mnist: data_lib.Mnist,
                             config: Optional[ClassifierConfig] = None,
                             path: Optional[str] = None,
                             train_if_missing: bool = True,
                             log: Callable[[str], None] = print
                             ) -> keras.Model:
  """The cached classifier, trained (and cached) first if there is none.

  Args:
    mnist: the data it is (or was) trained on.
    config: the classifier's settings; default: those in the JSON sidecar of
      an existing `path`, else `ClassifierConfig()`.
    path: a `.weights.h5` file to use instead of the cache; default:
      $GANTAPE_CLASSIFIER, else the cache.
    train_if_missing: False raises instead of training.
    log: where progress lines go.

  Returns:
    The classifier.

  Raises:
    UsageError: no cached classifier and `train_if_missing` is False.
  """
  path = path or os.environ.get(CLASSIFIER_ENV)
  sidecar = path and path.replace(".weights.h5", ".json")
  if config is None and sidecar and os.path.exists(sidecar):
    with open(sidecar) as f:
      config = ClassifierConfig(**json.load(f)["config"])
  config = config or ClassifierConfig()
  path = path or classifier_path(mnist, config)
  model = build_classifier(config)
  if os.path.exists(path):
    model.load_weights(path)
    return model
  if not train_if_missing:
    raise UsageError(
        f"no evaluation classifier at {path!r}; train it once with "
        "`python scripts/train_classifier.py --data_path=...` (a few "
        "minutes on CPU).")
  log(f"Training the evaluation classifier (cached at {path}).")
  model, test_accuracy = train_classifier(mnist, config, log=log)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  tmp = path.replace(".weights.h5", f".tmp-{os.getpid()}.weights.h5")
  model.save_weights(tmp)
  os.replace(tmp, path)
  with open(path.replace(".weights.h5", ".json"), "w") as f:
    json.dump({"config": dataclasses.asdict(config),
               "data": data_fingerprint(mnist),
               "test_accuracy": test_accuracy}, f, indent=2, sort_keys=True)
  return model


# ---------------------------------------------------------------------------
# Evaluating images and variants.
# ---------------------------------------------------------------------------


def _batched(fn, images: np.ndarray, batch_size: int):
  outputs = [fn(images[i:i + batch_size])
             for i in range(0, len(images), batch_size)]
  return [np.concatenate(parts) for parts in zip(*outputs)]


class Evaluator:
  """Scores images against MNIST's test set in the classifier's feature space.

  Test-set features are computed once, on first use.
  """

  def __init__(self, mnist: data_lib.Mnist, classifier: keras.Model, *,
               batch_size: int = 500):
    """Args: mnist: the data; classifier: from `load_or_train_classifier`;
    batch_size: images per classifier call."""
    self.mnist = mnist
    self.classifier = classifier
    self.batch_size = batch_size
    self._model = features_and_probs_model(classifier)
    self._predict = tf.function(lambda x: self._model(x, training=False))
    self._test = None

  def features_and_probs(self, images: np.ndarray
                         ) -> Tuple[np.ndarray, np.ndarray]:
    """Penultimate features [N, D] and class probabilities [N, 10] of images."""
    images = _as_images(images)
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
      A dict with `fcd`, `classifier_score`, `coverage`, `class_histogram`,
      and with `labels` `conditional_accuracy` (and `per_class_fcd`,
      `per_class_fcd_by_digit`).
    """
    features, probs = self.features_and_probs(images)
    test_features, _ = self.test_features()
    predictions = np.argmax(probs, axis=1)
    histogram = class_histogram(predictions)
    result = {
        "num_samples": int(len(features)),
        "fcd": feature_distance(features, test_features),
        "classifier_score": classifier_score(probs),
        "coverage": coverage(histogram),
        "class_histogram": histogram.tolist(),
    }
    if labels is not None:
      labels = np.asarray(labels)
      result["conditional_accuracy"] = accuracy(predictions, labels)
      if per_class:
        by_digit = [
            feature_distance(features[labels == d],
                             test_features[self.mnist.y_test == d])
            for d in range(NUM_CLASSES)]
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
    result = {"floor_fcd": feature_distance(features, test_features)}
    if per_class:
      labels = self.mnist.y_train[index]
      result["per_class_floor_fcd"] = float(np.mean([
          feature_distance(features[labels == d],
                           test_features[self.mnist.y_test == d])
          for d in range(NUM_CLASSES)]))
    return result

  def evaluate_variant(self, variant: base.Variant, num_samples: int, *,
                       seed: int = 0, per_class: bool = True,
                       test_images: Optional[int] = None) -> Dict[str, Any]:
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

    Returns:
      `evaluate_images`'s dict, plus `test_accuracy` where it applies.
    """
    images, labels = generate_samples(variant, num_samples, seed=seed)
    result = self.evaluate_images(images, labels, per_class=per_class)
    n = len(self.mnist.x_test) if test_images is None else test_images
    if _discriminator_classifies(variant) and n > 0:
      result["test_accuracy"] = discriminator_test_accuracy(
          variant, self.mnist.x_test[:n], self.mnist.y_test[:n],
          batch_size=self.batch_size)
    return result


def generate_samples(variant: base.Variant, num_samples: int, *,
                     seed: int = 0, batch_size: int = 500
                     ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
  """`num_samples` images [N, 28, 28] from the generator in inference mode.

  Returns:
    (images, labels): labels are the digits asked for (cycling 0..9) for a
    conditional variant, else None.
  """
  labels = (np.arange(num_samples) % NUM_CLASSES).astype(np.int32)
  inputs = samples_lib.fixed_inputs(
      variant, num_samples, seed=seed,
      labels=labels if variant.conditional else None)
  chunks = []
  for start in range(0, num_samples, batch_size):
    chunk = {k: v[start:start + batch_size] for k, v in inputs.items()}
    chunks.append(samples_lib.generate_images(variant, chunk))
  return np.concatenate(chunks), labels if variant.conditional else None


def _discriminator_classifies(variant: base.Variant) -> bool:
  return variant.discriminator.outputs[0].shape[-1] == NUM_CLASSES + 1


def discriminator_test_accuracy(variant: base.Variant, images: np.ndarray,
                                labels: np.ndarray, *, batch_size: int = 500,
                                training: bool = False) -> float:
  """Accuracy of an 11-way discriminator over the ten real classes.

  Args:
    variant: a variant whose discriminator outputs ten digits + "fake".
    images, labels: test images (uint8 or [0, 1]) and their digits.
    batch_size: images per call.
    training: False uses BatchNorm's moving statistics; True uses each
      batch's own statistics, as the seed's discriminator always did. True
      also moves the BatchNorm statistics, so use it only on a throwaway copy.

  Returns:
    The share of images whose most likely real class is their label.
  """
  x = _as_images(images)
  (probs,) = _batched(
      lambda b: [variant.discriminator(b, training=training).numpy()],
      x, batch_size)
  return accuracy(np.argmax(probs[:, :NUM_CLASSES], axis=1), labels)


# ---------------------------------------------------------------------------
# Warnings during training.
# ---------------------------------------------------------------------------

# FCD above this multiple of the best FCD so far counts as a jump.
FCD_JUMP_FACTOR = 2.0


def degeneration_warnings(result: Dict[str, Any],
                          best_fcd: Optional[float],
                          step: int) -> list:
  """Warning lines for an evaluation during training (empty when all is well).

  Args:
    result: from `Evaluator.evaluate_variant`.
    best_fcd: the lowest FCD of the run's earlier evaluations, or None.
    step: the iteration, for the message.
  """
  warnings = []
  if result["coverage"] < NUM_CLASSES:
    warnings.append(
        f"WARNING: step {step}: class coverage dropped to "
        f"{result['coverage']}/{NUM_CLASSES} (classes with >= "
        f"{COVERAGE_THRESHOLD:.0%} of samples; histogram "
        f"{result['class_histogram']}): the generator is collapsing modes.")
  if best_fcd is not None and result["fcd"] > FCD_JUMP_FACTOR * best_fcd:
    warnings.append(
        f"WARNING: step {step}: FCD jumped to {result['fcd']:.2f}, more than "
        f"{FCD_JUMP_FACTOR:g}x the best so far ({best_fcd:.2f}): samples are "
        "degenerating; compare samples/ grids, and consider the latest good "
        "checkpoint.")
  return warnings


# ---------------------------------------------------------------------------
# Workdirs.
# ---------------------------------------------------------------------------


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


def evaluate_workdir(workdir: str, *, num_samples: int = 10_000,
                     data_path: Optional[str] = None, seed: int = 0,
                     classifier: Optional[str] = None,
                     checkpoint: str = checkpoints.LATEST,
                     log: Callable[[str], None] = print) -> Dict[str, Any]:
  """Evaluates a training run's checkpoint and writes the result.

  Samples come from the EMA generator when the run kept one (the plain
  generator's scores are added under `raw_generator`).

  Args:
    workdir: a `gantape.train` workdir.
    num_samples: images generated; the floor uses as many training images.
    data_path: MNIST; default: the run's data_path.
    seed: seeds the generated inputs and the floor's training subset.
    classifier: a classifier weights file; default: the cache (trained first
      if missing).
    checkpoint: "latest", "best" or a checkpoint prefix
      (`checkpoints.restore_from_workdir`).
    log: progress lines.

  Returns:
    The result dict, also written into the workdir as `result_file(checkpoint)`.
  """
  if num_samples < 2 * NUM_CLASSES:
    raise UsageError(f"num_samples must be at least {2 * NUM_CLASSES}, got "
                     f"{num_samples}.")
  restored = checkpoints.restore_from_workdir(workdir, checkpoint)
  mnist = data_lib.load_mnist(data_path or restored.run.get("data_path"))
  model = load_or_train_classifier(mnist, path=classifier, log=log)
  evaluator = Evaluator(mnist, model)
  variant = restored.ema_variant or restored.variant
  result = {"variant": restored.run["variant"],
            "variant_options": restored.run.get("variant_options", {}),
            "checkpoint": restored.checkpoint, "step": restored.step,
            "sampling": "ema" if restored.ema_variant else "generator",
            "seed": seed}
  result.update(evaluator.evaluate_variant(variant, num_samples, seed=seed))
  result.update(evaluator.floor(num_samples, seed=seed,
                                per_class=variant.conditional))
  result["fcd_over_floor"] = result["fcd"] / max(result["floor_fcd"], 1e-12)
  if "test_accuracy" in result:
    result["test_error"] = 1.0 - result["test_accuracy"]
    result["test_accuracy_batch_stats"] = discriminator_test_accuracy(
        restored.variant, mnist.x_test, mnist.y_test, batch_size=100,
        training=True)
  if restored.ema_variant is not None:
    raw = evaluator.evaluate_variant(restored.variant, num_samples, seed=seed)
    result["raw_generator"] = {k: raw[k] for k in (
        "fcd", "classifier_score", "coverage", "conditional_accuracy",
        "per_class_fcd") if k in raw}
  path = os.path.join(workdir, result_file(checkpoint))
  tmp = f"{path}.tmp-{os.getpid()}"
  with open(tmp, "w") as f:
    json.dump(result, f, indent=2, sort_keys=True)
  os.replace(tmp, path)
  return result


class TrainingEvaluator:
  """The cheap evaluation `gantape.train` runs every `eval_every` iterations.

  Scores `num_samples` generated images (no per-class FCD: too few samples
  per class), compares FCD with the real floor at the same sample count,
  writes `eval/*` scalars to TensorBoard and a record to metrics.jsonl, and
  logs warning lines when coverage drops below 10 classes or FCD jumps above
  `FCD_JUMP_FACTOR` x the best so far. The caller keeps the best so far (the
  training loop's `checkpoints.BestCheckpoint`), so one value serves both the
  warning and the best checkpoint, across resumes too.
  """

  def __init__(self, mnist: data_lib.Mnist, *, num_samples: int = 2000,
               seed: int = 0, classifier: Optional[str] = None,
               log: Callable[[str], None] = print):
    """Loads (or trains once, minutes on CPU) the cached classifier.

    Args:
      mnist: the data.
      num_samples: images generated per evaluation.
      seed: seeds the generated inputs (the same at every evaluation).
      classifier: a weights file instead of the cache.
      log: progress and warning lines.
    """
    self.evaluator = Evaluator(
        mnist, load_or_train_classifier(mnist, path=classifier, log=log))
    self.num_samples = num_samples
    self.seed = seed
    self.log = log
    self.floor_fcd = self.evaluator.floor(num_samples, seed=seed)["floor_fcd"]

  def __call__(self, variant: base.Variant, step: int,
               live_variant: Optional[base.Variant] = None,
               best_fcd: Optional[float] = None) -> Dict[str, float]:
    """Evaluates `variant` now.

    Args:
      variant: what samples are drawn from (the EMA view when there is one).
      step: the iteration, for log lines.
      live_variant: the live generator's variant when `variant` samples an
        average; it is scored too (`eval/live_*`), so the average's gain is
        measured, not assumed. Warnings follow `variant`.
      best_fcd: the lowest FCD of the run so far, for the jump warning; None
        before the first evaluation.

    Returns:
      Scalars `eval/fcd`, `eval/fcd_over_floor`, `eval/classifier_score`,
      `eval/coverage`, where they apply `eval/conditional_accuracy`,
      `eval/test_accuracy`, and with `live_variant` `eval/live_fcd`,
      `eval/live_coverage`.
    """
    result = self.evaluator.evaluate_variant(
        variant, self.num_samples, seed=self.seed, per_class=False,
        test_images=2000)
    for line in degeneration_warnings(result, best_fcd, step):
      self.log(line)
    scalars = {"fcd": result["fcd"],
               "fcd_over_floor": result["fcd"] / max(self.floor_fcd, 1e-12),
               "floor_fcd": self.floor_fcd,
               "classifier_score": result["classifier_score"],
               "coverage": float(result["coverage"])}
    for key in ("conditional_accuracy", "test_accuracy"):
      if key in result:
        scalars[key] = result[key]
    if live_variant is not None:
      live = self.evaluator.evaluate_variant(
          live_variant, self.num_samples, seed=self.seed, per_class=False,
          test_images=0)
      scalars["live_fcd"] = live["fcd"]
      scalars["live_coverage"] = float(live["coverage"])
    self.log(f"[eval] step {step}: " + " ".join(
        f"{k}={v:.4g}" for k, v in scalars.items())
             + f" histogram={result['class_histogram']}")
    return {f"eval/{k}": float(v) for k, v in scalars.items()}
