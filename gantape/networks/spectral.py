"""Spectral normalization of a discriminator (Miyato et al. 2018).

`spectrally_normalized(model)` rebuilds a discriminator with every Dense and
Conv2D layer inside `keras.layers.SpectralNormalization`: in training mode
each call runs one power iteration on the layer's vector u and sets the
kernel to W / sigma(W), sigma the largest singular value so estimated. u is
a non-trainable variable of the wrapper (`vector_u`), so checkpoints carry
it and a resumed run continues the same power iteration.

Keras's wrapper assigns the normalized kernel to the kernel variable itself
(the optimizer then updates W / sigma), and gradients do not flow through
sigma; Miyato et al.'s code differentiates through W / sigma(W) with u and v
held constant. Both keep sigma(W) near 1.
"""

from typing import List

import keras
from keras import layers

from gantape.errors import UsageError

# The layers that get normalized: those with a kernel that maps features.
NORMALIZED = (layers.Dense, layers.Conv2D)


def _fresh(layer: layers.Layer, **changes) -> layers.Layer:
  """A new, unbuilt layer of `layer`'s class and config (with `changes`)."""
  return layer.__class__.from_config({**layer.get_config(), **changes})


def _normalized(layer: layers.Layer) -> List[layers.Layer]:
  """`layer` afresh, under SpectralNormalization if it is a NORMALIZED one;
  its activation, if any, follows as a layer of its own, so the wrapper's
  output is the pre-activation (the logits of an output layer)."""
  if not isinstance(layer, NORMALIZED):
    return [_fresh(layer)]
  policy = layer.dtype_policy
  wrapped = layers.SpectralNormalization(
      _fresh(layer, activation="linear"), dtype=policy,
      name=f"spectral_normalization_{layer.name}")
  if layer.activation in (None, keras.activations.linear):
    return [wrapped]
  return [wrapped, layers.Activation(layer.activation, dtype=policy,
                                     name=f"{layer.name}_activation")]


def spectrally_normalized(model: keras.Model) -> keras.Model:
  """`model` rebuilt, fresh, with its Dense and Conv2D layers spectrally
  normalized (Miyato et al. 2018, "Spectral Normalization for Generative
  Adversarial Networks"; module docstring).

  A layer's activation moves to an Activation layer after its wrapper, so
  a model that ended in Dense(n, activation) ends in Activation and its
  logits are that layer's input (`networks.logits_view`). The new model has
  `model`'s name and architecture and new variables.

  Args:
    model: a keras.Sequential, or a functional model whose Dense and Conv2D
      layers are linear (e.g. the ResNet discriminator).

  Raises:
    UsageError: a subclassed model, a functional one with a non-linear
      Dense or Conv2D layer, or no Dense or Conv2D layer to normalize.
  """
  if not any(isinstance(layer, NORMALIZED) for layer in model.layers):
    raise UsageError(
        f"{model.name!r} has no Dense or Conv2D layer to normalize "
        f"spectrally (e.g. Salimans et al.'s weight-normalized networks); "
        f"train it without spectral normalization.")
  if isinstance(model, keras.Sequential):
    inputs = model.inputs[0]
    rebuilt = [keras.Input(inputs.shape[1:], dtype=inputs.dtype,
                           name=inputs.name)]
    for layer in model.layers:
      rebuilt += _normalized(layer)
    return keras.Sequential(rebuilt, name=model.name)
  try:
    functional = bool(model.inputs)
  except (AttributeError, ValueError):  # a subclassed model has no inputs
    functional = False
  if not functional:
    raise UsageError(
        f"{model.name!r} is a subclassed keras.Model; wrap its Dense and "
        f"Conv2D layers in keras.layers.SpectralNormalization yourself.")

  def clone(layer):
    normalized = _normalized(layer)
    if len(normalized) > 1:
      raise UsageError(
          f"layer {layer.name!r} of {model.name!r} has an activation; give "
          f"the functional model linear Dense and Conv2D layers followed by "
          f"activation layers.")
    return normalized[0]

  rebuilt = keras.models.clone_model(model, clone_function=clone)
  if getattr(model, "returns_logits", False):
    rebuilt.returns_logits = True
  return rebuilt
