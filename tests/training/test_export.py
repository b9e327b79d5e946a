"""Restoring a workdir, sampling to .npz, and the SavedModel export."""

import errno
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from gantape import checkpoints
from gantape import train as train_lib
from gantape.errors import UsageError
from gantape.training import checkpoint_files
from gantape.training import checkpoints as checkpoints_lib
from gantape.training import export
from gantape.training import memory
from tests.conftest import make_fake_mnist


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  """Two-iteration gan and cgan runs: {name: (workdir, TrainResult)}."""
  mnist = make_fake_mnist()
  out = {}
  for name in ("gan", "cgan"):
    workdir = str(tmp_path_factory.mktemp(name))
    result = train_lib.train(
        # No EMA: the tests compare what is restored and exported with the
        # trained (live) generator's weights.
        train_lib.TrainConfig(workdir=workdir, variant=name, steps=2,
                              batch_size=16, iterations_per_call=2,
                              ema_decay=0.0),
        dataset=mnist, log=lambda line: None)
    out[name] = (workdir, result)
  return out


def test_restore_from_workdir_gets_the_trained_weights(runs):
  workdir, result = runs["gan"]
  restored = checkpoints.restore_from_workdir(workdir)
  assert restored.step == 2 and restored.run["variant"] == "gan"
  assert restored.checkpoint.endswith("ckpt-2")
  assert restored.sampler is restored.variant  # no EMA in this run
  for trained, loaded in zip(result.step.variant.generator.weights,
                             restored.variant.generator.weights):
    np.testing.assert_array_equal(trained.numpy(), loaded.numpy())


def test_restore_from_workdir_errors(tmp_path, runs):
  with pytest.raises(UsageError, match="does not exist"):
    checkpoints.restore_from_workdir(str(tmp_path / "missing"))
  with pytest.raises(UsageError, match="holds no run.json"):
    checkpoints.restore_from_workdir(str(tmp_path))
  (tmp_path / "run.json").write_text(json.dumps({"variant": "gan"}))
  with pytest.raises(UsageError, match="holds no checkpoint yet"):
    checkpoints.restore_from_workdir(str(tmp_path))
  # A run.json that names another variant than the checkpoints hold.
  workdir, _ = runs["gan"]
  os.symlink(os.path.join(workdir, "checkpoints"), tmp_path / "checkpoints")
  (tmp_path / "run.json").write_text(json.dumps({"variant": "dcgan"}))
  with pytest.raises(UsageError, match="restores a 'dcgan' variant"):
    checkpoints.restore_from_workdir(str(tmp_path))


def test_best_checkpoint_of_a_run_that_did_not_evaluate(tmp_path, runs):
  workdir, _ = runs["gan"]
  with pytest.raises(UsageError, match="no best checkpoint.*--eval_every"):
    export.write_samples(workdir, str(tmp_path / "s.npz"), 4,
                         checkpoint=checkpoints.BEST)
  with pytest.raises(UsageError, match="no best checkpoint.*--eval_every"):
    export.export_generator(workdir, str(tmp_path / "model"),
                            checkpoint=checkpoints.BEST)


def test_write_samples_unconditional(tmp_path, runs):
  output = str(tmp_path / "deep" / "samples.npz")
  info = export.write_samples(runs["gan"][0], output, 25)
  with np.load(output) as f:
    assert sorted(f.files) == ["x"]
    x = f["x"]
  assert x.shape == (25, 28, 28) and x.dtype == np.float32
  assert 0.0 <= x.min() and x.max() <= 1.0
  assert info["png"] == str(tmp_path / "deep" / "samples.png")
  grid = tf.io.decode_png(tf.io.read_file(info["png"])).numpy()
  assert grid.shape == (3 * 28, 10 * 28, 1)
  # The seed fixes the noise.
  export.write_samples(runs["gan"][0], str(tmp_path / "again.npz"), 25)
  with np.load(str(tmp_path / "again.npz")) as f:
    np.testing.assert_array_equal(f["x"], x)


def test_write_samples_conditional(tmp_path, runs):
  workdir = runs["cgan"][0]
  export.write_samples(workdir, str(tmp_path / "cycle.npz"), 23)
  with np.load(str(tmp_path / "cycle.npz")) as f:
    assert f["x"].shape == (23, 28, 28)
    np.testing.assert_array_equal(f["y"], np.arange(23) % 10)
    assert f["y"].dtype == np.int32
  images = {}
  for label in (3, 7):
    path = str(tmp_path / f"label{label}.npz")
    export.write_samples(workdir, path, 4, label=label)
    with np.load(path) as f:
      np.testing.assert_array_equal(f["y"], [label] * 4)
      images[label] = f["x"]
  # Same noise, another digit asked for: other images.
  assert not np.array_equal(images[3], images[7])


