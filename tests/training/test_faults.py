"""Faults injected into a training workdir: nothing present before is lost.

Each test makes a tiny run (the MLP GAN on fake digits), injects one fault,
and checks the exit code and the one line the command would print (through
`gantape.cli.common.run`, as `gantape train` calls it), and that every
checkpoint and metrics row present before the fault is still there after it.
"""

import dataclasses
import errno
import json
import os
import re
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantape import checkpoints
from gantape import train as train_lib
from gantape import variants
from gantape.cli import common as cli
from gantape.errors import NonFiniteLossError, UsageError
from gantape.training import actions as actions_lib
from gantape.training import checkpoint_files
from gantape.training import config as config_lib
from gantape.training import lock as lock_lib
from gantape.training import memory
from gantape.training import resume as resume_lib
from gantape.training import workdir as workdir_lib
from gantape.training.runner import Progress
from tests.conftest import make_fake_mnist


def config(workdir, **overrides):
  """4 iterations, a checkpoint every 2, none rotated away."""
  options = dict(workdir=str(workdir), variant="gan", steps=4, batch_size=16,
                 iterations_per_call=2, log_every=1, sample_every=1000,
                 checkpoint_every=2, keep_checkpoints=10)
  options.update(overrides)
  return train_lib.TrainConfig(**options)


def quiet(line):
  del line


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """A finished 4-iteration run (ckpt-0, 2, 4), trained once per module."""
  workdir = tmp_path_factory.mktemp("trained") / "run"
  train_lib.train(config(workdir), dataset=make_fake_mnist(), log=quiet,
                  flags_text="--batch_size=16\n")
  return workdir


@pytest.fixture
def workdir(trained, tmp_path):
  """A copy of `trained` for one test to damage."""
  copy = tmp_path / "run"
  shutil.copytree(trained, copy)
  return copy


def run_command(cfg, mnist, capsys, **kwargs):
  """Trains as `gantape train` does; returns (exit code, log, stderr lines)."""
  lines = []
  code = cli.run(lambda: train_lib.train(cfg, dataset=mnist, log=lines.append,
                                         **kwargs))
  return code, lines, capsys.readouterr().err.strip().splitlines()


def snapshot(workdir):
  """The workdir's checkpoints (prefix -> iteration) and metrics lines."""
  ckpts = {}
  for prefix in checkpoint_files.found_on_disk(str(workdir / "checkpoints")):
    ckpts[prefix] = int(tf.train.load_variable(
        prefix, "global_step/.ATTRIBUTES/VARIABLE_VALUE"))
  metrics = workdir / "metrics.jsonl"
  rows = metrics.read_text().splitlines() if metrics.exists() else []
  return ckpts, rows


def assert_kept(before, workdir, *, up_to=None):
  """Every checkpoint and metrics row of `before` (to `up_to`) is still there.

  Rows past `up_to` are the iterations a resume redoes: they must be there
  again, for the same steps.
  """
  ckpts, rows = snapshot(workdir)
  for prefix, step in before[0].items():
    if up_to is None or step <= up_to:
      assert ckpts.get(prefix) == step, prefix
  steps = [json.loads(r)["step"] for r in rows]
  for row in before[1]:
    if up_to is None or json.loads(row)["step"] <= up_to:
      assert row in rows
    else:
      assert json.loads(row)["step"] in steps


