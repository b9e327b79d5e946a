"""Files written whole or not at all, and never through a symbolic link.

Every file gantape writes into a workdir or cache (run records, metrics
rewrites, sample grids, plots, classifier weights) goes through `atomic_path`:
the content is written to a temporary name in the same folder and renamed
over the target, so a reader, a crash or a full disk never leaves a torn file
behind, only the old one or the new one. The rename replaces a symbolic link
at the target itself, never the file it points to, and a link planted at the
temporary name is removed before writing.

The files gantape appends to or locks in place (`metrics.jsonl`, `.lock`)
are opened with `O_NOFOLLOW` (`open_nofollow`): a symbolic link there is
refused in one line instead of being written through.
"""

import contextlib
import errno
import json
import os
from typing import Any, IO, Iterator

from gantape.errors import UsageError


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
  with contextlib.suppress(FileNotFoundError):
    os.unlink(tmp)  # a link planted there would be written through
  try:
    yield tmp
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(OSError):
      os.remove(tmp)
    raise


def write_text(path: str, text: str) -> None:
  """Writes `text` to `path` atomically.

  Raises:
    UsageError: the folder cannot be written (full, read-only, immutable).
  """
  try:
    with atomic_path(path) as tmp:
      with open(tmp, "w") as f:
        f.write(text)
  except OSError as e:
    raise cannot_write(path, e) from None


def cannot_write(path: str, error: OSError) -> UsageError:
  """The one-line error for a failed write of `path`."""
  reason = error.strerror or str(error)
  if error.errno == errno.ELOOP:
    return UsageError(
        f"{path} is a symbolic link, and gantape never writes through one; "
        f"move the link away (or replace it by the file itself) and rerun.")
  if error.errno == errno.ENOSPC:
    fix = "free some space and rerun"
  else:
    fix = ("make it writable for this user (`lsattr` shows an immutable "
           "file) and rerun")
  return UsageError(f"cannot write {path} ({reason}); {fix}.")


def open_nofollow(path: str, flags: int = os.O_WRONLY | os.O_APPEND,
                  mode: str = "a") -> IO:
  """Opens (creating) `path` without following a symbolic link there.

  Args:
    path: the file.
    flags: `os.open` flags; `O_CREAT`, `O_NOFOLLOW` and `O_CLOEXEC` are added.
    mode: the file object's mode, matching `flags`.

  Raises:
    UsageError: `path` is a symbolic link, or cannot be opened for writing
      (`cannot_write`).
  """
  try:
    fd = os.open(path, flags | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o644)
  except OSError as e:
    raise cannot_write(path, e) from None
  return os.fdopen(fd, mode)


def append_text(path: str, text: str) -> None:
  """Appends `text` to `path` (`open_nofollow`); one line on failure.

  Raises:
    UsageError: see `cannot_write`.
  """
  with open_nofollow(path, mode="ab", flags=os.O_WRONLY | os.O_APPEND) as f:
    try:
      os.write(f.fileno(), text.encode())
    except OSError as e:
      raise cannot_write(path, e) from None


def write_json(path: str, obj: Any) -> None:
  """Writes `obj` as indented, key-sorted JSON to `path` atomically."""
  write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")
