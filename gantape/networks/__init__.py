"""gantape's networks: what every family shares, and the registry of families.

A family is a set of builders of a generator and a discriminator for some
image shapes (`seed`: the seed's networks, `dcgan`: the standard DCGAN pair,
`salimans`: Salimans et al. 2016's MNIST networks, `resnet`: the SNGAN ResNet
pair of Miyato et al. 2018); `build_pair(family, kind, ...)` builds the pair
a variant of that kind needs (`gantape.networks.registry`). Here: the
constants every family shares, the image-shape check, and views of a
discriminator (its features, its logits) that the losses use.

Keras defaults are the seed's (Keras 2.3) defaults here: LeakyReLU slope 0.3,
BatchNormalization momentum 0.99 and epsilon 1e-3, Glorot-uniform kernels, and
nearest-neighbour UpSampling2D.

BatchNorm under `tf.distribute`: by default (Keras's default, and the seed's
single-device behaviour per replica) each replica normalizes with its own
slice of the batch. `synchronized_batch_norm=True` makes every BatchNorm layer
all-reduce its batch statistics across replicas, so N replicas normalize over
the global batch exactly as one device would; it adds one small all-reduce per
BatchNorm layer per forward pass. It changes no variable, so checkpoints load
either way.
"""

from typing import Callable, Sequence, Tuple

import keras
from keras import layers

from gantape.data import NUM_CLASSES
from gantape.errors import UsageError

NOISE_DIM = 100
IMAGE_SHAPE = (28, 28, 1)
# Attribute of a discriminator whose outputs are logits (`returns_logits`).
RETURNS_LOGITS = "returns_logits"
# The dtype of every network's output layer under any Keras dtype policy
# (`gantape.precision`): a float16 sigmoid rounds D(x) above 0.9995 to 1,
# which the losses' clipped logs would then see as certainty.
OUTPUT_DTYPE = "float32"

ImageShape = Sequence[int]


def check_image_shape(image_shape: ImageShape, divisor: int = 1,
                      what: str = "these networks") -> Tuple[int, int, int]:
  """`image_shape` as a tuple (H, W, C), refused if `what` cannot take it.

  Args:
    image_shape: [height, width, channels].
    divisor: height and width must be multiples of it (the networks halve
      or double them that many times over).
    what: names the networks in the message.

  Raises:
    UsageError: not three positive sizes, or H or W not divisible.
  """
  shape = tuple(int(d) for d in image_shape)
  if len(shape) != 3 or min(shape) < 1:
    raise UsageError(f"image shape {tuple(image_shape)} is not [height, "
                     f"width, channels] of positive sizes.")
  height, width, _ = shape
  if height % divisor or width % divisor:
    raise UsageError(
        f"{what} need an image height and width divisible by {divisor}; "
        f"got {height}x{width}. Resize the images, choose other networks, "
        f"or pass your own generator and discriminator.")
  return shape


def image_size(image_shape: ImageShape = IMAGE_SHAPE) -> int:
  """H * W * C: the length of a flat image."""
  height, width, channels = check_image_shape(image_shape)
  return height * width * channels


def returns_logits(discriminator: keras.Model) -> bool:
  """Whether `discriminator` returns logits, its variant applying the
  activation: a model with the attribute `returns_logits = True`.

  That is the way to give R1, SSGAN's logit losses and feature-free uses any
  model, subclassed included; the seed's networks end in their activation.
  """
  return bool(getattr(discriminator, RETURNS_LOGITS, False))


def _functional_inputs(model: keras.Model, use: str):
  """`model.inputs`, or a UsageError saying how to do without them."""
  try:
    inputs = model.inputs
  except (AttributeError, ValueError):
    inputs = None
  if not inputs:
    raise UsageError(
        f"{model.name!r} is a subclassed keras.Model, so {use} cannot be "
        f"read off its layers; give it the attribute `{RETURNS_LOGITS} = "
        f"True` and have it return logits (the variant applies the "
        f"activation).")
  return inputs