def test_lost_state_file_resumes_from_the_files(workdir, fake_mnist, capsys):
  before = snapshot(workdir)
  ckpt_dir = workdir / "checkpoints"
  (ckpt_dir / "checkpoint").unlink()

  # Readers find the checkpoints from their files.
  warnings = []
  restored = checkpoints.restore_from_workdir(str(workdir), log=warnings.append)
  assert restored.step == 4
  assert warnings == [f"warning: {ckpt_dir}/checkpoint (the list of "
                      f"checkpoints) is missing; using the 3 checkpoint(s) "
                      f"found on disk."]

  code, lines, err = run_command(config(workdir, steps=6), fake_mnist, capsys)
  assert code == 0 and err == []
  assert lines[:2] == [
      f"warning: {ckpt_dir}/checkpoint (the list of checkpoints) was missing; "
      f"rebuilt it from the 3 checkpoint(s) found on disk, newest "
      f"{ckpt_dir}/ckpt-4.",
      f"Resumed from {ckpt_dir}/ckpt-4 at iteration 4."]
  assert_kept(before, workdir)
  assert [json.loads(r)["step"] for r in snapshot(workdir)[1]] == list(
      range(1, 7))
  # The rebuilt list is the manager's again: it names every checkpoint.
  assert checkpoint_files.listed(str(ckpt_dir)) == [
      f"{ckpt_dir}/ckpt-{n}" for n in (0, 2, 4, 6)]

  # Checkpoints gone altogether but metrics left: starting over would
  # erase them, so the run refuses.
  before = snapshot(workdir)
  for name in os.listdir(ckpt_dir):
    os.remove(ckpt_dir / name)
  code, _, err = run_command(config(workdir, steps=8), fake_mnist, capsys)
  assert code == 2
  assert err == [
      f"error: {str(workdir)!r} holds metrics.jsonl records but no checkpoint "
      f"to resume them from; starting over would erase them. Use a new "
      f"--workdir, or move metrics.jsonl away to start over here."]
  assert snapshot(workdir)[1] == before[1]
  assert not os.listdir(ckpt_dir)


def test_damaged_index_falls_back_to_the_older_checkpoint(workdir,
                                                          fake_mnist, capsys):
  before = snapshot(workdir)
  ckpt_dir = workdir / "checkpoints"
  index = ckpt_dir / "ckpt-4.index"
  whole = index.read_bytes()
  for damaged in (b"", whole[:40]):  # empty, truncated
    index.write_bytes(damaged)
    # sample, export and evaluate read the workdir through this, and warn.
    warnings = []
    assert checkpoints.restore_from_workdir(
        str(workdir), log=warnings.append).step == 2
    assert len(warnings) == 1 and warnings[0].startswith(
        f"warning: cannot restore {ckpt_dir}/ckpt-4 (")
    assert warnings[0].endswith("); trying an older checkpoint.")

  code, lines, err = run_command(config(workdir, steps=6), fake_mnist, capsys)
  assert code == 0 and err == []
  assert lines[0] == warnings[0]
  assert lines[1] == f"Resumed from {ckpt_dir}/ckpt-2 at iteration 2."
  assert_kept(before, workdir, up_to=2)
  assert snapshot(workdir)[0][f"{ckpt_dir}/ckpt-4"] == 4  # saved again, whole


def test_resume_refuses_fixed_settings_before_writing(workdir, fake_mnist,
                                                      capsys):
  records = {name: (workdir / name).read_bytes()
             for name in ("run.json", "flags.txt")}
  before = snapshot(workdir)
  changes = [("batch_size", 32, "16", "32"), ("seed", 1, "0", "1"),
             ("updates_per_batch", 1, "2", "1"), ("beta_1", 0.5, "0.9", "0.5"),
             ("ema_decay", 0.99, "0.999", "0.99")]
  for key, value, old, new in changes:
    code, _, err = run_command(config(workdir, steps=6, **{key: value}),
                               fake_mnist, capsys)
    assert code == 2
    assert err == [
        f"error: workdir {str(workdir)!r} holds a run with {key}={old}, not "
        f"{new}; use a new --workdir, or the same {key} to resume it "
        f"(--{key}={old}). Only these may change on resume: "
        f"{', '.join(resume_lib.MAY_CHANGE_ON_RESUME)}."]
    for name, content in records.items():
      assert (workdir / name).read_bytes() == content, (key, name)
    assert snapshot(workdir) == before
  # What may change does.
  code, _, _ = run_command(
      config(workdir, steps=6, learning_rate=5e-4, log_every=2,
             checkpoint_every=3, keep_checkpoints=8, iterations_per_call=3),
      fake_mnist, capsys, flags_text="--learning_rate=5e-4\n")
  assert code == 0
  assert json.loads((workdir / "run.json").read_text())[
      "learning_rate"] == 5e-4
  assert_kept(before, workdir)


