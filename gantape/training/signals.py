"""SIGINT and SIGTERM during training: checkpoint and stop, or quit now.

The first signal asks the run to stop after the running `tf.function` call
and to save a checkpoint; the second quits at once: the `gantape train`
command ends its process (`exit_process_on_second_signal`), while
`gantape.train.train()` called as a library raises `KeyboardInterrupt` in
the main thread, so that the host process (a notebook kernel, a script's
`try`/`finally`) lives on. Both are answered while
the call is still running: Python runs its signal handlers in the main
thread between bytecodes, i.e. only after the call returns (tens of seconds
for a long call, minutes while it traces), so the handlers here do nothing
themselves. Instead the signal module's wakeup fd (written by the C-level
handler the moment a signal arrives) wakes a watcher thread, which runs
during the call because TensorFlow releases the GIL while it executes.
"""

import _thread
import os
import signal
import socket
import sys
import threading
from typing import Callable, Optional

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Whether a second signal ends the process at once (the command) rather
# than raising KeyboardInterrupt (the library): `exit_process_on_second_signal`.
_exit_process = False


def exit_process_on_second_signal() -> None:
  """Makes a second signal end the process at once, without cleanup.

  For the `gantape train` command only, which owns its process: called as a
  library, `train()` raises `KeyboardInterrupt` instead.
  """
  global _exit_process  # pylint: disable=global-statement
  _exit_process = True


def _print_to_stderr(line: str) -> None:
  print(line, file=sys.stderr, flush=True)


def _quit_now(code: int) -> None:
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(code)  # pylint: disable=protected-access


class StopSignals:
  """Turns SIGINT/SIGTERM into a request to checkpoint and stop.

  The first signal sets `signum` and is acknowledged at once on stderr
  ("stopping after this call, up to N iterations; Ctrl-C again to quit
  now"); the loop sees `signum` when the call returns, saves and stops. A
  second signal (either kind) quits without saving: in the command, the
  process ends at once with exit code 128 + its number, as a shell reports
  a process a signal killed; in a library call, `KeyboardInterrupt` is
  raised in the main thread as soon as it runs Python again (when the
  running call returns). The checkpoints already written stay, a save in
  progress is left as `ckpt-N_temp`, and the next run resumes from the
  latest complete one.

  Outside the main thread (where Python refuses handlers) this does
  nothing.

  Attributes:
    signum: the first signal that arrived, or None.
    call_length: iterations of the `tf.function` call that is running (or
      about to), for the acknowledgement; the loop sets it before each call.
  """

  def __init__(self, *, say: Callable[[str], None] = _print_to_stderr,
               quit_now: Optional[Callable[[int], None]] = None):
    """Prepares the handlers; `with` installs them.

    Args:
      say: where the acknowledgements go; default stderr.
      quit_now: called with the exit code on the second signal; default:
        exit the process at once after `exit_process_on_second_signal`,
        else raise `KeyboardInterrupt` in the main thread.
    """
    self.signum: Optional[int] = None
    self.call_length: Optional[int] = None
    self._say = say
    self._quit_now = quit_now
    self._interrupting = False
    self._previous = {}
    self._previous_wakeup_fd = None
    self._sockets = None
    self._watcher = None
    self._lock = threading.Lock()
    self._count = 0

  def __enter__(self):
    if threading.current_thread() is not threading.main_thread():
      return self
    reader, writer = socket.socketpair()
    writer.setblocking(False)  # set_wakeup_fd requires it
    self._sockets = (reader, writer)
    self._previous_wakeup_fd = signal.set_wakeup_fd(
        writer.fileno(), warn_on_full_buffer=False)
    for signum in SIGNALS:
      self._previous[signum] = signal.signal(signum, self._handle)
    self._watcher = threading.Thread(target=self._watch, daemon=True,
                                     name="gantape-stop-signals")
    self._watcher.start()
    return self

  def _handle(self, signum, frame):
    """The Python-level handler, run after the call returns.

    The watcher has acted on the signal already; this only makes sure the
    loop sees it even if the watcher has not been scheduled yet.
    """
    del frame
    if self.signum is None:
      self.signum = signum
    if self._interrupting:
      self._interrupting = False
      raise KeyboardInterrupt

  def _interrupt_main(self, signum: int) -> None:
    """Raises `KeyboardInterrupt` in the main thread, through `_handle`."""
    self._interrupting = True
    _thread.interrupt_main(signum)
  def _watch(self):
    """Reads signal numbers from the wakeup fd until `__exit__` closes it."""
    reader = self._sockets[0]
    while True:
      try:
        received = reader.recv(64)
      except OSError:
        return
      if not received:
        return
      for signum in received:
        if signum in SIGNALS:
          self.arrived(signum)

  def arrived(self, signum: int) -> None:
    """Acts on one signal: the first asks to stop, the second quits now.

    The watcher thread calls it as each signal arrives; tests may call it
    directly.

    Args:
      signum: the signal's number.
    """
    with self._lock:
      self._count += 1
      first, second = self._count == 1, self._count == 2
      if self.signum is None:
        self.signum = signum
    if not (first or second):
      return  # quitting already (interrupt_main's own wakeup byte, too)
    name = signal.Signals(signum).name
    if first:
      again = ("Ctrl-C again" if signum == signal.SIGINT else
               f"{name} or Ctrl-C again")
      if self.call_length is None:
        when = "stopping before the first call, then saving a checkpoint"
      else:
        when = (f"stopping after this call, up to {self.call_length} "
                f"iterations, then saving a checkpoint")
      self._say(f"{name}: {when}; {again} to quit now.")
      return
    exits = self._quit_now is not None or _exit_process
    self._say(f"{name} again: "
              + ("quitting now" if exits else
                 "raising KeyboardInterrupt when the running call returns")
              + ", without saving; the checkpoints already written stay, and "
              "rerunning the same command resumes from the latest.")
    if self._quit_now is not None:
      self._quit_now(128 + signum)
    elif _exit_process:
      _quit_now(128 + signum)
    else:
      self._interrupt_main(signum)

  def __exit__(self, *exc_info):
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)
    self._previous = {}
    if self._sockets is not None:
      signal.set_wakeup_fd(self._previous_wakeup_fd)
      reader, writer = self._sockets
      writer.close()
      try:
        reader.shutdown(socket.SHUT_RDWR)  # wakes the watcher's recv
      except OSError:
        pass
      self._watcher.join(timeout=5)
      reader.close()
      self._sockets = self._watcher = None
    return False

  @property
  def name(self) -> Optional[str]:
    """The arrived signal's name, e.g. "SIGINT"; None before one arrives."""
    return None if self.signum is None else signal.Signals(self.signum).name
