"""The fused BatchNorm matches Keras 3's layer: outputs, gradients, stats."""

import numpy as np
import keras
import pytest
import tensorflow as tf

from gantape import fast_layers


def _pair(shape):
  reference = keras.layers.BatchNormalization()
  fused = fast_layers.BatchNormalization()
  for layer in (reference, fused):
    layer.build(shape)
    layer.gamma.assign(tf.random.stateless_normal(layer.gamma.shape, [1, 2]))
    layer.beta.assign(tf.random.stateless_normal(layer.beta.shape, [3, 4]))
  return reference, fused


@pytest.mark.parametrize("shape", [[16, 40], [8, 6, 5, 12]])
def test_training_mode_matches_keras(shape):
  reference, fused = _pair(shape)
  x = tf.random.stateless_normal(shape, [5, 6]) * 3.0 + 1.0
  results = []
  for layer in (reference, fused):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = layer(x, training=True)
      loss = tf.reduce_sum(y * tf.sin(y))  # a non-trivial upstream gradient
    grads = tape.gradient(loss, [x, layer.gamma, layer.beta])
    results.append([y, *grads, layer.moving_mean, layer.moving_variance])
  for got, want in zip(results[1], results[0]):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want),
                               rtol=1e-4, atol=1e-4)


def test_inference_and_variables_unchanged():
  reference, fused = _pair([4, 3, 3, 5])
  x = tf.random.stateless_normal([4, 3, 3, 5], [7, 8])
  np.testing.assert_allclose(fused(x, training=False),
                             reference(x, training=False), rtol=1e-6)
  assert ([v.name for v in fused.weights]
          == [v.name for v in reference.weights])
  assert fused.name.startswith("batch_normalization")


def test_under_tf_function_and_xla():
  _, fused = _pair([8, 4, 4, 3])
  x = tf.random.stateless_normal([8, 4, 4, 3], [9, 9])
  eager = fused(x, training=True)
  fused.moving_mean.assign(tf.zeros_like(fused.moving_mean))
  compiled = tf.function(lambda t: fused(t, training=True), jit_compile=True)
  np.testing.assert_allclose(compiled(x), eager, rtol=1e-5, atol=1e-5)
  assert np.abs(fused.moving_mean.numpy()).sum() > 0
