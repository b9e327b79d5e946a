"""Losses against hand computations in numpy."""

import numpy as np
import pytest
import tensorflow as tf

from gantape import losses
from gantape.errors import UsageError


def np_log_clip(p, eps):
  return np.log(np.clip(p, eps, 1.0))


P_REAL = np.array([0.9, 0.5, 1e-8, 1.0], np.float32)
P_FAKE = np.array([0.1, 0.5, 0.999999999, 1e-9], np.float32)


def test_log_clip_value_and_straight_through_gradient():
  p = tf.constant([1e-9, 1e-4, 0.3, 1.0], tf.float32)
  eps = 1e-3
  with tf.GradientTape() as tape:
    tape.watch(p)
    value = losses.log_clip(p, eps)
  grad = tape.gradient(value, p).numpy()
  np.testing.assert_allclose(value.numpy(), np_log_clip(p.numpy(), eps),
                             rtol=1e-6)
  # d/dp log(clip(sg(p)) - sg(p) + p) = 1 / clip(p, eps, 1): the clipped
  # entries still get a gradient, 1/eps, instead of 0.
  np.testing.assert_allclose(grad, 1.0 / np.clip(p.numpy(), eps, 1.0),
                             rtol=1e-5)


def test_minimax_discriminator_and_generator_losses():
  d = losses.minimax_discriminator_loss(P_REAL[:, None], P_FAKE[:, None], 1e-6)
  g = losses.non_saturating_generator_loss(P_FAKE[:, None], 1e-6)
  np.testing.assert_allclose(
      d.numpy(), -np_log_clip(P_REAL, 1e-6) - np_log_clip(1 - P_FAKE, 1e-6),
      rtol=1e-5)
  np.testing.assert_allclose(g.numpy(), -np_log_clip(P_FAKE, 1e-6), rtol=1e-5)
  assert d.shape == (4,) and g.shape == (4,)


def test_one_sided_label_smoothing_in_the_minimax_loss():
  s, eps = 0.1, 1e-6
  d = losses.minimax_discriminator_loss(P_REAL[:, None], P_FAKE[:, None], eps,
                                        label_smoothing=s)
  expected = (-(1 - s) * np_log_clip(P_REAL, eps)
              - s * np_log_clip(1 - P_REAL, eps)
              - np_log_clip(1 - P_FAKE, eps))
  np.testing.assert_allclose(d.numpy(), expected, rtol=1e-5)
  # The optimum on real data moves from 1 to 1 - s: the gradient in D(x)
  # vanishes at 0.9 and pushes D(x) = 0.99 back down.
  p = tf.constant([0.9, 0.99])
  with tf.GradientTape() as tape:
    tape.watch(p)
    loss = losses.smoothed_real_loss(p, eps, s)
  grad = tape.gradient(loss, p).numpy()
  assert abs(grad[0]) < 1e-5 and grad[1] > 1.0


def _softmax_rows(seed, n=5, k=11):
  logits = np.random.RandomState(seed).randn(n, k).astype(np.float32) * 3
  e = np.exp(logits - logits.max(1, keepdims=True))
  return (e / e.sum(1, keepdims=True)).astype(np.float32)


def test_ssgan_losses():
  real, fake = _softmax_rows(0), _softmax_rows(1)
  labels = np.array([3, 0, 9, 9, 1])
  eps = 1e-3
  expected_d = (-np_log_clip(1 - real[:, 10], eps) - np_log_clip(fake[:, 10], eps)
                - np_log_clip(real[np.arange(5), labels], eps))
  np.testing.assert_allclose(
      losses.ssgan_discriminator_loss(real, fake, labels, eps).numpy(),
      expected_d, rtol=1e-5)
  np.testing.assert_allclose(losses.ssgan_generator_loss(fake, eps).numpy(),
                             np_log_clip(fake[:, 10], eps), rtol=1e-5)
  np.testing.assert_allclose(
      losses.ssgan_non_saturating_generator_loss(fake, eps).numpy(),
      -np_log_clip(1 - fake[:, 10], eps), rtol=1e-5)


