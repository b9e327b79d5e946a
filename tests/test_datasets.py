"""Every dataset `load_dataset` reads, from small files in their real layout."""

import os
import pickle
import re
import tarfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantape import data as data_lib
from gantape.data import folder as folder_lib
from gantape.data import sources
from gantape.errors import DataError, UsageError
from tests.test_data import write_idx

SPLITS = ("x_train", "y_train", "x_test", "y_test")


def fake(shape, num_train=50, num_test=20, seed=0):
  rng = np.random.RandomState(seed)
  return dict(
      x_train=rng.randint(0, 256, [num_train, *shape]).astype(np.uint8),
      y_train=(np.arange(num_train) % 10).astype(np.uint8),
      x_test=rng.randint(0, 256, [num_test, *shape]).astype(np.uint8),
      y_test=(np.arange(num_test) % 10).astype(np.uint8))


def assert_arrays(dataset, arrays):
  for key in SPLITS:
    loaded = getattr(dataset, key)
    np.testing.assert_array_equal(loaded,
                                  np.reshape(arrays[key], loaded.shape))


def cifar_batch(x, y, protocol=2):
  """One CIFAR-10 batch as the official distribution pickles it."""
  return pickle.dumps({
      b"batch_label": b"training batch 1 of 5",
      b"labels": [int(v) for v in y],
      b"data": x.transpose(0, 3, 1, 2).reshape(len(x), -1),
      b"filenames": [b"img_%d.png" % i for i in range(len(x))],
  }, protocol=protocol)


def cifar_members(arrays):
  """{member name: pickle bytes}: five training batches and the test batch."""
  x, y = arrays["x_train"], arrays["y_train"]
  members = {name: cifar_batch(x[i::5], y[i::5])
             for i, name in enumerate(sources.CIFAR_TRAIN)}
  members[sources.CIFAR_TEST] = cifar_batch(arrays["x_test"], arrays["y_test"],
                                            protocol=pickle.HIGHEST_PROTOCOL)
  return members


def cifar_order(arrays):
  """The arrays in the order the five batches concatenate to."""
  order = np.concatenate([np.arange(len(arrays["x_train"]))[i::5]
                          for i in range(5)])
  return dict(arrays, x_train=arrays["x_train"][order],
              y_train=arrays["y_train"][order])


def write_cifar_folder(root, arrays):
  folder = root / sources.CIFAR_FOLDER
  folder.mkdir()
  for name, raw in cifar_members(arrays).items():
    (folder / name).write_bytes(raw)
  return folder


def write_cifar_tar(path, arrays, members=None):
  members = cifar_members(arrays) if members is None else members
  staging = path.parent / "staging"
  staging.mkdir()
  with tarfile.open(path, "w:gz") as tar:
    for name, raw in members.items():
      (staging / name).write_bytes(raw)
      tar.add(staging / name, arcname=f"{sources.CIFAR_FOLDER}/{name}")
  return path


@pytest.mark.parametrize("name,shape", [("mnist", (28, 28)),
                                        ("fashion_mnist", (28, 28)),
                                        ("cifar10", (32, 32, 3))])
def test_keras_layout_npz_file_and_folder(tmp_path, name, shape):
  arrays = fake(shape)
  np.savez(tmp_path / "any.npz", **arrays)
  dataset = data_lib.load_dataset(name, str(tmp_path / "any.npz"))
  assert_arrays(dataset, arrays)
  assert dataset.name == name and dataset.num_classes == 10
  assert dataset.labelled and len(dataset.class_names) == 10
  assert dataset.image_shape == (shape + (1,))[:3]
  np.savez(tmp_path / f"{name}.npz", **arrays)
  assert_arrays(data_lib.load_dataset(name, str(tmp_path)), arrays)


def test_keras_cifar_labels_of_shape_n_by_1_and_mnist_with_a_channel(tmp_path):
  arrays = fake((32, 32, 3))
  np.savez(tmp_path / "c.npz",
           **dict(arrays, y_train=arrays["y_train"][:, None]))
  assert_arrays(data_lib.load_dataset("cifar10", str(tmp_path / "c.npz")),
                arrays)
  arrays = fake((28, 28))
  np.savez(tmp_path / "m.npz",
           **dict(arrays, x_train=arrays["x_train"][..., None]))
  mnist = data_lib.load_dataset("mnist", str(tmp_path / "m.npz"))
  assert mnist.x_train.shape == (50, 28, 28)


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
@pytest.mark.parametrize("compress", [False, True])
def test_idx_folder(tmp_path, name, compress):
  arrays = fake((28, 28))
  for key, stem in sources.IDX_FILES.items():
    write_idx(str(tmp_path / stem), arrays[key], compress)
  dataset = data_lib.load_dataset(name, str(tmp_path))
  assert_arrays(dataset, arrays)
  assert dataset.name == name


