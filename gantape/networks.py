"""The seed's networks, layer for layer, as Keras 3 models, and views of a
discriminator (its features, its logits) that the losses use.

Every network is a function of the image shape `[H, W, C]` (`image_shape`,
default `IMAGE_SHAPE`, 28x28x1, where each builds exactly the seed's model:
same layers, names and variable shapes, so checkpoints load). The conv
generator starts from H/4 x W/4 and upsamples twice, so it takes heights and
widths divisible by 4; the MLPs read and write H*W*C pixels. The standard
DCGAN pair for 32x32 and 64x64 images is in `gantape.dcgan_networks`, and
the MNIST networks of Salimans et al. 2016 for SSGAN in
`gantape.salimans_networks`.

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

from typing import Callable, Optional, Sequence, Tuple

import keras
from keras import layers

from gantape import fast_layers
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


def mlp_generator(noise_dim: int = NOISE_DIM, *,
                  image_shape: ImageShape = IMAGE_SHAPE) -> keras.Model:
  """GAN generator: Dense(128, relu) -> Dense(H*W*C, sigmoid), flat images."""
  return keras.Sequential([
      keras.Input((noise_dim,), name="noise"),
      layers.Dense(128, activation="relu"),
      layers.Dense(image_size(image_shape), activation="sigmoid",
                   dtype=OUTPUT_DTYPE),
  ], name="mlp_generator")


def mlp_discriminator(*, image_shape: ImageShape = IMAGE_SHAPE
                      ) -> keras.Model:
  """GAN discriminator: Dense(128, relu) -> Dense(1, sigmoid) on flat images."""
  return keras.Sequential([
      keras.Input((image_size(image_shape),), name="image"),
      layers.Dense(128, activation="relu"),
      layers.Dense(1, activation="sigmoid", dtype=OUTPUT_DTYPE),
  ], name="mlp_discriminator")


def _batch_norm(synchronized: bool) -> layers.BatchNormalization:
  # Keras's layer with TensorFlow's fused kernel: same math and variables,
  # much cheaper in training mode (gantape/fast_layers.py). Synchronized
  # BatchNorm goes through Keras's own code.
  return fast_layers.BatchNormalization(synchronized=synchronized)


def conv_generator(input_dim: int = NOISE_DIM, name: str = "conv_generator", *,
                   image_shape: ImageShape = IMAGE_SHAPE,
                   synchronized_batch_norm: bool = False) -> keras.Model:
  """The seed's DCGAN generator: [B, input_dim] -> [B, H, W, C] in (0, 1).

  Dense(H/4*W/4*64) -> BN -> LeakyReLU -> Reshape(H/4, W/4, 64)
  -> UpSampling2D(2) -> Conv2DTranspose(64, 3, same) -> BN -> LeakyReLU
  -> UpSampling2D(2) -> Conv2DTranspose(C, 3, same, sigmoid); at 28x28x1
  the seed's, from 7x7.

  Args:
    input_dim: noise (plus condition) size.
    name: the model's name.
    image_shape: [H, W, C], H and W divisible by 4.
    synchronized_batch_norm: BatchNorm over the global batch across replicas
      (see the module docstring); default False: per replica.

  Raises:
    UsageError: H or W is not divisible by 4.
  """
  height, width, channels = check_image_shape(
      image_shape, 4, "the seed's conv networks")
  start = (height // 4, width // 4, 64)
  return keras.Sequential([
      keras.Input((input_dim,), name="noise"),
      layers.Dense(start[0] * start[1] * start[2]),
      _batch_norm(synchronized_batch_norm),
      layers.LeakyReLU(),
      layers.Reshape(start),
      layers.UpSampling2D(2),
      layers.Conv2DTranspose(64, 3, padding="same"),
      _batch_norm(synchronized_batch_norm),
      layers.LeakyReLU(),
      layers.UpSampling2D(2),
      layers.Conv2DTranspose(channels, 3, padding="same",
                             activation="sigmoid", dtype=OUTPUT_DTYPE),
  ], name=name)


def conv_discriminator(num_outputs: int = 1, *,
                       image_shape: ImageShape = IMAGE_SHAPE,
                       output_activation: Optional[str] = "sigmoid",
                       batch_norm: bool = True,
                       synchronized_batch_norm: bool = False,
                       name: str = "conv_discriminator") -> keras.Model:
  """The seed's DCGAN discriminator: [B, H, W, C] -> [B, num_outputs].

  Conv2D(64, 3, same) -> BN -> LeakyReLU -> MaxPool(2) -> Conv2D(64, 3, same)
  -> BN -> LeakyReLU -> MaxPool(2) -> Flatten -> Dense(128) -> BN -> LeakyReLU
  -> Dense(num_outputs, output_activation).

  Args:
    num_outputs: 1 (real/fake) or 11 (ten digits plus "fake").
    image_shape: [H, W, C], H and W divisible by 4.
    output_activation: "sigmoid" (1 output), "softmax" (11), or None for a
      linear critic (WGAN-GP).
    batch_norm: False drops the three BatchNorm layers, as WGAN-GP needs: its
      gradient penalty is per sample and BatchNorm couples the samples.
    synchronized_batch_norm: BatchNorm over the global batch across replicas
      (see the module docstring); default False: per replica.
    name: the model's name.

  Raises:
    UsageError: H or W is not divisible by 4.
  """
  image_shape = check_image_shape(image_shape, 4, "the seed's conv networks")

  def norm():
    return [_batch_norm(synchronized_batch_norm)] if batch_norm else []

  return keras.Sequential([
      keras.Input(image_shape, name="image"),
      layers.Conv2D(64, 3, padding="same"), *norm(), layers.LeakyReLU(),
      layers.MaxPool2D(2),
      layers.Conv2D(64, 3, padding="same"), *norm(), layers.LeakyReLU(),
      layers.MaxPool2D(2),
      layers.Flatten(),
      layers.Dense(128), *norm(), layers.LeakyReLU(),
      layers.Dense(num_outputs, activation=output_activation,
                   dtype=OUTPUT_DTYPE),
  ], name=name)


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
  into outputs. The view shares every variable with `discriminator` and adds
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
  while (before_noise and index > 0
         and isinstance(discriminator.layers[index - 1], layers.GaussianNoise)):
    index -= 1
  return keras.Model(inputs, discriminator.layers[index].input,
                     name=f"{discriminator.name}_features")


def logits_view(discriminator: keras.Model) -> Callable:
  """`discriminator` without its output activation: images -> logits.

  Returns `logits(images, training)`: the discriminator itself when it
  `returns_logits`; otherwise `features_view(discriminator)` through the
  final layer, a Dense or a layer with a `linear(x)` method (such as
  `salimans_networks.WeightNormDense`), without its activation. Like
  that view, it shares every variable with `discriminator` and adds none.

  Raises:
    UsageError: the discriminator does not return logits and is subclassed,
      or does not end in a Dense or WeightNormDense.
  """
  if returns_logits(discriminator):
    return lambda images, training: discriminator(images, training=training)
  _functional_inputs(discriminator, "its logits")
  last = discriminator.layers[-1]
  if hasattr(last, "linear"):  # e.g. salimans_networks.WeightNormDense
    linear = last.linear
  elif isinstance(last, layers.Dense):
    def linear(x):
      out = keras.ops.matmul(x, last.kernel)
      return out if last.bias is None else out + last.bias
  else:
    raise UsageError(
        f"{discriminator.name!r} ends in a {type(last).__name__}, not a Dense "
        f"or WeightNormDense layer, so its logits are not known; end it in "
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


def conditional_generator(noise_dim: int = NOISE_DIM,
                          num_classes: int = NUM_CLASSES, *,
                          image_shape: ImageShape = IMAGE_SHAPE,
                          synchronized_batch_norm: bool = False
                          ) -> keras.Model:
  """CGAN generator: `conv_generator` on concat(noise, one_hot(label)).

  Inputs are `[noise float32 [B, noise_dim], labels int32 [B]]`.
  `image_shape` and `synchronized_batch_norm` are `conv_generator`'s.
  """
  return conditioned(
      lambda input_dim: conv_generator(
          input_dim, name="conv_generator_body", image_shape=image_shape,
          synchronized_batch_norm=synchronized_batch_norm),
      noise_dim, num_classes, "conditional_generator")
