"""The training loop: exact resume, workdir contents, and faults.

Every run here is the MLP GAN on fake digits for a handful of iterations, so
a test costs a trace and a few seconds at most.
"""

import dataclasses
import json
import os
import re
import signal

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantape import train as train_lib
from gantape import variants
from gantape.cli import common as cli
from gantape.errors import Interrupted, NonFiniteLossError, UsageError
from gantape.training import actions as actions_lib
from gantape.training import curves
from gantape.training import lock as lock_lib
from gantape.training import run as run_lib
from gantape.training import run_data
from gantape.training import signals
from gantape.training import workdir as workdir_lib
from gantape.variants import base
from gantape.variants import settings
from gantape.variants import gan as gan_lib

BATCH = 16


def config(workdir, **overrides):
  """A tiny run: 16 examples per batch, a grid and checkpoint every 3."""
  options = dict(workdir=str(workdir), variant="gan", steps=6,
                 batch_size=BATCH, iterations_per_call=2, log_every=2,
                 sample_every=3, checkpoint_every=3)
  options.update(overrides)
  return train_lib.TrainConfig(**options)


def quiet(line):
  del line


def latest_number(workdir):
  path = tf.train.latest_checkpoint(os.path.join(str(workdir), "checkpoints"))
  return int(path.rsplit("-", 1)[1])


def checkpoint_values(path):
  """Every tensor of a checkpoint but the iterator's (a DT_VARIANT)."""
  reader = tf.train.load_checkpoint(path)
  # save_counter counts one Checkpoint object's save() calls, not training
  # state (the manager numbers checkpoints by iteration).
  skip = ("_CHECKPOINTABLE_OBJECT_GRAPH",
          "save_counter/.ATTRIBUTES/VARIABLE_VALUE")
  return {k: reader.get_tensor(k)
          for k, dtype in reader.get_variable_to_dtype_map().items()
          if dtype != tf.variant and k not in skip}


def next_batch_after_restore(path, mnist):
  """The batch a checkpoint's iterator yields next."""
  keras.utils.set_random_seed(0)  # as train() does before building the data
  iterator = iter(variants.build("gan").make_dataset(mnist, batch_size=BATCH,
                                                     seed=0))
  if path is not None:
    tf.train.Checkpoint(iterator=iterator).restore(path).expect_partial()
  return iterator


@pytest.fixture
def op_determinism():
  # Reverted afterwards: determinism is process-wide and slows other tests.
  from tensorflow.python.framework import config as tf_config  # pylint: disable=g-import-not-at-top
  was_enabled = tf_config.is_op_determinism_enabled()
  tf.config.experimental.enable_op_determinism()
  yield
  if not was_enabled:
    tf_config.disable_op_determinism()


def test_resume_is_exact(tmp_path, fake_mnist, op_determinism):
  del op_determinism
  one_go, halves = tmp_path / "one_go", tmp_path / "halves"
  train_lib.train(config(one_go), dataset=fake_mnist, log=quiet)
  train_lib.train(config(halves, steps=3), dataset=fake_mnist, log=quiet)
  lines = []
  result = train_lib.train(config(halves), dataset=fake_mnist, log=lines.append)
  assert lines[0] == (f"Resumed from {halves}/checkpoints/ckpt-3 at "
                      "iteration 3.")
  assert result.iterations == 6

  a = checkpoint_values(str(one_go / "checkpoints" / "ckpt-6"))
  b = checkpoint_values(str(halves / "checkpoints" / "ckpt-6"))
  assert a.keys() == b.keys()
  # Weights, optimizer slots and iteration counts, the noise generator's
  # state and the step: all identical.
  for prefix in ("d_optimizer/_iterations", "g_optimizer/_variables/",
                 "d_optimizer/_trainable_variables/", "rng/_state_var",
                 "global_step"):
    assert any(k.startswith(prefix) for k in a), prefix
  different = [k for k in a if not np.array_equal(a[k], b[k])]
  assert not different
  # The data order continued: after 6 iterations both iterators are at
  # batch 7 of the seeded stream (a fresh iterator at resume would be at 4).
  stream = next_batch_after_restore(None, fake_mnist)
  for _ in range(6):
    next(stream)
  seventh = next(stream)["image"].numpy()
  for workdir in (one_go, halves):
    restored = next_batch_after_restore(
        str(workdir / "checkpoints" / "ckpt-6"), fake_mnist)
    np.testing.assert_array_equal(next(restored)["image"].numpy(), seventh)

  # What lands in the workdir.
  with open(halves / "run.json") as f:
    assert json.load(f)["variant"] == "gan"
  records = curves.read_metrics(str(halves / "metrics.jsonl"))
  assert [r["step"] for r in records] == [2, 3, 4, 6]
  assert {"d_loss", "g_loss", "iterations_per_s"} <= set(records[-1])
  with open(halves / "loss_curves.png", "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  assert sorted(os.listdir(halves / "samples")) == [
      "final.png", "step_0000003.png", "step_0000006.png"]
  assert any(n.startswith("events.out.tfevents") for n in os.listdir(halves))


