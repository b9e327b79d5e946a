"""The seed's networks, layer for layer, as Keras 3 models (family "seed").

Every network is a function of the image shape `[H, W, C]` (`image_shape`,
default `IMAGE_SHAPE`, 28x28x1, where each builds exactly the seed's model:
same layers, names and variable shapes, so checkpoints load). The conv
generator starts from H/4 x W/4 and upsamples twice, so it takes heights and
widths divisible by 4; the MLPs read and write H*W*C pixels. Keras defaults
and `synchronized_batch_norm` as in `gantape.networks`.
"""

from typing import Optional

import keras
from keras import layers

from gantape import fast_layers
from gantape.data import NUM_CLASSES
from gantape.networks import (IMAGE_SHAPE, NOISE_DIM, OUTPUT_DTYPE,
                              ImageShape, check_image_shape, conditioned,
                              image_size)


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
