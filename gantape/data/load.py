"""Datasets by name: `load_dataset` of mnist, colour_mnist, fashion_mnist,
cifar10, folder.

Where a named dataset comes from, in order:

1. an explicit path (``--data_path``):
   - a Keras-layout ``.npz`` file (``x_train``, ``y_train``, ``x_test``,
     ``y_test``, uint8), or a folder holding ``<name>.npz``;
   - MNIST and Fashion-MNIST: a folder holding the four IDX files (raw or
     ``.gz``, the same file names for both);
   - CIFAR-10: ``cifar-10-python.tar.gz`` as downloaded, its extracted
     ``cifar-10-batches-py`` folder, or a folder holding either;
2. otherwise ``keras.datasets.<name>.load_data()``, which downloads once and
   then uses Keras's cache (``~/.keras/datasets``).

"folder" is a folder of images of any size, see `gantape.data.folder`;
"colour_mnist" is MNIST painted at 32x32x3 (`gantape.data.colour`), read
from MNIST's file.
"""

import dataclasses
import os
from typing import Optional, Tuple

from gantape.data import colour
from gantape.data import sources
from gantape.data.dataset import NUM_CLASSES, Dataset, validate_arrays
from gantape.data.folder import load_folder
from gantape.errors import DataError, UsageError

DATASETS = ("mnist", "colour_mnist", "fashion_mnist", "cifar10", "folder")
# The shape of one MNIST (and Fashion-MNIST) image as the files store it.
MNIST_SHAPE = (28, 28)
_CIFAR_ARCHIVE = "cifar-10-python.tar.gz"
_TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar")


@dataclasses.dataclass(frozen=True)
class _Known:
  """A dataset gantape knows by name: how it is stored and what to pass."""
  title: str
  image_shape: Tuple[int, ...]
  npz_name: str
  class_names: Tuple[str, ...]
  fix: str


def _idx_fix(title: str, npz_name: str) -> str:
  return (f"pass --data_path=/path/to/{npz_name} (Keras layout: x_train, "
          f"y_train, x_test, y_test) or a folder with the four {title} IDX "
          f"files (raw or .gz)")


_KNOWN = {
    "mnist": _Known("MNIST", MNIST_SHAPE, "mnist.npz", tuple("0123456789"),
                    _idx_fix("MNIST", "mnist.npz")),
    "fashion_mnist": _Known(
        "Fashion-MNIST", MNIST_SHAPE, "fashion_mnist.npz",
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
         "Shirt", "Sneaker", "Bag", "Ankle boot"),
        _idx_fix("Fashion-MNIST", "fashion_mnist.npz")),
    "cifar10": _Known(
        "CIFAR-10", (sources.CIFAR_SIDE, sources.CIFAR_SIDE, 3), "cifar10.npz",
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
         "horse", "ship", "truck"),
        f"pass --data_path=/path/to/{_CIFAR_ARCHIVE}, its extracted "
        f"{sources.CIFAR_FOLDER} folder, or a Keras-layout .npz (x_train, "
        f"y_train, x_test, y_test)"),
}

# colour_mnist's shape, for refusing --image_size/--channels; it is read as
# MNIST.
_COLOUR = dataclasses.replace(
    _KNOWN["mnist"], title="Colour MNIST",
    image_shape=(colour.SIDE, colour.SIDE, 3))


def load_dataset(name: str = "mnist", path: Optional[str] = None, *,
                 image_size: Optional[int] = None,
                 channels: Optional[int] = None) -> Dataset:
  """Loads the dataset `name` from `path`, or through Keras when `path` is None.

  Args:
    name: one of `DATASETS`.
    path: the file or folder (colour_mnist: MNIST's) (see the module docstring); None reads
      `default_path(name)` (GANTAPE_DATA) if set, else downloads through
      `keras.datasets` (required for "folder").
    image_size: "folder" only: the side its images are resized to.
    channels: "folder" only: 1 or 3 (default 3).

  Returns:
    The validated dataset; `Dataset.name` is `name` ("folder:<path>" for a
    folder).

  Raises:
    DataError: unknown name, or data missing, unreadable, empty, of the
      wrong shape, with labels out of range or not pixels 0..255; one line
      naming the file and the fix.
    UsageError: `image_size` or `channels` does not fit the dataset.
  """
  if name not in DATASETS:
    raise DataError(
        f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}.")
  if name == "folder":
    if path is None:
      raise UsageError(
          "--dataset=folder needs --data_path=<a folder of PNG/JPEG images>.")
    return load_folder(path, image_size, channels)
  if name == "colour_mnist":
    _check_fixed_shape(name, _COLOUR, image_size, channels)
    return colour.colour_mnist(load_dataset("mnist", path))
  known = _KNOWN[name]
  _check_fixed_shape(name, known, image_size, channels)
  if path is None:
    path = default_path(name)
  if path is None:
    arrays, source = _load_with_keras(name, known), f"keras.datasets.{name}"
  else:
    path = os.path.expanduser(path)
    arrays, source = _read_path(name, known, path), path
  arrays = validate_arrays(
      arrays, source=f"{known.title} from {source}",
      image_shape=known.image_shape, num_classes=NUM_CLASSES, fix=known.fix)
  return Dataset(**arrays, name=name, num_classes=NUM_CLASSES,
                 class_names=known.class_names)