def test_resume_from_another_runs_checkpoint(tmp_path, fake_mnist,
                                             op_determinism):
  """A branch started at another run's ckpt-3 continues it exactly."""
  del op_determinism
  one_go, source, branch = (tmp_path / n for n in ("one_go", "source", "branch"))
  train_lib.train(config(one_go), dataset=fake_mnist, log=quiet)
  train_lib.train(config(source, steps=3), dataset=fake_mnist, log=quiet)
  prefix = str(source / "checkpoints" / "ckpt-3")
  lines = []
  train_lib.train(config(branch, resume_from=prefix), dataset=fake_mnist,
                  log=lines.append)
  assert lines[0] == (f"Started from {prefix} (another run's checkpoint) at "
                      "iteration 3.")
  a = checkpoint_values(str(one_go / "checkpoints" / "ckpt-6"))
  b = checkpoint_values(str(branch / "checkpoints" / "ckpt-6"))
  assert a.keys() == b.keys()
  assert not [k for k in a if not np.array_equal(a[k], b[k])]
  # The source's metrics up to 3 come along; the source is left alone.
  records = curves.read_metrics(str(branch / "metrics.jsonl"))
  assert [r["step"] for r in records] == [2, 3, 4, 6]
  assert latest_number(source) == 3
  # Once the branch has checkpoints, a rerun resumes them.
  lines = []
  train_lib.train(config(branch, steps=8, resume_from=prefix),
                  dataset=fake_mnist, log=lines.append)
  assert lines[0].startswith(f"Resumed from {branch}/checkpoints/ckpt-6")

  with pytest.raises(UsageError, match="is not a checkpoint .*ckpt-12000"):
    train_lib.train(config(tmp_path / "a", resume_from=prefix + "9"),
                    dataset=fake_mnist, log=quiet)
  # The checkpoint's record refuses settings that do not fit it.
  with pytest.raises(UsageError, match="was written by a run with "
                     "ema_decay=0.999, not 0.0; pass the same ema_decay"):
    train_lib.train(config(tmp_path / "b", resume_from=prefix, ema_decay=0.0),
                    dataset=fake_mnist, log=quiet)
  with pytest.raises(UsageError, match="was written by a run with "
                     "variant='gan', not 'dcgan'"):
    train_lib.train(config(tmp_path / "c", variant="dcgan",
                           resume_from=prefix), dataset=fake_mnist, log=quiet)


def test_partial_and_damaged_checkpoints_are_never_picked(tmp_path,
                                                          fake_mnist):
  workdir = tmp_path / "run"
  ckpt_dir = workdir / "checkpoints"
  train_lib.train(config(workdir, steps=4, checkpoint_every=2),
                  dataset=fake_mnist, log=quiet)
  # What a kill -9 during the save of ckpt-6 can leave: its files, but a
  # `checkpoint` state file that does not name it yet.
  (ckpt_dir / "ckpt-6.index").write_bytes(b"\x00half an index")
  (ckpt_dir / "ckpt-6.data-00000-of-00001").write_bytes(b"")
  (ckpt_dir / "ckpt-6_temp").mkdir()
  # And a listed checkpoint damaged after it was written (a full disk, a
  # copy cut short): skipped for the next older one.
  data = ckpt_dir / "ckpt-4.data-00000-of-00001"
  data.write_bytes(data.read_bytes()[:100])
  lines = []
  result = train_lib.train(
      config(workdir, steps=6, checkpoint_every=2, learning_rate=5e-4),
      dataset=fake_mnist, log=lines.append)
  assert lines[0].startswith(f"warning: cannot restore {ckpt_dir}/ckpt-4 (")
  assert lines[1] == (f"Resumed from {ckpt_dir}/ckpt-2 at iteration 2; "
                      f"changed: learning_rate 0.001 -> 0.0005.")
  assert result.iterations == 6 and latest_number(workdir) == 6
  # The learning rate is this run's, not the checkpoint's.
  assert float(result.step.d_optimizer.learning_rate) == pytest.approx(5e-4)
  # The new ckpt-6 replaced the planted files and loads.
  assert checkpoint_values(str(ckpt_dir / "ckpt-6"))[
      "global_step/.ATTRIBUTES/VARIABLE_VALUE"] == 6


