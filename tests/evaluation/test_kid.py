"""KID: the block estimator against a hand computation, and its expectation."""

import numpy as np
import pytest

from gantape.evaluation import metrics


def kernel(x, y):
  return (sum(a * b for a, b in zip(x, y)) / len(x) + 1.0) ** 3


def block_by_hand(real, fake):
  """Unbiased squared MMD, one pair at a time."""
  m, n = len(real), len(fake)
  rr = sum(kernel(real[i], real[j]) for i in range(m) for j in range(m)
           if i != j) / (m * (m - 1))
  gg = sum(kernel(fake[i], fake[j]) for i in range(n) for j in range(n)
           if i != j) / (n * (n - 1))
  rg = sum(kernel(r, g) for r in real for g in fake) / (m * n)
  return rr + gg - 2 * rg


def test_kid_is_the_mean_of_the_blocks_and_its_standard_error():
  rng = np.random.default_rng(0)
  real, fake = rng.normal(size=(7, 3)), rng.normal(0.5, 1.0, size=(5, 3))
  # ceil(7 / 3) = 3 blocks would leave a block one fake row, so two, the
  # larger last: real 3, 4 and fake 2, 3.
  kid, std = metrics.kernel_distance(real, fake, max_block_size=3)
  blocks = [block_by_hand(real[:3], fake[:2]),
            block_by_hand(real[3:], fake[2:])]
  mean = sum(blocks) / 2
  variance = sum((b - mean) ** 2 for b in blocks) / (2 - 1)
  assert kid == pytest.approx(mean, rel=1e-12)
  assert std == pytest.approx((variance / 2) ** 0.5, rel=1e-12)


def test_kid_with_three_blocks():
  rng = np.random.default_rng(1)
  real, fake = rng.normal(size=(8, 4)), rng.normal(size=(7, 4))
  kid, std = metrics.kernel_distance(real, fake, max_block_size=3)
  blocks = [block_by_hand(real[:2], fake[:2]),
            block_by_hand(real[2:5], fake[2:4]),
            block_by_hand(real[5:], fake[4:])]
  mean = np.mean(blocks)
  assert kid == pytest.approx(mean, rel=1e-12)
  assert std == pytest.approx(np.std(blocks, ddof=1) / np.sqrt(3), rel=1e-12)


def test_one_block_of_the_default_size_is_split_in_two():
  rng = np.random.default_rng(2)
  real, fake = rng.normal(size=(10, 2)), rng.normal(size=(10, 2))
  kid, _ = metrics.kernel_distance(real, fake)
  assert kid == pytest.approx(np.mean([block_by_hand(real[:5], fake[:5]),
                                       block_by_hand(real[5:], fake[5:])]))


def test_kid_is_zero_in_expectation_for_one_distribution_and_positive_else():
  rng = np.random.default_rng(3)
  # Small samples: an estimator with the diagonal terms would be biased up.
  same = [metrics.kernel_distance(rng.normal(size=(20, 8)),
                                  rng.normal(size=(20, 8)))[0]
          for _ in range(300)]
  shifted = [metrics.kernel_distance(rng.normal(size=(20, 8)),
                                     rng.normal(0.5, 1.0, size=(20, 8)))[0]
             for _ in range(300)]
  standard_error = np.std(same) / np.sqrt(len(same))
  assert abs(np.mean(same)) < 4 * standard_error
  assert np.mean(shifted) > 20 * standard_error
  assert np.mean(shifted) > 10 * abs(np.mean(same))


def test_kid_of_one_large_sample_pair():
  rng = np.random.default_rng(4)
  kid, std = metrics.kernel_distance(rng.normal(size=(2000, 16)),
                                     rng.normal(size=(2000, 16)))
  assert abs(kid) < 4 * std
  kid, std = metrics.kernel_distance(rng.normal(size=(2000, 16)),
                                     rng.normal(0.3, 1.0, size=(2000, 16)))
  assert kid > 10 * std


@pytest.mark.parametrize("real, fake", [
    (np.zeros((3, 2)), np.zeros((8, 2))),
    (np.zeros((8, 2)), np.zeros((8, 3))),
    (np.zeros(8), np.zeros(8))])
def test_bad_shapes_are_refused(real, fake):
  with pytest.raises(ValueError, match="need features"):
    metrics.kernel_distance(real, fake)
