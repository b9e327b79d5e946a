"""TensorFlow imported without its start-up log, unless the user asks for it.

Importing TensorFlow 2.21 writes about nine lines to stderr before any of
gantape's: absl's "WARNING: All log messages before absl::InitializeLog()
..." and the oneDNN, CUDA-stub and CPU-feature notes, twice (two copies of
absl in two shared libraries), then an E-level "failed call to cuInit" on a
machine without a GPU. TF_CPP_MIN_LOG_LEVEL does not reach the first ones:
they are written while the libraries load, before TensorFlow reads it (at
3 only the cuInit line goes). So the import, and the device discovery that
writes the cuInit line, run with stderr (file descriptor 2) sent to a
temporary file, and everything in it but those known lines is written back
to stderr afterwards; later log lines are held back by
TF_CPP_MIN_LOG_LEVEL=2 (errors still show).

A TF_CPP_MIN_LOG_LEVEL set by the user leaves all of this alone.
"""

import contextlib
import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile

LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
# INFO and WARNING lines hidden; TensorFlow's errors still show.
QUIET_LEVEL = "2"

_START_UP_NOISE = re.compile(
    r"^[IW]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] "  # absl INFO/WARNING
    r"|^WARNING: All log messages before absl::InitializeLog\(\)"
    r"|^To enable the following instructions: .* rebuild TensorFlow"
    r"|^E\d{4} .*\] failed call to cuInit: ")


@contextlib.contextmanager
def _start_up_log_filtered():
  """Sends file descriptor 2 to a temporary file for the block, then writes
  back to stderr every line in it but the known start-up notes."""
  os.environ[LEVEL_VARIABLE] = QUIET_LEVEL
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile() as captured:
    os.dup2(captured.fileno(), 2)
    try:
      yield
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      captured.seek(0)
      text = captured.read().decode("utf-8", errors="replace")
      sys.stderr.write("".join(
          line for line in text.splitlines(keepends=True)
          if not _START_UP_NOISE.search(line)))
      sys.stderr.flush()


def import_tensorflow() -> None:
  """Imports TensorFlow, quietly unless TF_CPP_MIN_LOG_LEVEL is set.

  Does nothing more than `import tensorflow` when the user set
  TF_CPP_MIN_LOG_LEVEL or TensorFlow is imported already. Lines that are
  not known start-up notes (a Python warning, an unexpected error) are
  written back to stderr once the import is done.
  """
  if LEVEL_VARIABLE in os.environ or "tensorflow" in sys.modules:
    import tensorflow  # pylint: disable=g-import-not-at-top,unused-import
    return
  with _start_up_log_filtered():
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    # Lists the devices, as the first op would: the cuInit line comes now.
    tf.config.list_physical_devices()


class _QuietLoader(importlib.abc.Loader):
  """TensorFlow's own loader, run as `import_tensorflow` runs it."""

  def __init__(self, loader):
    self._loader = loader

  def create_module(self, spec):
    return self._loader.create_module(spec)

  def exec_module(self, module):
    module.__spec__.loader = module.__loader__ = self._loader
    with _start_up_log_filtered():
      self._loader.exec_module(module)
      module.config.list_physical_devices()


class _TensorFlowFinder(importlib.abc.MetaPathFinder):
  """Finds `tensorflow`, once, with `_QuietLoader` around its loader."""

  def find_spec(self, name, path=None, target=None):
    del target
    if name != "tensorflow":
      return None
    uninstall()
    if LEVEL_VARIABLE in os.environ:
      return None
    spec = importlib.machinery.PathFinder.find_spec(name, path)
    if spec is not None and spec.loader is not None:
      spec.loader = _QuietLoader(spec.loader)
    return spec


_FINDER = _TensorFlowFinder()


def install() -> None:
  """Makes the first `import tensorflow` of the process, by any module,
  quiet as `import_tensorflow` is; `import gantape` calls it, so that
  gantape can import TensorFlow only once a command needs it."""
  if "tensorflow" not in sys.modules and _FINDER not in sys.meta_path:
    sys.meta_path.insert(0, _FINDER)


def uninstall() -> None:
  """Undoes `install`."""
  if _FINDER in sys.meta_path:
    sys.meta_path.remove(_FINDER)
