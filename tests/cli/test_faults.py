"""Faults around the `gantape train` command itself, in real processes.

A second process on a workdir in use, and a workdir the command cannot
write to: each is refused in one line, and every checkpoint and metrics row
present before is still there after. (Faults inside a run are injected in
tests/training/test_faults.py, in this process.)
"""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys

import pytest
from absl import flags

from gantape import train as train_lib
from gantape.cli import common
from gantape.training import checkpoint_files
from gantape.training import lock as lock_lib
from tests.cli.test_commands import Run, TINY, iteration_of, write_data
from tests.conftest import REPO_ROOT, make_fake_mnist


def gantape_train(args):
  """`python -m gantape train ARGS` to the end: (exit code, stderr lines)."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  proc = subprocess.run([sys.executable, "-m", "gantape", "train"] + args,
                        cwd=REPO_ROOT, env=env, capture_output=True,
                        text=True, timeout=300)
  return proc.returncode, proc.stderr.strip().splitlines()


def snapshot(workdir):
  """The checkpoint files' names and the metrics lines of `workdir`.

  A save that a kill -9 cut short leaves `ckpt-N_temp*` files, which the
  next start removes by design: they are not checkpoints, so not listed.
  """
  ckpts = sorted(name for name in
                 os.listdir(os.path.join(workdir, "checkpoints"))
                 if "_temp" not in name)
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return ckpts, f.read().splitlines()


def test_second_run_on_a_workdir_in_use_is_refused(tmp_path):
  data = write_data(str(tmp_path))
  workdir = str(tmp_path / "run")
  args = [f"--data_path={data}", f"--workdir={workdir}", "--variant=gan",
          "--steps=100000", "--checkpoint_every=3",
          "--keep_checkpoints=1000"] + TINY
  first = Run(args)
  try:
    first.wait_for(lambda line: iteration_of(line) >= 4)
    code, err = gantape_train(args)
    assert code == 2, err[-20:]
    assert not any("Traceback" in line for line in err)
    refusals = [line for line in err if line.startswith("error:")]
    assert len(refusals) == 1 and re.fullmatch(
        rf"error: workdir {re.escape(repr(workdir))} is in use by another "
        rf"training run \(pid {first.proc.pid} on \S+, since [-0-9T:]+\); "
        rf"wait for it to end or stop it, or pass another --workdir.",
        refusals[0]), err[-5:]
    # The first run went on untouched, to a checkpoint or two more.
    seen = max(map(iteration_of, first.seen))
    first.wait_for(lambda line: iteration_of(line) >= seen + 7)
  finally:
    first.proc.send_signal(signal.SIGKILL)
    first.finish()
  before = snapshot(workdir)
  # The newest checkpoint the state file lists: a kill between writing a
  # checkpoint's files and listing it leaves files of a newer one.
  latest = int(checkpoint_files.listed(f"{workdir}/checkpoints")[-1]
               .rsplit("-", 1)[1])

  # kill -9 leaves no stale lock: the rerun resumes at once.
  rerun = Run([f"--flagfile={workdir}/flags.txt", f"--steps={latest + 2}"])
  assert rerun.wait_for(lambda line: True) == (
      f"Resumed from {workdir}/checkpoints/ckpt-{latest} at iteration "
      f"{latest}.")
  code, err = rerun.finish()
  assert code == 0, err[-3000:]
  ckpts, rows = snapshot(workdir)
  assert set(before[0]) <= set(ckpts)
  assert rows[:latest] == before[1][:latest]  # one row per iteration to it
  assert not os.path.exists(os.path.join(workdir, lock_lib.LOCK_FILE))


@contextlib.contextmanager
def unwritable(folder):
  """`folder` made unwritable for this process, even when it runs as root."""
  if os.geteuid() != 0:
    os.chmod(folder, 0o555)
    try:
      yield
    finally:
      os.chmod(folder, 0o755)
    return
  # Root ignores permission bits, not the immutable attribute (ext4, xfs).
  made = subprocess.run(["chattr", "+i", folder], capture_output=True,
                        check=False) if _has_chattr() else None
  if made is None or made.returncode != 0:
    pytest.skip("running as root, where permission bits do not apply, and "
                "`chattr +i` is unavailable on this filesystem: an "
                "unwritable workdir cannot be made (tests/training/"
                "test_faults.py covers the message with a patch)")
  try:
    yield
  finally:
    subprocess.run(["chattr", "-i", folder], check=True)


def _has_chattr():
  return any(os.access(os.path.join(d, "chattr"), os.X_OK)
             for d in os.environ.get("PATH", "").split(os.pathsep))


def test_unwritable_workdir_is_one_line_and_exit_2(tmp_path):
  data = write_data(str(tmp_path))
  workdir = str(tmp_path / "run")
  train_lib.train(train_lib.TrainConfig(
      workdir=workdir, variant="gan", steps=2, batch_size=16,
      iterations_per_call=1, log_every=1, checkpoint_every=1),
                  dataset=make_fake_mnist(num_train=256, num_test=32),
                  log=lambda line: None)  # write_data's digits
  before, listing = snapshot(workdir), sorted(os.listdir(workdir))
  with unwritable(workdir):
    code, err = gantape_train([f"--data_path={data}", f"--workdir={workdir}",
                               "--variant=gan", "--steps=4"] + TINY)
  assert code == 2, err[-20:]
  assert not any("Traceback" in line for line in err)
  reason = "Operation not permitted" if os.geteuid() == 0 else (
      "Permission denied")
  assert [line for line in err if line.startswith("error:")] == [
      f"error: cannot write to the workdir {workdir!r} ({reason}); make it "
      f"writable for this user, or pass another --workdir."]
  assert snapshot(workdir) == before
  assert sorted(os.listdir(workdir)) == listing


def test_resume_keeps_the_settings_whose_flags_are_not_given(tmp_path,
                                                             capsys):
  """The same command less --keep_checkpoints keeps the run's 100, not the
  default 3 (which would delete checkpoints); in this process, as the
  harness of test_commands.py calls a command."""
  # pylint: disable=g-import-not-at-top
  from gantape.cli import train as train_cli
  data = write_data(str(tmp_path))
  workdir = str(tmp_path / "run")
  ckpt_dir = f"{workdir}/checkpoints"
  args = [f"--data_path={data}", f"--workdir={workdir}", "--variant=gan",
          "--checkpoint_every=1"] + TINY

  def gantape_train(more):
    flags.FLAGS.unparse_flags()
    return train_cli.main(common.parse_flags(["gantape train"] + args + more))
  try:
    assert gantape_train(["--steps=3", "--keep_checkpoints=100"]) == 0
    capsys.readouterr()
    assert gantape_train(["--steps=6", "--learning_rate=5e-4"]) == 0
  finally:
    flags.FLAGS.unparse_flags()
  out, err = capsys.readouterr()
  assert err == ""
  assert out.splitlines()[0] == (
      f"Resumed from {ckpt_dir}/ckpt-3 at iteration 3; changed: "
      f"learning_rate 0.001 -> 0.0005.")
  assert checkpoint_files.listed(ckpt_dir) == [
      f"{ckpt_dir}/ckpt-{n}" for n in range(7)]
  with open(f"{workdir}/run.json") as f:
    run = json.load(f)
  assert (run["keep_checkpoints"], run["learning_rate"]) == (100, 5e-4)
  with open(f"{workdir}/flags.txt") as f:
    lines = f.read().splitlines()
  assert "--keep_checkpoints=100" in lines and "--steps=6" in lines
  assert "--allow_data_change=False" in lines
