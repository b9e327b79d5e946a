"""The `gantape` command: `gantape <command> [--flag=value ...]`.

Installed as a console script by `pip install`; `python -m gantape` and the
thin `scripts/<command>.py` wrappers of a checkout run the same commands. Each
command is a module here with its absl flags, a `main(argv)` that returns the
exit code, and `run(argv)`; only the chosen command's module is imported, so
its flags are the only ones defined (`gantape <command> --help` lists them).
"""

import importlib
import sys
from typing import List, Optional

from gantape.cli.common import EXIT_USAGE

# Command name -> (module, one line of help).
COMMANDS = {
    "train": ("train", "train a variant, or resume its workdir"),
    "sample": ("sample", "draw samples from a run's checkpoint into an .npz"),
    "evaluate": ("evaluate", "score a run's samples (FCD, coverage, ...)"),
    "export": ("export", "export a run's generator as a SavedModel"),
    "benchmark": ("benchmark", "time the train step beside the seed's fit()"),
    "report": ("report", "the quality table and FCD curves of scored runs"),
    "train-classifier": ("train_classifier",
                         "train and cache the evaluation's classifier"),
}


def usage() -> str:
  """The top-level help: the commands and what each does."""
  lines = ["usage: gantape <command> [--flag=value ...]", "", "commands:"]
  lines += [f"  {name:<17} {text}" for name, (_, text) in COMMANDS.items()]
  lines += ["", "`gantape <command> --help` lists a command's flags; "
            "`gantape --version` prints the version."]
  return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
  """Runs the command named by `argv[1]` (default: `sys.argv`).

  Returns:
    0 after printing the help or the version; 2 for a missing or unknown
    command. A command itself exits the process with its own code.
  """
  argv = list(sys.argv if argv is None else argv)
  if len(argv) > 1 and argv[1] in ("-V", "--version", "version"):
    import gantape  # pylint: disable=g-import-not-at-top
    print(f"gantape {gantape.__version__}")
    return 0
  if len(argv) < 2 or argv[1] in ("-h", "--help", "help"):
    print(usage(), file=sys.stdout if len(argv) > 1 else sys.stderr)
    return 0 if len(argv) > 1 else EXIT_USAGE
  name = argv[1]
  if name not in COMMANDS:
    print(f"error: unknown command {name!r}; choose one of "
          f"{', '.join(COMMANDS)} (gantape --help).", file=sys.stderr)
    return EXIT_USAGE
  module = importlib.import_module(f"gantape.cli.{COMMANDS[name][0]}")
  module.run([f"gantape {name}", *argv[2:]])
  return 0