def test_fixed_and_changeable_settings_cover_the_config_and_its_help():
  names = {f.name for f in dataclasses.fields(config_lib.TrainConfig)}
  may, fixed = (set(resume_lib.MAY_CHANGE_ON_RESUME),
                set(resume_lib.FIXED_ON_RESUME))
  assert may | fixed | {"workdir"} == names and not may & fixed
  for field in dataclasses.fields(config_lib.TrainConfig):
    if "help" in field.metadata and field.name != "workdir":
      says = "may change on resume" in field.metadata["help"].lower()
      assert says == (field.name in may), field.name


def test_workdir_in_use_is_refused(workdir, fake_mnist, capsys):
  before = snapshot(workdir)
  # flock is per open file: another open in this process conflicts too.
  with lock_lib.WorkdirLock() as other:
    other.acquire(str(workdir))
    code, _, err = run_command(config(workdir, steps=6), fake_mnist, capsys)
    assert code == 2 and len(err) == 1
    assert re.fullmatch(
        rf"error: workdir {re.escape(repr(str(workdir)))} is in use by another "
        rf"training run \(pid {os.getpid()} on \S+, since [-0-9T:]+\); wait "
        rf"for it to end or stop it, or pass another --workdir.", err[0])
    assert snapshot(workdir) == before
  code, _, _ = run_command(config(workdir, steps=6), fake_mnist, capsys)
  assert code == 0
  assert_kept(before, workdir)
  assert not (workdir / lock_lib.LOCK_FILE).exists()  # released, removed


def test_unwritable_workdir_is_a_usage_error(workdir, fake_mnist, capsys,
                                             monkeypatch):
  before = snapshot(workdir)
  listing = sorted(os.listdir(workdir))

  def denied(path):
    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
  # Root ignores permission bits; tests/cli/test_faults.py runs the command
  # as an unprivileged user on a read-only workdir.
  monkeypatch.setattr(lock_lib, "_open", denied)
  code, _, err = run_command(config(workdir, steps=6), fake_mnist, capsys)
  assert code == 2
  assert err == [f"error: cannot write to the workdir {str(workdir)!r} "
                 f"(Permission denied); make it writable for this user, or "
                 f"pass another --workdir."]
  assert sorted(os.listdir(workdir)) == listing
  assert snapshot(workdir) == before


def partial_save(ckpt_dir, number, error):
  """A `CheckpointManager.save` that fills the disk at `number`, as
  TensorFlow does: a partial `_temp` folder and index, then `error`."""
  save = tf.train.CheckpointManager.save

  def patched(manager, checkpoint_number=None, **kwargs):
    if checkpoint_number != number:
      return save(manager, checkpoint_number=checkpoint_number, **kwargs)
    temp = ckpt_dir / f"ckpt-{number}_temp"
    temp.mkdir()
    (temp / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"x" * 99)
    (ckpt_dir / f"ckpt-{number}.index").write_bytes(b"\x00")
    raise error
  return patched


