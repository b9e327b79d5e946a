"""Files written whole or not at all.

Every file gantape writes into a workdir or cache (run records, metrics
rewrites, sample grids, plots, classifier weights) goes through `atomic_path`:
the content is written to a temporary name in the same folder and renamed
over the target, so a reader, a crash or a full disk never leaves a torn file
behind, only the old one or the new one.
"""

import contextlib
import json
import os
from typing import Any, Iterator


def temporary_name(path: str) -> str:
  """A per-process temporary name beside `path` that keeps its suffix.

  The suffix is kept because some writers pick the format from it
  (matplotlib's `.png`, Keras's `.weights.h5`).
  """
  folder, name = os.path.split(path)
  return os.path.join(folder, f".tmp-{os.getpid()}-{name}")


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
  """Yields a temporary path to write; renames it to `path` on success.

  On an exception the temporary file is removed and `path` is untouched.

  Example:
    with atomic_path("grid.png") as tmp:
      matplotlib.image.imsave(tmp, grid)
  """
  tmp = temporary_name(path)
  try:
    yield tmp
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(OSError):
      os.remove(tmp)
    raise


def write_text(path: str, text: str) -> None:
  """Writes `text` to `path` atomically."""
  with atomic_path(path) as tmp:
    with open(tmp, "w") as f:
      f.write(text)


def write_json(path: str, obj: Any) -> None:
  """Writes `obj` as indented, key-sorted JSON to `path` atomically."""
  write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")
