"""checkpoints.BestCheckpoint: what it keeps, across a resume."""

import math
import os

import pytest
import tensorflow as tf

from gantape.training import checkpoints
from gantape.errors import UsageError


def _weight(path: str) -> float:
  return float(tf.train.load_variable(
      path, "generator/.ATTRIBUTES/VARIABLE_VALUE"))


def test_keeps_only_the_lowest_fcd(tmp_path):
  weight = tf.Variable(0.0)
  step = tf.Variable(0, dtype=tf.int64)
  items = {"generator": weight, "global_step": step}
  folder = str(tmp_path / "best")
  best = checkpoints.BestCheckpoint(items, folder)
  saved = []
  for s, fcd in enumerate([5.0, 3.0, 4.0, math.nan, 3.0], start=1):
    weight.assign(float(s))
    step.assign(s)
    saved.append(best.offer(fcd, s))
  assert saved == [True, True, False, False, False]
  path = tf.train.latest_checkpoint(folder)
  assert path.endswith("-2")
  assert (_weight(path), checkpoints.best_fcd(path)) == (2.0, 3.0)
  assert len([f for f in os.listdir(folder) if f.endswith(".index")]) == 1

  # Reopened (a resumed run), it compares against the earlier best.
  again = checkpoints.BestCheckpoint(items, folder)
  assert float(again.fcd.numpy()) == 3.0
  assert not again.offer(3.5, 6)
  weight.assign(7.0)
  assert again.offer(2.5, 7)
  path = tf.train.latest_checkpoint(folder)
  assert (_weight(path), checkpoints.best_fcd(path)) == (7.0, 2.5)


def test_a_worker_starts_from_the_chiefs_best(tmp_path):
  items = {"generator": tf.Variable(1.0)}
  chief = str(tmp_path / "chief")
  checkpoints.BestCheckpoint(items, chief).offer(2.0, 1)
  worker = checkpoints.BestCheckpoint(items, str(tmp_path / "worker"),
                                      previous_directory=chief)
  assert not worker.offer(2.5, 2)  # the chief would not save this either
  assert worker.offer(1.0, 3)
  assert tf.train.latest_checkpoint(str(tmp_path / "worker")).endswith("-3")
  assert tf.train.latest_checkpoint(chief).endswith("-1")


def test_a_missing_best_or_named_checkpoint_says_what_to_pass(tmp_path):
  (tmp_path / "run.json").write_text('{"variant": "gan"}')
  with pytest.raises(UsageError, match="--eval_every"):
    checkpoints.restore_from_workdir(str(tmp_path), checkpoints.BEST)
  with pytest.raises(UsageError, match="ckpt-7.index.*pass latest, best"):
    checkpoints.restore_from_workdir(str(tmp_path), str(tmp_path / "ckpt-7"))


def test_a_discriminator_average_is_kept_and_restored(tmp_path, fake_mnist):
  # Imported here: test_train's helpers build whole runs.
  from gantape import train as train_lib  # pylint: disable=g-import-not-at-top
  from tests.training.test_train import config, quiet  # pylint: disable=g-import-not-at-top
  workdir = tmp_path / "run"
  train_lib.train(config(workdir, discriminator_ema_decay=0.5, ema_decay=0.0),
                  dataset=fake_mnist, log=quiet)
  restored = checkpoints.restore_from_workdir(str(workdir))
  view = restored.ema_variant
  assert view.generator is restored.variant.generator
  assert view.discriminator is not restored.variant.discriminator
  reader = tf.train.load_checkpoint(restored.checkpoint)
  saved = sorted(reader.get_tensor(k).tobytes()
                 for k in reader.get_variable_to_shape_map()
                 if k.startswith("ema_discriminator/"))
  assert saved == sorted(w.numpy().tobytes()
                         for w in view.discriminator.weights)
  live, average = (restored.variant.discriminator.weights[0].numpy(),
                   view.discriminator.weights[0].numpy())
  assert not (live == average).all()