def test_disk_full_during_a_save_keeps_the_earlier_checkpoints(
    workdir, fake_mnist, capsys, monkeypatch):
  ckpt_dir = workdir / "checkpoints"
  before = snapshot(workdir)
  monkeypatch.setattr(tf.train.CheckpointManager, "save", partial_save(
      ckpt_dir, 6, tf.errors.ResourceExhaustedError(
          None, None, "ckpt-6_temp/part; No space left on device")))
  code, _, err = run_command(config(workdir, steps=6), fake_mnist, capsys)
  assert code == 1
  assert err == [
      f"error: cannot save the checkpoint {ckpt_dir}/ckpt-6 (no space left on "
      f"device; ResourceExhaustedError: ckpt-6_temp/part; No space left on "
      f"device); its partial files were removed and the earlier checkpoints "
      f"are intact (latest: {ckpt_dir}/ckpt-4). Free some space (or make "
      f"{ckpt_dir} writable) and rerun the same command to resume."]
  assert not [n for n in os.listdir(ckpt_dir) if n.startswith("ckpt-6")]
  assert_kept(before, workdir, up_to=4)
  monkeypatch.undo()

  # The same from an OSError, on a manager of its own (no second run).
  variable = tf.Variable(1.0)
  manager = tf.train.CheckpointManager(
      tf.train.Checkpoint(v=variable), str(workdir / "other"), 5)
  manager.save(checkpoint_number=1)
  monkeypatch.setattr(tf.train.CheckpointManager, "save", partial_save(
      workdir / "other", 2, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))))
  with pytest.raises(checkpoint_files.CheckpointWriteError, match=re.escape(
      "(no space left on device; OSError: [Errno 28] No space left on "
      f"device); its partial files were removed and the earlier checkpoints "
      f"are intact (latest: {workdir}/other/ckpt-1).")):
    checkpoint_files.save(manager, 2)
  assert sorted(os.listdir(workdir / "other")) == [
      "checkpoint", "ckpt-1.data-00000-of-00001", "ckpt-1.index"]
  monkeypatch.undo()

  # A temp folder that a kill -9 mid-save left is removed on the next start.
  (ckpt_dir / "ckpt-5_temp").mkdir()
  (ckpt_dir / "ckpt-5_temp" / "part-00000-of-00001.index").write_bytes(b"")
  before = snapshot(workdir)
  code, _, _ = run_command(config(workdir, steps=6), fake_mnist, capsys)
  assert code == 0
  assert not (ckpt_dir / "ckpt-5_temp").exists()
  assert_kept(before, workdir, up_to=4)
  assert snapshot(workdir)[0][f"{ckpt_dir}/ckpt-6"] == 6


def test_a_batch_too_big_for_memory_is_refused_before_writing(
    workdir, tmp_path, fake_mnist, capsys, monkeypatch):
  # The case, DCGAN at a batch of 100,000, against 16 GiB free: the
  # floor of its activations is 98 GiB.
  monkeypatch.setattr(memory, "available_bytes", lambda: 16 * 2**30)
  with pytest.raises(UsageError, match=re.escape(
      "batch_size=100000 needs at least 98.4 GiB for the step's activations "
      "(2.0 MiB per example, 2 update(s) per batch), more than the 16.0 GiB "
      "of memory available; pass a --batch_size of at most 16256.")):
    memory.check(variants.build("dcgan"), batch_size=100000,
                 updates_per_batch=2)
  memory.check(variants.build("dcgan"), batch_size=64, updates_per_batch=2)

  # Through the loop: a fresh workdir is never made, an existing one is
  # left as it was. (The MLP GAN: 4.6 KiB per example; 20 KiB free.)
  monkeypatch.setattr(memory, "available_bytes", lambda: 20 * 2**10)
  fresh = tmp_path / "fresh"
  code, _, err = run_command(config(fresh, batch_size=32), fake_mnist, capsys)
  assert code == 2 and len(err) == 1
  assert err == ["error: batch_size=32 needs at least 73.1 KiB for the step's "
                 "activations (4.6 KiB per example, 2 update(s) per batch), "
                 "more than the 20.0 KiB of memory available; pass a "
                 "--batch_size of at most 8."]
  assert not fresh.exists()
  before, listing = snapshot(workdir), sorted(os.listdir(workdir))
  code, _, err = run_command(config(workdir, steps=6), fake_mnist, capsys)
  assert code == 2 and err[0].startswith("error: batch_size=16 needs")
  assert snapshot(workdir) == before and sorted(os.listdir(workdir)) == listing


class ReplayStep:
  """A stand-in `TrainStep` whose loss turns NaN at iteration 5, but only at
  the resumed run's learning rate (so a replay at the checkpoint's rate would
  not find it)."""

  def __init__(self, learning_rate):
    self.global_step = tf.Variable(0, dtype=tf.int64)
    self.d_optimizer = keras.optimizers.Adam(learning_rate)
    self.g_optimizer = keras.optimizers.Adam(learning_rate)

  def __call__(self, iterator, num_iterations):
    del iterator
    self.global_step.assign_add(num_iterations)
    bad = (int(self.global_step.numpy()) >= 5
           and float(self.d_optimizer.learning_rate.numpy()) < 1e-3)
    return {"d_loss": tf.constant(np.nan if bad else 0.5),
            "d_grad_norm": tf.constant(1.0)}


