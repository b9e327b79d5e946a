"""The classifier that sample quality is measured with, one per dataset.

A compact convnet sized to the dataset's image shape and class count, trained
here, seeded (`train_classifier`); nothing is downloaded.
`load_or_train_classifier` caches its weights at

    $GANTAPE_CACHE/<dataset>_classifier/<hash>.weights.h5   (default
    GANTAPE_CACHE=~/.cache/gantape)

where <hash> covers the `ClassifierConfig` and a fingerprint of the dataset's
arrays, so another config or other data never reuses a stale model. A JSON
sidecar beside the weights records the config and the test accuracy.
$GANTAPE_CLASSIFIER (or a `path=` argument) names a weights file to use
instead; its sidecar, when present, gives its config. Any other Keras model
or SavedModel is loaded by `gantape.evaluation.features`.
"""

import dataclasses
import hashlib
import json
import os
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import keras
import numpy as np
from keras import layers

from gantape import data as data_lib
from gantape import files
from gantape import networks
from gantape.errors import UsageError
from gantape.evaluation import metrics

# The cache's root folder; each dataset's classifiers live in its
# `<dataset>_classifier/`.
CACHE_ENV = "GANTAPE_CACHE"
# A weights file to use instead of the cache (its .json sidecar, when present,
# gives its ClassifierConfig).
CLASSIFIER_ENV = "GANTAPE_CLASSIFIER"
DEFAULT_CACHE = os.path.join("~", ".cache", "gantape")
# The penultimate layer, whose output FCD compares.
FEATURE_LAYER = "features"
# Keras picks the weights-only format from this suffix.
WEIGHTS_SUFFIX = ".weights.h5"
# Conv blocks are added while the image side is at least this large, so the
# last block leaves a map of about 4x4 (28 -> 12 -> 4, 64 -> 30 -> 13 -> 4).
_MIN_SIDE_FOR_BLOCK = 12
# The smallest side one block of two valid 3x3 convs and a 2x2 pool takes.
_MIN_SIDE = 6


@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
  """The evaluation classifier and how it is trained.

  Attributes:
    width: filters of the first conv block (each next block has twice as
      many).
    feature_dim: size of the penultimate (feature) layer used by FCD.
    dropout: dropout rate before the output layer.
    epochs: passes over the training images.
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


def dataset_name(dataset) -> str:
  """The dataset's name as a folder name: "folder:<path>" becomes "folder"."""
  return dataset.name.split(":")[0]


def _num_blocks(side: int) -> int:
  """Conv blocks for images of `side` pixels: 2 at 28 and 32, 3 at 64."""
  blocks = 0
  while side >= _MIN_SIDE_FOR_BLOCK or blocks == 0:
    side = (side - 4) // 2
    blocks += 1
  return blocks


def build_classifier(config: ClassifierConfig = ClassifierConfig(),
                     image_shape: Sequence[int] = networks.IMAGE_SHAPE,
                     num_classes: int = networks.NUM_CLASSES) -> keras.Model:
  """A compact convnet: [B, H, W, C] in [0, 1] -> class probabilities.

  Blocks of two valid 3x3 convs (BatchNorm, ReLU) and 2x2 max-pooling, with
  `config.width` filters doubling per block, as many blocks as leave a map of
  about 4x4 (two at 28x28 and 32x32, three at 64x64), then a
  Dense(feature_dim) layer named "features" (BatchNorm, ReLU), dropout and a
  softmax over `num_classes`. FCD uses the "features" output. At 28x28x1
  with 10 classes this is the MNIST classifier the documented FCDs use.

  Raises:
    UsageError: images smaller than 6x6.
  """
  height, width, _ = image_shape
  if min(height, width) < _MIN_SIDE:
    raise UsageError(f"the evaluation classifier needs images of at least "
                     f"{_MIN_SIDE}x{_MIN_SIDE}, got {height}x{width}.")

  def conv(filters):
    return [layers.Conv2D(filters, 3, use_bias=False),
            layers.BatchNormalization(), layers.ReLU()]

  blocks = []
  for block in range(_num_blocks(min(height, width))):
    filters = config.width * 2 ** block
    blocks += [*conv(filters), *conv(filters), layers.MaxPool2D(2)]
  mnist_shaped = (tuple(image_shape) == networks.IMAGE_SHAPE
                  and num_classes == networks.NUM_CLASSES)
  return keras.Sequential([
      keras.Input(tuple(image_shape), name="image"),
      *blocks,
      layers.Flatten(),
      layers.Dense(config.feature_dim, use_bias=False),
      layers.BatchNormalization(),
      layers.ReLU(name=FEATURE_LAYER),
      layers.Dropout(config.dropout),
      layers.Dense(num_classes, activation="softmax", name="probs"),
  ], name="mnist_classifier" if mnist_shaped else "classifier")


