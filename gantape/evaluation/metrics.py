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