def test_nan_replay_uses_this_runs_learning_rate(tmp_path, capsys):
  step = ReplayStep(1e-3)
  checkpoint = tf.train.Checkpoint(global_step=step.global_step,
                                   d_optimizer=step.d_optimizer,
                                   g_optimizer=step.g_optimizer)
  manager = tf.train.CheckpointManager(checkpoint, str(tmp_path / "ckpts"), 3)
  step(None, 2)
  manager.save(checkpoint_number=2)  # the first run's, at 1e-3
  before = checkpoint_files.found_on_disk(str(tmp_path / "ckpts"))
  for optimizer in (step.d_optimizer, step.g_optimizer):
    optimizer.learning_rate = 5e-4  # the resume lowered it
  step(None, 4)  # iterations 3..6: the last one reports NaN
  lines = []
  guard = actions_lib.NonFiniteGuard(
      step, None, checkpoint, manager, lines.append, workdir=str(tmp_path),
      variant_name="gan", iterator_saved=True)

  def stop():
    guard(Progress(6, 2, 10, {"d_loss": float("nan"), "d_grad_norm": 1.0}))
  assert cli.run(stop) == 1
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith(
      "error: non-finite loss at iteration 5: d_loss=nan. Training stopped; "
      f"the latest checkpoint, {tmp_path}/ckpts/ckpt-2, is the last good one.")
  assert float(step.d_optimizer.learning_rate.numpy()) == pytest.approx(5e-4)
  assert checkpoint_files.found_on_disk(str(tmp_path / "ckpts")) == before


def test_saturated_discriminator_warns_once_per_streak():
  lines = []
  warn = actions_lib.SaturationWarning(lines.append, variant_name="gan")
  zero = {"d_loss": 0.0, "g_loss": 30.0, "d_grad_norm": 0.0,
          "g_grad_norm": 1e-9}
  live = dict(zero, d_grad_norm=0.3)
  calls = [(100, live)] + [(100 * i, zero) for i in range(2, 10)]
  calls += [(1000, live)] + [(100 * i, zero) for i in range(11, 13)]
  previous = 0
  for iteration, metrics in calls:
    warn(Progress(iteration, previous, 2000, metrics))
    previous = iteration
  assert len(lines) == 1  # once for the streak from 100, not at every call
  assert lines[0].startswith(
      "warning: d_grad_norm and g_grad_norm have stayed below 1e-06 since "
      "iteration 100 (300 iterations): the discriminator saturated and "
      "neither network is learning.")
  assert "--variant=wgan_gp" in lines[0]
  # A new streak after the gradients came back warns again.
  warn(Progress(1300, 1200, 2000, zero))
  assert len(lines) == 2 and "since iteration 1000 " in lines[1]


def write_state_file(ckpt_dir, lines):
  """Replaces the state file by `lines`, naming ckpt-0, 2 and 4."""
  names = [f'all_model_checkpoint_paths: "ckpt-{n}"' for n in (0, 2, 4)]
  (ckpt_dir / "checkpoint").write_text(
      "\n".join(['model_checkpoint_path: "ckpt-4"'] + names + lines) + "\n")