def test_cifar_batches_folder_its_parent_and_tar_gz(tmp_path):
  arrays = fake((32, 32, 3))
  folder = write_cifar_folder(tmp_path, arrays)
  expected = cifar_order(arrays)
  for path in (folder, tmp_path):
    dataset = data_lib.load_dataset("cifar10", str(path))
    assert_arrays(dataset, expected)
    assert dataset.x_train.shape == (50, 32, 32, 3)
    assert dataset.image_shape == (32, 32, 3)
  archive = write_cifar_tar(tmp_path / "cifar-10-python.tar.gz", arrays)
  assert_arrays(data_lib.load_dataset("cifar10", str(archive)), expected)


def test_cifar_pixels_are_read_in_chw_order(tmp_path):
  arrays = fake((32, 32, 3))
  arrays["x_test"][0] = 0
  arrays["x_test"][0, 1, 2] = (10, 20, 30)  # row 1, column 2: one RGB pixel
  write_cifar_folder(tmp_path, arrays)
  x = data_lib.load_dataset("cifar10", str(tmp_path)).x_test[0]
  np.testing.assert_array_equal(x[1, 2], [10, 20, 30])
  assert x.sum() == 60


class _Deletes:
  """A pickle that would delete `path` when unpickled."""

  def __init__(self, path):
    self.path = path

  def __reduce__(self):
    return os.remove, (self.path,)


def test_cifar_pickle_with_other_objects_is_refused_not_run(tmp_path):
  canary = tmp_path / "canary"
  canary.write_text("still here")
  members = cifar_members(fake((32, 32, 3)))
  members[sources.CIFAR_TEST] = pickle.dumps(
      {b"data": _Deletes(str(canary)), b"labels": []})
  write_cifar_tar(tmp_path / "c.tar.gz", None, members)
  with pytest.raises(DataError, match=r"c\.tar\.gz:cifar-10-batches-py/"
                     r"test_batch is not a valid CIFAR-10 batch.*posix\.remove"
                     r".*not unpickled"):
    data_lib.load_dataset("cifar10", str(tmp_path / "c.tar.gz"))
  assert canary.read_text() == "still here"


def test_cifar_bad_inputs_name_the_file(tmp_path):
  arrays = fake((32, 32, 3))
  members = cifar_members(arrays)
  del members["data_batch_3"]
  write_cifar_tar(tmp_path / "c.tar.gz", None, members)
  with pytest.raises(DataError, match=r"c\.tar\.gz lacks cifar-10-batches-py/"
                     r"data_batch_3.*--data_path"):
    data_lib.load_dataset("cifar10", str(tmp_path / "c.tar.gz"))
  (tmp_path / "cut.tar.gz").write_bytes(
      (tmp_path / "c.tar.gz").read_bytes()[:500])
  with pytest.raises(DataError, match=r"cut\.tar\.gz is not a valid \.tar\.gz"):
    data_lib.load_dataset("cifar10", str(tmp_path / "cut.tar.gz"))
  folder = write_cifar_folder(tmp_path, arrays)
  (folder / "data_batch_2").write_bytes(pickle.dumps({b"data": 1}))
  with pytest.raises(DataError, match=r"data_batch_2 is not a CIFAR-10 batch: "
                     r"expected a dict with b'data' and b'labels'"):
    data_lib.load_dataset("cifar10", str(folder))
  (folder / "data_batch_2").write_bytes(
      pickle.dumps({b"data": np.zeros([4, 100], np.uint8), b"labels": [0] * 4}))
  with pytest.raises(DataError, match=r"data_batch_2: b'data' has shape "
                     r"\(4, 100\).*expected \[N, 3072\]"):
    data_lib.load_dataset("cifar10", str(folder))
  (tmp_path / "elsewhere").mkdir()
  with pytest.raises(DataError, match="CIFAR-10 not found in folder.*"
                     "cifar-10-python.tar.gz"):
    data_lib.load_dataset("cifar10", str(tmp_path / "elsewhere"))