class PoisonedGAN(gan_lib.GAN):
  """A GAN whose discriminator loss turns NaN when the noise has an outlier.

  The noise comes from the step's seeded generator, so the first poisoned
  iteration is fixed by the seed, and a replay from a checkpoint (which
  holds the generator's state) meets it at the same iteration.
  """

  name = "poisoned_gan"

  def discriminator_loss(self, batch, inputs):
    out = super().discriminator_loss(batch, inputs)
    # A factor, not a term: the gradient turns NaN too, so the weights go
    # NaN and stay so, as they do in a real divergence.
    poison = tf.where(tf.reduce_max(inputs["noise"][:, 0]) > 0.99, np.nan, 1.0)
    return base.LossOutput(out.per_example * poison, out.metrics)


def test_nan_stops_naming_the_first_bad_iteration(tmp_path, fake_mnist,
                                                  monkeypatch, capsys):
  monkeypatch.setitem(variants._REGISTRY, "poisoned_gan", PoisonedGAN)  # pylint: disable=protected-access
  common = dict(variant="poisoned_gan", steps=60, log_every=4,
                sample_every=100)
  # One iteration per call: the loop sees the first NaN directly.
  reference = tmp_path / "reference"
  with pytest.raises(NonFiniteLossError) as error:
    train_lib.train(config(reference, iterations_per_call=1,
                           checkpoint_every=2, **common),
                    dataset=fake_mnist, log=quiet)
  first = int(re.search(r"at iteration (\d+):", str(error.value)).group(1))
  assert first > 4, "pick a threshold whose first NaN comes later"
  assert latest_number(reference) == (first - 1) // 2 * 2

  # Four iterations per call: the loop replays from the last good checkpoint
  # to name the same iteration, and saves nothing after the NaN.
  workdir = tmp_path / "run"
  assert cli.run(lambda: train_lib.train(
      config(workdir, iterations_per_call=8, checkpoint_every=4, **common),
      dataset=fake_mnist, log=quiet)) == 1
  err = capsys.readouterr().err
  assert err.startswith(f"error: non-finite loss at iteration {first}: ")
  assert "d_loss=nan" in err and err.count("\n") == 1
  # The hint names the variants that declare themselves a remedy.
  assert err.endswith("or try --variant=wgan_gp in a new --workdir.\n")
  assert actions_lib._other_variants("wgan_gp") == ""  # pylint: disable=protected-access
  good = (first - 1) // 4 * 4
  assert f"checkpoints/ckpt-{good}, is the last good one" in err
  assert latest_number(workdir) == good
  records = curves.read_metrics(str(workdir / "metrics.jsonl"))
  assert all(np.isfinite(r["d_loss"]) for r in records)


def test_sigint_checkpoints_then_resumes(tmp_path, fake_mnist):
  workdir = tmp_path / "run"
  previous = signal.getsignal(signal.SIGINT)

  def interrupt_at_4(line):
    if line.startswith("[gan] 4/"):
      os.kill(os.getpid(), signal.SIGINT)

  with pytest.raises(Interrupted) as error:
    train_lib.train(config(workdir, steps=40, checkpoint_every=1000),
                    dataset=fake_mnist, log=interrupt_at_4)
  assert error.value.signum == signal.SIGINT
  assert str(error.value).startswith("stopped by SIGINT at iteration 4/40; "
                                     "saved ")
  assert latest_number(workdir) == 4
  assert signal.getsignal(signal.SIGINT) is previous
  assert (workdir / "loss_curves.png").exists()

  lines = []
  result = train_lib.train(config(workdir, steps=6), dataset=fake_mnist,
                           log=lines.append)
  assert lines[0] == (f"Resumed from {workdir}/checkpoints/ckpt-4 at "
                      f"iteration 4; changed: checkpoint_every 1000 -> 3.")
  assert result.iterations == 6