def test_state_file_tensorflow_would_ignore_is_rebuilt(workdir, fake_mnist,
                                                      capsys, monkeypatch):
  """Timestamps later than the clock, or none: the manager lists nothing,
  and a run must not start from 0 over the checkpoints."""
  ckpt_dir = workdir / "checkpoints"
  rebuilt = (f"warning: {ckpt_dir}/checkpoint (the list of checkpoints) has "
             f"timestamps later than this machine's clock, or none, so "
             f"TensorFlow would not resume from it; rebuilt it from the "
             f"{{}} checkpoint(s) found on disk, newest {ckpt_dir}/ckpt-4.")
  future = 4e9  # the year 2096
  cases = {"future": [f"all_model_checkpoint_timestamps: {future + n}"
                      for n in range(3)]
                     + [f"last_preserved_timestamp: {future - 1}"],
           # as tf.compat.v1.train.update_checkpoint_state writes it
           "none": []}
  for case, lines in cases.items():
    write_state_file(ckpt_dir, lines)
    for name in os.listdir(ckpt_dir):  # a newer run's files went away
      if name.startswith(("ckpt-6", "ckpt-8")):
        os.remove(ckpt_dir / name)
    before = snapshot(workdir)
    assert checkpoint_files.ignored_by_manager(str(ckpt_dir)), case
    code, lines, err = run_command(config(workdir, steps=6), fake_mnist,
                                   capsys)
    assert code == 0 and err == [], case
    assert lines[:2] == [rebuilt.format(3),
                         f"Resumed from {ckpt_dir}/ckpt-4 at iteration 4."]
    assert_kept(before, workdir, up_to=4)  # the second case redoes 5 and 6
    assert snapshot(workdir)[0][f"{ckpt_dir}/ckpt-6"] == 6

  # Should the manager still list nothing, the run refuses to start over.
  write_state_file(ckpt_dir, [])
  before, listing = snapshot(workdir), sorted(os.listdir(workdir))
  monkeypatch.setattr(checkpoint_files, "ignored_by_manager", lambda d: [])
  code, _, err = run_command(config(workdir, steps=8), fake_mnist, capsys)
  assert code == 2
  assert err == [
      f"error: {ckpt_dir} holds 4 checkpoint(s), newest {ckpt_dir}/ckpt-6, "
      f"that its checkpoint file does not list as TensorFlow resumes them; "
      f"starting over would overwrite them. Move {ckpt_dir}/checkpoint away "
      f"(it is rebuilt from the files), or use a new --workdir."]
  assert snapshot(workdir) == before
  assert sorted(os.listdir(workdir)) == listing


def test_settings_fixed_by_the_checkpoint_itself_are_refused(
    workdir, tmp_path, fake_mnist, capsys):
  """Without run.json (deleted, or a --resume_from into a new workdir), the
  checkpoint's own record refuses what does not fit it, before any write."""
  (workdir / "run.json").unlink()
  before, listing = snapshot(workdir), sorted(os.listdir(workdir))
  ckpt = workdir / "checkpoints" / "ckpt-4"
  only = ", ".join(resume_lib.MAY_CHANGE_ON_RESUME)
  changes = [("batch_size", 32, "16"), ("seed", 1, "0"),
             ("beta_1", 0.5, "0.9"), ("ema_decay", 0.99, "0.999"),
             ("preset", "seed", "'gantape'")]
  for key, value, old in changes:
    code, _, err = run_command(config(workdir, steps=6, **{key: value}),
                               fake_mnist, capsys)
    assert code == 2, key
    assert err == [
        f"error: checkpoint {ckpt} was written by a run with {key}={old}, "
        f"not {value!r}; use a new --workdir, or the same {key} to resume "
        f"it (--{key}={old.strip(chr(39))}). Only these may change on "
        f"resume: {only}."]
    assert snapshot(workdir) == before
    assert sorted(os.listdir(workdir)) == listing
  branch = tmp_path / "branch"
  for key, value, old in changes[:2]:
    code, _, err = run_command(
        config(branch, steps=6, resume_from=str(ckpt), **{key: value}),
        fake_mnist, capsys)
    assert code == 2
    assert err == [
        f"error: resume_from={str(ckpt)!r} was written by a run with "
        f"{key}={old}, not {value!r}; pass the same {key} to start from it "
        f"(--{key}={old}). Only these may differ from the run it came "
        f"from: {only}."]
    assert not branch.exists()
  # The same settings resume, and write run.json again.
  code, lines, _ = run_command(config(workdir, steps=6), fake_mnist, capsys)
  assert code == 0 and lines[0] == f"Resumed from {ckpt} at iteration 4."
  assert json.loads((workdir / "run.json").read_text())["batch_size"] == 16
  assert_kept(before, workdir)