@pytest.mark.parametrize("variant, kwargs, message", [
    ("gan", dict(label=3), "--label works with conditional variants only"),
    ("cgan", dict(label=10), "label must be a class in 0..9, got 10"),
    ("cgan", dict(num=0), "num must be a positive integer, got 0"),
    ("gan", dict(output="samples.png"), "output must be an .npz path"),
])
def test_write_samples_bad_input(tmp_path, runs, variant, kwargs, message):
  args = dict(output=str(tmp_path / "s.npz"), num=5)
  args.update(kwargs)
  with pytest.raises(UsageError, match=message):
    export.write_samples(runs[variant][0], **args)
  assert not (tmp_path / "s.npz").exists()


@pytest.mark.parametrize("name", ["gan", "cgan"])
def test_export_generator_serves_the_generator(tmp_path, runs, name):
  workdir, result = runs[name]
  export_dir = str(tmp_path / "model")
  info = export.export_generator(workdir, export_dir)
  assert info["step"] == 2 and info["conditional"] == (name == "cgan")
  loaded = tf.saved_model.load(export_dir)
  serve = loaded.signatures["serving_default"]
  noise = tf.random.uniform([6, 100], -1.0, 1.0, seed=1)
  inputs = {"noise": noise}
  if name == "cgan":
    inputs["labels"] = tf.constant([0, 1, 2, 3, 8, 9], tf.int32)
  images = serve(**inputs)["images"].numpy()
  assert images.shape == (6, 28, 28, 1) and images.dtype == np.float32
  expected = result.step.variant.generate(inputs, training=False).numpy()
  np.testing.assert_allclose(images.reshape(6, -1), expected.reshape(6, -1),
                             atol=1e-5)
  assert int(loaded.noise_dim.numpy()) == 100
  # Exporting again replaces the old export in place.
  export.export_generator(workdir, export_dir)
  assert sorted(os.listdir(tmp_path)) == ["model"]


def test_export_refuses_a_folder_that_is_not_a_saved_model(tmp_path, runs):
  (tmp_path / "notes.txt").write_text("mine")
  with pytest.raises(UsageError, match="holds files gantape did not write"):
    export.export_generator(runs["gan"][0], str(tmp_path))
  assert (tmp_path / "notes.txt").read_text() == "mine"


def _tree(folder):
  """Every file under `folder` with its bytes."""
  found = {}
  for root, _, names in os.walk(folder):
    for name in names:
      path = os.path.join(root, name)
      with open(path, "rb") as f:
        found[os.path.relpath(path, folder)] = f.read()
  return found


def test_export_replaces_only_a_folder_it_wrote(tmp_path, runs):
  workdir = runs["gan"][0]
  # A folder that merely holds a saved_model.pb is the user's: refused.
  theirs = tmp_path / "theirs"
  (theirs / "data").mkdir(parents=True)
  (theirs / "saved_model.pb").write_bytes(b"pb")
  (theirs / "notes.txt").write_text("mine")
  (theirs / "data" / "results.csv").write_text("1,2\n")
  before = _tree(theirs)
  with pytest.raises(UsageError) as refused:
    export.export_generator(workdir, str(theirs))
  assert str(refused.value) == (
      f"export_dir {str(theirs)!r} holds files gantape did not write "
      f"(data, notes.txt); pass a new --export_dir, or move them away.")
  assert _tree(theirs) == before
  # gantape's own export is replaced; with a file added to it, refused.
  ours = tmp_path / "ours"
  export.export_generator(workdir, str(ours))
  assert (ours / export.MARKER_FILE).is_file()
  export.export_generator(workdir, str(ours))
  (ours / "variables" / "notes.txt").write_text("mine")
  with pytest.raises(UsageError, match=r"\(variables/notes.txt\)"):
    export.export_generator(workdir, str(ours))
  assert (ours / "variables" / "notes.txt").read_text() == "mine"
  # A bare SavedModel (no marker): not known to be gantape's, so refused.
  os.remove(ours / "variables" / "notes.txt")
  os.remove(ours / export.MARKER_FILE)
  with pytest.raises(UsageError, match=f"holds a SavedModel without "
                     f"{export.MARKER_FILE}, so not one gantape wrote"):
    export.export_generator(workdir, str(ours))
  assert (ours / "saved_model.pb").is_file()


