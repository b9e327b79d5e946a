"""MNIST loading from every source, its errors, and the input pipelines."""

import gzip
import os
import re
import struct

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantape import data as data_lib
from gantape.data import sources
from gantape import variants
from gantape.errors import DataError, UsageError
from gantape.training import memory


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
  for key, stem in sources.IDX_FILES.items():
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
  for key, stem in sources.IDX_FILES.items():
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
  mnist = data_lib.Dataset(images, labels, images[:10], labels[:10])
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


def write_arrays(path, m, **replace):
  arrays = {k: getattr(m, k) for k in ("x_train", "y_train", "x_test", "y_test")}
  arrays.update(replace)
  np.savez(path, **arrays)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_images_already_in_0_1_are_refused_not_trained_on_as_black(
    tmp_path, fake_mnist, dtype):
  write_arrays(tmp_path / "m.npz", fake_mnist,
               x_train=(fake_mnist.x_train / 255).astype(dtype))
  with pytest.raises(DataError) as e:
    data_lib.load_mnist(str(tmp_path / "m.npz"))
  message = str(e.value)
  assert "\n" not in message
  assert f"x_train is {np.dtype(dtype).name} with values in [0, 1]" in message
  assert "already scaled to [0, 1]" in message
  assert "astype(np.uint8)" in message


@pytest.mark.parametrize("x,expected", [
    (lambda x: x.astype(np.float32) + 0.5, "non-integer values"),
    (lambda x: x.astype(np.int64) - 1, "outside 0..255"),
    (lambda x: x.astype(np.int64) + 1, "outside 0..255"),
    (lambda x: (x > 127).astype(np.int32), "already scaled to [0, 1]"),
])
def test_images_that_are_not_pixels_are_refused(tmp_path, fake_mnist, x,
                                                expected):
  write_arrays(tmp_path / "m.npz", fake_mnist, x_test=x(fake_mnist.x_test))
  with pytest.raises(DataError, match=r"x_test is .*" + re.escape(expected)):
    data_lib.load_mnist(str(tmp_path / "m.npz"))


def test_whole_pixel_values_of_another_dtype_load_as_uint8(tmp_path,
                                                           fake_mnist):
  write_arrays(tmp_path / "m.npz", fake_mnist,
               x_train=fake_mnist.x_train.astype(np.float32),
               x_test=fake_mnist.x_test.astype(np.int64),
               y_train=fake_mnist.y_train.astype(np.float64))
  loaded = data_lib.load_mnist(str(tmp_path / "m.npz"))
  assert loaded.x_train.dtype == loaded.x_test.dtype == np.uint8
  assert np.issubdtype(loaded.y_train.dtype, np.integer)
  assert_same(loaded, fake_mnist)


def test_float_idx_file_is_refused_naming_its_type(tmp_path, fake_mnist):
  for key, stem in sources.IDX_FILES.items():
    write_idx(str(tmp_path / stem), getattr(fake_mnist, key), False)
  x = (fake_mnist.x_train / 255).astype(">f4")
  header = struct.pack(">HBB", 0, 0x0D, 3) + struct.pack(">3I", *x.shape)
  (tmp_path / "train-images-idx3-ubyte").write_bytes(header + x.tobytes())
  with pytest.raises(DataError, match=r"holds float32 data \(type code 0x0D\)"
                     r", not the unsigned bytes 0\.\.255"):
    data_lib.load_mnist(str(tmp_path))


def test_in_memory_float_images_are_refused_by_the_pipeline(fake_mnist):
  with pytest.raises(DataError, match=r"values in \[0, 1\]"):
    data_lib.batches(fake_mnist.x_train / 255.0, fake_mnist.y_train,
                     batch_size=8, seed=0, flat=True)


@pytest.mark.parametrize("split", ["train", "test"])
def test_zero_examples_is_one_clear_error(tmp_path, fake_mnist, split):
  write_arrays(tmp_path / "m.npz", fake_mnist,
               **{f"x_{split}": np.zeros([0, 28, 28], np.uint8),
                  f"y_{split}": np.zeros([0], np.uint8)})
  with pytest.raises(DataError, match=rf"x_{split} holds no examples"):
    data_lib.load_mnist(str(tmp_path / "m.npz"))
  empty = data_lib.Dataset(fake_mnist.x_train[:0], fake_mnist.y_train[:0],
                         fake_mnist.x_test, fake_mnist.y_test)
  with pytest.raises(DataError, match="holds no examples"):
    data_lib.check_training_set(empty, 16)
  with pytest.raises(DataError, match="no examples"):
    data_lib.batches(empty.x_train, empty.y_train, batch_size=8, seed=0,
                     flat=True)