def test_labels_out_of_range_and_wrong_shapes_are_one_line(tmp_path):
  arrays = fake((32, 32, 3))
  np.savez(tmp_path / "c.npz", **dict(arrays, y_test=arrays["y_test"] + 1))
  with pytest.raises(DataError) as e:
    data_lib.load_dataset("cifar10", str(tmp_path / "c.npz"))
  assert "\n" not in str(e.value)
  assert str(e.value).startswith(f"CIFAR-10 from {tmp_path / 'c.npz'}: y_test "
                                 "holds labels outside the integers 0..9;")
  np.savez(tmp_path / "m.npz", **fake((32, 32, 3)))
  with pytest.raises(DataError, match=r"Fashion-MNIST from .*m\.npz: x_train "
                     r"has shape \(50, 32, 32, 3\), expected \[N, 28, 28\]"):
    data_lib.load_dataset("fashion_mnist", str(tmp_path / "m.npz"))
  np.savez(tmp_path / "k.npz", images=arrays["x_train"])
  with pytest.raises(DataError, match=r"k\.npz is not a Keras-layout dataset "
                     r"file: it lacks .*it holds \['images'\]"):
    data_lib.load_dataset("cifar10", str(tmp_path / "k.npz"))


def test_unknown_name_lists_the_datasets():
  with pytest.raises(DataError, match="unknown dataset 'svhn'; choose one of "
                     "mnist, colour_mnist, fashion_mnist, cifar10, folder"):
    data_lib.load_dataset("svhn")


def test_image_size_and_channels_are_for_folders(tmp_path):
  np.savez(tmp_path / "m.npz", **fake((28, 28)))
  data_lib.load_dataset("mnist", str(tmp_path / "m.npz"), image_size=28,
                        channels=1)
  with pytest.raises(UsageError, match="MNIST images are 28x28x1.*folder only"):
    data_lib.load_dataset("mnist", str(tmp_path / "m.npz"), image_size=32)


def test_keras_download_failure_names_the_offline_files(monkeypatch):
  def refuse():
    raise Exception("URL fetch failure: no network")
  monkeypatch.setattr(keras.datasets.cifar10, "load_data", refuse)
  with pytest.raises(DataError, match="keras.datasets.cifar10.*no network.*"
                     "cifar-10-python.tar.gz"):
    data_lib.load_dataset("cifar10")


def test_keras_loader_output_is_used_as_is(monkeypatch):
  arrays = fake((28, 28))
  splits = ((arrays["x_train"], arrays["y_train"]),
            (arrays["x_test"], arrays["y_test"]))
  monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data",
                      lambda: splits)
  assert_arrays(data_lib.load_dataset("fashion_mnist"), arrays)


def write_image(path, image):
  image = image if image.ndim == 3 else image[..., None]
  encode = tf.io.encode_png if str(path).endswith(".png") else tf.io.encode_jpeg
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_bytes(encode(image).numpy())


def colour(rng, height, width):
  return rng.randint(0, 256, [height, width, 3]).astype(np.uint8)


def test_unlabelled_folder_keeps_png_pixels_and_holds_out_ten_percent(tmp_path):
  rng = np.random.RandomState(0)
  images = [colour(rng, 8, 8) for _ in range(20)]
  for i, image in enumerate(images):
    write_image(tmp_path / f"{i:02d}.png", image)
  (tmp_path / "notes.txt").write_text("not an image")
  dataset = data_lib.load_dataset("folder", str(tmp_path), image_size=8)
  assert dataset.name == f"folder:{tmp_path}"
  assert not dataset.labelled and dataset.num_classes is None
  assert dataset.y_train is None and dataset.y_test is None
  assert dataset.x_train.shape == (18, 8, 8, 3)
  assert dataset.x_test.shape == (2, 8, 8, 3)
  assert dataset.image_shape == (8, 8, 3)
  loaded = np.concatenate([dataset.x_train, dataset.x_test])
  assert sorted(x.tobytes() for x in loaded) == sorted(
      x.tobytes() for x in images)
  again = data_lib.load_dataset("folder", str(tmp_path), image_size=8)
  np.testing.assert_array_equal(again.x_test, dataset.x_test)


