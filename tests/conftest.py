"""Shared fixtures: small fake MNIST, and the real file when it is present."""

import os

import numpy as np
import pytest

from gantape import data as data_lib

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REAL_MNIST = os.path.join(REPO_ROOT, "..", "shared", "data", "mnist.npz")


def make_fake_mnist(num_train: int = 200, num_test: int = 50, seed: int = 0
                    ) -> data_lib.Dataset:
  """Random uint8 digits with balanced labels: fast stand-ins for MNIST."""
  rng = np.random.RandomState(seed)
  return data_lib.Dataset(
      x_train=rng.randint(0, 256, [num_train, 28, 28]).astype(np.uint8),
      y_train=(np.arange(num_train) % 10).astype(np.uint8),
      x_test=rng.randint(0, 256, [num_test, 28, 28]).astype(np.uint8),
      y_test=(np.arange(num_test) % 10).astype(np.uint8),
      name="mnist", num_classes=10)


@pytest.fixture
def fake_mnist():
  return make_fake_mnist()


@pytest.fixture
def real_mnist_path():
  """The shared real MNIST file; the test is skipped (with why) without it."""
  if not os.path.isfile(REAL_MNIST):
    pytest.skip(f"real MNIST not found at {os.path.normpath(REAL_MNIST)}; "
                "this test needs the real digits")
  return REAL_MNIST
