"""The standard DCGAN pair for 32x32 and 64x64 images (`networks="dcgan"`).

The convolutional GAN of Radford et al. 2016 as the GAN literature trains it
on CIFAR-10: the "standard CNN" of Miyato et al. 2018 (Table 3).

Generator, [B, noise] -> [B, H, W, C] in (0, 1):
  Dense(H/8 * W/8 * 512) -> BN -> ReLU -> Reshape(H/8, W/8, 512)
  -> [Conv2DTranspose(k 4, stride 2) -> BN -> ReLU] with 256, 128, 64 filters
  -> Conv2D(C, 3, sigmoid).
Discriminator, [B, H, W, C] -> [B, num_outputs]:
  [Conv2D(3, stride 1) -> LeakyReLU(0.1) -> Conv2D(4, stride 2) -> LeakyReLU]
  with 64, 128, 256 filters -> Conv2D(512, 3) -> LeakyReLU -> Dense.

64x64 images (min(H, W) >= 64) take one more stage in each network: the
generator starts from H/16 x W/16 x 1024 and the discriminator adds a pair
of 512 filters before a Conv2D(1024, 3), as Radford et al.'s 64x64 DCGAN
starts from 4x4x1024.

Choices, as the paper's code does unless said:
- BatchNorm in the discriminator, on every layer but the first (Radford et
  al.'s DCGAN); Miyato et al.'s has none and is spectrally normalized
  (`build_pair(..., spectral_norm=True)` normalizes it and drops its BatchNorm).
  `batch_norm=False` drops it (the WGAN-GP critic: its penalty is per
  sample).
- The output is a sigmoid, not tanh: gantape's images are in [0, 1].
- Kernels start from N(0, 0.02), Radford et al.'s initialization; layers
  followed by BatchNorm have no bias (BatchNorm's beta is one).
- The noise is the variant's (U(-1, 1), 100 numbers), not N(0, I) of 128.
BatchNorm is `gantape.fast_layers.BatchNormalization`, as in the seed's
networks; `synchronized_batch_norm` as in `gantape.networks`.
"""

from typing import Optional

import keras
from keras import layers

from gantape import fast_layers
from gantape import networks
from gantape.networks import NOISE_DIM, ImageShape

# Filters of the generator's last stage and the discriminator's first; each
# stage further in doubles them.
BASE_FILTERS = 64
LEAKY_SLOPE = 0.1
INIT_STDDEV = 0.02
# Images at least this high and wide get the 64x64 networks' extra stage.
LARGE_SIZE = 64
DCGAN_SHAPE = (32, 32, 3)


def stages(image_shape: ImageShape) -> int:
  """Up- (or down-) sampling stages for `image_shape`: 3, or 4 from 64x64.

  Raises:
    UsageError: H or W is not divisible by 2**stages (8 below 64x64, 16
      from it), e.g. 28x28 MNIST: use the seed's networks there.
  """
  height, width, _ = networks.check_image_shape(image_shape)
  count = 4 if min(height, width) >= LARGE_SIZE else 3
  networks.check_image_shape(image_shape, 2 ** count,
                             "the dcgan networks")
  return count


def _init():
  return keras.initializers.RandomNormal(stddev=INIT_STDDEV)


def _bn(synchronized: bool):
  return fast_layers.BatchNormalization(synchronized=synchronized)


def dcgan_generator(image_shape: ImageShape = DCGAN_SHAPE,
                    noise_dim: int = NOISE_DIM,
                    num_classes: Optional[int] = None, *,
                    synchronized_batch_norm: bool = False,
                    name: str = "dcgan_generator") -> keras.Model:
  """The standard DCGAN generator (module docstring).

  Args:
    image_shape: [H, W, C]; H and W divisible by 8 (by 16 from 64x64).
    noise_dim: the noise size.
    num_classes: None for a generator of noise; a count for a conditional
      one on `[noise, labels]` (`networks.conditioned`).
    synchronized_batch_norm: BatchNorm over the global batch across
      replicas; default False: per replica.
    name: the model's name.

  Raises:
    UsageError: an image shape it cannot make.
  """
  count = stages(image_shape)
  height, width, channels = networks.check_image_shape(image_shape)
  start = (height >> count, width >> count, BASE_FILTERS << count)

  def body(input_dim: int, body_name: str = name) -> keras.Model:
    model = [keras.Input((input_dim,), name="noise"),
             layers.Dense(start[0] * start[1] * start[2], use_bias=False,
                          kernel_initializer=_init()),
             _bn(synchronized_batch_norm), layers.ReLU(),
             layers.Reshape(start)]
    for stage in range(count):
      model += [layers.Conv2DTranspose(
                    BASE_FILTERS << (count - 1 - stage), 4, strides=2,
                    padding="same", use_bias=False,
                    kernel_initializer=_init()),
                _bn(synchronized_batch_norm), layers.ReLU()]
    model.append(layers.Conv2D(channels, 3, padding="same",
                               activation="sigmoid",
                               kernel_initializer=_init(),
                               dtype=networks.OUTPUT_DTYPE))
    return keras.Sequential(model, name=body_name)

  if num_classes is None:
    return body(noise_dim)
  return networks.conditioned(
      lambda input_dim: body(input_dim, f"{name}_body"), noise_dim,
      num_classes, name)


def dcgan_discriminator(image_shape: ImageShape = DCGAN_SHAPE,
                        num_outputs: int = 1, *,
                        output_activation: Optional[str] = "sigmoid",
                        batch_norm: bool = True,
                        synchronized_batch_norm: bool = False,
                        name: str = "dcgan_discriminator") -> keras.Model:
  """The standard DCGAN discriminator (module docstring).

  Args:
    image_shape: [H, W, C]; H and W divisible by 8 (by 16 from 64x64).
    num_outputs: 1 (real/fake), or classes + 1 (CGAN's, SSGAN's).
    output_activation: "sigmoid", "softmax", or None for a linear critic.
    batch_norm: BatchNorm after every convolution but the first (Radford et
      al.); False for none (WGAN-GP's critic).
    synchronized_batch_norm: BatchNorm over the global batch across
      replicas; default False: per replica.
    name: the model's name.

  Raises:
    UsageError: an image shape it cannot take.
  """
  count = stages(image_shape)

  def conv(filters, kernel, strides, first=False):
    norm = batch_norm and not first
    return [layers.Conv2D(filters, kernel, strides=strides, padding="same",
                          use_bias=not norm, kernel_initializer=_init()),
            *([_bn(synchronized_batch_norm)] if norm else []),
            layers.LeakyReLU(LEAKY_SLOPE)]

  model = [keras.Input(networks.check_image_shape(image_shape), name="image")]
  for stage in range(count):
    filters = BASE_FILTERS << stage
    model += conv(filters, 3, 1, first=stage == 0) + conv(filters, 4, 2)
  model += conv(BASE_FILTERS << count, 3, 1)
  model += [layers.Flatten(),
            layers.Dense(num_outputs, activation=output_activation,
                         kernel_initializer=_init(),
                         dtype=networks.OUTPUT_DTYPE)]
  return keras.Sequential(model, name=name)