def test_class_subfolders_of_mixed_formats_sizes_and_channels(tmp_path):
  rng = np.random.RandomState(1)
  for i in range(10):
    write_image(tmp_path / "cats" / f"{i}.png", colour(rng, 12, 16))
    write_image(tmp_path / "dogs" / "nested" / f"{i}.jpg",
                rng.randint(0, 256, [20, 20]).astype(np.uint8))
  for channels, shape in ((1, (18, 8, 8)), (3, (18, 8, 8, 3))):
    dataset = data_lib.load_dataset("folder", str(tmp_path), image_size=8,
                                    channels=channels)
    assert dataset.class_names == ("cats", "dogs")
    assert dataset.num_classes == 2 and dataset.labelled
    assert dataset.x_train.shape == shape and dataset.x_train.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(dataset.y_train), [9, 9])
    np.testing.assert_array_equal(np.bincount(dataset.y_test), [1, 1])
    assert dataset.image_shape == (8, 8, channels)


def test_test_split_is_a_tenth_of_each_class_at_most_ten_thousand():
  labels = np.repeat([0, 1, 2], [60000, 60000, 25])
  train, test = folder_lib.split_indices(labels, len(labels))
  assert len(test) <= folder_lib.MAX_TEST
  # 10% would be 6000 + 6000 + 2: scaled down to fit in 10,000.
  np.testing.assert_array_equal(np.bincount(labels[test]), [4999, 4999, 1])
  assert len(np.intersect1d(train, test)) == 0
  assert len(train) + len(test) == len(labels)
  np.testing.assert_array_equal(
      test, folder_lib.split_indices(labels, len(labels))[1])
  _, test = folder_lib.split_indices(labels[:1000], 1000)
  assert len(test) == 100
  _, tiny = folder_lib.split_indices(None, 9)
  assert len(tiny) == 0


def test_bad_folders_are_one_clear_line(tmp_path):
  rng = np.random.RandomState(2)

  def refused(path, match, error=DataError, **kwargs):
    kwargs.setdefault("image_size", 8)
    with pytest.raises(error) as e:
      data_lib.load_dataset("folder", str(path), **kwargs)
    assert "\n" not in str(e.value)
    assert re.search(match, str(e.value)), str(e.value)

  (tmp_path / "empty").mkdir()
  refused(tmp_path / "empty", r"empty holds no images \(\.png")
  refused(tmp_path / "nowhere", "'.*nowhere' is not a folder")
  write_image(tmp_path / "one" / "cats" / "a.png", colour(rng, 8, 8))
  refused(tmp_path / "one", r"single class subfolder \(cats\).*two or more")
  write_image(tmp_path / "one" / "b.png", colour(rng, 8, 8))
  refused(tmp_path / "one", r"holds images \(b\.png, \.\.\.\) beside class "
          r"subfolders \(cats")
  (tmp_path / "one" / "b.png").unlink()
  (tmp_path / "one" / "dogs").mkdir()
  refused(tmp_path / "one", r"class subfolder .*dogs holds no images")
  write_image(tmp_path / "bad" / "a.png", colour(rng, 8, 8))
  (tmp_path / "bad" / "broken.jpg").write_bytes(b"not a jpeg at all")
  refused(tmp_path / "bad", r"bad/broken\.jpg does not decode as a 3-channel "
          r"image .*convert or remove it")
  write_image(tmp_path / "sizes" / "a.png", colour(rng, 8, 8))
  write_image(tmp_path / "sizes" / "b.png", colour(rng, 6, 8))
  refused(tmp_path / "sizes", r"without --image_size takes the images' own "
          r"size, but .*a\.png is 8x8 and .*b\.png is 8x6; pass "
          r"--image_size=N", UsageError, image_size=None)
  refused(tmp_path / "bad", "--channels must be 1 .* or 3", UsageError,
          channels=4)
  with pytest.raises(UsageError, match="needs --data_path"):
    data_lib.load_dataset("folder", None, image_size=8)


@pytest.mark.parametrize("flat,shape", [(True, (4, 8 * 8 * 3)),
                                        (False, (4, 8, 8, 3))])
def test_batches_of_colour_images(flat, shape):
  images = np.random.RandomState(0).randint(0, 256, [10, 8, 8, 3])
  images = images.astype(np.uint8)
  batch = next(iter(data_lib.batches(images, np.arange(10), batch_size=4,
                                     seed=0, flat=flat)))
  assert batch["image"].shape == shape
  x = batch["image"].numpy().reshape(4, 8, 8, 3)
  index = batch["label"].numpy()
  np.testing.assert_allclose(x, images[index] / 255.0, atol=1e-6)


