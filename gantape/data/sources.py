"""Readers for the files MNIST, Fashion-MNIST and CIFAR-10 ship in.

Each reader returns the four arrays ``x_train``, ``y_train``, ``x_test``,
``y_test`` as stored, or raises one `DataError` line that names the file and
ends with `fix`, the caller's advice on what to pass instead. Shapes and
values are checked afterwards, by `dataset.validate_arrays`.

- Keras-layout ``.npz``: the four arrays under those names.
- IDX (MNIST and Fashion-MNIST, the same format and file names): four files,
  raw or ``.gz``.
- CIFAR-10's ``cifar-10-batches-py``: pickled dicts ``data_batch_1..5`` and
  ``test_batch`` with ``b"data"`` [N, 3072] uint8 in CHW order and
  ``b"labels"``, as a folder or inside the ``.tar.gz`` (read in memory).
  Only those members are unpickled, and only numpy arrays, lists, dicts and
  strings may be in them: any other object is refused, not constructed.
"""

import gzip
import io
import math
import os
import pickle
import struct
import tarfile
import zlib
from typing import Dict

import numpy as np

from gantape.errors import DataError
from gantape.training import memory

ARRAYS = ("x_train", "y_train", "x_test", "y_test")
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST = "test_batch"
CIFAR_SIDE = 32
# IDX type codes other than 0x08 (unsigned byte), named in the refusal.
_IDX_TYPES = {0x09: "signed-byte", 0x0B: "int16", 0x0C: "int32",
              0x0D: "float32", 0x0E: "float64"}
