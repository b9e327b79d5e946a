"""Colour MNIST: MNIST's digits padded to 32x32 and painted on two colours."""

import numpy as np
import pytest

from gantape import data as data_lib
from gantape.data import colour
from gantape.errors import UsageError
from tests.test_datasets import fake


def test_each_pixel_mixes_its_images_two_colours_by_the_digits_intensity(
    tmp_path):
  arrays = fake((28, 28))
  np.savez(tmp_path / "mnist.npz", **arrays)
  dataset = data_lib.load_dataset("colour_mnist", str(tmp_path / "mnist.npz"))
  assert dataset.name == "colour_mnist" and dataset.image_shape == (32, 32, 3)
  np.testing.assert_array_equal(dataset.y_train, arrays["y_train"])
  pair = colour.colours(len(arrays["x_train"]), seed=0)
  assert (np.linalg.norm(pair[:, 1] - pair[:, 0], axis=1)
          >= colour.MIN_CONTRAST).all()
  alpha = np.pad(arrays["x_train"], ((0, 0), (2, 2), (2, 2))) / 255.
  expected = (pair[:, None, None, 0] * (1 - alpha[..., None])
              + pair[:, None, None, 1] * alpha[..., None]) * 255.
  assert np.abs(dataset.x_train - expected).max() <= 0.5 + 1e-3
  # The same images at every load; the test split draws other colours.
  again = data_lib.load_dataset("colour_mnist", str(tmp_path / "mnist.npz"))
  np.testing.assert_array_equal(again.x_train, dataset.x_train)
  assert not np.allclose(colour.colours(5, 1), colour.colours(5, 0))


def test_image_size_and_channels_are_refused(tmp_path):
  np.savez(tmp_path / "mnist.npz", **fake((28, 28)))
  with pytest.raises(UsageError, match="Colour MNIST images are 32x32x3"):
    data_lib.load_dataset("colour_mnist", str(tmp_path / "mnist.npz"),
                          image_size=28)
