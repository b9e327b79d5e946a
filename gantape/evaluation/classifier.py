"""The MNIST classifier that sample quality is measured with.

A compact convnet trained here, seeded (`train_classifier`); nothing is
downloaded. `load_or_train_classifier` caches its weights at

    $GANTAPE_CACHE/mnist_classifier/<hash>.weights.h5   (default
    GANTAPE_CACHE=~/.cache/gantape)

where <hash> covers the `ClassifierConfig` and a fingerprint of the MNIST
arrays, so another config or other data never reuses a stale model. A JSON
sidecar beside the weights records the config and the test accuracy.
$GANTAPE_CLASSIFIER (or a `path=` argument) names a weights file to use
instead; its sidecar, when present, gives its config.
"""

import dataclasses
import hashlib
import json
import os
from typing import Callable, Optional, Tuple

import keras
import numpy as np
from keras import layers

from gantape import data as data_lib
from gantape import files
from gantape.errors import UsageError
from gantape.evaluation import metrics

# The cache's root folder; the classifiers live in its `mnist_classifier/`.
CACHE_ENV = "GANTAPE_CACHE"
# A weights file to use instead of the cache (its .json sidecar, when present,
# gives its ClassifierConfig).
CLASSIFIER_ENV = "GANTAPE_CLASSIFIER"
DEFAULT_CACHE = os.path.join("~", ".cache", "gantape")
# The penultimate layer, whose output FCD compares.
FEATURE_LAYER = "features"
# Keras picks the weights-only format from this suffix.
WEIGHTS_SUFFIX = ".weights.h5"


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
      layers.Dense(data_lib.NUM_CLASSES, activation="softmax", name="probs"),
  ], name="mnist_classifier")


def features_and_probs_model(classifier: keras.Model) -> keras.Model:
  """A model mapping images to `[features, probs]`, sharing `classifier`'s weights."""
  return keras.Model(classifier.inputs,
                     [classifier.get_layer(FEATURE_LAYER).output,
                      classifier.outputs[0]],
                     name="features_and_probs")


def as_images(x: np.ndarray) -> np.ndarray:
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
  x_train = as_images(mnist.x_train)
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
  probs = classifier.predict(as_images(images), batch_size=batch_size,
                             verbose=0)
  return metrics.accuracy(np.argmax(probs, axis=1), labels)


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
  return os.path.join(cache_dir(root), f"{name}{WEIGHTS_SUFFIX}")


def sidecar_path(weights_path: str) -> str:
  """The JSON file beside a weights file: config, data hash, test accuracy."""
  return weights_path.removesuffix(WEIGHTS_SUFFIX) + ".json"


def _sidecar_config(weights_path: Optional[str]
                    ) -> Optional[ClassifierConfig]:
  """The config recorded beside `weights_path`, or None without a sidecar."""
  if not weights_path or not os.path.exists(sidecar_path(weights_path)):
    return None
  with open(sidecar_path(weights_path)) as f:
    return ClassifierConfig(**json.load(f)["config"])


def _save_classifier(model: keras.Model, path: str, config: ClassifierConfig,
                     mnist: data_lib.Mnist, test_accuracy: float) -> None:
  """Writes the weights and their sidecar, each whole or not at all."""
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  with files.atomic_path(path) as tmp:
    model.save_weights(tmp)
  files.write_json(sidecar_path(path), {
      "config": dataclasses.asdict(config),
      "data": data_fingerprint(mnist),
      "test_accuracy": test_accuracy})


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
  config = config or _sidecar_config(path) or ClassifierConfig()
  path = path or classifier_path(mnist, config)
  model = build_classifier(config)
  if os.path.exists(path):
    model.load_weights(path)
    return model
  if not train_if_missing:
    raise UsageError(
        f"no evaluation classifier at {path!r}; train it once with "
        "`gantape train-classifier --data_path=...` (a few "
        "minutes on CPU).")
  log(f"Training the evaluation classifier (cached at {path}).")
  model, test_accuracy = train_classifier(mnist, config, log=log)
  _save_classifier(model, path, config, mnist, test_accuracy)
  return model
