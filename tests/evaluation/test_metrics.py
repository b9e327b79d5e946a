"""Tests of gantape.evaluation.metrics against hand-computed values."""

import math

import numpy as np
import pytest

from gantape.evaluation import metrics


def test_gaussian_stats_matches_hand_computed():
  mu, sigma = metrics.gaussian_stats([[1.0, 2.0], [3.0, 6.0]])
  np.testing.assert_allclose(mu, [2.0, 4.0])
  # Unbiased: deviations (+-1, +-2) over N - 1 = 1.
  np.testing.assert_allclose(sigma, [[2.0, 4.0], [4.0, 8.0]])


def test_sqrtm_psd_squares_back():
  a = np.random.default_rng(0).normal(size=[5, 5])
  psd = a @ a.T
  root = metrics.sqrtm_psd(psd)
  np.testing.assert_allclose(root @ root, psd, atol=1e-9)
  np.testing.assert_allclose(root, root.T, atol=1e-12)


def test_frechet_distance_of_identical_gaussians_is_zero():
  a = np.random.default_rng(1).normal(size=[6, 6])
  sigma = a @ a.T + np.eye(6)
  mu = np.arange(6.0)
  assert metrics.frechet_distance(mu, sigma, mu, sigma) == pytest.approx(
      0.0, abs=1e-8)


def test_frechet_distance_1d_closed_form():
  # N(m1, s1^2) vs N(m2, s2^2): (m1 - m2)^2 + (s1 - s2)^2.
  got = metrics.frechet_distance(np.array([1.0]), np.array([[4.0]]),
                                    np.array([-2.0]), np.array([[9.0]]))
  assert got == pytest.approx(3.0**2 + (2.0 - 3.0)**2)


def test_frechet_distance_diagonal_closed_form():
  v1, v2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 1.0])
  mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
  expected = np.sum((mu1 - mu2)**2) + np.sum((np.sqrt(v1) - np.sqrt(v2))**2)
  got = metrics.frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2))
  assert got == pytest.approx(expected)
  assert expected == pytest.approx((1 + 0 + 4) + (4 + 1 + 0.25))


def test_frechet_distance_non_commuting_covariances():
  rng = np.random.default_rng(2)
  a, b = rng.normal(size=[4, 4]), rng.normal(size=[4, 4])
  s1, s2 = a @ a.T + 0.1 * np.eye(4), b @ b.T + 0.1 * np.eye(4)
  mu1, mu2 = rng.normal(size=4), rng.normal(size=4)
  # Reference: S1 S2 has real positive eigenvalues; tr sqrt = sum sqrt(eig).
  trace_sqrt = np.sum(np.sqrt(np.linalg.eigvals(s1 @ s2).real))
  expected = (np.sum((mu1 - mu2)**2) + np.trace(s1) + np.trace(s2)
              - 2 * trace_sqrt)
  assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(
      expected, rel=1e-9)
  # Symmetric in its arguments.
  assert metrics.frechet_distance(mu2, s2, mu1, s1) == pytest.approx(
      expected, rel=1e-9)


def test_feature_distance_of_shifted_samples():
  x = np.random.default_rng(3).normal(size=[500, 3])
  assert metrics.feature_distance(x, x) == pytest.approx(0.0, abs=1e-8)
  # Shifting by a constant moves only the mean: distance = |shift|^2.
  assert metrics.feature_distance(x, x + [1.0, 2.0, 0.0]) == pytest.approx(
      5.0)


def test_classifier_score_hand_computed():
  probs = np.array([[1.0, 0.0], [0.5, 0.5]])
  # p(y) = (0.75, 0.25); KL = log(4/3) and 0.5 log(2/3) + 0.5 log 2.
  kl = [math.log(4 / 3), 0.5 * math.log(2 / 3) + 0.5 * math.log(2)]
  assert metrics.classifier_score(probs) == pytest.approx(
      math.exp(np.mean(kl)), rel=1e-9)
  assert metrics.classifier_score(np.eye(10)) == pytest.approx(10.0)
  assert metrics.classifier_score(np.full([7, 10], 0.1)) == pytest.approx(
      1.0)


def test_class_histogram_and_coverage_threshold():
  hist = metrics.class_histogram(np.array([0] * 95 + [1] * 5))
  assert hist.tolist() == [95, 5] + [0] * 8
  assert metrics.coverage(hist) == 2  # 5% counts
  assert metrics.coverage(
      metrics.class_histogram(np.array([0] * 96 + [1] * 4))) == 1
  assert metrics.coverage(np.zeros(10)) == 0
  assert metrics.coverage(
      metrics.class_histogram(np.arange(100) % 10)) == 10
