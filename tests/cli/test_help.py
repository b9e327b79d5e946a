"""`--help`, `--version` and usage errors answer at once, without TensorFlow.

Each case is a subprocess, as a user types it: what is tested is the start
of the command itself. `gantape.cli` imports no TensorFlow until a command
runs, so each takes a fraction of a second.
"""

import subprocess
import sys
import time

import pytest

import gantape
from gantape import cli
from gantape.cli import common
from tests.conftest import REPO_ROOT

# Generous: about 0.3 s on 2 CPU cores, against 5-16 s when the CLI imported
# TensorFlow before parsing its flags.
SECONDS = 5.0

# Checks the command did not import TensorFlow, then exits with its code.
_NO_TENSORFLOW = """
import sys
from gantape import cli
from gantape.cli import common
try:
  code = cli.main(["gantape"] + sys.argv[1:])
except SystemExit as e:
  code = e.code
assert "tensorflow" not in sys.modules, "imported TensorFlow"
sys.exit(code)
"""


def run_gantape(*args):
  """Runs `gantape ARGS` without TensorFlow; returns (process, seconds)."""
  start = time.perf_counter()
  proc = subprocess.run([sys.executable, "-c", _NO_TENSORFLOW, *args],
                        cwd=REPO_ROOT, capture_output=True, text=True,
                        timeout=60)
  return proc, time.perf_counter() - start


@pytest.mark.parametrize("command", list(cli.COMMANDS))
def test_every_command_help_exits_0_at_once(command):
  proc, seconds = run_gantape(command, "--help")
  assert proc.returncode == 0, proc.stderr
  assert seconds < SECONDS
  assert proc.stdout.startswith(f"usage: gantape {command} ")
  # Only gantape's flags: neither absl's test flags nor TensorFlow's.
  for other in ("--test_tmpdir", "--xml_output_file", "--helpfull",
                "--verbosity", "--only_check_args"):
    assert other not in proc.stdout


def test_train_help_lists_its_flags_in_groups():
  proc, _ = run_gantape("train", "--helpfull")
  assert proc.returncode == 0, proc.stderr
  headings = [line for line in proc.stdout.splitlines()
              if line.endswith(":") and not line.startswith(" ")]
  assert headings == [
      "run:", "data:", "optimizer and schedule:",
      "variant options (the variants that take each come first):",
      "evaluation:", "performance:", "distribution:"]
  sections = dict(
      (part.split(":\n", 1)[0].splitlines()[-1], part)
      for part in proc.stdout.split("\n\n") if ":\n  --" in part)
  assert "--dataset=<mnist|colour_mnist|fashion_mnist|cifar10|folder>" in sections["data"]
  assert "--learning_rate=<float>" in sections["optimizer and schedule"]
  assert "--[no]jit_compile  (default: false)" in sections["performance"]
  options = sections[headings[3][:-1]]
  assert ("--n_critic=<int>\n      gan, dcgan, ssgan, cgan, wgan_gp: "
          "discriminator (critic) updates") in options
  assert "--r1_gamma=<float>\n      gan, dcgan, ssgan, cgan: weight" in options


@pytest.mark.parametrize("args, message", [
    (["sample"], "error: --workdir, --output are required; see gantape "
     "sample --help.\n"),
    (["train", "--steps=x"], "error: flag --steps=x: invalid literal for "
     "int() with base 10: 'x'; see gantape train --help.\n"),
    (["train", "--nope=1"], "error: Unknown command line flag 'nope'; see "
     "gantape train --help.\n"),
    (["frob"], "error: unknown command 'frob'; choose one of train, sample, "
     "evaluate, export, benchmark, report, train-classifier (gantape "
     "--help).\n"),
])
def test_usage_error_is_one_line_exit_2_at_once(args, message):
  proc, seconds = run_gantape(*args)
  assert proc.returncode == 2
  assert proc.stderr == message
  assert seconds < SECONDS


def test_version():
  proc, seconds = run_gantape("--version")
  assert proc.returncode == 0, proc.stderr
  assert proc.stdout == f"gantape {gantape.__version__}\n"
  assert seconds < SECONDS


def test_evaluate_prints_a_table_of_its_result():
  table = common.metric_table({
      "fcd": 12.3456, "kid": 0.001234, "num_samples": 10000,
      "class_histogram": {"0": 0.5, "1": 0.5}, "skipped": {}})
  assert table.splitlines() == [
      "metric           value",
      "class_histogram  0:0.5 1:0.5",
      "fcd              12.35",
      "kid              0.001234",
      "num_samples      10000",
      "skipped          "]


def test_a_stopped_run_exits_without_the_teardown(monkeypatch):
  exits = []
  monkeypatch.setattr(common.os, "_exit", exits.append)
  assert common._exit_at_once_if_stopped(0) == 0  # pylint: disable=protected-access
  assert common._exit_at_once_if_stopped(2) == 2  # pylint: disable=protected-access
  assert exits == []
  common._exit_at_once_if_stopped(130)  # pylint: disable=protected-access
  common._exit_at_once_if_stopped(143)  # pylint: disable=protected-access
  assert exits == [130, 143]
