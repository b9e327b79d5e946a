"""SIGINT and SIGTERM during training: checkpoint, then stop."""

import signal
import threading
from typing import Optional


class StopSignals:
  """Turns SIGINT/SIGTERM into a request to checkpoint and stop.

  Python runs the handler between bytecodes, so a signal that arrives during
  a `tf.function` call is seen when the call returns; the loop then saves and
  stops. A second signal restores the previous handler and re-sends itself,
  so pressing Ctrl-C twice quits at once. Outside the main thread (where
  Python refuses handlers) this does nothing.

  Attributes:
    signum: the first signal that arrived, or None.
  """

  def __init__(self):
    self.signum: Optional[int] = None
    self._previous = {}

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for signum in (signal.SIGINT, signal.SIGTERM):
        self._previous[signum] = signal.signal(signum, self._handle)
    return self

  def _handle(self, signum, frame):
    del frame
    if self.signum is not None:
      self._restore()
      signal.raise_signal(signum)
      return
    self.signum = signum

  def _restore(self):
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)
    self._previous = {}

  def __exit__(self, *exc_info):
    self._restore()
    return False

  @property
  def name(self) -> Optional[str]:
    """The arrived signal's name, e.g. "SIGINT"; None before one arrives."""
    return None if self.signum is None else signal.Signals(self.signum).name