def test_other_training_data_is_refused_unless_allowed(workdir, fake_mnist,
                                                       capsys):
  before, listing = snapshot(workdir), sorted(os.listdir(workdir))
  run = json.loads((workdir / "run.json").read_text())
  assert run["train_images"] == 200 and len(run["data_sha256"]) == 64
  subset = dataclasses.replace(fake_mnist, x_train=fake_mnist.x_train[:100],
                               y_train=fake_mnist.y_train[:100])
  inverted = dataclasses.replace(fake_mnist, x_train=255 - fake_mnist.x_train)
  for other, count in ((subset, 100), (inverted, 200)):
    code, _, err = run_command(config(workdir, steps=6), other, capsys)
    assert code == 2 and len(err) == 1
    assert re.fullmatch(
        rf"error: the training data \({count} images, sha256 [0-9a-f]{{12}}\) "
        rf"is not the data of the run in workdir "
        rf"{re.escape(repr(str(workdir)))} \(200 images, sha256 "
        rf"{run['data_sha256'][:12]}\); pass that run's --dataset and "
        rf"--data_path, or --allow_data_change to go on with this data \(its "
        rf"order then starts over\).", err[0])
    assert snapshot(workdir) == before
    assert sorted(os.listdir(workdir)) == listing
  # Allowed: the run goes on with the new data, from its first batch.
  code, lines, err = run_command(config(workdir, steps=6), subset, capsys,
                                 allow_data_change=True)
  assert code == 0 and err == []
  assert lines[:2] == [
      "note: the training data is not the run's (allowed by "
      "allow_data_change); the data order starts from the seed's first "
      "batch.",
      f"Resumed from {workdir}/checkpoints/ckpt-4 at iteration 4."]
  assert json.loads((workdir / "run.json").read_text())["train_images"] == 100
  assert_kept(before, workdir)


def test_metrics_rows_that_parse_are_kept(workdir, fake_mnist, capsys):
  metrics = workdir / "metrics.jsonl"
  rows = metrics.read_text().splitlines()
  assert [json.loads(r)["step"] for r in rows] == [1, 2, 3, 4]
  # A garbled middle row, a row that is not an object, and a complete last
  # row without its newline.
  metrics.write_text("\n".join([rows[0], rows[1][:-5] + "#", "[1, 2]",
                                rows[2], rows[3]]))
  code, _, err = run_command(config(workdir, steps=6), fake_mnist, capsys)
  assert code == 0 and err == []
  after = metrics.read_text().splitlines()
  assert after[:3] == [rows[0], rows[2], rows[3]]
  assert [json.loads(r)["step"] for r in after] == [1, 3, 4, 5, 6]


def test_checkpoints_from_before_run_records_resume(tmp_path, fake_mnist,
                                                    capsys, monkeypatch):
  old = tmp_path / "old"
  # Checkpoints without the run record, as gantape wrote them before it.
  monkeypatch.setattr(resume_lib, "RECORD_ITEM", "unused")
  train_lib.train(config(old, steps=2), dataset=fake_mnist, log=quiet)
  monkeypatch.undo()
  ckpt = old / "checkpoints" / "ckpt-2"
  assert resume_lib.checkpoint_record(str(ckpt)) is None
  # A --resume_from of one is checked against its run's run.json.
  branch = tmp_path / "branch"
  code, _, err = run_command(
      config(branch, steps=4, resume_from=str(ckpt), batch_size=32),
      fake_mnist, capsys)
  assert code == 2 and err[0].startswith(
      f"error: resume_from={str(ckpt)!r} was written by a run with "
      f"batch_size=16, not 32;")
  assert not branch.exists()
  before = snapshot(old)
  code, lines, err = run_command(config(old, steps=4), fake_mnist, capsys)
  assert code == 0 and err == []
  assert lines[0] == f"Resumed from {ckpt} at iteration 2."
  assert_kept(before, old)
  assert resume_lib.checkpoint_record(
      str(old / "checkpoints" / "ckpt-4"))["batch_size"] == 16


def test_flags_txt_gets_the_values_a_resume_kept(tmp_path):
  command = "--nojit_compile\n--keep_checkpoints=3\n--steps=8\n--eval_every=5\n"
  workdir_lib.write_records(
      workdir_lib.Workdir(str(tmp_path), str(tmp_path)), config(tmp_path),
      command, kept={
          "jit_compile": True, "keep_checkpoints": 100, "eval_every": None,
          "learning_rate": 5e-4})
  assert (tmp_path / "flags.txt").read_text() == (
      "--steps=8\n--jit_compile=true\n--keep_checkpoints=100\n"
      "--learning_rate=0.0005\n")