def features_view(discriminator: keras.Model, *,
                  before_noise: bool = False) -> keras.Model:
  """`discriminator` up to its final layer: images -> that layer's input.

  The features that feature matching compares and that the final layer turns
  into outputs; a model that ends in an Activation layer (as spectrally
  normalized ones do) has its final layer before it. The view shares every variable with `discriminator` and adds
  none, so it trains, checkpoints and counts as the discriminator.

  Args:
    discriminator: a Keras model whose last layer makes the outputs.
    before_noise: step back over the GaussianNoise layers just before the
      final layer (Salimans et al.'s feature matching reads the last hidden
      layer before its noise). Earlier noise still acts in training mode.

  Raises:
    UsageError: `discriminator` is not a functional or Sequential model.
  """
  inputs = _functional_inputs(discriminator, "its features")
  index = len(discriminator.layers) - 1
  if isinstance(discriminator.layers[index], layers.Activation) and index:
    index -= 1
  while (before_noise and index > 0
         and isinstance(discriminator.layers[index - 1], layers.GaussianNoise)):
    index -= 1
  return keras.Model(inputs, discriminator.layers[index].input,
                     name=f"{discriminator.name}_features")


def logits_view(discriminator: keras.Model) -> Callable:
  """`discriminator` without its output activation: images -> logits.

  Returns `logits(images, training)`: the discriminator itself when it
  `returns_logits`; the input of its final layer when that is an Activation
  layer; otherwise `features_view(discriminator)` through the final layer, a
  Dense or a layer with a `linear(x)` method (such as
  `salimans.WeightNormDense`), without its activation. Like that view, it
  shares every variable with `discriminator` and adds none.

  Raises:
    UsageError: the discriminator does not return logits and is subclassed,
      or does not end in an Activation, a Dense or a WeightNormDense.
  """
  if returns_logits(discriminator):
    return lambda images, training: discriminator(images, training=training)
  inputs = _functional_inputs(discriminator, "its logits")
  last = discriminator.layers[-1]
  if isinstance(last, layers.Activation):
    before = keras.Model(inputs, last.input, name=f"{discriminator.name}_logits")
    return lambda images, training: before(images, training=training)
  if hasattr(last, "linear"):  # e.g. salimans.WeightNormDense
    linear = last.linear
  elif isinstance(last, layers.Dense):
    def linear(x):
      out = keras.ops.matmul(x, last.kernel)
      return out if last.bias is None else out + last.bias
  else:
    raise UsageError(
        f"{discriminator.name!r} ends in a {type(last).__name__}, not an "
        f"Activation, Dense or WeightNormDense layer, so its logits are not known; end it in "
        f"Dense(num_outputs, activation=...).")
  features = features_view(discriminator)

  def logits(images, training):
    return linear(features(images, training=training))
  return logits


def conditioned(body: Callable[[int], keras.Model], noise_dim: int,
                num_classes: int, name: str) -> keras.Model:
  """A generator of `[noise [B, noise_dim], labels int32 [B]]`.

  Args:
    body: builds the unconditional generator for an input size; it runs on
      concat(noise, one_hot(label, num_classes)).
    noise_dim: the noise size.
    num_classes: the number of labels.
    name: the model's name.
  """
  noise = keras.Input((noise_dim,), name="noise")
  labels = keras.Input((), dtype="int32", name="labels")
  one_hot = layers.Lambda(
      lambda y: keras.ops.one_hot(y, num_classes), name="one_hot")(labels)
  images = body(noise_dim + num_classes)(layers.Concatenate()([noise, one_hot]))
  return keras.Model([noise, labels], images, name=name)




# The registry imports the families, which import the names above.
from gantape.networks.registry import (  # noqa: E402
    KINDS, Builders, Spec, build_pair, default_family, families, families_for,
    register)

__all__ = [
    "IMAGE_SHAPE", "NOISE_DIM", "NUM_CLASSES", "OUTPUT_DTYPE", "RETURNS_LOGITS",
    "ImageShape", "check_image_shape", "conditioned", "features_view",
    "image_size", "logits_view", "returns_logits",
    "KINDS", "Builders", "Spec", "build_pair", "default_family", "families",
    "families_for", "register"]
