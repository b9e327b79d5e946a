"""Sample-quality statistics as pure numpy functions.

Each function takes arrays (classifier features, class probabilities or
predicted classes) and returns plain numbers, so it can be checked against a
hand-computed value without a model. `gantape.evaluation.evaluator` applies
them to the evaluation classifier's outputs.
"""

from typing import Tuple

import numpy as np

from gantape.data import NUM_CLASSES

# A class "is covered" when it holds at least this share of the samples.
COVERAGE_THRESHOLD = 0.05
# KID's largest block, TF-GAN's default.
KID_BLOCK_SIZE = 1024


def gaussian_stats(features: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
  """Mean and covariance of a feature set.

  Args:
    features: [N, D], N >= 2.

  Returns:
    (mean [D], unbiased covariance [D, D]), float64.

  Raises:
    ValueError: `features` is not 2-D or has fewer than two rows.
  """
  features = np.asarray(features, np.float64)
  if features.ndim != 2 or len(features) < 2:
    raise ValueError(f"need features [N >= 2, D], got shape {features.shape}.")
  return features.mean(axis=0), np.cov(features, rowvar=False).reshape(
      features.shape[1], features.shape[1])


def sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
  """Square root of a symmetric positive semi-definite matrix via `eigh`.

  Eigenvalues that rounding made slightly negative are clipped to 0.
  """
  matrix = np.asarray(matrix, np.float64)
  values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
  return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray,
                     sigma2: np.ndarray) -> float:
  """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2).

  d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)).

  S1 S2 is not symmetric, so its square root is not taken directly: it is
  similar to the PSD matrix A = S1^(1/2) S2 S1^(1/2), which has the same
  eigenvalues, so tr((S1 S2)^(1/2)) = sum(sqrt(eig(A))), computed with the
  symmetric solver `eigh` (no scipy, no complex parts to discard).

  Returns:
    The squared distance d^2 (as FID reports it), clipped at 0.
  """
  mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
  sigma1 = np.atleast_2d(np.asarray(sigma1, np.float64))
  sigma2 = np.atleast_2d(np.asarray(sigma2, np.float64))
  root1 = sqrtm_psd(sigma1)
  product = root1 @ sigma2 @ root1
  values = np.linalg.eigvalsh((product + product.T) / 2)
  trace_sqrt = np.sum(np.sqrt(np.clip(values, 0.0, None)))
  diff = mu1 - mu2
  distance = (diff @ diff + np.trace(sigma1) + np.trace(sigma2)
              - 2.0 * trace_sqrt)
  return float(max(distance, 0.0))


def feature_distance(features1: np.ndarray, features2: np.ndarray) -> float:
  """`frechet_distance` between Gaussians fitted to two feature sets."""
  return frechet_distance(*gaussian_stats(features1),
                          *gaussian_stats(features2))


def _polynomial_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """k(x, y) = (x . y / d + 1)^3 between the rows of a [M, d] and b [N, d]."""
  return (a @ b.T / a.shape[1] + 1.0) ** 3


def _block_kid(real: np.ndarray, fake: np.ndarray) -> float:
  """The unbiased squared MMD of one block: off-diagonal means of k(r, r')
  and k(g, g') less twice the mean of k(r, g)."""
  m, n = len(real), len(fake)
  k_rr = _polynomial_kernel(real, real)
  k_gg = _polynomial_kernel(fake, fake)
  k_rg = _polynomial_kernel(real, fake)
  return float((k_rr.sum() - np.trace(k_rr)) / (m * (m - 1))
               + (k_gg.sum() - np.trace(k_gg)) / (n * (n - 1))
               - 2.0 * k_rg.mean())


def _blocks(rows: np.ndarray, count: int):
  """`rows` cut in order into `count` blocks, the larger ones last (TF-GAN's
  split)."""
  small, extra = divmod(len(rows), count)
  sizes = [small] * (count - extra) + [small + 1] * extra
  return np.split(rows, np.cumsum(sizes)[:-1])


def kernel_distance(real_features: np.ndarray, fake_features: np.ndarray,
                    max_block_size: int = KID_BLOCK_SIZE
                    ) -> Tuple[float, float]:
  """The kernel classifier (inception) distance, KID, and its standard error.

  The unbiased estimate of the squared maximum mean discrepancy with the
  polynomial kernel k(x, y) = (x . y / d + 1)^3 (Binkowski et al. 2018,
  "Demystifying MMD GANs"), by the block estimator of TF-GAN's
  `kernel_classifier_distance_and_std_from_activations`
  (tensorflow_gan/python/eval/classifier_metrics.py): both sets are cut, in
  order, into the same number of blocks of nearly equal size, none larger
  than `max_block_size`; each block gives an unbiased estimate; KID is their
  mean and the second number sqrt(var / blocks), var with Bessel's
  correction. Unlike TF-GAN, which returns NaN with one block, two blocks at
  least are used, so the standard error is defined, and no more than leave
  each block two rows of each set. Unbiased: its
  expectation does not depend on the sample count, so runs scored on
  different counts compare (unlike FCD); it can be slightly negative when
  the distributions agree. The rows should be in random order.

  Args:
    real_features, fake_features: [N_r, d] and [N_g, d], each with at least
      4 rows (two blocks of two).
    max_block_size: the largest block.

  Returns:
    (kid, standard error), floats.

  Raises:
    ValueError: not 2-D arrays of the same width, or fewer than 4 rows.
  """
  real = np.asarray(real_features, np.float64)
  fake = np.asarray(fake_features, np.float64)
  if (real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]
      or min(len(real), len(fake)) < 4):
    raise ValueError(f"need features [N >= 4, d] of one width d, got shapes "
                     f"{real.shape} and {fake.shape}.")
  blocks = max(2, -(-max(len(real), len(fake)) // max_block_size))
  # Every block needs two rows of each set for its off-diagonal means.
  blocks = min(blocks, min(len(real), len(fake)) // 2)
  estimates = np.array([_block_kid(r, g) for r, g in zip(
      _blocks(real, blocks), _blocks(fake, blocks))])
  return (float(estimates.mean()),
          float(np.sqrt(estimates.var(ddof=1) / blocks)))


def classifier_score(probs: np.ndarray, eps: float = 1e-12) -> float:
  """exp(E_x KL(p(y|x) || p(y))) of class probabilities [N, C].

  1 when every sample gets the same distribution; C when every sample is
  classified with certainty and the classes are used equally.
  """
  probs = np.asarray(probs, np.float64)
  marginal = probs.mean(axis=0, keepdims=True)
  kl = np.sum(probs * (np.log(probs + eps) - np.log(marginal + eps)), axis=1)
  return float(np.exp(kl.mean()))


def class_histogram(predictions: np.ndarray,
                    num_classes: int = NUM_CLASSES) -> np.ndarray:
  """Counts [num_classes] of predicted class indices [N]."""
  return np.bincount(np.asarray(predictions, np.int64).ravel(),
                     minlength=num_classes)[:num_classes]


def coverage(histogram: np.ndarray,
             threshold: float = COVERAGE_THRESHOLD) -> int:
  """How many classes hold at least `threshold` of the samples."""
  histogram = np.asarray(histogram, np.float64)
  total = histogram.sum()
  if total <= 0:
    return 0
  return int(np.sum(histogram / total >= threshold))


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
  """Share of `predictions` equal to `labels`."""
  return float(np.mean(np.asarray(predictions) == np.asarray(labels)))
