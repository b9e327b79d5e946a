"""A workdir damaged at random: every command fails in one line or works,
and nothing present before is lost.

A tiny run is trained once per module; each case copies it, damages one of
its files (`DAMAGES`, one file and one kind of damage per case, drawn from
`SEED`), then runs `gantape train` (resume to iteration 6), `sample`,
`evaluate` and `export` on it, in this process, as the commands run them
(`gantape.cli.common.run`: an exit code and one `error:` line, a traceback
for anything else). Each command must exit 0, or 1 or 2 with exactly one
`error:` line (warnings beside it allowed); every checkpoint left intact
by the damage, every metrics row up to the iteration the run resumed from
and every file outside the workdir must still be there after.
docs/troubleshooting.md ("Faults and guarantees") cites `CASES` and `SEED`.
"""

import glob
import json
import os
import random
import re
import shutil
import time

import numpy as np
import pytest
import tensorflow as tf

from gantape import train as train_lib
from gantape.cli import common as cli
from gantape.evaluation import classifier as classifier_lib
from gantape.evaluation import workdir as evaluation_workdir
from gantape.training import checkpoint_files
from gantape.training import export
from tests.conftest import make_fake_mnist

CASES = 8
SEED = 27
# The files a damage picks from, relative to the workdir.
FILES = ("run.json", "flags.txt", "metrics.jsonl", "loss_curves.png",
         "samples/final.png", "checkpoints/checkpoint",
         "checkpoints/ckpt-4.index", "checkpoints/ckpt-4.data-00000-of-00001",
         "checkpoints/ckpt-2.index", "evaluation.json")
DAMAGES = ("truncate", "delete", "symlink", "garble", "future_mtime",
           "future_timestamps")
YEAR = 365 * 24 * 3600
RESUMED = re.compile(r"^Resumed from \S+ at iteration (\d+)\.$")


def config(workdir, data_path, steps=4):
  return train_lib.TrainConfig(
      workdir=str(workdir), variant="gan", steps=steps, batch_size=16,
      iterations_per_call=2, log_every=1, sample_every=1000,
      checkpoint_every=2, keep_checkpoints=10, data_path=str(data_path))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """(workdir, data path, classifier path): a run at iteration 4 with
  ckpt-0, 2, 4, scored once by `evaluate` with a tiny classifier."""
  root = tmp_path_factory.mktemp("fuzz")
  data = make_fake_mnist(num_train=64, num_test=20)
  data_path = root / "mnist.npz"
  np.savez(data_path, x_train=data.x_train, y_train=data.y_train,
           x_test=data.x_test, y_test=data.y_test)
  workdir = root / "run"
  train_lib.train(config(workdir, data_path), log=lambda line: None,
                  flags_text=f"--workdir={workdir}\n--steps=4\n")
  tiny = classifier_lib.ClassifierConfig(width=4, feature_dim=8, epochs=1,
                                         batch_size=16)
  classifier = str(root / "classifier.weights.h5")
  classifier_lib.load_or_train_classifier(data, tiny, path=classifier,
                                          log=lambda line: None)
  evaluation_workdir.evaluate_workdir(str(workdir), num_samples=20,
                                      classifier=classifier,
                                      log=lambda line: None)
  return workdir, data_path, classifier


def cases():
  """`CASES` (file, damage) pairs: future timestamps in the state file,
  then pairs drawn from `SEED` without repeats."""
  rng = random.Random(SEED)
  pairs = [(f, d) for f in FILES for d in DAMAGES if d != "future_timestamps"]
  return [("checkpoints/checkpoint", "future_timestamps")] + rng.sample(
      pairs, min(CASES - 1, len(pairs)))  # CASES = 51: every pair