def features_and_probs_model(classifier: keras.Model,
                             feature_layer: str = FEATURE_LAYER
                             ) -> keras.Model:
  """Images -> `[features, probs]`, sharing `classifier`'s weights."""
  return keras.Model(classifier.inputs,
                     [classifier.get_layer(feature_layer).output,
                      classifier.outputs[0]],
                     name="features_and_probs")


def as_images(x: np.ndarray,
              image_shape: Optional[Sequence[int]] = None) -> np.ndarray:
  """uint8 or float images -> float32 [N, H, W, C] in [0, 1].

  Args:
    x: [N, H, W] (one channel), [N, H, W, C], or flat [N, H*W*C] with
      `image_shape`.
    image_shape: (H, W, C) to reshape to; default: from `x`'s own shape.
  """
  x = np.asarray(x)
  scale = 1.0 / 255.0 if x.dtype == np.uint8 else 1.0
  x = x.astype(np.float32) * scale
  if image_shape is not None:
    return x.reshape(-1, *image_shape)
  return x[..., None] if x.ndim == 3 else x


def _accuracy_split(dataset) -> Tuple[str, np.ndarray, np.ndarray]:
  """The split the accuracy is reported on: test, or train without one."""
  if len(dataset.x_test):
    return "test", dataset.x_test, dataset.y_test
  return "train", dataset.x_train, dataset.y_train


def train_classifier(dataset: data_lib.Dataset,
                     config: ClassifierConfig = ClassifierConfig(),
                     log: Callable[[str], None] = print
                     ) -> Tuple[keras.Model, float]:
  """Trains the evaluation classifier on a labelled dataset's training set.

  Args:
    dataset: the data; the test set is only used to report accuracy (the
      training set when the dataset has no test split).
    config: architecture and training settings.
    log: where progress lines go.

  Returns:
    (classifier, test accuracy).

  Raises:
    UsageError: the dataset is unlabelled.
  """
  _check_labelled(dataset)
  keras.utils.set_random_seed(config.seed)
  model = build_classifier(config, dataset.image_shape,
                           dataset.num_classes)
  steps = config.epochs * -(-len(dataset.x_train) // config.batch_size)
  schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, steps)
  model.compile(optimizer=keras.optimizers.Adam(schedule),
                loss="sparse_categorical_crossentropy", metrics=["accuracy"])
  x_train = as_images(dataset.x_train)
  y_train = dataset.y_train.astype(np.int32)
  order = np.random.default_rng(config.seed)
  for epoch in range(config.epochs):
    perm = order.permutation(len(x_train))
    history = model.fit(x_train[perm], y_train[perm],
                        batch_size=config.batch_size, epochs=1, shuffle=False,
                        verbose=0)
    log(f"classifier epoch {epoch + 1}/{config.epochs}: "
        f"loss={history.history['loss'][-1]:.4f} "
        f"accuracy={history.history['accuracy'][-1]:.4f}")
  split, images, labels = _accuracy_split(dataset)
  test_accuracy = classifier_accuracy(model, images, labels)
  log(f"classifier {split} accuracy: {test_accuracy:.4f}")
  return model, test_accuracy


def _check_labelled(dataset) -> None:
  """Raises a UsageError for unlabelled data: the classifier learns labels."""
  if dataset.num_classes is None:
    raise UsageError(
        f"dataset {dataset.name} is unlabelled: "
        "gantape's evaluation classifier learns its class labels (one "
        "subfolder per class for a folder); score with a classifier of your "
        "own instead, `gantape evaluate --classifier=MODEL`.")


def classifier_accuracy(classifier: keras.Model, images: np.ndarray,
                        labels: np.ndarray, batch_size: int = 1000) -> float:
  """Test accuracy of `classifier` (inference mode)."""
  probs = classifier.predict(as_images(images), batch_size=batch_size,
                             verbose=0)
  return metrics.accuracy(np.argmax(probs, axis=1), labels)


def data_fingerprint(dataset: data_lib.Dataset) -> str:
  """A short hash of the dataset's arrays: other data never reuses a cache."""
  digest = hashlib.sha256()
  for array in (dataset.x_train, dataset.y_train, dataset.x_test,
                dataset.y_test):
    if array is not None:
      digest.update(np.ascontiguousarray(array).tobytes())
  return digest.hexdigest()[:16]