# A folder of datasets read when no path is given: <name>.npz or <name>/ in it.
DATA_ENV = "GANTAPE_DATA"


def default_path(name: str) -> Optional[str]:
  """Where the dataset `name` is read from without a path:
  $GANTAPE_DATA/<name>.npz or $GANTAPE_DATA/<name> (any form --data_path
  takes) when GANTAPE_DATA is set, else None (Keras's downloader).

  Raises:
    DataError: GANTAPE_DATA is set but holds neither.
  """
  folder = os.environ.get(DATA_ENV)
  if not folder:
    return None
  folder = os.path.expanduser(folder)
  for candidate in (os.path.join(folder, f"{name}.npz"),
                    os.path.join(folder, name)):
    if os.path.exists(candidate):
      return candidate
  raise DataError(
      f"{DATA_ENV}={folder} holds no {name}.npz or {name}/; put the "
      f"dataset there, pass --data_path, or unset {DATA_ENV} to download it.")


def load_mnist(path: Optional[str] = None) -> Dataset:
  """Loads MNIST from `path`, or through Keras's downloader when `path` is None.

  Args:
    path: a Keras-layout `.npz` file, or a folder holding `mnist.npz` or the
      four IDX files (raw or `.gz`). None: `default_path("mnist")`, else
      `keras.datasets.mnist`.

  Returns:
    The validated dataset.

  Raises:
    DataError: the data is missing, unreadable, empty, of the wrong shape,
      or not pixels 0..255 (`pixels`); the message says how to fix it.
  """
  return load_dataset("mnist", path)


def _check_fixed_shape(name, known, image_size, channels):
  height, width = known.image_shape[:2]
  depth = known.image_shape[2] if len(known.image_shape) == 3 else 1
  if image_size not in (None, height) or channels not in (None, depth):
    raise UsageError(
        f"{known.title} images are {height}x{width}x{depth}: --image_size "
        f"and --channels resize and convert --dataset=folder only; leave "
        f"them unset for --dataset={name}.")


def _load_with_keras(name, known):
  import keras  # pylint: disable=g-import-not-at-top
  try:
    (x_train, y_train), (x_test, y_test) = getattr(
        keras.datasets, name).load_data()
  except Exception as e:  # download refused, hash mismatch, no network...
    raise DataError(
        f"{known.title} could not be loaded through keras.datasets.{name} "
        f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
        f"{known.fix}.") from None
  return dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def _read_path(name, known, path):
  fix = known.fix
  if os.path.isdir(path):
    npz = os.path.join(path, known.npz_name)
    if os.path.isfile(npz):
      return sources.read_npz(npz, fix)
    if name == "cifar10":
      return _read_cifar_folder(path, fix)
    return sources.read_idx_folder(path, known.title, known.npz_name, fix)
  if not os.path.isfile(path):
    if os.path.exists(path):  # /dev/zero, a pipe: reading would not end
      raise DataError(
          f"{known.title} not read: {path!r} is neither a regular file nor "
          f"a folder (a device, a pipe or a socket); {fix}.")
    raise DataError(f"{known.title} not found: {path!r} does not exist; {fix}.")
  if name == "cifar10" and path.endswith(_TAR_SUFFIXES):
    return sources.read_cifar_tar(path, fix)
  return sources.read_npz(path, fix)


def _read_cifar_folder(path, fix):
  if os.path.isfile(os.path.join(path, sources.CIFAR_TRAIN[0])):
    return sources.read_cifar_folder(path, fix)
  inner = os.path.join(path, sources.CIFAR_FOLDER)
  if os.path.isdir(inner):
    return sources.read_cifar_folder(inner, fix)
  archive = os.path.join(path, _CIFAR_ARCHIVE)
  if os.path.isfile(archive):
    return sources.read_cifar_tar(archive, fix)
  raise DataError(
      f"CIFAR-10 not found in folder {path!r}: it has neither "
      f"{_KNOWN['cifar10'].npz_name}, "
      f"{sources.CIFAR_FOLDER}/, {_CIFAR_ARCHIVE} nor the batches "
      f"{sources.CIFAR_TRAIN[0]}..5 and {sources.CIFAR_TEST}; {fix}.")
