"""Subclassed networks train: R1 and the gradient penalty need no `.inputs`,
`.outputs` or last Dense layer; and the standard DCGAN pair trains.

Through `gantape.step.TrainStep` on small random images, a few iterations.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantape import networks
from gantape import optimizers as optimizers_lib
from gantape import step as step_lib
from gantape import variants
from gantape.errors import UsageError

BATCH = 8
SHAPE = (16, 16, 3)


class Generator(keras.Model):
  """Noise (or [noise, labels]) -> images in (0, 1), subclassed."""

  def __init__(self, shape=SHAPE, num_classes=None):
    super().__init__()
    self.shape_ = shape
    self.num_classes = num_classes
    self.dense = keras.layers.Dense(shape[0] // 2 * shape[1] // 2 * 8)
    self.norm = keras.layers.BatchNormalization()
    self.up = keras.layers.Conv2DTranspose(shape[2], 4, strides=2,
                                           padding="same",
                                           activation="sigmoid")

  def call(self, inputs, training=False):
    if self.num_classes is not None:
      noise, labels = inputs
      inputs = tf.concat([noise, tf.one_hot(labels, self.num_classes)], 1)
    x = tf.nn.relu(self.norm(self.dense(inputs), training=training))
    x = tf.reshape(x, [-1, self.shape_[0] // 2, self.shape_[1] // 2, 8])
    return self.up(x)


class Discriminator(keras.Model):
  """Images -> logits, subclassed; its variant applies the activation."""

  returns_logits = True

  def __init__(self, outputs=1, batch_norm=True):
    super().__init__()
    self.conv = keras.layers.Conv2D(8, 3, strides=2, padding="same")
    self.norm = keras.layers.BatchNormalization() if batch_norm else None
    self.out = keras.layers.Dense(outputs)

  def call(self, images, training=False):
    x = self.conv(images)
    if self.norm is not None:
      x = self.norm(x, training=training)
    x = tf.nn.leaky_relu(x, 0.2)
    return self.out(tf.reshape(x, [tf.shape(x)[0], -1]))


def random_batches(shape, num_classes=10, seed=0):
  """Endless {"image", "label"} batches of uniform pixels in [0, 1]."""
  rng = np.random.default_rng(seed)
  images = rng.uniform(size=(4 * BATCH,) + tuple(shape)).astype(np.float32)
  labels = rng.integers(0, num_classes, 4 * BATCH).astype(np.int32)
  return tf.data.Dataset.from_tensor_slices(
      {"image": images, "label": labels}).repeat().batch(
          BATCH, drop_remainder=True)


def train(variant, shape, iterations=3):
  d_opt, g_opt = optimizers_lib.make_optimizers(variant)
  step = step_lib.TrainStep(variant, d_opt, g_opt, seed=0)
  iterator = step.make_iterator(random_batches(shape))
  metrics = step(iterator, iterations)
  metrics = {k: float(v) for k, v in metrics.items()}
  assert all(np.isfinite(v) for v in metrics.values()), metrics
  return metrics


def test_dcgan_with_r1_trains_a_subclassed_pair():
  keras.utils.set_random_seed(0)
  variant = variants.build("dcgan", r1_gamma=1.0, generator=Generator(),
                           discriminator=Discriminator())
  metrics = train(variant, SHAPE)
  assert metrics["r1_penalty"] > 0
  assert 0 < metrics["d_real"] < 1 and 0 < metrics["d_fake"] < 1


def test_cgan_with_r1_trains_a_subclassed_pair():
  keras.utils.set_random_seed(0)
  variant = variants.build(
      "cgan", r1_gamma=1.0, generator=Generator(num_classes=10),
      discriminator=Discriminator(outputs=11))
  metrics = train(variant, SHAPE)
  assert metrics["r1_penalty"] > 0
  assert 0 < metrics["d_real"] < 1


def test_wgan_gp_trains_a_subclassed_pair():
  keras.utils.set_random_seed(0)
  variant = variants.build(
      "wgan_gp", n_critic=2, generator=Generator(),
      discriminator=Discriminator(batch_norm=False))
  metrics = train(variant, SHAPE)
  assert metrics["gradient_penalty"] > 0


def test_r1_on_a_subclassed_discriminator_of_probabilities_says_what_to_do():
  """Without `returns_logits` its logits are unknown: a clear error."""

  class Probabilities(Discriminator):
    returns_logits = False

  variant = variants.build("dcgan", r1_gamma=1.0, generator=Generator(),
                           discriminator=Probabilities())
  with pytest.raises(UsageError, match="is a subclassed keras.Model, so its "
                     "logits cannot be read off its layers; give it the "
                     "attribute `returns_logits = True`"):
    train(variant, SHAPE, iterations=1)


def test_logits_view_of_a_logits_discriminator_is_the_discriminator():
  d = Discriminator(outputs=11)
  images = np.random.default_rng(0).uniform(size=(2,) + SHAPE).astype(
      np.float32)
  np.testing.assert_array_equal(
      networks.logits_view(d)(images, training=False).numpy(),
      d(images, training=False).numpy())


@pytest.mark.parametrize("name,options", [
    ("dcgan", {"r1_gamma": 1.0}), ("cgan", {}), ("wgan_gp", {"n_critic": 1})])
def test_the_standard_dcgan_pair_trains_on_32x32x3(name, options):
  keras.utils.set_random_seed(0)
  variant = variants.get_class(name)(networks="dcgan", image_shape=(32, 32, 3),
                                     **options)
  assert variant.generator.output_shape[1:] == (32, 32, 3)
  train(variant, (32, 32, 3), iterations=2)
