"""The README's examples run as written, offline: the data comes from
$GANTAPE_DATA (fake digits here), as the README says. The first step-API
example trains with the settings it claims, those of `gantape train
--variant=gan`; the Extending example's two files train its own variant
through `train()`, importable by name afterwards."""

import json
import os
import re
import sys

import numpy as np
import pytest

from gantape import data as data_lib
from gantape import optimizers as optimizers_lib
from gantape import variants
from gantape.errors import DataError
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


@pytest.fixture
def data_folder(tmp_path, monkeypatch):
  """$GANTAPE_DATA with fake digits as its mnist.npz."""
  mnist = make_fake_mnist(num_train=256)
  folder = tmp_path / "data"
  folder.mkdir()
  np.savez(folder / "mnist.npz", x_train=mnist.x_train,
           y_train=mnist.y_train, x_test=mnist.x_test, y_test=mnist.y_test)
  monkeypatch.setenv(data_lib.DATA_ENV, str(folder))
  return folder


def run_block(index):
  namespace = {}
  exec(compile(readme_python_blocks()[index], "README.md", "exec"), namespace)
  return namespace


def test_readme_has_the_examples():
  assert len(readme_python_blocks()) == 2


def test_step_example_trains_as_the_train_command(data_folder, capsys):
  del data_folder
  namespace = run_block(0)
  lines = capsys.readouterr().out.strip().splitlines()
  assert [line.split()[0] for line in lines] == ["100", "200", "300"]
  assert "d_loss" in lines[-1]
  images = np.asarray(namespace["images"])
  assert images.shape == (16, 784)  # the MLP GAN's flat digits
  assert images.min() >= 0.0 and images.max() <= 1.0
  # The samples come from the weight average, which has moved off the
  # live generator it started as.
  trainable = namespace["trainable"]
  live = trainable.variant.generator.weights[0].numpy()
  average = trainable.averages["generator"].average.weights[0].numpy()
  assert not np.array_equal(live, average)
  assert namespace["variant"] is trainable.sampler
  # What the README says the example shares with `gantape train`: the
  # default preset's Adam, updates and average, batch 64, no R1.
  for opt in (trainable.d_optimizer, trainable.g_optimizer):
    assert float(opt.learning_rate.numpy()) == pytest.approx(1e-3)
    assert opt.beta_1 == 0.9 and opt.beta_2 == 0.999
  assert trainable.step.options.updates_per_batch == 2
  assert trainable.averages["generator"].decay == 0.999
  assert trainable.variant.r1_gamma == 0.0
  assert trainable.run.config.batch_size == 64
  assert int(trainable.step.global_step) == 300


def test_loss_swap_example_trains():
  variant = run_block(1)["variant"]
  d_opt, g_opt = optimizers_lib.make_optimizers(variant)
  train_step = step_lib.TrainStep(variant, d_opt, g_opt)
  iterator = train_step.make_iterator(
      variant.make_dataset(make_fake_mnist(), batch_size=8, seed=0))
  metrics = train_step(iterator, 1)
  assert float(metrics["g_loss"]) >= 0.0  # a squared error


def test_own_variant_example_trains_through_train(data_folder, tmp_path,
                                                  monkeypatch, capsys):
  del data_folder
  blocks = readme_python_blocks("Extending")
  assert len(blocks) == 1
  module, script = blocks[0].split("# run.py, beside it\n")
  assert module.startswith("# my_gan.py\n")
  (tmp_path / "my_gan.py").write_text(module)
  monkeypatch.syspath_prepend(str(tmp_path))
  monkeypatch.delitem(sys.modules, "my_gan", raising=False)
  code = script.replace("/tmp/gantape/my_gan", str(tmp_path / "my_gan"))
  assert code != script
  namespace = {"__name__": "__main__"}
  exec(compile(code, "README.md", "exec"), namespace)
  assert "warning" not in capsys.readouterr().err  # MyGAN is importable
  result = namespace["result"]
  assert result.iterations == 300
  # R1 acts on the subclassed discriminator, which returns logits.
  assert result.final_metrics["r1_penalty"] > 0.0
  assert 0.0 < result.final_metrics["d_real"] < 1.0
  with open(tmp_path / "my_gan" / "run.json") as f:
    run = json.load(f)
  assert run["variant"] == "my_gan:MyGAN"
  assert run["variant_options"] == {"r1_gamma": 1.0}
  assert run["image_shape"] == [28, 28, 1] and run["num_classes"] == 10
  # Sampling rebuilds the class from run.json, in this process.
  restored = checkpoints.restore_from_workdir(str(tmp_path / "my_gan"))
  assert type(restored.variant) is sys.modules["my_gan"].MyGAN
  assert restored.ema_variant is not None  # the preset's EMA: a second MyGAN
  out = export.write_samples(str(tmp_path / "my_gan"),
                             str(tmp_path / "samples.npz"), 4)
  with np.load(out["npz"]) as npz:
    assert npz["x"].shape == (4, 28, 28)


def test_a_variant_defined_in_the_script_run_is_warned_about(capsys):
  class ScriptGAN(variants.get_class("gan")):
    pass
  ScriptGAN.__module__ = "__main__"
  assert variants.register(ScriptGAN) == "__main__:" + ScriptGAN.__qualname__
  err = capsys.readouterr().err
  assert err.startswith("warning: ") and err.count("\n") == 1
  assert "cannot import it; move it to a module, e.g. my_gan.py" in err


def test_gantape_data_without_the_dataset_is_one_line(tmp_path, monkeypatch):
  monkeypatch.setenv(data_lib.DATA_ENV, str(tmp_path))
  with pytest.raises(DataError, match="holds no mnist.npz or "
                     "mnist/; put the dataset there, pass --data_path"):
    data_lib.load_mnist()