def test_second_sigint_quits_at_once(tmp_path, fake_mnist, monkeypatch,
                                     capsys):
  """In `gantape train`, the second SIGINT quits the process from the signal
  watcher, while the call still runs; here the exit is recorded instead of
  taken, so the run then stops at the first signal's request. Called as a
  library, train() raises KeyboardInterrupt instead, and the workdir's lock
  is released on the way out."""
  exits = []
  monkeypatch.setattr(os, "_exit", exits.append)
  monkeypatch.setattr(signals, "_exit_process", True)  # as the command sets

  def interrupt_twice(line):
    if line.startswith("[gan] 2/"):
      signal.raise_signal(signal.SIGINT)
      signal.raise_signal(signal.SIGINT)

  with pytest.raises(Interrupted):
    train_lib.train(config(tmp_path, steps=40), dataset=fake_mnist,
                    log=interrupt_twice)
  assert exits == [128 + signal.SIGINT]
  err = capsys.readouterr().err
  assert "SIGINT: stopping after this call" in err
  assert "SIGINT again: quitting now, without saving" in err

  monkeypatch.setattr(signals, "_exit_process", False)
  with pytest.raises(KeyboardInterrupt):
    train_lib.train(config(tmp_path / "library", steps=40), dataset=fake_mnist,
                    log=interrupt_twice)
  assert exits == [128 + signal.SIGINT]  # not called again
  assert "raising KeyboardInterrupt" in capsys.readouterr().err
  assert not (tmp_path / "library" / lock_lib.LOCK_FILE).exists()


def test_workdir_of_another_variant_is_a_usage_error(tmp_path, fake_mnist):
  train_lib.train(config(tmp_path, steps=1), dataset=fake_mnist, log=quiet)
  with pytest.raises(UsageError, match=r"holds a run with variant='gan', not "
                     r"'dcgan'; use a new --workdir"):
    train_lib.train(config(tmp_path, variant="dcgan"), dataset=fake_mnist)
  with pytest.raises(UsageError, match=r"holds a run with preset='gantape', "
                     r"not 'seed'; use a new --workdir, or the same preset"):
    train_lib.train(config(tmp_path, preset="seed"), dataset=fake_mnist)
  # Without run.json, the checkpoint itself gives the other variant away.
  os.remove(tmp_path / "run.json")
  with pytest.raises(UsageError, match=r"ckpt-1 was written by a run with "
                     r"variant='gan', not 'dcgan'; use a new --workdir"):
    train_lib.train(config(tmp_path, variant="dcgan"), dataset=fake_mnist,
                    log=quiet)


def test_unreadable_run_json_and_unwritable_workdir(tmp_path, fake_mnist):
  (tmp_path / "run.json").write_text('{"variant": "ga')  # torn
  with pytest.raises(UsageError, match=r"run.json is unreadable \(JSONDecode"
                     r"Error: .*\); delete it to resume this workdir"):
    train_lib.train(config(tmp_path), dataset=fake_mnist)
  a_file = tmp_path / "a_file"
  a_file.write_text("")
  with pytest.raises(UsageError, match=r"cannot create the workdir .*a_file' "
                     r"\(Not a directory\); pass a writable --workdir."):
    train_lib.train(config(a_file), dataset=fake_mnist)


@pytest.mark.parametrize("field, value, message", [
    ("batch_size", 0, "batch_size must be a positive integer, got 0; pass "
     "--batch_size=N with N >= 1 (default 64)."),
    ("steps", -3, "steps must be a positive integer"),
    ("learning_rate", 0.0, "learning_rate must be positive and finite, got "
     "0.0"),
    ("variant", "nope", "unknown variant 'nope'; choose one of: gan,"),
    ("updates_per_batch", 0, "updates_per_batch must be a positive integer"),
    ("preset", "nope", "variant 'gan' has no preset 'nope'; its presets are: "
     "gantape, general, seed."),
])
def test_bad_config_is_refused_before_touching_the_workdir(tmp_path, field,
                                                           value, message):
  workdir = tmp_path / "never_made"
  with pytest.raises(UsageError, match=re.escape(message)):
    train_lib.train(config(workdir, **{field: value}))
  assert not workdir.exists()


