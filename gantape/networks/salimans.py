"""The MNIST networks of Salimans et al. 2016 for SSGAN (`networks="salimans"`).

Read from their code (openai/improved-gan, `mnist_svhn_cifar10/
train_mnist_feature_matching.py` and `nn.py`): a discriminator of
weight-normalized dense layers with Gaussian noise, and a softplus generator
with BatchNorm; with `WeightNormDense`, their weight-normalized layer, and its
data-dependent initialization.
"""

from typing import Optional

import keras
from keras import layers
import tensorflow as tf

from gantape.data import NUM_CLASSES
from gantape.errors import UsageError
from gantape.networks import (IMAGE_SHAPE, NOISE_DIM, ImageShape,
                              check_image_shape, image_size)


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

  v starts from N(0, 0.1^2), their `nn.DenseLayer`'s, unless
  `kernel_initializer` names another. Its scale matters
  although the output does not depend on it: Adam moves each entry of v by
  about the learning rate, so the smaller v is, the faster its direction
  turns.

  `zero_logit=True` appends one output fixed at 0 after the `units` trained
  ones (before the activation): their K-class discriminator whose "fake"
  logit is 0, so that P(fake|x) = 1 / (1 + sum_k exp(l_k)) and only a
  confident class makes an image real.
  """

  def __init__(self, units: int, activation: Optional[str] = None,
               train_scale: bool = False, zero_logit: bool = False,
               kernel_initializer=None, **kwargs):
    super().__init__(**kwargs)
    self.units = units
    self.activation = keras.activations.get(activation)
    self.train_scale = train_scale
    self.zero_logit = zero_logit
    self.kernel_initializer = (
        keras.initializers.RandomNormal(stddev=0.1)
        if kernel_initializer is None
        else keras.initializers.get(kernel_initializer))

  def build(self, input_shape):
    self.v = self.add_weight(
        shape=(input_shape[-1], self.units), name="v",
        initializer=self.kernel_initializer)
    # Under a multi-replica strategy the data-dependent init assigns g and b
    # in each replica: they take the replicas' mean.
    self.g = self.add_weight(shape=(self.units,), name="g", initializer="ones",
                             trainable=self.train_scale, aggregation="mean")
    self.b = self.add_weight(shape=(self.units,), name="b",
                             initializer="zeros", aggregation="mean")
    self.initialized = self.add_weight(
        shape=(), name="initialized", initializer="zeros", trainable=False,
        aggregation="only_first_replica")

  def linear(self, inputs):
    """(x @ v / ||v||) * g + b: the output before the activation (with the
    zero logit appended for `zero_logit`)."""
    out = self.pre_activation(inputs) + self.b
    if not self.zero_logit:
      return out
    return tf.concat([out, tf.zeros_like(out[:, :1])], axis=-1)

  def pre_activation(self, inputs):
    """(x @ v / ||v||) * g, before the bias and the activation."""
    return tf.matmul(inputs, self.v / tf.norm(self.v, axis=0, keepdims=True)
                     ) * self.g

  def call(self, inputs):
    return self.activation(self.linear(inputs))

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1]) + (self.units + int(self.zero_logit),)

  def get_config(self):
    return {**super().get_config(), "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "train_scale": self.train_scale, "zero_logit": self.zero_logit,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer)}


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
                       image_shape: ImageShape = IMAGE_SHAPE,
                       synchronized_batch_norm: bool = False) -> keras.Model:
  """Salimans et al. 2016's MNIST generator: [B, noise_dim] -> [B, H, W, C].

  Dense(500, no bias) -> BN(no scale) -> softplus, twice, then
  WeightNormDense(H*W*C, sigmoid, trained scale) -> Reshape(H, W, C): the MLP
  of their semi-supervised MNIST code (openai/improved-gan), whose output
  layer is `nn.l2normalize`d: weight-normalized with a trained scale from 1,
  its v from Lasagne's default Glorot-uniform, and no data-dependent init.
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
      WeightNormDense(image_size(image_shape), activation="sigmoid",
                      train_scale=True, kernel_initializer="glorot_uniform"),
      layers.Reshape(check_image_shape(image_shape)),
  ], name="salimans_generator")


def salimans_discriminator(num_classes: int = NUM_CLASSES,
                           output_activation: Optional[str] = "softmax", *,
                           image_shape: ImageShape = IMAGE_SHAPE
                           ) -> keras.Model:
  """Salimans et al. 2016's MNIST discriminator: [B, H, W, C] -> [B, K + 1].

  Gaussian noise (stddev 0.3) on the pixels, then WeightNormDense(units,
  relu) -> Gaussian noise (0.5) for units = 1000, 500, 250, 250, 250, then
  WeightNormDense(num_classes, output_activation, train_scale=True,
  zero_logit=True): their code's MLP, with K = num_classes trained logits
  and the "fake" logit fixed at 0 as the last of K + 1 outputs. The noise
  layers act in training mode only and draw from Keras's seeded generators
  (`keras.utils.set_random_seed`), not from `Variant.sample_inputs`; a
  training checkpoint holds their state (`training.seed_generators`), so a
  resumed run draws the noise an uninterrupted one draws. The SSGAN variant
  initializes the layers from its first real batch (`initialize_weight_norm`).
  """
  def hidden(units):
    return [WeightNormDense(units, activation="relu"),
            layers.GaussianNoise(0.5)]

  return keras.Sequential([
      keras.Input(check_image_shape(image_shape), name="image"),
      layers.Flatten(),
      layers.GaussianNoise(0.3),
      *hidden(1000), *hidden(500), *hidden(250), *hidden(250), *hidden(250),
      WeightNormDense(num_classes, activation=output_activation,
                      train_scale=True, zero_logit=True),
  ], name="salimans_discriminator")
