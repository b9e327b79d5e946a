"""One training run per workdir at a time.

Two runs on one workdir would interleave their checkpoints and metric rows.
`WorkdirLock` takes an exclusive `fcntl.flock` on `<workdir>/.lock` for the
whole run. The kernel drops the lock when the process ends, however it ends
(kill -9 included), so a crashed run never leaves a stale lock; the file
only records who holds it (pid, host, start time) for the refusal message,
and is removed on a clean release.

The lock file is also the run's first write into the workdir, so an
unwritable workdir is refused here, in one line, before anything else; so
is a `metrics.jsonl` the run could not append to (a symbolic link, an
immutable file). Neither file is opened through a symbolic link
(`O_NOFOLLOW`): a link planted as `.lock` or `metrics.jsonl` in a shared
folder would otherwise have its target overwritten.
"""

import contextlib
import datetime
import errno
import fcntl
import os
import socket
from typing import Optional

from gantape import files
from gantape.errors import UsageError
from gantape.training import curves

LOCK_FILE = ".lock"


def _open(path: str) -> int:
  """Opens (creating) the lock file, never through a link; a seam for tests."""
  return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o644)


def _holder(path: str) -> str:
  """Who holds the lock at `path`, as its file records it."""
  try:
    with open(path) as f:
      text = f.read().strip()
  except OSError:
    text = ""
  return f" ({text})" if text else ""


class WorkdirLock:
  """An exclusive lock on a workdir, held from `acquire` until `release`.

  Used as a context manager that releases on exit; `acquire` is separate so
  that the workdir is only created and locked once the config is known good.
  """

  def __init__(self):
    self._fd: Optional[int] = None
    self._path: Optional[str] = None

  def __enter__(self) -> "WorkdirLock":
    return self

  def __exit__(self, *exc_info) -> bool:
    self.release()
    return False

  def acquire(self, workdir: str) -> None:
    """Creates `workdir` if need be and locks it.

    Raises:
      UsageError: the workdir cannot be created or written to, or another
        process holds its lock.
    """
    try:
      os.makedirs(workdir, exist_ok=True)
    except OSError as e:
      reason = (os.strerror(errno.ENOTDIR) if os.path.isfile(workdir)
                else e.strerror)
      raise UsageError(f"cannot create the workdir {workdir!r} "
                       f"({reason}); pass a writable --workdir.") from None
    path = os.path.join(workdir, LOCK_FILE)
    while True:
      try:
        fd = _open(path)
      except OSError as e:
        if e.errno == errno.ELOOP:
          raise files.cannot_write(path, e) from None
        raise UsageError(
            f"cannot write to the workdir {workdir!r} ({e.strerror}); make it "
            f"writable for this user, or pass another --workdir.") from None
      try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
      except OSError as e:
        os.close(fd)
        if e.errno not in (errno.EAGAIN, errno.EACCES):
          raise
        raise UsageError(
            f"workdir {workdir!r} is in use by another training run"
            f"{_holder(path)}; wait for it to end or stop it, or pass another "
            f"--workdir.") from None
      # A holder that released between our open and flock removed the file
      # it locked: lock the file that is there now instead.
      with contextlib.suppress(OSError):
        if os.fstat(fd).st_ino == os.stat(path).st_ino:
          break
      os.close(fd)
    self._fd, self._path = fd, path
    started = datetime.datetime.now().isoformat(timespec="seconds")
    record = f"pid {os.getpid()} on {socket.gethostname()}, since {started}"
    with contextlib.suppress(OSError):  # a full disk: the lock still holds
      os.ftruncate(fd, 0)
      os.write(fd, record.encode() + b"\n")
    metrics = os.path.join(workdir, curves.METRICS_FILE)
    try:
      if os.path.lexists(metrics):
        files.open_nofollow(metrics).close()
    except UsageError:
      self.release()
      raise

  def release(self) -> None:
    """Removes the lock file and drops the lock; a no-op when not held."""
    if self._fd is None:
      return
    with contextlib.suppress(OSError):
      os.remove(self._path)
    os.close(self._fd)  # closing drops the flock
    self._fd = self._path = None
