"""The checkpoints of every run layout gantape wrote before issue 28's reshape
restore into today's code.

tests/fixtures/checkpoints/ holds, per layout, the workdir of a 2-iteration
run written by commit ca8c742 (or, for the layout without a run record, by
42a354d), or a manifest of its checkpoint's keys and shapes where the
checkpoint is too large to commit; tests/fixtures/make_checkpoint_fixtures.py
wrote them and says how.
"""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from gantape.training import seed_generators
from tests.fixtures import make_checkpoint_fixtures as fixtures

RESUMED = [l for l in fixtures.LAYOUTS if not l.manifest]
MANIFESTS = [l for l in fixtures.LAYOUTS if l.manifest]


def _workdir(layout, tmp_path, name):
  """A copy of the layout's fixture workdir, which the test may change."""
  workdir = str(tmp_path / name)
  shutil.copytree(os.path.join(fixtures.CHECKPOINTS, layout.name), workdir)
  return workdir


def _generator_values(checkpoint):
  """The generator's values in the checkpoint at prefix `checkpoint`, by
  their path from it."""
  reader = tf.train.load_checkpoint(checkpoint)
  return {path: reader.get_tensor(key)
          for path, key in fixtures.object_paths(checkpoint).items()
          if path.startswith("generator/")}


def _checkpoint(workdir, iteration):
  return os.path.join(workdir, "checkpoints", f"ckpt-{iteration}")


@pytest.mark.parametrize("layout", RESUMED, ids=lambda l: l.name)
def test_old_checkpoint_restores_its_weights(layout, tmp_path):
  # steps == the checkpoint's iteration: restored, nothing trained.
  workdir = _workdir(layout, tmp_path, "run")
  lines = []
  result = fixtures.train(layout, workdir, log=lines.append)
  assert f"Resumed from {_checkpoint(workdir, 2)} at iteration 2" in "\n".join(
      lines)
  restored = str(tmp_path / "restored")
  tf.train.Checkpoint(generator=result.step.variant.generator).write(restored)
  stored = _generator_values(os.path.join(
      fixtures.CHECKPOINTS, layout.name, "checkpoints", "ckpt-2"))
  ours = _generator_values(restored)
  assert stored and sorted(ours) == sorted(stored)
  for key, value in stored.items():
    np.testing.assert_array_equal(ours[key], value, err_msg=key)


@pytest.mark.parametrize("layout", RESUMED, ids=lambda l: l.name)
def test_old_checkpoint_resumes_training(layout, tmp_path):
  workdir = _workdir(layout, tmp_path, "run")
  lines = []
  result = fixtures.train(layout, workdir, steps=4, log=lines.append)
  log = "\n".join(lines)
  assert f"Resumed from {_checkpoint(workdir, 2)} at iteration 2" in log
  assert result.iterations == 4
  reader = tf.train.load_checkpoint(_checkpoint(workdir, 4))
  assert reader.get_tensor("global_step/.ATTRIBUTES/VARIABLE_VALUE") == 4
  if layout.replicas > 1:  # its iterator could not be saved
    assert "holds no data-iterator state" in log


class _Started(Exception):
  """Raised by `_stop_at_start` once the run has written its first
  checkpoint."""


def _without_state_sizes(variables):
  """`variables` (a manifest) less the sizes of serialized states, such as
  the iterator's, which change as it moves."""
  return {k: {**v, "shape": None} if v["dtype"] == "variant" else v
          for k, v in variables.items()}


def _without_seed_generators(manifest):
  """`manifest` less the networks' random generators (`seed_generators.ITEM`),
  which the layouts' code did not save; a checkpoint without them restores
  with a warning (tests/training/test_seed_generators.py)."""
  return {k: v for k, v in manifest.items()
          if not k.startswith(f"{seed_generators.ITEM}/")}


def _stop_at_start(line):
  if line.startswith("Training "):  # the line before the first iteration
    raise _Started(line)


@pytest.mark.parametrize("layout", MANIFESTS, ids=lambda l: l.name)
def test_new_checkpoint_has_the_old_layout(layout, tmp_path):
  with open(os.path.join(fixtures.CHECKPOINTS, f"{layout.name}.json")) as f:
    old = json.load(f)
  workdir = str(tmp_path / "run")
  with pytest.raises(_Started):
    fixtures.train(layout, workdir, log=_stop_at_start)
  checkpoint = _checkpoint(workdir, 0)
  old["variables"] = _without_state_sizes(old["variables"])
  for part, new in (("variables",
                     _without_state_sizes(fixtures.manifest(checkpoint))),
                    ("paths", fixtures.object_paths(checkpoint))):
    new = _without_seed_generators(new)
    assert {k: v for k, v in new.items() if k not in old[part]} == {}, (
        f"{part} the old code's checkpoint did not have")
    assert {k: v for k, v in old[part].items() if k not in new} == {}, (
        f"{part} the old code's checkpoint had")
    assert new == old[part], part
