"""Exceptions gantape raises for problems a user can fix.

Every message names the problem and the fix. Scripts turn a `UsageError` into a
one-line message and exit code 2, never a traceback.
"""


class GantapeError(Exception):
  """Base class of every error gantape raises on purpose."""


class UsageError(GantapeError):
  """Bad input from the user: flags, options, paths or data. Exit code 2."""


class DataError(UsageError):
  """A dataset is missing, corrupt, empty or of the wrong shape."""


class NonFiniteLossError(GantapeError):
  """A loss or metric became NaN or Inf during training."""


class Interrupted(GantapeError):
  """Training stopped on SIGINT or SIGTERM after writing a checkpoint.

  Attributes:
    signum: the signal's number; scripts exit with 128 + signum, as a shell
      does for a process the signal killed.
  """

  def __init__(self, message: str, signum: int):
    super().__init__(message)
    self.signum = signum
