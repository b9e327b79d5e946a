"""The README's step-API examples run as written (on fake data), and the first
trains with the settings it claims: those of `gantape train --variant=gan`."""

import os
import re

import numpy as np
import pytest

from gantape import data as data_lib
from gantape import step as step_lib
from gantape.train import TrainConfig
from tests.conftest import REPO_ROOT, make_fake_mnist


def readme_python_blocks():
  with open(os.path.join(REPO_ROOT, "README.md")) as f:
    text = f.read()
  section = text.split("## The step API", 1)[1].split("\n## ", 1)[0]
  return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def run_block(index, monkeypatch):
  # The example downloads MNIST through Keras; fake digits stand in for it.
  monkeypatch.setattr(data_lib, "load_mnist",
                      lambda path=None: make_fake_mnist(num_train=256))
  namespace = {}
  exec(compile(readme_python_blocks()[index], "README.md", "exec"), namespace)
  return namespace


def test_readme_has_the_examples():
  assert len(readme_python_blocks()) == 2


def test_step_example_trains_as_the_train_command(monkeypatch, capsys):
  namespace = run_block(0, monkeypatch)
  lines = capsys.readouterr().out.strip().splitlines()
  assert [line.split()[0] for line in lines] == ["100", "200", "300"]
  assert "d_loss" in lines[-1]
  images = np.asarray(namespace["images"])
  assert images.shape == (16, 784)  # the MLP GAN's flat digits
  assert images.min() >= 0.0 and images.max() <= 1.0
  # The samples come from the weight average, which has moved off the
  # live generator it started as.
  live = namespace["variant"].generator.weights[0].numpy()
  average = namespace["ema"].average.weights[0].numpy()
  assert not np.array_equal(live, average)
  # What the README says the example shares with `gantape train`.
  config = TrainConfig(workdir="unused", variant="gan").resolved()
  d_opt, g_opt = namespace["d_opt"], namespace["g_opt"]
  for opt in (d_opt, g_opt):
    assert float(opt.learning_rate.numpy()) == pytest.approx(
        config.learning_rate)
    assert opt.beta_1 == config.beta_1 and opt.beta_2 == config.beta_2
  assert namespace["train_step"].updates_per_batch == config.updates_per_batch
  assert config.updates_per_batch == 2  # the default's two updates of 32
  assert namespace["ema"].decay == config.ema_decay == 0.999
  assert namespace["variant"].r1_gamma == config.variant_options.get(
      "r1_gamma", 0.0)
  # The example's literals: batch 64, 100 iterations per call.
  assert config.batch_size == 64 and config.iterations_per_call == 100
  assert int(namespace["train_step"].global_step) == 300


def test_loss_swap_example_trains(monkeypatch):
  variant = run_block(1, monkeypatch)["variant"]
  d_opt, g_opt = step_lib.make_optimizers(variant)
  train_step = step_lib.TrainStep(variant, d_opt, g_opt)
  iterator = train_step.make_iterator(
      variant.make_dataset(make_fake_mnist(), batch_size=8, seed=0))
  metrics = train_step(iterator, 1)
  assert float(metrics["g_loss"]) >= 0.0  # a squared error
