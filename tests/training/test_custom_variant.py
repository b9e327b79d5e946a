"""A variant of your own, end to end: a subclassed generator and a
discriminator that returns logits train with R1 through `train()`, with EMA,
checkpoints, sample grids, sampling, export and evaluation; `--variant=module:Class`
through `gantape train`; and names that are not variants are refused.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantape import losses
from gantape import train as train_lib
from gantape import variants
from gantape.errors import UsageError
from gantape.evaluation import classifier as classifier_lib
from gantape.evaluation import workdir as evaluation_workdir
from gantape.training import checkpoints
from gantape.training import export
from tests.conftest import REPO_ROOT, make_fake_mnist

BATCH = 8


class Generator(keras.Model):
  """Noise -> images in (0, 1) of any [H, W, C] with even H and W."""

  def __init__(self, image_shape):
    super().__init__()
    self.image_shape = tuple(image_shape)
    height, width, channels = self.image_shape
    self.dense = keras.layers.Dense(height // 2 * width // 2 * 8)
    self.norm = keras.layers.BatchNormalization()
    self.up = keras.layers.Conv2DTranspose(channels, 4, strides=2,
                                           padding="same",
                                           activation="sigmoid")

  def call(self, noise, training=False):
    height, width, _ = self.image_shape
    x = tf.nn.relu(self.norm(self.dense(noise), training=training))
    return self.up(tf.reshape(x, [-1, height // 2, width // 2, 8]))


class Discriminator(keras.Model):
  """Images -> one logit; `returns_logits` tells gantape so."""

  returns_logits = True

  def __init__(self):
    super().__init__()
    self.conv = keras.layers.Conv2D(8, 3, strides=2, padding="same")
    self.out = keras.layers.Dense(1)

  def call(self, images, training=False):
    x = tf.nn.leaky_relu(self.conv(images), 0.2)
    return self.out(tf.reshape(x, [tf.shape(x)[0], -1]))


class MyGAN(variants.Variant):
  """The non-saturating GAN with R1 on the networks above."""

  name = "my_gan"

  def __init__(self, *, image_shape=(28, 28, 1), r1_gamma=1.0):
    super().__init__(generator=Generator(image_shape),
                     discriminator=Discriminator())
    self.image_shape = tuple(image_shape)
    self.r1_gamma = r1_gamma
    self.build_networks()

  def discriminator_loss(self, batch, inputs):
    fake = tf.stop_gradient(self.generate(inputs, training=True))
    real, r1 = self.real_probabilities(batch["image"], tf.sigmoid,
                                       lambda logits: logits[:, 0])
    fake = self.discriminate(fake, tf.sigmoid)
    return variants.LossOutput(
        losses.minimax_discriminator_loss(real, fake, 1e-6),
        {"d_real": tf.reduce_mean(real),
         "d_fake": tf.reduce_mean(fake)}).plus_r1(r1)

  def generator_loss(self, batch, inputs):
    fake = self.discriminate(self.generate(inputs, training=True), tf.sigmoid)
    return variants.LossOutput(losses.non_saturating_generator_loss(fake,
                                                                    1e-6))


def config(workdir, **overrides):
  options = dict(workdir=str(workdir), steps=4, batch_size=BATCH,
                 iterations_per_call=2, log_every=2, sample_every=2,
                 checkpoint_every=2)
  options.update(overrides)
  return train_lib.TrainConfig(**options)


def test_own_variant_trains_with_r1_ema_and_samples_exports_evaluates(
    tmp_path, monkeypatch):
  data = make_fake_mnist(num_train=64)
  result = train_lib.train(config(tmp_path / "run"), log=lambda line: None,
                           dataset=data, variant=MyGAN)
  assert result.iterations == 4
  assert result.final_metrics["r1_penalty"] > 0.0  # the penalty is on
  assert np.isfinite(result.final_metrics["d_loss"])
  assert os.path.exists(result.final_grid)
  with open(tmp_path / "run" / "run.json") as f:
    run = json.load(f)
  assert run["variant"] == f"{__name__}:MyGAN"
  assert run["ema_decay"] == 0.999  # the preset's: a second MyGAN averages
  restored = checkpoints.restore_from_workdir(str(tmp_path / "run"))
  assert isinstance(restored.variant, MyGAN)
  assert restored.ema_variant is not None
  # The restored average is the checkpoint's, not a fresh generator's.
  step = result.step
  ema_weights = [w.numpy() for w in restored.ema_variant.generator.weights]
  live_weights = [w.numpy() for w in step.variant.generator.weights]
  assert not all(np.array_equal(a, b)
                 for a, b in zip(ema_weights, live_weights))
  out = export.write_samples(str(tmp_path / "run"), str(tmp_path / "s.npz"),
                             5)
  with np.load(out["npz"]) as npz:
    assert npz["x"].shape == (5, 28, 28)
  export.export_generator(str(tmp_path / "run"), str(tmp_path / "saved"))
  serve = tf.saved_model.load(str(tmp_path / "saved")).signatures[
      "serving_default"]
  images = serve(noise=tf.zeros([2, 100]))["images"]
  assert images.shape == (2, 28, 28, 1)
  # Evaluated with a classifier that trains in a second, on the run's data.
  tiny = classifier_lib.ClassifierConfig(width=4, feature_dim=8, epochs=1,
                                         batch_size=16)
  monkeypatch.setenv(classifier_lib.CACHE_ENV, str(tmp_path / "cache"))
  monkeypatch.setattr(evaluation_workdir, "load_run_dataset",
                      lambda run, data_path=None: data)
  classifier_lib.load_or_train_classifier(data, tiny, log=lambda line: None)
  scores = evaluation_workdir.evaluate_workdir(
      str(tmp_path / "run"), num_samples=20, log=lambda line: None,
      classifier=classifier_lib.classifier_path(data, tiny))
  assert np.isfinite(scores["fcd"]) and np.isfinite(scores["kid"])


def test_variant_flag_imports_a_class_from_a_module(tmp_path):
  """`gantape train --variant=mygans:MyGAN` in a process of its own; the
  workdir is then sampled here, importing the class again from run.json."""
  package = tmp_path / "pkg"
  package.mkdir()
  (package / "mygans.py").write_text(textwrap.dedent(f"""\
      from tests.training.test_custom_variant import MyGAN as _Base

      class MyGAN(_Base):
        name = "my_gan_from_a_file"
      """))
  data = make_fake_mnist(num_train=32)
  np.savez(tmp_path / "mnist.npz", x_train=data.x_train, y_train=data.y_train,
           x_test=data.x_test, y_test=data.y_test)
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
             PYTHONPATH=os.pathsep.join([str(package), REPO_ROOT]))
  workdir = tmp_path / "run"
  process = subprocess.run(
      [sys.executable, "-m", "gantape", "train", "--variant=mygans:MyGAN",
       f"--workdir={workdir}", f"--data_path={tmp_path / 'mnist.npz'}",
       "--steps=2", "--batch_size=8", "--iterations_per_call=1",
       "--sample_every=2", "--checkpoint_every=2", "--log_every=1"],
      env=env, capture_output=True, text=True, timeout=300, check=False)
  assert process.returncode == 0, process.stderr
  assert "Training mygans:MyGAN" in process.stdout
  with open(workdir / "run.json") as f:
    assert json.load(f)["variant"] == "mygans:MyGAN"
  sys.path.insert(0, str(package))
  try:
    with pytest.raises(UsageError, match="never imports code because a "
                       "workdir names it"):
      checkpoints.restore_from_workdir(str(workdir))
    restored = checkpoints.restore_from_workdir(
        str(workdir), trusted_variant="mygans:MyGAN")
  finally:
    sys.path.remove(str(package))
  assert type(restored.variant).name == "my_gan_from_a_file"
  assert restored.step == 2


@pytest.mark.parametrize("name, message", [
    ("no_such_module_here:MyGAN", "cannot import variant "
     "'no_such_module_here:MyGAN': No module named"),
    (f"{__name__}:Nope", f"module '{__name__}' has no 'Nope'"),
    (f"{__name__}:Generator", "not a subclass of gantape.variants.Variant"),
    ("gantape.variants.base:Variant", "leaves abstract methods "
     "unimplemented: discriminator_loss, generator_loss"),
])
def test_names_that_are_not_variants_are_refused(name, message):
  with pytest.raises(UsageError, match=message):
    variants.get_class(name)


def test_registered_classes_keep_their_names():
  assert variants.register(variants.get_class("cgan")) == "cgan"
  assert variants.register(MyGAN) == f"{__name__}:MyGAN"
  assert variants.get_class(f"{__name__}:MyGAN") is MyGAN
  with pytest.raises(UsageError, match="not a subclass"):
    variants.register(dict)


def test_a_variant_without_a_name_is_named_by_its_class():
  class Unnamed(variants.Variant):
    discriminator_loss = generator_loss = None

  assert Unnamed.name == "Unnamed"
  assert MyGAN.name == "my_gan"


EVIL = """\
import pathlib
pathlib.Path(__file__).with_name("imported").write_text("ran")
from tests.training.test_custom_variant import MyGAN as Evil
"""


@pytest.fixture(scope="module")
def gan_workdir(tmp_path_factory):
  """A trained 2-iteration gan workdir."""
  workdir = tmp_path_factory.mktemp("gan") / "run"
  train_lib.train(train_lib.TrainConfig(
      workdir=str(workdir), variant="gan", steps=2, batch_size=BATCH,
      iterations_per_call=2), dataset=make_fake_mnist(num_train=32),
                  log=lambda line: None)
  return workdir


def _names_code(workdir, name):
  """`workdir`'s run.json now names `name`; an evilmod.py lies beside it."""
  path = workdir / "run.json"
  run = json.loads(path.read_text())
  run["variant"] = name
  path.write_text(json.dumps(run))
  (workdir / "evilmod.py").write_text(EVIL)