def test_batches_of_unlabelled_images_carry_zero_labels():
  images = np.zeros([10, 8, 8], np.uint8)
  batch = next(iter(data_lib.batches(images, None, batch_size=4, seed=0,
                                     flat=False)))
  assert batch["image"].shape == (4, 8, 8, 1)
  assert batch["label"].dtype == tf.int32
  np.testing.assert_array_equal(batch["label"].numpy(), np.zeros(4))


def test_dataset_shape_and_class_count_come_from_its_arrays():
  x = np.zeros([3, 8, 8], np.uint8)
  dataset = data_lib.Dataset(x, np.array([0, 4, 1]), x, np.array([2, 0, 0]))
  assert dataset.image_shape == (8, 8, 1) and dataset.labelled
  assert dataset.name == "arrays" and dataset.num_classes == 5
  assert data_lib.Dataset(x, np.zeros(3), x, np.zeros(3),
                          num_classes=10).num_classes == 10
  unlabelled = data_lib.Dataset(x[..., None].repeat(3, -1), None, x[:0], None,
                                name="folder:x", num_classes=7)
  assert unlabelled.image_shape == (8, 8, 3) and not unlabelled.labelled
  assert unlabelled.num_classes is None


def test_pngs_of_every_channel_count_convert_to_the_channels_asked(tmp_path):
  rng = np.random.RandomState(3)
  for depth in (1, 2, 3, 4):  # gray, gray+alpha, RGB, RGBA
    for i in range(3):
      image = rng.randint(0, 256, [6, 6, depth]).astype(np.uint8)
      write_image(tmp_path / f"{depth}_{i}.png", image)
  for channels in (1, 3):
    dataset = data_lib.load_dataset("folder", str(tmp_path), image_size=6,
                                    channels=channels)
    assert dataset.image_shape == (6, 6, channels)
    assert len(dataset.x_train) + len(dataset.x_test) == 12


def test_a_link_to_the_dataset_itself_is_not_a_class_of_duplicates(tmp_path):
  rng = np.random.RandomState(2)
  for name in ("cats", "dogs"):
    for i in range(3):
      write_image(tmp_path / name / f"{i}.png", colour(rng, 8, 8))
  os.symlink(".", tmp_path / "self")
  with pytest.raises(DataError) as refused:
    data_lib.load_dataset("folder", str(tmp_path), image_size=8)
  assert str(refused.value) == (
      f"{tmp_path}/self is a symbolic link to {tmp_path}, which holds the "
      f"dataset or is inside it: its images would be read again as a class "
      f"of duplicates; remove the link.")
  # A class folder linked from elsewhere is a class like any other.
  os.remove(tmp_path / "self")
  elsewhere = tmp_path.parent / f"{tmp_path.name}_birds"
  for i in range(3):
    write_image(elsewhere / f"{i}.png", colour(rng, 8, 8))
  os.symlink(elsewhere, tmp_path / "birds")
  dataset = data_lib.load_dataset("folder", str(tmp_path), image_size=8)
  assert dataset.class_names == ("birds", "cats", "dogs")


def test_an_image_size_too_big_for_memory_is_refused_before_decoding(
    tmp_path, monkeypatch):
  rng = np.random.RandomState(3)
  for i in range(3):
    write_image(tmp_path / f"{i}.png", colour(rng, 8, 8))
  monkeypatch.setattr(folder_lib.memory, "available_bytes", lambda: 2**28)
  monkeypatch.setattr(folder_lib, "_parallel_decodes", lambda: 2)

  def never(*args):
    raise AssertionError("decoded")
  monkeypatch.setattr(folder_lib, "decode_images", never)
  with pytest.raises(UsageError) as refused:
    data_lib.load_dataset("folder", str(tmp_path), image_size=4096)
  # 3 x 4096^2 x 3 bytes, and 2 float32 images being resized.
  assert str(refused.value) == (
      f"--image_size=4096 makes the 3 images of {tmp_path} 528.0 MiB of "
      f"memory, more than the 256.0 MiB available; pass an --image_size of "
      f"at most 2852.")


def test_a_folder_without_image_size_keeps_the_images_own_size(tmp_path):
  rng = np.random.RandomState(3)
  for i in range(3):
    write_image(tmp_path / "same" / f"{i}.png", colour(rng, 6, 8))
  dataset = data_lib.load_dataset("folder", str(tmp_path / "same"))
  assert dataset.x_train.shape[1:] == (6, 6, 3)  # the central square
