"""What the absl scripts share: option packing and turning errors into exits."""

import sys
from typing import Any, Callable, Dict

from gantape.errors import GantapeError, UsageError

EXIT_USAGE = 2
EXIT_FAILURE = 1


def variant_options(**flag_values) -> Dict[str, Any]:
  """The variant options that were set on the command line (None = unset)."""
  return {k: v for k, v in flag_values.items() if v is not None}


def run(fn: Callable[[], Any]) -> int:
  """Calls `fn`; a gantape error becomes one line on stderr and an exit code.

  Returns:
    0 on success, 2 for a usage error, 1 for any other gantape error (e.g. a
    NaN loss). Other exceptions are bugs and keep their traceback.
  """
  try:
    fn()
  except UsageError as e:
    print(f"error: {e}", file=sys.stderr)
    return EXIT_USAGE
  except GantapeError as e:
    print(f"error: {e}", file=sys.stderr)
    return EXIT_FAILURE
  return 0
