"""The README's step-API examples run as written (on fake data)."""

import os
import re

import pytest

from gantape import data as data_lib
from tests.conftest import REPO_ROOT, make_fake_mnist


def readme_python_blocks():
  with open(os.path.join(REPO_ROOT, "README.md")) as f:
    text = f.read()
  section = text.split("## The step API", 1)[1].split("\n## ", 1)[0]
  return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_readme_has_the_examples():
  assert len(readme_python_blocks()) == 2


@pytest.mark.parametrize("index", [0, 1])
def test_readme_example_runs(index, monkeypatch, capsys):
  # The example downloads MNIST through Keras; fake digits stand in for it.
  monkeypatch.setattr(data_lib, "load_mnist",
                      lambda path=None: make_fake_mnist(num_train=256))
  namespace = {}
  exec(compile(readme_python_blocks()[index], "README.md", "exec"), namespace)
  if index == 0:
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["100", "200", "300"]
    assert "d_loss" in lines[-1]
  else:
    variant = namespace["variant"]
    from gantape import step as step_lib
    d_opt, g_opt = step_lib.make_optimizers(variant)
    train_step = step_lib.TrainStep(variant, d_opt, g_opt)
    iterator = train_step.make_iterator(
        variant.make_dataset(make_fake_mnist(), batch_size=8, seed=0))
    metrics = train_step(iterator, 1)
    assert float(metrics["g_loss"]) >= 0.0  # a squared error