def test_batch_larger_than_the_training_set_is_refused(fake_mnist):
  data_lib.check_training_set(fake_mnist, 200)
  with pytest.raises(DataError) as e:
    data_lib.check_training_set(fake_mnist, 201)
  assert str(e.value) == (
      "batch_size=201 is larger than the 200 training examples; use "
      "--batch_size=200 or less, or more data.")


def test_random_bytes_npz_never_suggests_allow_pickle(tmp_path):
  path = tmp_path / "m.npz"
  path.write_bytes(np.random.RandomState(0).bytes(4096))
  with pytest.raises(DataError) as e:
    data_lib.load_mnist(str(path))
  message = str(e.value)
  assert message.startswith(f"{path} is not a valid .npz file")
  assert "pickle" not in message.lower() and "\n" not in message


@pytest.mark.parametrize("write", [
    lambda p: p.write_bytes(b""),
    lambda p: np.save(open(p, "wb"), np.zeros([3, 28, 28], np.uint8)),
])
def test_empty_file_or_single_array_is_not_a_valid_npz(tmp_path, write):
  write(tmp_path / "m.npz")
  with pytest.raises(DataError, match=r"is not a valid \.npz file"):
    data_lib.load_mnist(str(tmp_path / "m.npz"))


def test_object_array_in_npz_is_refused_without_pickle_advice(tmp_path,
                                                              fake_mnist):
  write_arrays(tmp_path / "m.npz", fake_mnist,
               x_train=np.array([{"image": 1}], dtype=object))
  with pytest.raises(DataError) as e:
    data_lib.load_mnist(str(tmp_path / "m.npz"))
  assert "x_train is an array of Python objects" in str(e.value)
  assert "pickle" not in str(e.value).lower()


def test_an_idx_gz_that_declares_more_than_memory_is_refused_unread(
    tmp_path, fake_mnist, monkeypatch):
  """A 3 MB .gz can expand to gigabytes: the header is checked first."""
  for key, stem in sources.IDX_FILES.items():
    write_idx(str(tmp_path / stem), getattr(fake_mnist, key), True)
  bomb = tmp_path / "train-images-idx3-ubyte.gz"
  with gzip.open(bomb, "wb") as f:
    f.write(struct.pack(">HBB3I", 0, 0x08, 3, 4_000_000, 28, 28))
    f.write(bytes(1_000_000))  # compresses to a few KB
  monkeypatch.setattr(memory, "available_bytes", lambda: 2**30)
  reads = []
  real_open = gzip.open

  def counting_open(*args, **kwargs):
    f = real_open(*args, **kwargs)
    real_read = f.read
    f.read = lambda n=-1: reads.append(n) or real_read(n)
    return f
  monkeypatch.setattr(gzip, "open", counting_open)
  with pytest.raises(DataError) as refused:
    data_lib.load_mnist(str(tmp_path))
  assert str(refused.value).startswith(
      f"{bomb}'s header declares 4000000x28x28 bytes, 2.9 GiB of memory, more "
      f"than the 1.0 GiB available, so it was not read; pass ")
  assert -1 not in reads and sum(reads) == 16  # the header only
  # A header that declares more than the file holds, within memory.
  with real_open(bomb, "wb") as f:
    f.write(struct.pack(">HBB3I", 0, 0x08, 3, 100, 28, 28) + bytes(784))
  with pytest.raises(DataError, match=r"header says \(100, 28, 28\) but the "
                     r"file holds 784 bytes"):
    data_lib.load_mnist(str(tmp_path))


def test_a_device_as_data_path_is_named_for_what_it_is():
  with pytest.raises(DataError, match=r"^MNIST not read: '/dev/zero' is "
                     r"neither a regular file nor a folder \(a device, a pipe "
                     r"or a socket\); pass "):
    data_lib.load_mnist("/dev/zero")


def test_one_image_is_advised_a_batch_that_trains(fake_mnist):
  """--batch_size=1 alone is refused (the default 2 updates per batch
  cannot split it), so the advice names --updates_per_batch=1 too."""
  one = data_lib.Dataset(fake_mnist.x_train[:1], fake_mnist.y_train[:1],
                       fake_mnist.x_test, fake_mnist.y_test)
  with pytest.raises(DataError) as e:
    data_lib.check_training_set(one, 64)
  assert str(e.value) == (
      "batch_size=64 is larger than the 1 training example; add images, or "
      "pass --batch_size=1 --updates_per_batch=1 (a batch of one cannot be "
      "split into several updates).")
  data_lib.check_training_set(one, 1)
