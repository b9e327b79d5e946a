"""The SNGAN ResNet pair of Miyato et al. 2018 (`networks="resnet"`).

"Spectral Normalization for Generative Adversarial Networks", Miyato et al.
2018, Appendix B.4 (Tables 4 and 5), as their chainer code
(pfnet-research/sngan_projection) and its ports (mimicry, PyTorch-StudioGAN)
build it for CIFAR-10 (32x32), STL-10 (48x48) and 64x64 images:

Generator, [B, noise] -> [B, H, W, C] in (0, 1):
  Dense(h * w * ch) -> Reshape(h, w, ch) -> up-blocks -> BN -> ReLU
  -> Conv2D(C, 3) -> sigmoid;
  up-block(x): BN -> ReLU -> Upsample(2) -> Conv(3) -> BN -> ReLU -> Conv(3),
  plus Conv(1)(Upsample(2)(x)).
Discriminator, [B, H, W, C] -> [B, num_outputs]:
  optimized block -> blocks -> ReLU -> global sum pooling -> Dense;
  optimized block(x): Conv(3) -> ReLU -> Conv(3) -> AvgPool(2),
  plus Conv(1)(AvgPool(2)(x));
  block(x): ReLU -> Conv(3) -> ReLU -> Conv(3) [-> AvgPool(2)], plus x, or
  Conv(1)(x) [-> AvgPool(2)] where the block downsamples or changes width.

Channels (`CONFIGS`): 32x32, G 256 from 4x4 through three up-blocks, D 128 in
four blocks, the first two downsampling; 48x48, G 512 from 6x6 halving to
64, D 64, 128, 256, 512, 1024, all but the last downsampling; 64x64, G 1024
from 4x4 halving to 64 in four up-blocks, D as 48x48 with the last block
downsampling too. Images of min(H, W) >= 64 take the 64x64 networks, from 48
the 48x48 ones, else the 32x32 ones; H and W must be divisible by 2 to the
number of up-blocks.

Choices, as the paper's code does unless said:
- Upsampling is nearest-neighbour (chainer's unpooling; mimicry's port uses
  bilinear). BatchNorm has chainer's decay 0.9 and epsilon 2e-5.
- Kernels of the residual convolutions start Glorot-uniform with gain
  sqrt(2), the others Glorot-uniform; biases zero.
- The output is a sigmoid, not tanh: gantape's images are in [0, 1]
  (sigmoid(2a) = (tanh(a) + 1) / 2, the same network up to the last
  layer's scale).
- The noise is the variant's (U(-1, 1), 100 numbers), not N(0, I) of 128.
- The discriminator has no spectral normalization of its own: build it with
  `build_pair(..., spectral_norm=True)` (`gantape.networks.spectral`), which
  wraps every Dense and Conv2D as the paper's does. Its output layer is a
  linear Dense; a sigmoid, if any, is an Activation layer after it.
"""

import dataclasses
import math
from typing import Callable, Optional, Tuple

import keras
from keras import layers

from gantape import fast_layers
from gantape.networks import (NOISE_DIM, OUTPUT_DTYPE, ImageShape,
                              check_image_shape)

RESNET_SHAPE = (32, 32, 3)
BN_MOMENTUM = 0.9
BN_EPSILON = 2e-5


@dataclasses.dataclass(frozen=True)
class Config:
  """Widths of one size of the pair.

  Attributes:
    generator: the channels after the first Dense, then after each up-block.
    discriminator: each block's output channels, the optimized block first.
    downsample: whether each block halves H and W (the first always does).
  """
  generator: Tuple[int, ...]
  discriminator: Tuple[int, ...]
  downsample: Tuple[bool, ...]


CONFIGS = {
    32: Config((256,) * 4, (128,) * 4, (True, True, False, False)),
    48: Config((512, 256, 128, 64), (64, 128, 256, 512, 1024),
               (True,) * 4 + (False,)),
    64: Config((1024, 512, 256, 128, 64), (64, 128, 256, 512, 1024),
               (True,) * 5),
}


def config_for(image_shape: ImageShape) -> Config:
  """The `CONFIGS` entry for `image_shape` (module docstring).

  Raises:
    UsageError: a shape it cannot take, such as 28x28 (not divisible by 8).
  """
  height, width, _ = check_image_shape(image_shape)
  size = min(height, width)
  config = CONFIGS[64 if size >= 64 else 48 if size >= 48 else 32]
  check_image_shape(image_shape, 2 ** (len(config.generator) - 1),
                    "the resnet networks")
  return config


def _residual_init():
  # Glorot-uniform with gain sqrt(2): the variance scale is the gain squared.
  return keras.initializers.VarianceScaling(2.0, "fan_avg", "uniform")


def _conv(filters: int, kernel: int, residual: bool = True):
  return layers.Conv2D(filters, kernel, padding="same",
                       kernel_initializer=(_residual_init() if residual
                                           else "glorot_uniform"))


def _bn(synchronized: bool):
  return fast_layers.BatchNormalization(
      momentum=BN_MOMENTUM, epsilon=BN_EPSILON, synchronized=synchronized)