def cache_dir(root: Optional[str] = None, dataset: str = "mnist") -> str:
  """The classifier cache folder of a dataset (by `dataset_name`).

  `<root>/<dataset>_classifier`, where root is `root`, else $GANTAPE_CACHE,
  else ~/.cache/gantape.
  """
  root = root or os.environ.get(CACHE_ENV) or DEFAULT_CACHE
  return os.path.join(os.path.expanduser(root), f"{dataset}_classifier")


def classifier_path(dataset: data_lib.Dataset,
                    config: ClassifierConfig = ClassifierConfig(),
                    root: Optional[str] = None) -> str:
  """Where the classifier for `config` and this dataset is cached."""
  key = json.dumps({"config": dataclasses.asdict(config),
                    "data": data_fingerprint(dataset)}, sort_keys=True)
  name = hashlib.sha256(key.encode()).hexdigest()[:16]
  return os.path.join(cache_dir(root, dataset_name(dataset)),
                      f"{name}{WEIGHTS_SUFFIX}")


def sidecar_path(weights_path: str) -> str:
  """The JSON file beside a weights file: config, data hash, test accuracy."""
  return weights_path.removesuffix(WEIGHTS_SUFFIX) + ".json"


def default_path(dataset: data_lib.Dataset) -> str:
  """$GANTAPE_CLASSIFIER, else where the default classifier is cached."""
  return os.environ.get(CLASSIFIER_ENV) or classifier_path(dataset)


def read_sidecar(weights_path: Optional[str]) -> Optional[Dict[str, Any]]:
  """The JSON recorded beside `weights_path`, or None without one."""
  if not weights_path or not os.path.exists(sidecar_path(weights_path)):
    return None
  with open(sidecar_path(weights_path)) as f:
    return json.load(f)


def _save_classifier(model: keras.Model, path: str, config: ClassifierConfig,
                     dataset: data_lib.Dataset, test_accuracy: float) -> None:
  """Writes the weights and their sidecar, each whole or not at all."""
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  with files.atomic_path(path) as tmp:
    model.save_weights(tmp)
  split, _, _ = _accuracy_split(dataset)
  files.write_json(sidecar_path(path), {
      "config": dataclasses.asdict(config),
      "dataset": dataset.name,
      "image_shape": list(dataset.image_shape),
      "num_classes": dataset.num_classes,
      "data": data_fingerprint(dataset),
      "test_accuracy": test_accuracy,
      "accuracy_split": split})


def load_or_train_classifier(dataset: data_lib.Dataset,
                             config: Optional[ClassifierConfig] = None,
                             path: Optional[str] = None,
                             train_if_missing: bool = True,
                             log: Callable[[str], None] = print
                             ) -> keras.Model:
  """The cached classifier, trained (and cached) first if there is none.

  Args:
    dataset: the labelled data it is (or was) trained on; its image shape and
      class count size the network.
    config: the classifier's settings; default: those in the JSON sidecar of
      an existing `path`, else `ClassifierConfig()`.
    path: a `.weights.h5` file to use instead of the cache; default:
      $GANTAPE_CLASSIFIER, else the cache.
    train_if_missing: False raises instead of training.
    log: where progress lines go.

  Returns:
    The classifier.

  Raises:
    UsageError: no cached classifier and `train_if_missing` is False, or the
      dataset is unlabelled.
  """
  path = path or os.environ.get(CLASSIFIER_ENV)
  sidecar = read_sidecar(path)
  config = config or (ClassifierConfig(**sidecar["config"]) if sidecar
                      else ClassifierConfig())
  path = path or classifier_path(dataset, config)
  _check_labelled(dataset)
  if not os.path.exists(path) and not train_if_missing:
    raise UsageError(
        f"no evaluation classifier at {path!r}; train it once with "
        f"`gantape train-classifier --dataset={dataset_name(dataset)} "
        "--data_path=...` (a few minutes on CPU).")
  if not os.path.exists(path):
    log(f"Training the evaluation classifier (cached at {path}).")
    model, test_accuracy = train_classifier(dataset, config, log=log)
    _save_classifier(model, path, config, dataset, test_accuracy)
    return model
  model = build_classifier(config, dataset.image_shape,
                           dataset.num_classes)
  try:
    model.load_weights(path)
  except ValueError as e:
    recorded = (f" (trained on {sidecar.get('dataset', 'mnist')}, images "
                f"{sidecar.get('image_shape', list(networks.IMAGE_SHAPE))})"
                if sidecar else "")
    raise UsageError(
        f"classifier weights {path!r}{recorded} do not fit images "
        f"{list(dataset.image_shape)} with {dataset.num_classes} "
        "classes; train one for this dataset with `gantape "
        "train-classifier --dataset=...`.") from e
  return model
