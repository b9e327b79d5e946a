"""The README's step-API examples run as written (on fake data), and the first
trains with the settings it claims: those of `gantape train --variant=gan`;
its Extending example trains its own variant through `train()`."""

import json
import os
import re

import numpy as np
import pytest

from gantape import data as data_lib
from gantape import optimizers as optimizers_lib
from gantape import step as step_lib
from gantape.train import TrainConfig
from gantape.training import checkpoints
from gantape.training import export
from tests.conftest import REPO_ROOT, make_fake_mnist


def readme_python_blocks(section="The step API"):
  with open(os.path.join(REPO_ROOT, "README.md")) as f:
    text = f.read()
  section = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
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
  d_opt, g_opt = optimizers_lib.make_optimizers(variant)
  train_step = step_lib.TrainStep(variant, d_opt, g_opt)
  iterator = train_step.make_iterator(
      variant.make_dataset(make_fake_mnist(), batch_size=8, seed=0))
  metrics = train_step(iterator, 1)
  assert float(metrics["g_loss"]) >= 0.0  # a squared error


def test_own_variant_example_trains_through_train(monkeypatch, tmp_path):
  # The example loads MNIST by its dataset name; fake digits stand in.
  monkeypatch.setattr(data_lib, "load_dataset",
                      lambda *args, **kwargs: make_fake_mnist(num_train=256))
  blocks = readme_python_blocks("Extending")
  assert len(blocks) == 1
  code = blocks[0].replace("/tmp/gantape/my_gan", str(tmp_path / "my_gan"))
  assert code != blocks[0]
  namespace = {"__name__": "readme_example"}
  exec(compile(code, "README.md", "exec"), namespace)
  result = namespace["result"]
  assert result.iterations == 300
  # R1 acts on the subclassed discriminator, which returns logits.
  assert result.final_metrics["r1_penalty"] > 0.0
  assert 0.0 < result.final_metrics["d_real"] < 1.0
  with open(tmp_path / "my_gan" / "run.json") as f:
    run = json.load(f)
  assert run["variant"] == "readme_example:MyGAN"
  assert run["variant_options"] == {"r1_gamma": 1.0}
  assert run["image_shape"] == [28, 28, 1] and run["num_classes"] == 10
  # Sampling rebuilds the class from run.json, in this process.
  restored = checkpoints.restore_from_workdir(str(tmp_path / "my_gan"))
  assert type(restored.variant) is namespace["MyGAN"]
  assert restored.ema_variant is not None  # the preset's EMA: a second MyGAN
  out = export.write_samples(str(tmp_path / "my_gan"),
                             str(tmp_path / "samples.npz"), 4)
  with np.load(out["npz"]) as npz:
    assert npz["x"].shape == (4, 28, 28)
