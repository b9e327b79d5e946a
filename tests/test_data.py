"""MNIST loading from every source, its errors, and the input pipelines."""

import gzip
import os
import struct

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantape import data as data_lib
from gantape import variants
from gantape.errors import DataError, UsageError


def write_npz(path, m):
  np.savez(path, x_train=m.x_train, y_train=m.y_train, x_test=m.x_test,
           y_test=m.y_test)


def write_idx(path, array, compress):
  header = struct.pack(">HBB", 0, 0x08, array.ndim)
  header += struct.pack(f">{array.ndim}I", *array.shape)
  opener = gzip.open if compress else open
  with opener(path + (".gz" if compress else ""), "wb") as f:
    f.write(header + array.astype(np.uint8).tobytes())


def assert_same(a, b):
  for field in ("x_train", "y_train", "x_test", "y_test"):
    np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_load_npz(tmp_path, fake_mnist):
  write_npz(tmp_path / "m.npz", fake_mnist)
  assert_same(data_lib.load_mnist(str(tmp_path / "m.npz")), fake_mnist)
  # A folder holding mnist.npz works too.
  write_npz(tmp_path / "mnist.npz", fake_mnist)
  assert_same(data_lib.load_mnist(str(tmp_path)), fake_mnist)


@pytest.mark.parametrize("compress", [False, True])
def test_load_idx_folder(tmp_path, fake_mnist, compress):
  for key, stem in data_lib._IDX_FILES.items():
    write_idx(str(tmp_path / stem), getattr(fake_mnist, key), compress)
  assert_same(data_lib.load_mnist(str(tmp_path)), fake_mnist)


def test_missing_path_says_how_to_fix(tmp_path):
  with pytest.raises(DataError, match="--data_path"):
    data_lib.load_mnist(str(tmp_path / "nowhere.npz"))
  with pytest.raises(DataError, match="train-images-idx3-ubyte"):
    data_lib.load_mnist(str(tmp_path))


def test_corrupt_npz(tmp_path, fake_mnist):
  write_npz(tmp_path / "m.npz", fake_mnist)
  raw = (tmp_path / "m.npz").read_bytes()
  (tmp_path / "m.npz").write_bytes(raw[: len(raw) // 2])
  with pytest.raises(DataError, match="corrupt"):
    data_lib.load_mnist(str(tmp_path / "m.npz"))


def test_corrupt_idx(tmp_path, fake_mnist):
  for key, stem in data_lib._IDX_FILES.items():
    write_idx(str(tmp_path / stem), getattr(fake_mnist, key), False)
  path = tmp_path / "train-images-idx3-ubyte"
  path.write_bytes(path.read_bytes()[:1000])
  with pytest.raises(DataError, match="not a valid IDX file"):
    data_lib.load_mnist(str(tmp_path))


def test_wrong_shapes_and_keys(tmp_path, fake_mnist):
  np.savez(tmp_path / "flat.npz", x_train=fake_mnist.x_train.reshape(-1, 784),
           y_train=fake_mnist.y_train, x_test=fake_mnist.x_test,
           y_test=fake_mnist.y_test)
  with pytest.raises(DataError, match=r"expected \[N, 28, 28\]"):
    data_lib.load_mnist(str(tmp_path / "flat.npz"))
  np.savez(tmp_path / "partial.npz", x_train=fake_mnist.x_train)
  with pytest.raises(DataError, match="lacks"):
    data_lib.load_mnist(str(tmp_path / "partial.npz"))


def test_keras_download_failure_is_one_clear_error(monkeypatch):
  def refuse():
    raise Exception("URL fetch failure: no network")
  monkeypatch.setattr(keras.datasets.mnist, "load_data", refuse)
  with pytest.raises(DataError, match="keras.datasets.mnist.*--data_path"):
    data_lib.load_mnist(None)


@pytest.mark.parametrize("flat,shape", [(True, (8, 784)), (False, (8, 28, 28, 1))])
def test_batches(fake_mnist, flat, shape):
  ds = data_lib.batches(fake_mnist.x_train, fake_mnist.y_train, batch_size=8,
                        seed=3, flat=flat)
  batch = next(iter(ds))
  assert batch["image"].shape == shape and batch["image"].dtype == tf.float32
  assert batch["label"].dtype == tf.int32
  x = batch["image"].numpy()
  assert 0.0 <= x.min() and x.max() <= 1.0


def test_batches_are_seeded_and_cover_an_epoch_without_replacement(fake_mnist):
  def first_epoch(seed):
    ds = data_lib.batches(fake_mnist.x_train, np.arange(200), batch_size=20,
                          seed=seed, flat=True)
    return np.concatenate([b["label"].numpy() for b in ds.take(10)])
  a, b, c = first_epoch(1), first_epoch(1), first_epoch(2)
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)
  np.testing.assert_array_equal(np.sort(a), np.arange(200))


def test_batch_size_must_be_positive(fake_mnist):
  with pytest.raises(UsageError, match="batch_size"):
    data_lib.batches(fake_mnist.x_train, fake_mnist.y_train, batch_size=0,
                     seed=0, flat=True)


def test_balanced_subset():
  labels = np.repeat(np.arange(10), 50)
  idx = data_lib.balanced_subset(labels, 100, seed=0)
  assert len(idx) == 100 and len(set(idx)) == 100
  np.testing.assert_array_equal(np.bincount(labels[idx]), [10] * 10)
  np.testing.assert_array_equal(idx, data_lib.balanced_subset(labels, 100, 0))
  assert not np.array_equal(idx, data_lib.balanced_subset(labels, 100, 1))
  with pytest.raises(UsageError, match="smaller than the 10 classes"):
    data_lib.balanced_subset(labels, 9, 0)
  with pytest.raises(UsageError, match="larger than the 500"):
    data_lib.balanced_subset(labels, 501, 0)


def test_ssgan_labelled_term_only_sees_the_chosen_examples():
  num_train = 1000
  labels = (np.arange(num_train) % 10).astype(np.uint8)
  # Pixel (0, 0) and (0, 1) spell out each image's index, so batches can be
  # traced back to the examples they came from.
  images = np.zeros([num_train, 28, 28], np.uint8)
  images[:, 0, 0] = np.arange(num_train) // 256
  images[:, 0, 1] = np.arange(num_train) % 256
  mnist = data_lib.Mnist(images, labels, images[:10], labels[:10])
  variant = variants.build("ssgan", num_labeled=100)
  chosen = set(variant.labeled_indices(mnist).tolist())
  assert len(chosen) == 100

  def indices(x):
    x = np.round(x.numpy()[:, 0, :2, 0] * 255).astype(int)
    return x[:, 0] * 256 + x[:, 1]

  seen_labeled, seen_unlabeled = set(), set()
  for batch in variant.make_dataset(mnist, batch_size=64, seed=0).take(40):
    labeled = indices(batch["labeled_image"])
    assert set(labeled.tolist()) <= chosen
    np.testing.assert_array_equal(batch["labeled_label"].numpy(), labels[labeled])
    seen_labeled |= set(labeled.tolist())
    seen_unlabeled |= set(indices(batch["image"]).tolist())
  assert seen_labeled == chosen
  # The real/fake term still sees (nearly) all of the data.
  assert len(seen_unlabeled - chosen) > 800
