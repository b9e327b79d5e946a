"""The SNGAN ResNet pair: the reference's parameter counts, shapes, a step."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantape import networks
from gantape import variants
from gantape.errors import UsageError
from gantape.networks import resnet


def conv(k, c_in, c_out):
  return k * k * c_in * c_out + c_out


def reference_generator_params(nz, ngf, bottom, widths, channels=3):
  """Trainable parameters of mimicry's SNGAN ResNetGenerator32/48/64 (a
  port of Miyato et al.'s chainer code): l1, GBlocks with a learnable
  shortcut (they upsample), BatchNorm's gamma and beta, c5."""
  total = nz * bottom * bottom * ngf + bottom * bottom * ngf
  for c_in, c_out in zip((ngf,) + widths[:-1], widths):
    total += (2 * c_in + conv(3, c_in, c_out) + 2 * c_out
              + conv(3, c_out, c_out) + conv(1, c_in, c_out))
  return total + 2 * widths[-1] + conv(3, widths[-1], channels)


def reference_discriminator_params(widths, downsample, channels=3):
  """Trainable parameters of mimicry's SNGAN ResNetDiscriminator32/48/64:
  DBlockOptimized, DBlocks (hidden width = input width; a 1x1 shortcut where
  they downsample or change width) and the final linear layer."""
  total = (conv(3, channels, widths[0]) + conv(3, widths[0], widths[0])
           + conv(1, channels, widths[0]))
  for c_in, c_out, down in zip(widths, widths[1:], downsample[1:]):
    total += conv(3, c_in, c_in) + conv(3, c_in, c_out)
    if down or c_in != c_out:
      total += conv(1, c_in, c_out)
  return total + widths[-1] + 1


def trainable(model):
  return sum(int(np.prod(v.shape)) for v in model.trainable_variables)


@pytest.mark.parametrize("size,generator,discriminator", [
    (32, (256, 4, (256, 256, 256)),
     ((128, 128, 128, 128), (True, True, False, False))),
    (48, (512, 6, (256, 128, 64)),
     ((64, 128, 256, 512, 1024), (True, True, True, True, False))),
    (64, (1024, 4, (512, 256, 128, 64)),
     ((64, 128, 256, 512, 1024), (True,) * 5)),
])
def test_parameter_counts_are_the_references(size, generator, discriminator):
  g = resnet.resnet_generator((size, size, 3), 128)
  d = resnet.resnet_discriminator((size, size, 3))
  assert trainable(g) == reference_generator_params(128, *generator)
  assert trainable(d) == reference_discriminator_params(*discriminator)
  if size == 32:  # Miyato et al.'s CIFAR-10 pair: 4.3M and 1.1M
    assert (trainable(g), trainable(d)) == (4_276_739, 1_053_825)
  assert g.output_shape == (None, size, size, 3)
  assert d.output_shape == (None, 1)


def test_images_in_gantapes_range_and_any_shape_divisible_by_8():
  g, d = networks.build_pair("resnet", "critic", image_shape=(16, 24, 1))
  images = g(np.random.default_rng(0).uniform(
      -1, 1, (2, networks.NOISE_DIM)).astype(np.float32), training=True)
  assert images.shape == (2, 16, 24, 1)
  assert (np.asarray(images) > 0).all() and (np.asarray(images) < 1).all()
  assert d(images).shape == (2, 1)
  assert d.layers[-1].name.startswith("dense")  # the critic is linear
  _, d = networks.build_pair("resnet", "unconditional", image_shape=(16, 16, 3))
  images = np.random.default_rng(1).uniform(size=(2, 16, 16, 3))
  logits = networks.logits_view(d)(images, training=False)  # what R1 reads
  np.testing.assert_allclose(tf.sigmoid(logits), d(images), rtol=1e-5)
  with pytest.raises(UsageError, match="resnet networks need an image "
                     "height and width divisible by 8; got 28x28"):
    networks.build_pair("resnet", "unconditional", image_shape=(28, 28, 1))
  with pytest.raises(UsageError, match="no conditional pair"):
    networks.build_pair("resnet", "conditional", image_shape=(32, 32, 3))


@pytest.mark.parametrize("name,shape", [("wgan_gp", (32, 32, 3)),
                                       ("dcgan", (16, 16, 3))])
def test_one_discriminator_and_one_generator_step(name, shape):
  # dcgan's discriminator spectrally normalized (the paper's), the critic
  # not (Gulrajani et al.'s ResNet critic has none). Seeded: the clipped
  # losses of dcgan have no gradient where |logit| > 13.8, which an
  # initialization of this discriminator can reach.
  keras.utils.set_random_seed(0)
  kind = "critic" if name == "wgan_gp" else "unconditional"
  _, discriminator = networks.build_pair(
      "resnet", kind, image_shape=shape, spectral_norm=name == "dcgan")
  variant = variants.build(name, networks="resnet", image_shape=shape,
                           discriminator=discriminator)
  rng = tf.random.Generator.from_seed(1)
  batch = {"image": rng.uniform((2,) + shape)}
  for network, loss in ((variant.discriminator, variant.discriminator_loss),
                        (variant.generator, variant.generator_loss)):
    before = [v.numpy() for v in network.trainable_variables]
    inputs = variant.sample_inputs(rng, 2)
    with tf.GradientTape() as tape:
      value = tf.reduce_mean(loss(batch, inputs).per_example)
    gradients = tape.gradient(value, network.trainable_variables)
    assert np.isfinite(value.numpy())
    assert all(g is not None for g in gradients)
    keras.optimizers.Adam(2e-4, 0.0, 0.9).apply(  # the paper's Adam
        gradients, network.trainable_variables)
    assert any(not np.array_equal(b, v.numpy())
               for b, v in zip(before, network.trainable_variables))