def _up_block(x, filters: int, norm: Callable):
  h = layers.ReLU()(norm(x))
  h = _conv(filters, 3)(layers.UpSampling2D(2)(h))
  h = _conv(filters, 3)(layers.ReLU()(norm(h)))
  shortcut = _conv(filters, 1, residual=False)(layers.UpSampling2D(2)(x))
  return layers.Add()([h, shortcut])


def _down_block(x, filters: int, downsample: bool):
  channels = x.shape[-1]
  h = _conv(channels, 3)(layers.ReLU()(x))
  h = _conv(filters, 3)(layers.ReLU()(h))
  shortcut = x
  if downsample or channels != filters:
    shortcut = _conv(filters, 1, residual=False)(x)
  if downsample:
    h = layers.AveragePooling2D(2)(h)
    shortcut = layers.AveragePooling2D(2)(shortcut)
  return layers.Add()([h, shortcut])


def _optimized_block(x, filters: int):
  h = _conv(filters, 3)(x)
  h = layers.AveragePooling2D(2)(_conv(filters, 3)(layers.ReLU()(h)))
  shortcut = _conv(filters, 1, residual=False)(layers.AveragePooling2D(2)(x))
  return layers.Add()([h, shortcut])


@keras.saving.register_keras_serializable(package="gantape")
class GlobalSumPooling2D(layers.Layer):
  """[B, H, W, C] -> [B, C], the sum over H and W (SNGAN's discriminator)."""

  def call(self, inputs):
    return keras.ops.sum(inputs, axis=(1, 2))

  def compute_output_shape(self, input_shape):
    return (input_shape[0], input_shape[-1])


def resnet_generator(image_shape: ImageShape = RESNET_SHAPE,
                     noise_dim: int = NOISE_DIM, *,
                     synchronized_batch_norm: bool = False,
                     name: str = "resnet_generator") -> keras.Model:
  """The SNGAN ResNet generator of Miyato et al. 2018 (module docstring).

  Args:
    image_shape: [H, W, C]; H and W divisible by 8 (by 16 from 64x64).
    noise_dim: the noise size.
    synchronized_batch_norm: BatchNorm over the global batch across
      replicas; default False: per replica.
    name: the model's name.

  Raises:
    UsageError: an image shape it cannot make.
  """
  noise = keras.Input((noise_dim,), name="noise")
  images = generator_output(
      noise, image_shape, lambda h: _bn(synchronized_batch_norm)(h),
      synchronized_batch_norm)
  return keras.Model(noise, images, name=name)


def generator_output(noise, image_shape: ImageShape, norm: Callable,
                     synchronized_batch_norm: bool = False):
  """The generator's layers on symbolic `noise`: its images.

  Args:
    noise: a symbolic [B, noise_dim] tensor.
    image_shape: [H, W, C] (module docstring).
    norm: makes and applies the up-blocks' normalization to a tensor
      (BatchNorm here, class-conditional BatchNorm in
      `projection.resnet_projection_generator`); the last BatchNorm is
      plain either way.
    synchronized_batch_norm: that last BatchNorm's.
  """
  config = config_for(image_shape)
  height, width, channels = check_image_shape(image_shape)
  blocks = len(config.generator) - 1
  start = (height >> blocks, width >> blocks, config.generator[0])
  h = layers.Dense(math.prod(start))(noise)
  h = layers.Reshape(start)(h)
  for filters in config.generator[1:]:
    h = _up_block(h, filters, norm)
  h = layers.ReLU()(_bn(synchronized_batch_norm)(h))
  return layers.Conv2D(channels, 3, padding="same", activation="sigmoid",
                       dtype=OUTPUT_DTYPE)(h)


def resnet_discriminator(image_shape: ImageShape = RESNET_SHAPE,
                         num_outputs: int = 1, *,
                         output_activation: Optional[str] = "sigmoid",
                         name: str = "resnet_discriminator") -> keras.Model:
  """The SNGAN ResNet discriminator of Miyato et al. 2018, without its
  spectral normalization (module docstring; `spectral.spectrally_normalized`
  adds it).

  Args:
    image_shape: [H, W, C]; H and W divisible by 8 (by 16 from 64x64).
    num_outputs: 1 (real/fake), or classes + 1.
    output_activation: "sigmoid", "softmax", or None for a linear critic;
      an Activation layer after the linear output Dense.
    name: the model's name.

  Raises:
    UsageError: an image shape it cannot take.
  """
  config = config_for(image_shape)
  images = keras.Input(check_image_shape(image_shape), name="image")
  h = _optimized_block(images, config.discriminator[0])
  for filters, downsample in zip(config.discriminator[1:],
                                 config.downsample[1:]):
    h = _down_block(h, filters, downsample)
  h = GlobalSumPooling2D()(layers.ReLU()(h))
  outputs = layers.Dense(num_outputs, dtype=OUTPUT_DTYPE)(h)
  if output_activation is not None:
    outputs = layers.Activation(output_activation, dtype=OUTPUT_DTYPE)(outputs)
  return keras.Model(images, outputs, name=name)
