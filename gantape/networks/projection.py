"""Projection conditioning: class-conditional BatchNorm in the generator and
the projection discriminator (`build_pair(family, "projection", ...)`).

Miyato & Koyama 2018, "cGANs with Projection Discriminator":
- the discriminator's logit is D(x, y) = psi(phi(x)) + <embed(y), phi(x)>,
  phi(x) the discriminator's features (the input of its final Dense), psi
  that Dense (one linear output) and embed a class embedding;
- the generator's BatchNorm layers are class-conditional (Dumoulin et al.
  2017, de Vries et al. 2017): BatchNorm without scale and offset, then
  gamma[y] * x_hat + beta[y], gamma and beta rows of per-class embeddings
  initialised to 1 and 0.

The seed's and dcgan's generators have every BatchNorm conditional
(`with_conditional_batch_norm`), resnet's those of its up-blocks
(`resnet_projection_generator`).
Generator, [noise [B, noise_dim], labels int32 [B]] -> images in (0, 1);
discriminator, [images, labels int32 [B]] -> logits [B, 1].

embed(y) is a bias-free Dense on one_hot(y): one_hot(y) W is row y of W, so
it is an embedding, and `keras.layers.SpectralNormalization` wraps it as it
wraps any Dense (Miyato & Koyama normalize their embedding, a [classes, C]
matrix, the same way). The wrapper would take a `keras.layers.Embedding`
but casts the layer's output to its input's dtype, so on integer labels the
embedded vectors would come back as integers.
"""

from typing import Callable

import keras
from keras import layers

from gantape.networks import OUTPUT_DTYPE, ImageShape
from gantape.networks import resnet


@keras.saving.register_keras_serializable(package="gantape")
class ConditionalBatchNormalization(layers.Layer):
  """Class-conditional BatchNorm: `[x, labels]` -> gamma[y] x_hat + beta[y].

  x_hat is x normalized over the batch (and positions) by a
  `keras.layers.BatchNormalization` without scale and offset, whose moving
  statistics serve inference as usual; gamma and beta are [num_classes, C]
  weights, initialised to ones and zeros, indexed by the int labels [B].
  """

  def __init__(self, num_classes: int, momentum: float = 0.99,
               epsilon: float = 1e-3, synchronized: bool = False, **kwargs):
    """Args:
      num_classes: the number of labels.
      momentum, epsilon: the BatchNorm's.
      synchronized: BatchNorm over the global batch across replicas.
    """
    super().__init__(**kwargs)
    self.num_classes = num_classes
    self.momentum = momentum
    self.epsilon = epsilon
    self.synchronized = synchronized
    self.norm = layers.BatchNormalization(
        momentum=momentum, epsilon=epsilon, center=False, scale=False,
        synchronized=synchronized, dtype=self.dtype_policy, name="norm")

  def build(self, input_shape):
    x_shape = input_shape[0]
    self.norm.build(x_shape)
    shape = (self.num_classes, x_shape[-1])
    self.gamma = self.add_weight(shape=shape, initializer="ones",
                                 name="gamma_embeddings")
    self.beta = self.add_weight(shape=shape, initializer="zeros",
                                name="beta_embeddings")

  def call(self, inputs, training=None):
    x, labels = inputs
    x_hat = self.norm(x, training=training)
    labels = keras.ops.cast(labels, "int32")
    # [B, C] -> [B, 1, ..., 1, C], broadcast over the positions.
    shape = (-1,) + (1,) * (len(x.shape) - 2) + (x.shape[-1],)

    def rows(table):
      picked = keras.ops.take(table, labels, axis=0)
      return keras.ops.cast(keras.ops.reshape(picked, shape), x_hat.dtype)
    return x_hat * rows(self.gamma) + rows(self.beta)

  def compute_output_shape(self, input_shape):
    return input_shape[0]

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes,
            "momentum": self.momentum, "epsilon": self.epsilon,
            "synchronized": self.synchronized}


def _labels_input():
  return keras.Input((), dtype="int32", name="labels")


def projection_logit(features, labels, psi: layers.Dense, num_classes: int):
  """psi(phi) + <embed(y), phi> on symbolic `features` phi [B, C] and
  int `labels` [B] (module docstring); [B, 1], float32."""
  one_hot = layers.CategoryEncoding(num_classes, output_mode="one_hot",
                                    name="one_hot")(labels)
  embedded = layers.Dense(features.shape[-1], use_bias=False,
                          name="class_embedding")(one_hot)
  inner = layers.Dot(axes=1, dtype=OUTPUT_DTYPE)([embedded, features])
  return layers.Add(dtype=OUTPUT_DTYPE, name="logit")([psi(features), inner])


def with_projection(body: keras.Model, num_classes: int,
                    name: str) -> keras.Model:
  """A projection discriminator on the features of `body`.

  Args:
    body: an unconditional discriminator, Sequential or functional, ending
      in a linear Dense(1) (psi) whose input is phi.
    num_classes: the number of labels.
    name: the model's name.

  Returns:
    A functional model `[images, labels]` -> logits [B, 1] with `body`'s
    layers, psi its final Dense, and the class embedding.
  """
  psi = body.layers[-1]
  labels = _labels_input()
  logit = projection_logit(psi.input, labels, psi, num_classes)
  model = keras.Model([body.inputs[0], labels], logit, name=name)
  model.returns_logits = True  # networks.RETURNS_LOGITS
  return model


def with_conditional_batch_norm(generator: keras.Sequential,
                                num_classes: int) -> keras.Model:
  """`generator` as a functional model of `[noise, labels]` whose every
  BatchNormalization is a `ConditionalBatchNormalization` of the same
  momentum, epsilon and synchronization; the other layers are its own.

  Args:
    generator: a Sequential generator of noise (the seed's, dcgan's).
    num_classes: the number of labels.
  """
  noise = keras.Input(generator.inputs[0].shape[1:], name="noise")
  labels = _labels_input()
  h = noise
  for layer in generator.layers:
    if isinstance(layer, layers.BatchNormalization):
      h = ConditionalBatchNormalization(
          num_classes, momentum=layer.momentum, epsilon=layer.epsilon,
          synchronized=layer.synchronized)([h, labels])
    else:
      h = layer(h)
  return keras.Model([noise, labels], h, name=generator.name)


def resnet_projection_generator(image_shape: ImageShape, noise_dim: int,
                                num_classes: int, *,
                                synchronized_batch_norm: bool = False,
                                name: str = "resnet_generator") -> keras.Model:
  """The SNGAN ResNet generator (`resnet.resnet_generator`) with
  class-conditional BatchNorm in its up-blocks, the last BatchNorm plain as
  in Miyato & Koyama's code: `[noise, labels]` -> images."""
  noise = keras.Input((noise_dim,), name="noise")
  labels = _labels_input()

  def norm(h):
    return ConditionalBatchNormalization(
        num_classes, momentum=resnet.BN_MOMENTUM, epsilon=resnet.BN_EPSILON,
        synchronized=synchronized_batch_norm)([h, labels])

  images = resnet.generator_output(noise, image_shape, norm,
                                   synchronized_batch_norm)
  return keras.Model([noise, labels], images, name=name)


def discriminator_builder(unconditional: Callable[..., keras.Model],
                          name: str) -> Callable:
  """(spec) -> the projection discriminator on `unconditional(spec)`'s
  features; `unconditional` builds a discriminator ending in Dense(1)."""
  return lambda spec: with_projection(unconditional(spec), spec.num_classes,
                                      name)