def resolved(cfg):
  """`cfg` as a run on 28x28x1 images with ten classes resolves it."""
  return run_lib.settings(cfg, run_data.DataShape((28, 28, 1), 10))[0]


def test_presets_fill_only_unset_fields(tmp_path):
  seed = resolved(config(tmp_path, preset="seed", learning_rate=0.01))
  assert (seed.learning_rate, seed.beta_1, seed.updates_per_batch,
          seed.ema_decay) == (0.01, 0.9, 2, 0.0)
  default = resolved(config(tmp_path, beta_1=0.5))
  assert (default.learning_rate, default.beta_1, default.updates_per_batch,
          default.ema_decay) == (1e-3, 0.5, 2, 0.999)


def test_a_presets_variant_options_yield_to_explicit_ones(tmp_path,
                                                        monkeypatch):
  with_r1 = dataclasses.replace(settings.GANTAPE_PRESET,
                                variant_options={"r1_gamma": 1.0})
  monkeypatch.setattr(gan_lib.GAN, "presets",
                      {**gan_lib.GAN.presets, "r1": with_r1})
  assert resolved(config(tmp_path, preset="r1")).variant_options == {
      "r1_gamma": 1.0}
  assert resolved(config(tmp_path, preset="r1", variant_options={
      "r1_gamma": 0.5})).variant_options == {"r1_gamma": 0.5}
  assert resolved(config(tmp_path)).variant_options == {}
  assert variants.build("gan", preset="r1").r1_gamma == 1.0
  assert variants.build("gan", preset="r1", r1_gamma=0.0).r1_gamma == 0.0
  assert variants.build("gan").r1_gamma == 0.0


def test_dcgan_default_preset_adds_lazy_r1_the_seed_preset_does_not(
    tmp_path):
  assert resolved(config(tmp_path, variant="dcgan")).variant_options == {
      "r1_gamma": 1.0, "r1_every": 16}
  assert resolved(config(tmp_path, variant="dcgan",
                preset="seed")).variant_options == {}
  assert variants.build("dcgan", preset="seed").r1_gamma == 0.0
  for name in ("gan", "ssgan", "cgan"):
    assert resolved(config(tmp_path, variant=name)).variant_options == {}


def test_resume_compares_the_variant_that_options_build(tmp_path, fake_mnist):
  """Options equal to the constructor's defaults are no options: a run made
  without --r1_gamma resumes with --r1_gamma=0, and not with 1."""
  train_lib.train(config(tmp_path, steps=1), dataset=fake_mnist, log=quiet)
  train_lib.train(config(tmp_path, steps=2, variant_options={"r1_gamma": 0.0}),
                  dataset=fake_mnist, log=quiet)
  assert latest_number(tmp_path) == 2
  with pytest.raises(UsageError, match=re.escape(
      "holds a run with variant_options={}, not {'r1_gamma': 1.0}; use a new "
      "--workdir, or the same variant_options")):
    train_lib.train(config(tmp_path, steps=3, variant_options={
        "r1_gamma": 1.0}), dataset=fake_mnist)


def test_resume_drops_metrics_of_undone_iterations(tmp_path):
  path = tmp_path / "metrics.jsonl"
  lines = [json.dumps({"step": s, "d_loss": 1.0}) + "\n" for s in (2, 4, 6)]
  path.write_text("".join(lines) + '{"step": 8, "d_lo')  # torn by a kill
  assert [r["step"] for r in curves.read_metrics(str(path))] == [2, 4, 6]
  workdir_lib.truncate_metrics(str(path), 4)
  assert path.read_text() == "".join(lines[:2])


def test_loss_curves_plot(tmp_path):
  path = tmp_path / "metrics.jsonl"
  path.write_text("".join(
      json.dumps({"step": s, "time": 0.0, "iterations_per_s": 3.0,
                  "d_loss": 1.0 / s, "g_loss": s, "d_real": 0.5}) + "\n"
      for s in range(1, 5)))
  png = tmp_path / "curves.png"
  assert curves.plot_metrics(str(path), str(png), title="gan")
  assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  assert not curves.plot_metrics(str(tmp_path / "missing.jsonl"), str(png))
