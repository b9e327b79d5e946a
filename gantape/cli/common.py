"""What every command shares: flag parsing, and errors turned into exits."""

import os
import re
import signal
import sys
from typing import Any, Callable, Dict, List, Optional

from absl import app
from absl import flags

from gantape import tf_log
from gantape.cli import help as help_lib
from gantape.cli.flag_table import TABLE
from gantape.errors import GantapeError, Interrupted, UsageError

EXIT_USAGE = 2
EXIT_FAILURE = 1
# The flags that ask for a command's help; each exits 0 after it.
HELP_FLAGS = ("-h", "--help", "-help", "--helpfull", "--helpshort")


# Flags defined in this module's functions belong to the module that calls
# them (absl attributes a flag to the first module on the stack that has not
# disclaimed).
flags.disclaim_key_flags()


def define_checkpoint_flag() -> None:
  """`--checkpoint`, for the commands that read a workdir's networks."""
  flags.DEFINE_string(
      "checkpoint", TABLE["constants"]["latest_checkpoint"],
      "Which of the run's checkpoints: latest; best, the one at the lowest "
      "FCD that training measured (kept in <workdir>/best/ by runs with "
      "--eval_every); or a checkpoint prefix such as "
      "<workdir>/checkpoints/ckpt-10000.")


def define_trusted_variant_flag() -> None:
  """`--variant`, for the commands that read a workdir of a variant from
  outside gantape: the user's consent to import it (`variants.run_class`)."""
  flags.DEFINE_string(
      "variant", None,
      "Only for a run of your own variant, which run.json records as "
      "package.module:ClassName: that name again, to let gantape import it "
      "(its package on PYTHONPATH). A workdir alone never makes gantape "
      "import code; registered variants need no flag.")


def app_run(main: Callable[[List[str]], Any],
            argv: Optional[List[str]] = None) -> None:
  """`absl.app.run(main)` with gantape's flag parser; exits the process.

  The flags of `main`'s module become the program's key flags, so `--help`
  lists them whether the program is `gantape`, `python -m gantape` or a
  script.

  Args:
    main: the command's main; its return value is the exit code.
    argv: the command line, program name first; default `sys.argv`.
  """
  if argv is not None:
    sys.argv[0] = argv[0]  # absl's help names and keys the program by it
  for flag in flags.FLAGS.get_flags_for_module(main.__module__):
    flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
  app.run(lambda args: _exit_at_once_if_stopped(main(args)), argv=argv,
          flags_parser=lambda args: parse_flags(args, main.__module__))


def _exit_at_once_if_stopped(code: Any) -> Any:
  """`code`; a run stopped by a signal exits the process here instead.

  A stopped run has saved its checkpoint, flushed its records and released
  its workdir by now; what is left is the interpreter's teardown of
  TensorFlow's objects, seconds that a user waiting on Ctrl-C should not
  wait. Any other exit keeps the ordinary teardown.
  """
  if isinstance(code, int) and code - 128 in (signal.SIGINT, signal.SIGTERM):
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # pylint: disable=protected-access
  return code


def run(fn: Callable[[], Any]) -> int:
  """Calls `fn`; a gantape error becomes one line on stderr and an exit code.

  TensorFlow is imported first (quietly, `tf_log`): the flags are parsed by
  then, so `--help` and a bad flag never wait for it.

  Returns:
    0 on success, 2 for a usage error, 128 + the signal's number for a run
    stopped by SIGINT/SIGTERM (`Interrupted`), 1 for any other gantape error
    (e.g. a NaN loss). Other exceptions are bugs and keep their traceback.
  """
  tf_log.import_tensorflow()
  try:
    fn()
  except UsageError as e:
    print(f"error: {e}", file=sys.stderr)
    return EXIT_USAGE
  except Interrupted as e:
    print(str(e), file=sys.stderr)
    return 128 + e.signum
  except GantapeError as e:
    print(f"error: {e}", file=sys.stderr)
    return EXIT_FAILURE
  return 0


def _command_module(program: str) -> str:
  """The module of the command `program` ("gantape train") names."""
  from gantape import cli  # pylint: disable=g-import-not-at-top
  name = program.split()[-1]
  return f"gantape.cli.{cli.COMMANDS[name][0]}"


def parse_flags(argv: List[str], module: Optional[str] = None) -> List[str]:
  """Parses absl flags; a bad flag is one line on stderr and exit code 2.

  `app_run` passes it to `absl.app.run`: absl's own parser exits with 1 and
  a two-line message, but a bad flag is a usage error like any other.
  `--help` (and -h, --helpfull) prints the command's help to stdout and
  exits 0.

  Args:
    argv: the command line, program name first.
    module: the command's module, whose flags `--help` lists; default: the
      one `argv[0]` ("gantape train") names.

  Returns:
    `[program name]`: positional arguments are refused the same way.
  """
  if any(arg in HELP_FLAGS for arg in argv[1:]):
    print(help_lib.command_help(argv[0], module or _command_module(argv[0])))
    sys.exit(0)
  try:
    rest = flags.FLAGS(argv)
  except flags.Error as e:
    message = " ".join(str(e).split())
    print(f"error: {_plain(message)}; see {argv[0]} --help.",
          file=sys.stderr)
    sys.exit(EXIT_USAGE)
  if len(rest) > 1:
    print(f"error: unexpected arguments {rest[1:]}; every option is a flag, "
          f"--name=value; see {argv[0]} --help.", file=sys.stderr)
    sys.exit(EXIT_USAGE)
  if "verbosity" in flags.FLAGS and not flags.FLAGS["verbosity"].present:
    # TensorFlow's INFO lines (one per checkpoint saved) would drown the
    # progress lines; --verbosity=0 brings them back.
    flags.FLAGS.verbosity = -1
  return rest


def _plain(message: str) -> str:
  """absl's message for a required flag left out, as a person says it."""
  if "must have a value other than None" in message:
    missing = re.findall(r"Flag --(\w+) must have a value", message)
    return (f"{', '.join('--' + name for name in missing)} "
            f"{'is' if len(missing) == 1 else 'are'} required")
  return message


def _cell(value: Any) -> str:
  if isinstance(value, bool) or value is None:
    return str(value)
  if isinstance(value, float):
    return f"{value:.4g}"
  if isinstance(value, dict):
    return " ".join(f"{k}:{_cell(v)}" for k, v in value.items())
  if isinstance(value, (list, tuple)):
    return " ".join(_cell(v) for v in value)
  return str(value)


def metric_table(result: Dict[str, Any]) -> str:
  """`result` as two columns, metric and value, one metric a line (a dict
  or list value on one line, its items `key:value`)."""
  width = max(map(len, result), default=0)
  lines: List[str] = [f"{'metric':<{width}}  value"]
  lines += [f"{name:<{width}}  {_cell(result[name])}" for name in sorted(result)]
  return "\n".join(lines)



def flagfile_text(module, **overrides: Any) -> str:
  """The flags `module` defines, as `--flagfile` lines.

  Args:
    module: the script's module object (`sys.modules[__name__]`).
    **overrides: values written instead of the flags' own, e.g. a default
      resolved at run time.

  Returns:
    One `--name=value` line per flag; unset flags (value None) are left out,
    so their defaults apply on rerun.
  """
  lines = []
  for flag in sorted(flags.FLAGS.get_flags_for_module(module),
                     key=lambda f: f.name):
    if flag.name in overrides:
      lines.append(f"--{flag.name}={overrides[flag.name]}")
    elif flag.value is not None:
      lines.append(flag.serialize())
  return "".join(line + "\n" for line in lines)
