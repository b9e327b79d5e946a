"""Penalties against hand computations in numpy."""

import numpy as np
import pytest
import tensorflow as tf

from gantape import penalties


def _numerical_grad(f, x, h=1e-3):
  """Central differences of a scalar function f at x (float64)."""
  g = np.zeros_like(x)
  for i in np.ndindex(x.shape):
    xp, xm = x.copy(), x.copy()
    xp[i] += h
    xm[i] -= h
    g[i] = (f(xp) - f(xm)) / (2 * h)
  return g


def test_gradient_penalty_matches_numerical_gradient():
  rng = np.random.RandomState(5)
  w = rng.randn(6, 1)
  # A non-linear critic so the gradient depends on where it is taken.
  critic_np = lambda x: np.tanh(x.reshape(-1, 6) @ w).sum()
  critic_tf = lambda x: tf.tanh(tf.reshape(x, [-1, 6]) @ tf.constant(w))
  real, fake = rng.randn(4, 2, 3), rng.randn(4, 2, 3)
  eps = np.array([0.0, 0.25, 0.5, 1.0])
  penalty = penalties.gradient_penalty(critic_tf, tf.constant(real),
                                    tf.constant(fake), tf.constant(eps), 10.0)
  expected = []
  for i in range(4):
    x_hat = eps[i] * real[i] + (1 - eps[i]) * fake[i]
    norm = np.linalg.norm(_numerical_grad(critic_np, x_hat[None])[0])
    expected.append(10.0 * (norm - 1.0) ** 2)
  np.testing.assert_allclose(penalty.numpy(), expected, rtol=1e-4)


def test_gradient_penalty_is_finite_where_the_critic_gradient_is_zero():
  constant_critic = lambda x: tf.reduce_sum(x * 0.0, axis=[1, 2, 3])
  x = tf.zeros([3, 28, 28, 1])
  critic_vars = tf.Variable(1.0)
  with tf.GradientTape() as tape:
    penalty = penalties.gradient_penalty(
        lambda y: constant_critic(y) * critic_vars, x, x, tf.ones([3]), 10.0)
  grad = tape.gradient(penalty, critic_vars)
  np.testing.assert_allclose(penalty.numpy(), [10.0] * 3, rtol=1e-5)
  assert np.isfinite(grad.numpy())


@pytest.mark.parametrize("x", [[0.0, 0.0], [3.0, 4.0]])
def test_safe_norm_value_and_gradient(x):
  x = tf.constant([x])
  with tf.GradientTape() as tape:
    tape.watch(x)
    n = penalties.safe_norm(x, axis=1)
  g = tape.gradient(n, x).numpy()
  assert np.all(np.isfinite(g))
  if n.numpy()[0] > 1e-3:
    np.testing.assert_allclose(n.numpy(), [5.0])
    np.testing.assert_allclose(g, [[0.6, 0.8]], rtol=1e-6)


def test_r1_penalty_is_half_gamma_times_the_squared_gradient_norm():
  grads = np.random.default_rng(0).normal(size=(3, 4, 4, 1)).astype(np.float32)
  penalty = penalties.r1_penalty(tf.constant(grads), gamma=5.0).numpy()
  np.testing.assert_allclose(
      penalty, 2.5 * (grads.astype(np.float64) ** 2).reshape(3, -1).sum(axis=1),
      rtol=1e-5)
  assert penalty.shape == (3,)


def test_logits_and_r1_differentiates_a_conditional_logit_at_the_images():
  """f(x, y) = tanh(x . (w + E[y])), the labels bound: the penalty is
  gamma / 2 ||d f / d x||^2 at each real (x, y), by central differences,
  and the logits come back as computed."""
  rng = np.random.RandomState(7)
  w, table = rng.randn(6), rng.randn(3, 6)
  images, labels = 0.3 * rng.randn(4, 2, 3), np.array([2, 0, 1, 2])
  logits_fn = lambda x: tf.tanh(tf.reduce_sum(
      tf.reshape(x, [-1, 6]) * tf.constant(w + table[labels]), axis=1,
      keepdims=True))
  logits, penalty = penalties.logits_and_r1(
      logits_fn, tf.constant(images), lambda f: f[:, 0], gamma=5.0)
  expected = []
  for x, y in zip(images, labels):
    f = lambda x, y=y: np.tanh(x.reshape(6) @ (w + table[y]))
    expected.append(2.5 * (_numerical_grad(f, x) ** 2).sum())
  assert min(expected) > 1e-2
  np.testing.assert_allclose(penalty.numpy(), expected, rtol=1e-4)
  np.testing.assert_allclose(
      logits.numpy()[:, 0],
      np.tanh((images.reshape(4, 6) * (w + table[labels])).sum(axis=1)))
  assert logits.dtype == tf.float32