# What a pickled numpy array refers to, under numpy 1's and numpy 2's names;
# protocol 2 pickles written by Python 3 store its bytes through
# `_codecs.encode`.
_PICKLE_GLOBALS = {
    (module, name)
    for prefix in ("numpy.core", "numpy._core")
    for module, name in ((f"{prefix}.multiarray", "_reconstruct"),
                         (f"{prefix}.multiarray", "scalar"),
                         (f"{prefix}.numeric", "_frombuffer"))
} | {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

Arrays = Dict[str, np.ndarray]


def read_npz(path: str, fix: str) -> Arrays:
  """Reads a Keras-layout `.npz`: `x_train`, `y_train`, `x_test`, `y_test`."""
  # numpy's own messages for a file that is not an .npz suggest loading it
  # with allow_pickle, which would run code from the file: never pass that on.
  not_npz = (f"{path} is not a valid .npz file (not a zip archive of numpy "
             f"arrays); it may be truncated, corrupt or of another format; "
             f"{fix}.")
  try:
    with np.load(path, allow_pickle=False) as f:
      if not isinstance(f, np.lib.npyio.NpzFile):
        raise DataError(not_npz)
      missing = [k for k in ARRAYS if k not in f.files]
      if missing:
        raise DataError(
            f"{path} is not a Keras-layout dataset file: it lacks {missing} "
            f"(it holds {sorted(f.files)}); {fix}.")
      return {k: _npz_array(f, k, path, fix) for k in ARRAYS}
  except DataError:
    raise
  except AttributeError:  # a single .npy array has no context manager
    raise DataError(not_npz) from None
  except Exception:  # zipfile.BadZipFile, ValueError, OSError, EOFError...
    raise DataError(not_npz) from None


def _npz_array(npz, key, path, fix):
  try:
    return npz[key]
  except ValueError:  # an object (pickled) array
    raise DataError(
        f"{path}: {key} is an array of Python objects, not of numbers; "
        f"{fix}.") from None


def has_idx_files(folder: str) -> bool:
  """Whether `folder` holds at least one of the four IDX files."""
  return any(os.path.isfile(os.path.join(folder, stem + ext))
             for stem in IDX_FILES.values() for ext in ("", ".gz"))


def read_idx_folder(folder: str, title: str, npz_name: str, fix: str
                    ) -> Arrays:
  """Reads the four IDX files (raw or `.gz`) from `folder`.

  Args:
    folder: the folder.
    title: the dataset's name in messages, e.g. "Fashion-MNIST".
    npz_name: the `.npz` the folder might have held instead, named when
      neither is there.
    fix: advice appended to every message.

  Returns:
    The four arrays.

  Raises:
    DataError: a file is missing or not a valid IDX file of unsigned bytes.
  """
  arrays = {}
  for key, stem in IDX_FILES.items():
    candidates = [os.path.join(folder, stem + ext) for ext in ("", ".gz")]
    found = [c for c in candidates if os.path.isfile(c)]
    if not found:
      raise DataError(
          f"{title} not found in folder {folder!r}: it has neither {npz_name} "
          f"nor {stem}[.gz]; {fix}.")
    arrays[key] = read_idx(found[0], fix)
  return arrays


def read_idx(path: str, fix: str) -> np.ndarray:
  """Reads one IDX file of unsigned bytes (the format of MNIST's files).

  The header's declared size is checked against the memory available
  before the data is read, and no more than that size is read: a small
  `.gz` can expand to gigabytes.

  Raises:
    DataError: not a valid IDX file of unsigned bytes, or one whose
      declared size does not fit in memory.
  """
  opener = gzip.open if path.endswith(".gz") else open
  try:
    with opener(path, "rb") as f:
      dims = _idx_header(f)
      size = math.prod(dims)
      too_big = memory.shortfall(size)
      if too_big:
        raise DataError(
            f"{path}'s header declares {'x'.join(map(str, dims))} bytes, "
            f"{too_big}, so it was not read; {fix}.")
      raw = f.read(size + 1)
    if len(raw) != size:
      raise ValueError(
          f"header says {dims} but the file holds "
          f"{'more than ' if len(raw) > size else ''}{min(len(raw), size)} "
          f"bytes")
    return np.frombuffer(raw, dtype=np.uint8).reshape(dims)
  except DataError:
    raise
  except Exception as e:
    raise DataError(
        f"{path} is not a valid IDX file ({type(e).__name__}: {e}); {fix}."
    ) from None


def _idx_header(f) -> tuple:
  """The dimensions an IDX file's header declares; `f` is left after it."""
  zero, dtype_code, ndim = struct.unpack(">HBB", f.read(4))
  if zero != 0:
    raise ValueError("bad magic number")
  if dtype_code != 0x08:
    raise ValueError(
        f"it holds {_IDX_TYPES.get(dtype_code, 'unknown')} data (type code "
        f"0x{dtype_code:02X}), not the unsigned bytes 0..255 of MNIST")
  return struct.unpack(f">{ndim}I", f.read(4 * ndim))


class _ArrayUnpickler(pickle.Unpickler):
  """Unpickles numpy arrays and Python containers, and nothing else."""

  def find_class(self, module, name):
    if (module, name) not in _PICKLE_GLOBALS:
      raise pickle.UnpicklingError(
          f"it refers to {module}.{name}, which a CIFAR-10 batch never holds; "
          f"not unpickled")
    if module.startswith("numpy.core") and hasattr(np, "_core"):
      module = "numpy._core" + module[len("numpy.core"):]
    return super().find_class(module, name)


def read_cifar_batch(raw: bytes, where: str, fix: str):
  """Images [N, 32, 32, 3] uint8 and labels [N] from one pickled batch.

  Args:
    raw: the pickle's bytes.
    where: names the batch in messages: its path, or "archive:member".
    fix: advice appended to every message.

  Returns:
    (images, labels).

  Raises:
    DataError: the bytes are not a CIFAR-10 batch.
  """
  try:
    batch = _ArrayUnpickler(io.BytesIO(raw), encoding="bytes").load()
  except Exception as e:  # UnpicklingError, EOFError, ValueError...
    raise DataError(
        f"{where} is not a valid CIFAR-10 batch ({type(e).__name__}: "
        f"{str(e).splitlines()[0] if str(e) else 'unreadable'}); {fix}."
    ) from None
  if not isinstance(batch, dict) or not {b"data", b"labels"} <= set(batch):
    keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
    raise DataError(
        f"{where} is not a CIFAR-10 batch: expected a dict with b'data' and "
        f"b'labels', found {keys}; {fix}.")
  data, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"])
  side = CIFAR_SIDE
  if (data.ndim != 2 or data.shape[1] != 3 * side * side
      or len(labels) != len(data)):
    raise DataError(
        f"{where}: b'data' has shape {data.shape} and b'labels' "
        f"{labels.shape}, expected [N, {3 * side * side}] and [N]; {fix}.")
  images = data.reshape(-1, 3, side, side).transpose(0, 2, 3, 1)
  return images, labels


def read_cifar_folder(folder: str, fix: str) -> Arrays:
  """Reads `data_batch_1..5` and `test_batch` from a `cifar-10-batches-py`."""
  def read(name):
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
      raise DataError(
          f"CIFAR-10 folder {folder!r} lacks {name} (it needs "
          f"{', '.join(CIFAR_TRAIN)} and {CIFAR_TEST}); {fix}.")
    with open(path, "rb") as f:
      return read_cifar_batch(f.read(), path, fix)
  return _cifar_arrays(read)


def read_cifar_tar(path: str, fix: str) -> Arrays:
  """Reads the batches from `cifar-10-python.tar.gz` without extracting it."""
  try:
    with tarfile.open(path, "r:*") as tar:
      members = {os.path.basename(m.name): m for m in tar.getmembers()
                 if m.isfile()}

      def read(name):
        if name not in members:
          raise DataError(
              f"{path} lacks {CIFAR_FOLDER}/{name} (it needs "
              f"{', '.join(CIFAR_TRAIN)} and {CIFAR_TEST}); {fix}.")
        raw = tar.extractfile(members[name]).read()
        return read_cifar_batch(raw, f"{path}:{members[name].name}", fix)
      return _cifar_arrays(read)
  except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
    raise DataError(
        f"{path} is not a valid .tar.gz archive ({type(e).__name__}: {e}); "
        f"{fix}.") from None


def _cifar_arrays(read) -> Arrays:
  train = [read(name) for name in CIFAR_TRAIN]
  x_test, y_test = read(CIFAR_TEST)
  return dict(x_train=np.concatenate([x for x, _ in train]),
              y_train=np.concatenate([y for _, y in train]),
              x_test=x_test, y_test=y_test)
