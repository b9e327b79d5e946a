"""The networks' Keras SeedGenerators are checkpointed: a resumed run draws
the noise an uninterrupted one draws.

The runs are ssgan's `--preset=salimans` (six GaussianNoise layers in the
discriminator) on 4x4 images, a few iterations each.
"""

import os

import keras
import numpy as np
import pytest

from gantape import train as train_lib
from gantape.training import seed_generators
from tests.fixtures import make_checkpoint_fixtures as fixtures
from tests.training.test_train import checkpoint_values
from tests.training.test_train import op_determinism  # pylint: disable=unused-import

_WARNING = "holds no state of the networks' random generators"


class _Started(Exception):
  """Raised by `_stop_at_start` once the run has written its first
  checkpoint."""


def _stop_at_start(line):
  if line.startswith("Training "):  # the line before the first iteration
    raise _Started(line)


def _config(workdir, steps, **overrides):
  """ssgan's salimans preset on 4x4 images: 16 a batch, a checkpoint at
  every iteration."""
  return train_lib.TrainConfig(**{
      "workdir": str(workdir), "variant": "ssgan", "preset": "salimans",
      "steps": steps, "batch_size": 16, "seed": 0, "iterations_per_call": 1,
      "log_every": 1, "sample_every": 1000, "checkpoint_every": 1,
      "variant_options": {"num_labeled": 4}, **overrides})


def _train(workdir, steps, log=None, **overrides):
  lines = []
  train_lib.train(_config(workdir, steps, **overrides),
                  dataset=fixtures.dataset("tiny"),
                  log=lines.append if log is None else log)
  return lines


def _at(workdir, iteration):
  return checkpoint_values(
      os.path.join(str(workdir), "checkpoints", f"ckpt-{iteration}"))


def test_finds_each_generator_of_nested_and_shared_layers():
  noise, drop = keras.layers.GaussianNoise(0.1), keras.layers.Dropout(0.5)
  inner = keras.Sequential([keras.Input((3,)), drop, keras.layers.Dense(3)])
  model = keras.Sequential([keras.Input((3,)), noise, inner, drop])
  assert seed_generators.of_model(model) == [noise.seed_generator,
                                             drop.seed_generator]
  assert seed_generators.of_model(inner) == [drop.seed_generator]
  assert not seed_generators.of_model(keras.Sequential(
      [keras.Input((3,)), keras.layers.Dense(2)]))


def test_salimans_resume_is_exact(tmp_path, op_determinism):
  """2 iterations in one go, and 1 then 1 more from its checkpoint."""
  del op_determinism
  one_go, resumed = tmp_path / "one_go", tmp_path / "resumed"
  _train(one_go, 2)
  start = f"{one_go}/checkpoints/ckpt-1"
  lines = _train(resumed, 2, resume_from=start)
  assert lines[0] == (f"Started from {start} (another run's checkpoint) at "
                      "iteration 1.")
  a, b = _at(one_go, 2), _at(resumed, 2)
  assert a.keys() == b.keys()
  states = [k for k in a if k.startswith(
      f"{seed_generators.ITEM}/discriminator/")]
  assert len(states) == 6  # its six GaussianNoise layers
  # Each generator drew (a draw adds 1 to its counter) and went on drawing.
  assert all(a[k][1] > 0 for k in states)
  assert not [k for k in a if not np.array_equal(a[k], b[k])]


def test_checkpoint_without_generators_resumes_with_one_warning(
    tmp_path, monkeypatch):
  workdir = tmp_path / "run"
  with monkeypatch.context() as patch:  # a checkpoint as older code wrote it
    patch.setattr(seed_generators, "items", lambda variant: {})
    with pytest.raises(_Started):
      _train(workdir, 1, log=_stop_at_start)
  assert not [k for k in _at(workdir, 0)
              if k.startswith(seed_generators.ITEM)]
  lines = _train(workdir, 1)
  checkpoint = f"{workdir}/checkpoints/ckpt-0"
  assert [l for l in lines if _WARNING in l] == [
      f"warning: {checkpoint} {_WARNING} (their noise layers' Keras "
      f"SeedGenerators); their noise restarts from the run's seed, so it "
      f"differs from an uninterrupted run's."]
  assert f"Resumed from {checkpoint} at iteration 0." in lines
  assert any(k.startswith(f"{seed_generators.ITEM}/discriminator/")
             for k in _at(workdir, 1))
