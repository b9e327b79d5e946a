"""The seed's networks, layer for layer, as Keras 3 models; and the MNIST
networks of Salimans et al. 2016 with their weight-normalized layer, for SSGAN.

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

from typing import Callable, Optional

import keras
from keras import layers
import tensorflow as tf

from gantape import fast_layers
from gantape.errors import UsageError

NOISE_DIM = 100
NUM_CLASSES = 10
IMAGE_SIZE = 28 * 28


def mlp_generator(noise_dim: int = NOISE_DIM) -> keras.Model:
  """GAN generator: Dense(128, relu) -> Dense(784, sigmoid), flat images."""
  return keras.Sequential([
      keras.Input((noise_dim,), name="noise"),
      layers.Dense(128, activation="relu"),
      layers.Dense(IMAGE_SIZE, activation="sigmoid"),
  ], name="mlp_generator")


def mlp_discriminator() -> keras.Model:
  """GAN discriminator: Dense(128, relu) -> Dense(1, sigmoid) on flat images."""
  return keras.Sequential([
      keras.Input((IMAGE_SIZE,), name="image"),
      layers.Dense(128, activation="relu"),
      layers.Dense(1, activation="sigmoid"),
  ], name="mlp_discriminator")


def _batch_norm(synchronized: bool) -> layers.BatchNormalization:
  # Keras's layer with TensorFlow's fused kernel: same math and variables,
  # much cheaper in training mode (gantape/fast_layers.py). Synchronized
  # BatchNorm goes through Keras's own code.
  return fast_layers.BatchNormalization(synchronized=synchronized)


def conv_generator(input_dim: int = NOISE_DIM, name: str = "conv_generator", *,
                   synchronized_batch_norm: bool = False) -> keras.Model:
  """The seed's DCGAN generator: [B, input_dim] -> [B, 28, 28, 1] in (0, 1).

  Dense(7*7*64) -> BN -> LeakyReLU -> Reshape(7, 7, 64) -> UpSampling2D(2)
  -> Conv2DTranspose(64, 3, same) -> BN -> LeakyReLU -> UpSampling2D(2)
  -> Conv2DTranspose(1, 3, same, sigmoid).

  Args:
    input_dim: noise (plus condition) size.
    name: the model's name.
    synchronized_batch_norm: BatchNorm over the global batch across replicas
      (see the module docstring); default False: per replica.
  """
  return keras.Sequential([
      keras.Input((input_dim,), name="noise"),
      layers.Dense(7 * 7 * 64),
      _batch_norm(synchronized_batch_norm),
      layers.LeakyReLU(),
      layers.Reshape((7, 7, 64)),
      layers.UpSampling2D(2),
      layers.Conv2DTranspose(64, 3, padding="same"),
      _batch_norm(synchronized_batch_norm),
      layers.LeakyReLU(),
      layers.UpSampling2D(2),
      layers.Conv2DTranspose(1, 3, padding="same", activation="sigmoid"),
  ], name=name)


def conv_discriminator(num_outputs: int = 1, *,
                       output_activation: Optional[str] = "sigmoid",
                       batch_norm: bool = True,
                       synchronized_batch_norm: bool = False,
                       name: str = "conv_discriminator") -> keras.Model:
  """The seed's DCGAN discriminator: [B, 28, 28, 1] -> [B, num_outputs].

  Conv2D(64, 3, same) -> BN -> LeakyReLU -> MaxPool(2) -> Conv2D(64, 3, same)
  -> BN -> LeakyReLU -> MaxPool(2) -> Flatten -> Dense(128) -> BN -> LeakyReLU
  -> Dense(num_outputs, output_activation).

  Args:
    num_outputs: 1 (real/fake) or 11 (ten digits plus "fake").
    output_activation: "sigmoid" (1 output), "softmax" (11), or None for a
      linear critic (WGAN-GP).
    batch_norm: False drops the three BatchNorm layers, as WGAN-GP needs: its
      gradient penalty is per sample and BatchNorm couples the samples.
    synchronized_batch_norm: BatchNorm over the global batch across replicas
      (see the module docstring); default False: per replica.
    name: the model's name.
  """
  def norm():
    return [_batch_norm(synchronized_batch_norm)] if batch_norm else []

  return keras.Sequential([
      keras.Input((28, 28, 1), name="image"),
      layers.Conv2D(64, 3, padding="same"), *norm(), layers.LeakyReLU(),
      layers.MaxPool2D(2),
      layers.Conv2D(64, 3, padding="same"), *norm(), layers.LeakyReLU(),
      layers.MaxPool2D(2),
      layers.Flatten(),
      layers.Dense(128), *norm(), layers.LeakyReLU(),
      layers.Dense(num_outputs, activation=output_activation),
  ], name=name)


@keras.saving.register_keras_serializable(package="gantape")
class WeightNormDense(layers.Layer):
  """Dense with weight normalization (Salimans & Kingma 2016).

  y = activation((x @ v / ||v||) * g + b), the norm taken per output unit, as
  `nn.DenseLayer` in the code of Salimans et al. 2016 (openai/improved-gan).
  `train_scale=False` (their hidden layers) keeps g fixed, so a unit's weight
  vector keeps its norm and its activations their scale, which keeps Gaussian
  noise of a fixed stddev meaningful throughout training; their output layer
  trains g (`train_scale=True`). g and b start at 1 and 0; for their
  data-dependent start, see `initialize_weight_norm`.
  """

  def __init__(self, units: int, activation: Optional[str] = None,
               train_scale: bool = False, **kwargs):
    super().__init__(**kwargs)
    self.units = units
    self.activation = keras.activations.get(activation)
    self.train_scale = train_scale

  def build(self, input_shape):
    self.v = self.add_weight(
        shape=(input_shape[-1], self.units), name="v",
        initializer=keras.initializers.RandomNormal(stddev=0.05))
    # Under a multi-replica strategy the data-dependent init assigns g and b
    # in each replica: they take the replicas' mean.
    self.g = self.add_weight(shape=(self.units,), name="g", initializer="ones",
                             trainable=self.train_scale, aggregation="mean")
    self.b = self.add_weight(shape=(self.units,), name="b",
                             initializer="zeros", aggregation="mean")
    self.initialized = self.add_weight(
        shape=(), name="initialized", initializer="zeros", trainable=False,
        aggregation="only_first_replica")

  def pre_activation(self, inputs):
    """(x @ v / ||v||) * g, before the bias and the activation."""
    return tf.matmul(inputs, self.v / tf.norm(self.v, axis=0, keepdims=True)
                     ) * self.g

  def call(self, inputs):
    return self.activation(self.pre_activation(inputs) + self.b)

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1]) + (self.units,)

  def get_config(self):
    return {**super().get_config(), "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "train_scale": self.train_scale}


def initialize_weight_norm(model: keras.Model, images) -> None:
  """Data-dependent init of `model`'s WeightNormDense layers, the first time.

  Layer by layer on `images` in training mode, each WeightNormDense sets
  g <- g / std and b <- -mean / std of its pre-activations per unit, so every
  unit starts at zero mean and unit variance on real data (Salimans & Kingma
  2016). It runs once: later calls are a no-op, also after a checkpoint
  restore (the layers' `initialized` flags are checkpointed). Call it in the
  discriminator's loss on the real batch, so that only a discriminator step
  initializes the discriminator. A model without WeightNormDense layers is
  left alone.

  Raises:
    UsageError: the model has WeightNormDense layers but is not Sequential
      (the layer-by-layer pass needs each layer's input).
  """
  norm_layers = [l for l in model.layers if isinstance(l, WeightNormDense)]
  if not norm_layers:
    return
  if not isinstance(model, keras.Sequential):
    raise UsageError(f"{model.name!r} has WeightNormDense layers but is not "
                     f"a keras.Sequential; initialize its layers yourself.")

  def init_pass():
    x = images
    for layer in model.layers:
      if isinstance(layer, WeightNormDense):
        pre = layer.pre_activation(x)
        mean, variance = tf.nn.moments(pre, axes=[0])
        std = tf.sqrt(variance + 1e-8)
        layer.g.assign(layer.g / std)
        layer.b.assign(-mean / std)
        layer.initialized.assign(1.0)
      x = layer(x, training=True)
    return tf.constant(True)

  done = tf.reduce_all([l.initialized > 0 for l in norm_layers])
  tf.cond(done, lambda: tf.constant(True), init_pass)


def salimans_generator(noise_dim: int = NOISE_DIM, *,
                       synchronized_batch_norm: bool = False) -> keras.Model:
  """Salimans et al. 2016's MNIST generator: [B, noise_dim] -> [B, 28, 28, 1].

  Dense(500, no bias) -> BN(no scale) -> softplus, twice, then Dense(784,
  sigmoid) -> Reshape(28, 28, 1): the MLP of their semi-supervised MNIST code
  (openai/improved-gan), without the weight normalization of its last layer
  (a trained scale there; the hidden layers' BatchNorm already sets theirs).
  `synchronized_batch_norm` as in `conv_generator`.
  """
  def hidden():
    return [layers.Dense(500, use_bias=False),
            layers.BatchNormalization(scale=False,
                                      synchronized=synchronized_batch_norm),
            layers.Activation("softplus")]

  return keras.Sequential([
      keras.Input((noise_dim,), name="noise"),
      *hidden(), *hidden(),
      layers.Dense(IMAGE_SIZE, activation="sigmoid"),
      layers.Reshape((28, 28, 1)),
  ], name="salimans_generator")


def salimans_discriminator(num_outputs: int = 11,
                           output_activation: Optional[str] = "softmax"
                           ) -> keras.Model:
  """Salimans et al. 2016's MNIST discriminator: [B, 28, 28, 1] -> [B, 11].

  Gaussian noise (stddev 0.3) on the pixels, then WeightNormDense(units,
  relu) -> Gaussian noise (0.5) for units = 1000, 500, 250, 250, 250, then
  WeightNormDense(num_outputs, output_activation, train_scale=True): their
  code's MLP. Their 10 logits with the fake logit fixed at 0 are here 11 free
  ones, as the seed's. The noise layers act in training mode only and draw
  from Keras's seeded generators (`keras.utils.set_random_seed`), not from
  `Variant.sample_inputs`; their state is not checkpointed, so a resumed run
  draws other noise than an uninterrupted one. The SSGAN variant initializes
  the layers from its first real batch (`initialize_weight_norm`).
  """
  def hidden(units):
    return [WeightNormDense(units, activation="relu"),
            layers.GaussianNoise(0.5)]

  return keras.Sequential([
      keras.Input((28, 28, 1), name="image"),
      layers.Flatten(),
      layers.GaussianNoise(0.3),
      *hidden(1000), *hidden(500), *hidden(250), *hidden(250), *hidden(250),
      WeightNormDense(num_outputs, activation=output_activation,
                      train_scale=True),
  ], name="salimans_discriminator")


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
  """
  index = len(discriminator.layers) - 1
  while (before_noise and index > 0
         and isinstance(discriminator.layers[index - 1], layers.GaussianNoise)):
    index -= 1
  return keras.Model(discriminator.inputs, discriminator.layers[index].input,
                     name=f"{discriminator.name}_features")


def logits_view(discriminator: keras.Model) -> Callable:
  """`discriminator` without its output activation: images -> logits.

  Returns `logits(images, training)`: `features_view(discriminator)` through
  the final layer, a Dense or a WeightNormDense, without its activation. Like
  that view, it shares every variable with `discriminator` and adds none.

  Raises:
    UsageError: the discriminator does not end in a Dense or WeightNormDense.
  """
  last = discriminator.layers[-1]
  if isinstance(last, WeightNormDense):
    linear = lambda x: last.pre_activation(x) + last.b
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


def conditional_generator(noise_dim: int = NOISE_DIM,
                          num_classes: int = NUM_CLASSES, *,
                          synchronized_batch_norm: bool = False
                          ) -> keras.Model:
  """CGAN generator: `conv_generator` on concat(noise, one_hot(label, 10)).

  Inputs are `[noise float32 [B, noise_dim], labels int32 [B]]`.
  `synchronized_batch_norm` is `conv_generator`'s.
  """
  noise = keras.Input((noise_dim,), name="noise")
  labels = keras.Input((), dtype="int32", name="labels")
  one_hot = layers.Lambda(
      lambda y: keras.ops.one_hot(y, num_classes), name="one_hot")(labels)
  body = conv_generator(noise_dim + num_classes, name="conv_generator_body",
                        synchronized_batch_norm=synchronized_batch_norm)
  images = body(layers.Concatenate()([noise, one_hot]))
  return keras.Model([noise, labels], images, name="conditional_generator")