def damage(path, how, rng, victim):
  """Damages the file at `path` in the way `how` names."""
  if how == "delete":
    os.remove(path)
  elif how == "truncate":
    with open(path, "r+b") as f:
      f.truncate(os.path.getsize(path) // 2)
  elif how == "garble":
    raw = bytearray(path.read_bytes())
    for i in rng.sample(range(len(raw)), min(len(raw), 16)):
      raw[i] = rng.randrange(256)
    path.write_bytes(bytes(raw))
  elif how == "symlink":
    os.remove(path)
    os.symlink(victim, path)
  elif how == "future_mtime":
    future = time.time() + YEAR
    os.utime(path, (future, future))
  elif how == "future_timestamps":
    text = path.read_text().splitlines()
    path.write_text("\n".join(
        line.split(":")[0] + f": {time.time() + YEAR!r}"
        if "timestamp" in line else line for line in text) + "\n")


def checkpoints_of(workdir):
  """{name: (iteration, bytes of its files)} of the checkpoints that load."""
  found = {}
  for prefix in checkpoint_files.found_on_disk(str(workdir / "checkpoints")):
    try:
      step = int(tf.train.load_variable(
          prefix, "global_step/.ATTRIBUTES/VARIABLE_VALUE"))
    except Exception:  # pylint: disable=broad-except
      continue  # damaged: not something a command can lose
    files = sorted(glob.glob(glob.escape(prefix) + ".*"))
    found[os.path.basename(prefix)] = (step, [open(f, "rb").read()
                                              for f in files])
  return found


def metrics_rows(workdir):
  path = workdir / "metrics.jsonl"
  if os.path.islink(path) or not path.exists():
    return []
  rows = []
  for line in path.read_text(errors="replace").splitlines():
    try:
      rows.append((json.loads(line)["step"], line))
    except (ValueError, KeyError, TypeError):
      pass
  return rows


def command(name, fn, capsys):
  """(exit code, stderr lines) of `fn` run as the command `name` runs it."""
  code = cli.run(fn)
  err = capsys.readouterr().err.strip().splitlines()
  errors = [line for line in err if line.startswith("error:")]
  others = [line for line in err if not line.startswith(
      ("error:", "warning:", "note:"))]
  assert not others, (name, err)
  assert (code == 0 and not errors) or (code in (1, 2) and len(errors) == 1), (
      name, code, err)
  return code, err


@pytest.mark.parametrize("case", range(CASES))
def test_a_damaged_workdir_fails_in_one_line_and_loses_nothing(
    trained, tmp_path, capsys, case):
  check_damage(trained, tmp_path, capsys, *cases()[case])


@pytest.mark.parametrize("file, how", [
    ("checkpoints/ckpt-4.index", "symlink"),  # TF writes ckpt-4.index again
    ("checkpoints/checkpoint", "garble"),     # TF decodes it as UTF-8
    ("metrics.jsonl", "garble")])             # so did the resume
def test_damages_that_once_escaped(trained, tmp_path, capsys, file, how):
  """Pairs a run of all 51 (file, damage) pairs found: a run resumed from
  ckpt-2 wrote ckpt-4.index through a link planted there, and a state file
  or a metrics.jsonl of invalid UTF-8 was a traceback."""
  check_damage(trained, tmp_path, capsys, file, how)


def check_damage(trained, tmp_path, capsys, file, how):
  """Damages `file` of a copy of `trained` as `how` says, runs the four
  commands, and checks the module docstring's guarantees."""
  source, data_path, classifier = trained
  rng = random.Random(f"{SEED}/{file}/{how}")
  workdir = tmp_path / "run"
  shutil.copytree(source, workdir, symlinks=True)
  victim = tmp_path / "victim.txt"
  victim.write_text("a file of the user's\n")
  damage(workdir / file, how, rng, victim)
  ckpts, rows = checkpoints_of(workdir), metrics_rows(workdir)
  outside = sorted(os.listdir(tmp_path))

  out = tmp_path / "out"
  results = {
      "sample": command("sample", lambda: export.write_samples(
          str(workdir), str(out / "s.npz"), 8), capsys),
      "export": command("export", lambda: export.export_generator(
          str(workdir), str(out / "model")), capsys),
      "evaluate": command("evaluate", lambda: evaluation_workdir
                          .evaluate_workdir(str(workdir), num_samples=20,
                                            classifier=classifier,
                                            log=lambda line: None), capsys),
  }
  lines = []
  results["train"] = command("train", lambda: train_lib.train(
      config(workdir, data_path, steps=6), log=lines.append), capsys)

  assert victim.read_text() == "a file of the user's\n", results
  assert sorted(set(os.listdir(tmp_path)) - {"out"}) == outside
  # What the run resumed from; a run that trained from 0 over checkpoints
  # would have overwritten them.
  resumed = [int(m.group(1)) for m in map(RESUMED.search, lines) if m]
  if results["train"][0] != 0:
    start = max([step for step, _ in ckpts.values()], default=0)
  else:
    assert resumed or not ckpts, ("trained from 0", lines)
    start = resumed[0] if resumed else 0
  after = checkpoints_of(workdir)
  for name, (step, content) in ckpts.items():
    if step <= start:
      assert after.get(name) == (step, content), (name, results)
  now = metrics_rows(workdir)
  for step, line in rows:
    if step <= start:
      assert (step, line) in now, (step, results)
    else:  # redone by the resumed run
      assert step in [s for s, _ in now], (step, results)


def test_steps_below_the_reached_iteration_say_so(trained, tmp_path, capsys):
  """Not "Done: iteration 4/2": the run says it trained nothing, and why."""
  source, data_path, _ = trained
  workdir = tmp_path / "run"
  shutil.copytree(source, workdir)
  before = checkpoints_of(workdir), metrics_rows(workdir)
  lines = []
  code, err = command("train", lambda: train_lib.train(
      config(workdir, data_path, steps=2), log=lines.append), capsys)
  assert code == 0 and err == []
  assert lines == [
      f"Resumed from {workdir}/checkpoints/ckpt-4 at iteration 4.",
      f"Nothing to train: the workdir {workdir} is at iteration 4, past "
      f"--steps=2; pass a --steps above 4 to train further.",
      f"Done: nothing trained; the latest checkpoint is still "
      f"{workdir}/checkpoints/ckpt-4 (iteration 4)."]
  assert (checkpoints_of(workdir), metrics_rows(workdir)) == before
