"""cgan's conditioning option: the post's (N+1)-way discriminator by
default, Miyato & Koyama 2018's projection discriminator on request."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantape import variants
from gantape.errors import UsageError
from gantape.networks import projection

SHAPE = (16, 16, 3)


def test_the_default_is_the_n_plus_1_way_discriminator():
  variant = variants.build("cgan", image_shape=SHAPE, num_classes=2,
                           networks="dcgan")
  assert variant.conditioning == "n_plus_1"
  assert variant.discriminator.output_shape == (None, 3)


def test_projection_trains_one_discriminator_and_one_generator_step():
  keras.utils.set_random_seed(0)
  variant = variants.build("cgan", conditioning="projection",
                           image_shape=SHAPE, num_classes=2, networks="dcgan",
                           spectral_norm=True)  # Miyato & Koyama's recipe
  assert variant.projection_loss == "hinge"
  assert any(isinstance(layer, keras.layers.SpectralNormalization)
             and layer.layer.name == "class_embedding"
             for layer in variant.discriminator.layers)
  assert variant.discriminator.output_shape == (None, 1)
  assert any(isinstance(layer, projection.ConditionalBatchNormalization)
             for layer in variant.generator.layers)
  rng = tf.random.Generator.from_seed(1)
  batch = {"image": rng.uniform((4,) + SHAPE),
           "label": tf.constant([0, 1, 1, 0], tf.int32)}
  for network, loss in ((variant.discriminator, variant.discriminator_loss),
                        (variant.generator, variant.generator_loss)):
    before = [v.numpy() for v in network.trainable_variables]
    inputs = variant.sample_inputs(rng, 4)
    with tf.GradientTape() as tape:
      output = loss(batch, inputs)
      value = tf.reduce_mean(output.per_example)
    assert output.per_example.shape == (4,)
    gradients = tape.gradient(value, network.trainable_variables)
    assert np.isfinite(value.numpy())
    assert all(g is not None for g in gradients)
    keras.optimizers.Adam(2e-4, 0.0, 0.9).apply(
        gradients, network.trainable_variables)
    assert any(not np.array_equal(b, v.numpy())
               for b, v in zip(before, network.trainable_variables))
  assert set(output.metrics) == {"g_fake"}


@pytest.mark.parametrize("options,match", [
    ({"networks": "dcgan", "r1_gamma": 1.0}, "r1_gamma=1.0 is not taken"),
    ({"networks": "dcgan", "projection_loss": "seed"}, "projection_loss"),
])
def test_projection_refuses_what_it_cannot_take(options, match):
  with pytest.raises(UsageError, match=match):
    variants.build("cgan", conditioning="projection", image_shape=SHAPE,
                   num_classes=2, **options)


def test_projection_takes_the_seeds_networks_at_28x28():
  variant = variants.build("cgan", conditioning="projection", num_classes=10)
  assert variant.generator.input_shape == [(None, 100), (None,)]
  assert variant.discriminator.output_shape == (None, 1)


def test_resnet_has_no_n_plus_1_pair():
  with pytest.raises(UsageError, match="no conditional pair"):
    variants.build("cgan", image_shape=SHAPE, num_classes=2,
                   networks="resnet")
