"""Any classifier as a feature extractor: images in, features and classes out.

FCD and KID compare generated and real images in a classifier's feature
space; the class-based scores (classifier score, coverage, conditional
accuracy) also need its class probabilities. `FeatureModel` wraps

- gantape's own classifier (`gantape.evaluation.classifier`), or any Keras
  model, by the name of its feature layer (default "features");
- a SavedModel folder (TensorFlow's, or Keras's `model.export`), by the name
  of its serving signature's output that holds the features.

`load_feature_model` opens a `--classifier` path of any of these kinds. Every
model takes float images [B, H, W, C] in [0, 1].
"""

import os
from typing import Callable, Optional, Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf

from gantape.errors import UsageError
from gantape.evaluation import classifier as classifier_lib

# Suffixes of a whole Keras model file (.weights.h5 is gantape's weights).
MODEL_SUFFIXES = (".keras", ".h5")
# Probabilities sum to one within this tolerance; other outputs are logits.
_PROBABILITY_TOLERANCE = 1e-3


class FeatureModel:
  """Images [B, H, W, C] in [0, 1] -> (features [B, D], probs [B, K] or None).

  Attributes:
    input_shape: (H, W, C) the model takes; None entries take any size.
    num_outputs: K, the classes it predicts; None when it gives features only.
    description: names the model in messages and results.
  """

  def __init__(self, fn: Callable[[tf.Tensor], Tuple[tf.Tensor, ...]], *,
               input_shape: Sequence[Optional[int]],
               num_outputs: Optional[int], description: str):
    """Wraps a function of an image batch.

    Args:
      fn: images -> (features,) or (features, class outputs).
      input_shape: (H, W, C) it takes.
      num_outputs: the size of its class output; None without one.
      description: how messages name it.
    """
    self._fn = tf.function(fn)
    self.input_shape = tuple(input_shape)
    self.num_outputs = num_outputs
    self.description = description
    # What a result records of the classifier: its path, and its test
    # accuracy where known.
    self.info = {"classifier": description}

  def __call__(self, images: np.ndarray
               ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Features and class probabilities (softmax of logits) of one batch."""
    outputs = self._fn(tf.constant(images, tf.float32))
    features = np.reshape(outputs[0].numpy(), [len(images), -1])
    if self.num_outputs is None:
      return features, None
    probs = outputs[1].numpy()
    sums = probs.sum(axis=1)
    if np.any(probs < 0) or np.any(abs(sums - 1) > _PROBABILITY_TOLERANCE):
      probs = tf.nn.softmax(probs).numpy()
    return features, probs

  def check_images(self, image_shape: Sequence[int]) -> None:
    """Raises a UsageError unless the model takes images of `image_shape`."""
    if len(self.input_shape) != len(image_shape) or any(
        want is not None and want != got
        for want, got in zip(self.input_shape, image_shape)):
      raise UsageError(
          f"classifier {self.description} takes images "
          f"{list(self.input_shape)}, but the data's images are "
          f"{list(image_shape)} (H, W, C).")


def from_keras(model: keras.Model,
               feature_layer: str = classifier_lib.FEATURE_LAYER,
               description: Optional[str] = None) -> FeatureModel:
  """A Keras classifier's `feature_layer` output and its (first) output.

  Raises:
    UsageError: the model has no layer `feature_layer`, or no symbolic
      inputs (a subclassed model: export it as a SavedModel instead).
  """
  description = description or model.name
  names = [layer.name for layer in model.layers]
  if feature_layer not in names:
    raise UsageError(
        f"classifier {description} has no layer {feature_layer!r}; pass "
        f"--feature_layer=NAME with one of its layers: {', '.join(names)}.")
  try:
    inputs = model.inputs
    outputs = [model.get_layer(feature_layer).output, model.outputs[0]]
  except (AttributeError, ValueError) as e:
    raise UsageError(
        f"classifier {description} is not a functional or Sequential Keras "
        "model, so its feature layer cannot be read; export it as a "
        "SavedModel with the features among its outputs.") from e
  both = keras.Model(inputs, outputs, name="features_and_probs")
  num_outputs = int(outputs[1].shape[-1])
  return FeatureModel(lambda x: tuple(both(x, training=False)),
                      input_shape=inputs[0].shape[1:],
                      num_outputs=num_outputs, description=description)


def _from_saved_model(path: str, feature_layer: str) -> FeatureModel:
  """A SavedModel's serving signature: `feature_layer` names its output.

  The class output is the signature's other output when there is exactly one.
  """
  description = path
  try:
    loaded = tf.saved_model.load(path)
    signature = loaded.signatures["serving_default"]
  except (OSError, KeyError, ValueError) as e:
    raise UsageError(f"classifier {description} is not a SavedModel with a "
                     f"serving_default signature ({e}).") from e
  outputs = signature.structured_outputs
  if feature_layer not in outputs:
    raise UsageError(
        f"classifier {description} has no output {feature_layer!r}; pass "
        f"--feature_layer=NAME with one of its serving signature's outputs: "
        f"{', '.join(sorted(outputs))}.")
  inputs = signature.structured_input_signature[1]
  if len(inputs) != 1:
    raise UsageError(f"classifier {description} takes {len(inputs)} inputs; "
                     "it must take one batch of images.")
  ((input_name, spec),) = inputs.items()
  others = [k for k in outputs if k != feature_layer]
  probs_key = others[0] if len(others) == 1 else None

  def fn(x):
    result = signature(**{input_name: tf.cast(x, spec.dtype)})
    return ((result[feature_layer], result[probs_key]) if probs_key
            else (result[feature_layer],))

  fn.loaded = loaded  # keeps the restored variables alive
  return FeatureModel(
      fn, input_shape=spec.shape[1:],
      num_outputs=int(outputs[probs_key].shape[-1]) if probs_key else None,
      description=description)


def load_feature_model(path: str,
                       feature_layer: str = classifier_lib.FEATURE_LAYER, *,
                       dataset=None,
                       log: Callable[[str], None] = print) -> FeatureModel:
  """Opens a `--classifier`: Keras model file, SavedModel or gantape weights.

  Args:
    path: a `.keras` or `.h5` model, a SavedModel folder, or a
      `.weights.h5` file of gantape's own classifier (which needs `dataset`
      to size the network).
    feature_layer: the layer (Keras) or output (SavedModel) holding the
      features.
    dataset: the data; with it, the model's input shape is checked against
      the images.
    log: where progress lines go.

  Returns:
    The model as a `FeatureModel`.

  Raises:
    UsageError: the path does not exist or is of no known kind, the feature
      layer is missing, or the model's input shape does not fit the data.
  """
  if not os.path.exists(path):
    raise UsageError(f"classifier {path!r} does not exist.")
  if path.endswith(classifier_lib.WEIGHTS_SUFFIX):
    if dataset is None:
      raise UsageError(f"gantape classifier weights {path!r} need the dataset "
                       "they were trained on.")
    model = classifier_lib.load_or_train_classifier(
        dataset, path=path, train_if_missing=False, log=log)
    features = _from_gantape(model, path, feature_layer)
  elif os.path.isdir(path):
    features = _from_saved_model(path, feature_layer)
  elif path.endswith(MODEL_SUFFIXES):
    try:
      model = keras.models.load_model(path, compile=False)
    except (OSError, ValueError, TypeError) as e:
      raise UsageError(f"classifier {path!r} cannot be loaded as a Keras "
                       f"model: {' '.join(str(e).split())[:300]}") from e
    features = from_keras(model, feature_layer, path)
  else:
    raise UsageError(
        f"classifier {path!r} is neither a Keras model "
        f"({', '.join(MODEL_SUFFIXES)}), gantape's weights ({classifier_lib.WEIGHTS_SUFFIX}) nor a "
        "SavedModel folder.")
  if dataset is not None:
    features.check_images(dataset.image_shape)
  return features


def _from_gantape(model: keras.Model, path: str,
                  feature_layer: str) -> FeatureModel:
  """gantape's classifier, with the test accuracy its sidecar records."""
  features = from_keras(model, feature_layer, path)
  sidecar = classifier_lib.read_sidecar(path) or {}
  if "test_accuracy" in sidecar:
    features.info["classifier_test_accuracy"] = sidecar["test_accuracy"]
  return features


def evaluation_classifier(dataset, path: Optional[str] = None,
                          feature_layer: str = classifier_lib.FEATURE_LAYER,
                          log: Callable[[str], None] = print
                          ) -> Optional[FeatureModel]:
  """The classifier evaluation scores `dataset` with, or None if there is none.

  Args:
    dataset: the data.
    path: a `--classifier` (see `load_feature_model`); default:
      $GANTAPE_CLASSIFIER, else gantape's classifier for this dataset,
      trained and cached first if missing.
    feature_layer: its feature layer (or SavedModel output).
    log: where progress lines go.

  Returns:
    The classifier; None for an unlabelled dataset without `path` (gantape
    trains its classifier on the labels).
  """
  if path:
    return load_feature_model(path, feature_layer, dataset=dataset, log=log)
  if dataset.y_train is None and not os.environ.get(
      classifier_lib.CLASSIFIER_ENV):
    return None
  path = classifier_lib.default_path(dataset)
  model = classifier_lib.load_or_train_classifier(dataset, path=path, log=log)
  return _from_gantape(model, path, feature_layer)