def test_export_removes_what_a_killed_export_left(tmp_path, runs):
  workdir = runs["gan"][0]
  export.export_generator(workdir, str(tmp_path / "model"))
  # A kill -9 during an export leaves its temporary folder (marker inside)
  # and, between the two renames, the old export; a dead process's pid.
  dead = 2**22 + 1  # above the kernel's pid_max: never a live process
  for name in (f".tmp-{dead}-model", f"model.old-{dead}"):
    shutil.copytree(tmp_path / "model", tmp_path / name)
  (tmp_path / f".tmp-{dead}-other").mkdir()  # not an export: kept
  export.export_generator(workdir, str(tmp_path / "model"))
  assert sorted(os.listdir(tmp_path)) == [f".tmp-{dead}-other", "model"]


def test_disk_full_during_export_or_sample_is_one_line(tmp_path, runs,
                                                       monkeypatch):
  workdir = runs["gan"][0]
  export_dir = tmp_path / "model"
  export.export_generator(workdir, str(export_dir))
  before = _tree(export_dir)

  def full(*args, **kwargs):
    del args, kwargs
    raise OSError(errno.ENOSPC, "No space left on device")
  monkeypatch.setattr(tf.saved_model, "save", full)
  with pytest.raises(UsageError) as refused:
    export.export_generator(workdir, str(export_dir))
  assert str(refused.value) == (
      f"cannot write the export {export_dir} (No space left on device); "
      f"free some space and rerun. The previous export there is intact.")
  assert _tree(export_dir) == before
  assert sorted(os.listdir(tmp_path)) == ["model"]

  monkeypatch.setattr(np, "savez", full)
  output = tmp_path / "s.npz"
  with pytest.raises(UsageError) as refused:
    export.write_samples(workdir, str(output), 4)
  assert str(refused.value) == (
      f"cannot write {output} (No space left on device); free some space "
      f"and rerun.")
  assert sorted(os.listdir(tmp_path)) == ["model"]


def test_a_checkpoint_rotated_away_while_read_is_retried_once(
    tmp_path, runs, monkeypatch):
  """`sample` during training with --keep_checkpoints=1: the run saves
  ckpt-N+1 and deletes ckpt-N between the listing and the restore."""
  workdir = tmp_path / "run"
  shutil.copytree(runs["gan"][0], workdir)
  ckpt_dir = workdir / "checkpoints"
  for name in os.listdir(ckpt_dir):  # as --keep_checkpoints=1 leaves it
    if name.startswith("ckpt-0."):
      os.remove(ckpt_dir / name)
  checkpoint_files.write_state(str(ckpt_dir), [str(ckpt_dir / "ckpt-2")])
  real = checkpoints_lib.try_restore
  calls = []

  def rotating(items, path, **kwargs):
    calls.append(os.path.basename(path))
    if len(calls) == 1:  # the training run rotates: ckpt-2 becomes ckpt-3
      for name in os.listdir(ckpt_dir):
        if name.startswith("ckpt-2."):
          os.rename(ckpt_dir / name, ckpt_dir / name.replace("-2.", "-3."))
      checkpoint_files.write_state(str(ckpt_dir), [str(ckpt_dir / "ckpt-3")])
    return real(items, path, **kwargs)
  monkeypatch.setattr(checkpoints_lib, "try_restore", rotating)
  out = export.write_samples(str(workdir), str(tmp_path / "s.npz"), 4,
                             seed=1)
  assert calls == ["ckpt-2", "ckpt-3"]
  assert out["checkpoint"] == str(ckpt_dir / "ckpt-3")


def test_more_samples_than_memory_holds_are_refused_before_drawing(
    tmp_path, runs, monkeypatch):
  monkeypatch.setattr(memory, "available_bytes", lambda: 2**30)
  with pytest.raises(UsageError) as refused:
    export.write_samples(runs["gan"][0], str(tmp_path / "s.npz"), 200_000_000)
  # 4 bytes x (100 noise + 2 x 784 pixels) per sample.
  assert str(refused.value) == (
      "num=200000000 samples need 1242.8 GiB of memory, more than the 1.0 GiB "
      "available; pass a --num of at most 160932, and run several with "
      "different --seed and --output for more.")
  assert not os.listdir(tmp_path)