def test_cgan_losses():
  real, fake = _softmax_rows(2), _softmax_rows(3)
  y, c = np.array([1, 2, 3, 4, 5]), np.array([9, 8, 7, 6, 5])
  eps = 1e-3
  rows = np.arange(5)
  np.testing.assert_allclose(
      losses.cgan_discriminator_loss(real, y, fake, c, eps).numpy(),
      -np_log_clip(real[rows, y], eps) - np_log_clip(1 - fake[rows, c], eps),
      rtol=1e-5)
  np.testing.assert_allclose(
      losses.cgan_generator_loss(fake, c, eps).numpy(),
      -np_log_clip(fake[rows, c], eps), rtol=1e-5)
  s = 0.1
  np.testing.assert_allclose(
      losses.cgan_discriminator_loss(real, y, fake, c, eps,
                                     label_smoothing=s).numpy(),
      -(1 - s) * np_log_clip(real[rows, y], eps)
      - s * np_log_clip(1 - real[rows, y], eps)
      - np_log_clip(1 - fake[rows, c], eps), rtol=1e-5)


def test_feature_matching_loss():
  rng = np.random.RandomState(4)
  real, fake = rng.randn(6, 3).astype(np.float32), rng.randn(6, 3).astype(np.float32)
  expected = np.sum((real.mean(0) - fake.mean(0)) ** 2)
  out = losses.feature_matching_generator_loss(real, fake).numpy()
  np.testing.assert_allclose(out, np.full(6, expected), rtol=1e-5)
  averaged = losses.feature_matching_generator_loss(
      real, fake, average_features=True).numpy()
  np.testing.assert_allclose(averaged, np.full(6, expected / 3), rtol=1e-5)


def test_wasserstein_losses():
  real = np.array([[1.0], [2.0], [-3.0]], np.float32)
  fake = np.array([[0.5], [-1.0], [4.0]], np.float32)
  np.testing.assert_allclose(losses.wasserstein_critic_loss(real, fake).numpy(),
                             (fake - real)[:, 0])
  np.testing.assert_allclose(losses.wasserstein_generator_loss(fake).numpy(),
                             -fake[:, 0])


def test_class_logit_is_the_log_odds_of_the_class():
  logits = np.array([[2.0, -1.0, 0.5], [0.0, 0.0, 0.0], [90.0, 0.0, -3.0]],
                    np.float32)
  labels = np.array([0, 2, 0])
  f = losses.class_logit(tf.constant(logits), tf.constant(labels)).numpy()
  l = logits.astype(np.float64)
  p = np.exp(l) / np.exp(l).sum(axis=1, keepdims=True)
  p_y = p[np.arange(3), labels]
  np.testing.assert_allclose(f[:2], np.log(p_y[:2] / (1 - p_y[:2])), rtol=1e-5)
  # P(y|x) is 1 in float32 here; the log-odds are still 90 - log(1 + e^-3).
  np.testing.assert_allclose(f[2], 90.0 - np.log(1.0 + np.exp(-3.0)),
                             rtol=1e-6)


def test_the_non_saturating_ssgan_loss_keeps_its_gradient_when_d_is_sure():
  """At P(n|G(z)) = 0.99 (D sure the sample is fake), d L_G / d l_n is
  1 - p = 0.01 for the seed's log p, and p = 0.99 for -log(1 - p)."""
  logits = np.zeros((1, 11), np.float32)
  logits[0, 10] = np.log(0.99 * 10 / 0.01)  # softmax puts 0.99 on "fake"
  logits = tf.constant(logits)
  gradients = []
  for loss_fn in (losses.ssgan_generator_loss,
                  losses.ssgan_non_saturating_generator_loss):
    with tf.GradientTape() as tape:
      tape.watch(logits)
      loss = loss_fn(tf.nn.softmax(logits), 1e-3)
    gradients.append(tape.gradient(loss, logits).numpy()[0, 10])
  np.testing.assert_allclose(gradients, [0.01, 0.99], rtol=1e-3)


def _np_log_softmax(logits):
  shifted = logits - logits.max(1, keepdims=True)
  return shifted - np.log(np.exp(shifted).sum(1, keepdims=True))


