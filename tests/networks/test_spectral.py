"""Spectral normalization of a discriminator, and its checkpointed vectors."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantape import networks
from gantape.errors import UsageError
from gantape.networks import spectral

SHAPE = (16, 16, 3)


def _images(seed, shape=SHAPE, batch=4):
  return np.random.default_rng(seed).uniform(
      size=(batch,) + tuple(shape)).astype(np.float32)


def _wrappers(model):
  return [layer for layer in model.layers
          if isinstance(layer, keras.layers.SpectralNormalization)]


def test_every_dense_and_conv_is_wrapped_and_the_activation_follows():
  plain = networks.seed.conv_discriminator(11, image_shape=SHAPE,
                                           output_activation="softmax")
  d = spectral.spectrally_normalized(plain)
  kinds = [type(layer).__name__ for layer in d.layers]
  assert kinds.count("SpectralNormalization") == 4  # 2 Conv2D, 2 Dense
  assert kinds[-2:] == ["SpectralNormalization", "Activation"]
  assert d.layers[-1].dtype_policy.name == networks.OUTPUT_DTYPE
  assert d.name == plain.name and d.output_shape == (None, 11)
  x = _images(0)
  logits = networks.logits_view(d)(x, training=False)
  np.testing.assert_allclose(tf.nn.softmax(logits), d(x, training=False),
                             rtol=1e-5, atol=1e-7)
  assert networks.features_view(d).output_shape == (None, 128)
  assert len(d.weights) == len(plain.weights) + 4  # one u per wrapper


def test_training_calls_bring_each_kernels_largest_singular_value_to_1():
  plain = keras.Sequential([keras.Input((8,)),
                            keras.layers.Dense(6, activation="relu"),
                            keras.layers.Dense(1, activation="sigmoid")])
  d = spectral.spectrally_normalized(plain)
  x = _images(0, (8,))
  for _ in range(20):  # one power iteration per call
    d(x, training=True)
  for wrapper in _wrappers(d):
    kernel = wrapper.layer.kernel.numpy()
    assert np.linalg.norm(kernel, 2) == pytest.approx(1.0, abs=1e-3)


def test_a_checkpoint_restores_the_power_iteration_vectors_exactly(tmp_path):
  def build():
    return networks.build_pair("resnet", "unconditional", image_shape=SHAPE,
                               spectral_norm=True)[1]

  d = build()
  x = _images(1)
  for _ in range(3):
    d(x, training=True)
  saved = {v.path: v.numpy() for v in d.variables}
  us = [w.vector_u for w in _wrappers(d)]
  assert len(us) == 11 and all(not u.trainable for u in us)
  path = tf.train.Checkpoint(discriminator=d).write(
      os.path.join(tmp_path, "ckpt"))
  d(_images(2), training=True)  # moves u and the kernels on
  assert not np.array_equal(us[0].numpy(), saved[us[0].path])
  tf.train.Checkpoint(discriminator=d).read(path).assert_consumed()
  for v in d.variables:
    np.testing.assert_array_equal(v.numpy(), saved[v.path])
  fresh = build()  # as a resumed run builds it
  tf.train.Checkpoint(discriminator=fresh).read(path).assert_consumed()
  for mine, theirs in zip(fresh.variables, d.variables):
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
  np.testing.assert_array_equal(fresh(x, training=True), d(x, training=True))


def test_what_it_cannot_normalize_is_refused():
  with pytest.raises(UsageError, match="no Dense or Conv2D layer"):
    networks.build_pair("salimans", "classifier", spectral_norm=True)
  with pytest.raises(UsageError, match="wrap your own with"):
    networks.build_pair("seed", "unconditional", spectral_norm=True,
                        discriminator=networks.seed.mlp_discriminator())

  class Mine(keras.Model):
    def __init__(self):
      super().__init__()
      self.dense = keras.layers.Dense(1)

    def call(self, x):
      return self.dense(x)

  with pytest.raises(UsageError, match="subclassed"):
    spectral.spectrally_normalized(Mine())


@pytest.mark.parametrize("family,kind", [("seed", "unconditional"),
                                         ("dcgan", "conditional"),
                                         ("dcgan", "projection")])
def test_a_normalized_discriminator_of_the_registry_has_no_batch_norm(
    family, kind):
  shape = (16, 16, 3) if family == "dcgan" else (28, 28, 1)

  def batch_norms(model):
    return [v.path for v in model.weights if "moving_mean" in v.path]

  _, plain = networks.build_pair(family, kind, image_shape=shape)
  _, normalized = networks.build_pair(family, kind, image_shape=shape,
                                      spectral_norm=True)
  assert batch_norms(plain) and not batch_norms(normalized)
  assert _wrappers(normalized)