def test_a_workdir_never_makes_the_command_import_code(gan_workdir, tmp_path):
  """`cd WORKDIR && python -m gantape sample --workdir=.`: the current
  directory is first on sys.path, and run.json names a module there."""
  workdir = tmp_path / "run"
  shutil.copytree(gan_workdir, workdir)
  _names_code(workdir, "evilmod:Evil")
  env = {k: v for k, v in os.environ.items()
         if k not in ("PYTHONPATH", "TF_CPP_MIN_LOG_LEVEL")}
  process = subprocess.run(
      [sys.executable, "-m", "gantape", "sample", "--workdir=.",
       "--output=s.npz"], cwd=workdir, env=env,
      capture_output=True, text=True, timeout=120, check=False)
  assert process.returncode == 2, process.stderr
  assert process.stderr.strip().splitlines() == [
      "error: the run records the variant 'evilmod:Evil', code from outside "
      "gantape, and gantape never imports code because a workdir names it; "
      "if you trust that module, pass --variant=evilmod:Evil (with its "
      "package on PYTHONPATH)."]
  assert not (workdir / "imported").exists()


def test_a_named_class_is_imported_only_when_trusted_and_never_from_cwd(
    gan_workdir, tmp_path, monkeypatch):
  workdir = tmp_path / "run"
  shutil.copytree(gan_workdir, workdir)
  monkeypatch.chdir(workdir)
  monkeypatch.setattr(sys, "path", ["", *sys.path])  # as python -m / -c do
  monkeypatch.delenv("PYTHONPATH", raising=False)
  _names_code(workdir, "this:Zen")  # a standard module runs on import
  with pytest.raises(UsageError, match="pass --variant=this:Zen"):
    export.write_samples(".", "s.npz", 4)
  assert "this" not in sys.modules
  _names_code(workdir, "evilmod:Evil")
  with pytest.raises(UsageError, match="--variant=gan does not match"):
    export.write_samples(".", "s.npz", 4, trusted_variant="gan")
  # Trusted, but the current directory is not where modules come from.
  with pytest.raises(UsageError, match="cannot import variant 'evilmod:Evil':"
                     " No module named 'evilmod'; put its package on "
                     "PYTHONPATH"):
    export.write_samples(".", "s.npz", 4, trusted_variant="evilmod:Evil")
  assert not (workdir / "imported").exists()