def test_ssgan_losses_from_logits_are_the_unclipped_losses():
  logits = np.random.RandomState(2).randn(6, 11).astype(np.float32) * 3
  fake_logits = np.random.RandomState(3).randn(6, 11).astype(np.float32) * 3
  labels = np.array([3, 0, 9, 9, 1, 10])
  log_p, log_p_fake = _np_log_softmax(logits), _np_log_softmax(fake_logits)
  # log(1 - P(n|x)) = log sum_{k<10} P(k|x)
  log_real = np.log(np.exp(log_p[:, :10]).sum(1))
  log_real_fake = np.log(np.exp(log_p_fake[:, :10]).sum(1))
  np.testing.assert_allclose(losses.ssgan_real_logit(logits).numpy(),
                             log_real - log_p[:, 10], rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(
      losses.ssgan_unsupervised_discriminator_loss_from_logits(
          logits, fake_logits).numpy(),
      -log_real - log_p_fake[:, 10], rtol=1e-5)
  np.testing.assert_allclose(
      losses.classification_loss_from_logits(logits, labels).numpy(),
      -log_p[np.arange(6), labels], rtol=1e-5)
  np.testing.assert_allclose(
      losses.ssgan_generator_loss_from_logits(fake_logits).numpy(),
      log_p_fake[:, 10], rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(
      losses.ssgan_non_saturating_generator_loss_from_logits(
          fake_logits).numpy(), -log_real_fake, rtol=1e-5, atol=1e-6)
  # Where no probability is clipped, the seed's form gives the same values.
  np.testing.assert_allclose(
      losses.classification_loss_from_logits(logits, labels).numpy(),
      losses.classification_loss(tf.nn.softmax(logits), labels,
                                  eps=1e-30).numpy(), rtol=1e-4)


def test_digit_classification_ignores_the_fake_logit():
  logits = np.random.RandomState(4).randn(5, 11).astype(np.float32) * 3
  labels = np.array([3, 0, 9, 9, 1])
  expected = -_np_log_softmax(logits[:, :10])[np.arange(5), labels]
  np.testing.assert_allclose(
      losses.digit_classification_loss_from_logits(logits, labels).numpy(),
      expected, rtol=1e-5)
  logits[:, 10] += 50.0  # "fake" can be anything
  np.testing.assert_allclose(
      losses.digit_classification_loss_from_logits(logits, labels).numpy(),
      expected, rtol=1e-5)


def test_ssgan_logit_losses_keep_their_gradient_where_the_softmax_saturates():
  """A real image that D calls fake with logit margin 200: the softmax is
  exactly 0/1 in float32, so the clipped loss passes no gradient to the
  logits, while the logit form's is -1 on l_0 (softplus'(200) = 1)."""
  logits = np.zeros((1, 11), np.float32)
  logits[0, 10] = 200.0
  logits = tf.constant(logits)
  with tf.GradientTape(persistent=True) as tape:
    tape.watch(logits)
    zeros = tf.zeros_like(logits)
    clipped = losses.ssgan_unsupervised_discriminator_loss(
        tf.nn.softmax(logits), tf.nn.softmax(zeros))
    exact = losses.ssgan_unsupervised_discriminator_loss_from_logits(
        logits, zeros)
  np.testing.assert_array_equal(tape.gradient(clipped, logits).numpy(), 0.0)
  exact_grad = tape.gradient(exact, logits).numpy()[0]
  np.testing.assert_allclose(exact_grad[10], 1.0, rtol=1e-6)
  np.testing.assert_allclose(exact_grad[:10], -0.1, rtol=1e-6)
  # softplus(200 - ln 10) + softplus(ln 10) = 200 + ln(1.1); clipped: -ln(eps)
  # + ln(11).
  np.testing.assert_allclose(float(exact[0]), 200.0 + np.log(1.1), rtol=1e-6)
  np.testing.assert_allclose(float(clipped[0]), -np.log(1e-3) + np.log(11.0),
                             rtol=1e-5)


# ---- real/fake losses from logits --------------------------------------
# Logits of real and fake images, including ones where a float32 sigmoid is
# exactly 0 or 1 and exp overflows.
REAL_LOGITS = np.array([0.0, 2.0, -3.0, 0.5, 1e4, -1e4])
FAKE_LOGITS = np.array([0.0, -1.5, 4.0, -0.5, -1e4, 1e4])


def _np_sigmoid(t):
  return np.exp(-np.logaddexp(0.0, -t))


def _np_softplus(t):
  return np.logaddexp(0.0, t)


# name: (L_D(r, f), (dL_D/dr, dL_D/df), L_G(f), dL_G/df), by hand in float64.
EXPECTED = {
    "ns": (lambda r, f: _np_softplus(-r) + _np_softplus(f),
           lambda r, f: (_np_sigmoid(r) - 1.0, _np_sigmoid(f)),
           lambda f: _np_softplus(-f), lambda f: _np_sigmoid(f) - 1.0),
    "hinge": (lambda r, f: np.maximum(0, 1 - r) + np.maximum(0, 1 + f),
              lambda r, f: (np.where(r < 1.0, -1.0, 0.0),
                            np.where(f > -1.0, 1.0, 0.0)),
              lambda f: -f, lambda f: -np.ones_like(f)),
    "ls": (lambda r, f: 0.5 * (r - 1) ** 2 + 0.5 * f ** 2,
           lambda r, f: (r - 1.0, f),
           lambda f: 0.5 * (f - 1) ** 2, lambda f: f - 1.0),
    "wasserstein": (lambda r, f: f - r,
                    lambda r, f: (-np.ones_like(r), np.ones_like(f)),
                    lambda f: -f, lambda f: -np.ones_like(f)),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_logit_losses_and_their_gradients_by_hand(name):
  d_value, d_grad, g_value, g_grad = EXPECTED[name]
  pair = losses.get_loss(name)
  real = tf.constant(REAL_LOGITS[:, None], tf.float32)  # [B, 1], as a network
  fake = tf.constant(FAKE_LOGITS[:, None], tf.float32)
  with tf.GradientTape(persistent=True) as tape:
    tape.watch([real, fake])
    d_loss = pair.discriminator(real, fake)
    g_loss = pair.generator(fake)
  assert pair.from_logits and d_loss.shape == (6,) and g_loss.shape == (6,)
  r, f = REAL_LOGITS, FAKE_LOGITS
  np.testing.assert_allclose(d_loss.numpy(), d_value(r, f), rtol=1e-6)
  np.testing.assert_allclose(g_loss.numpy(), g_value(f), rtol=1e-6)
  for got, want in zip(tape.gradient(d_loss, [real, fake]), d_grad(r, f)):
    np.testing.assert_allclose(got.numpy()[:, 0], want, rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(tape.gradient(g_loss, fake).numpy()[:, 0],
                             g_grad(f), rtol=1e-5, atol=1e-7)


def test_ns_from_logits_at_hand_values_and_saturated_logits():
  d = losses.minimax_discriminator_loss_from_logits(
      tf.constant([0.0, 1e4, -1e4]), tf.constant([0.0, -1e4, 1e4])).numpy()
  # 2 ln 2 at f = 0; 0 for a discriminator right by 1e4, 2e4 for one wrong.
  np.testing.assert_allclose(d, [2 * np.log(2.0), 0.0, 2e4], rtol=1e-6)
  fake = tf.constant([-1e4])
  with tf.GradientTape() as tape:
    tape.watch(fake)
    g = losses.non_saturating_generator_loss_from_logits(fake)
  # D is sure the sample is fake: L_G = 1e4, its gradient -1, not 0.
  np.testing.assert_allclose(g.numpy(), [1e4])
  np.testing.assert_allclose(tape.gradient(g, fake).numpy(), [-1.0])


def test_ns_from_logits_is_the_seed_loss_where_nothing_is_clipped():
  rng = np.random.RandomState(6)
  real, fake = rng.randn(8).astype(np.float32), rng.randn(8).astype(np.float32)
  seed, ns = losses.get_loss("seed"), losses.get_loss("ns")
  assert seed.discriminator is losses.minimax_discriminator_loss
  assert seed.generator is losses.non_saturating_generator_loss
  assert not seed.from_logits and seed.label_smoothing and ns.label_smoothing
  for s in (0.0, 0.1):
    np.testing.assert_allclose(
        ns.discriminator(real, fake, label_smoothing=s).numpy(),
        seed.discriminator(tf.sigmoid(real), tf.sigmoid(fake),
                           label_smoothing=s).numpy(), rtol=1e-5)
  np.testing.assert_allclose(ns.generator(fake).numpy(),
                             seed.generator(tf.sigmoid(fake)).numpy(),
                             rtol=1e-5)


def test_one_sided_label_smoothing_from_logits_by_hand():
  s = 0.1
  r, f = REAL_LOGITS[:4], FAKE_LOGITS[:4]
  np.testing.assert_allclose(
      losses.minimax_discriminator_loss_from_logits(
          tf.constant(r), tf.constant(f), label_smoothing=s).numpy(),
      (1 - s) * _np_softplus(-r) + s * _np_softplus(r) + _np_softplus(f),
      rtol=1e-6)


def test_every_loss_has_a_reference_and_an_unknown_name_is_refused():
  assert set(losses.LOSSES) == {"seed", "ns", "hinge", "ls", "wasserstein"}
  for pair in losses.LOSSES.values():
    assert "20" in pair.reference  # the paper's year
  with pytest.raises(UsageError, match="unknown loss 'lsgan'; choose one of "
                     "seed, ns, hinge, ls, wasserstein"):
    losses.get_loss("lsgan")
