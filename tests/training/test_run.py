"""A run is resolved once: one variant lookup, one config rewrite."""

import dataclasses

import pytest

from gantape import train as train_lib
from gantape import variants
from gantape.errors import UsageError
from gantape.training import run as run_lib
from gantape.training import run_data
from gantape.training.config import TrainConfig

from tests.conftest import make_fake_mnist

MNIST_SHAPE = run_data.DataShape((28, 28, 1), 10)


def test_train_looks_its_variant_up_once_and_rewrites_its_config_once(
    tmp_path, monkeypatch):
  lookups, rewrites = [], []
  get_class, replace = variants.get_class, dataclasses.replace

  def counting_get_class(name):
    if isinstance(name, str):
      lookups.append(name)
    return get_class(name)

  def counting_replace(obj, **changes):
    if isinstance(obj, TrainConfig):
      rewrites.append(sorted(changes))
    return replace(obj, **changes)
  monkeypatch.setattr(variants, "get_class", counting_get_class)
  monkeypatch.setattr(dataclasses, "replace", counting_replace)
  train_lib.train(TrainConfig(workdir=str(tmp_path / "run"), variant="dcgan",
                              steps=2, batch_size=16, iterations_per_call=2),
                  dataset=make_fake_mnist(num_train=64), log=lambda _: None)
  assert lookups == ["dcgan"]
  assert len(rewrites) == 1


def test_settings_apply_the_preset_and_keep_what_was_given():
  config, kept, changes = run_lib.settings(
      TrainConfig(workdir="w", variant="dcgan", beta_1=0.5), MNIST_SHAPE)
  assert (config.learning_rate, config.beta_1, config.updates_per_batch,
          config.ema_decay) == (1e-3, 0.5, 2, 0.999)
  assert config.variant_options == {"r1_gamma": 1.0, "r1_every": 16}
  assert (kept, changes) == ({}, [])


def test_settings_keep_the_recorded_values_not_given():
  recorded = {"learning_rate": 5e-4, "steps": 40, "log_every": 7}
  config, kept, changes = run_lib.settings(
      TrainConfig(workdir="w", variant="gan", learning_rate=2e-4, steps=80),
      MNIST_SHAPE, given=["learning_rate", "steps"], recorded_run=recorded)
  assert (config.learning_rate, config.steps, config.log_every) == (
      2e-4, 80, 7)
  assert kept == {"log_every": 7}
  assert changes == ["learning_rate 0.0005 -> 0.0002"]


def test_other_shapes_get_the_networks_they_need():
  colour = run_data.DataShape((32, 32, 3), 10)
  config = run_lib.Run.for_shape(TrainConfig(workdir="", variant="dcgan"),
                                 colour).config
  assert config.variant_options["networks"] == "dcgan"
  mnist = run_lib.Run.for_shape(TrainConfig(workdir="", variant="dcgan"),
                                MNIST_SHAPE).config
  assert "networks" not in mnist.variant_options


def test_a_run_knows_its_length_and_schedule():
  run = run_lib.Run.for_shape(
      TrainConfig(workdir="", variant="gan", lr_decay_start=10), MNIST_SHAPE)
  assert run.total_iterations == variants.get_class("gan").default_iterations
  assert run.lr_decay == (10, run.total_iterations)


def test_resolve_needs_a_workdir():
  with pytest.raises(UsageError, match="workdir must be set"):
    run_lib.resolve(TrainConfig(workdir=""), make_fake_mnist(num_train=64))


COLOUR_SHAPE = run_data.DataShape((32, 32, 3), 10)


@pytest.mark.parametrize("dataset,shape,preset,r1", [
    ("mnist", MNIST_SHAPE, "gantape", None),
    ("fashion_mnist", MNIST_SHAPE, "general", 1.0),
    ("colour_mnist", COLOUR_SHAPE, "general", 1.0),
    ("folder", COLOUR_SHAPE, "general", 1.0)])
def test_the_default_preset_is_gantape_on_mnist_and_general_elsewhere(
    dataset, shape, preset, r1):
  config = run_lib.Run.for_shape(
      TrainConfig(workdir="", variant="cgan", dataset=dataset), shape).config
  assert config.preset == preset
  assert config.variant_options.get("r1_gamma") == r1
  assert config.variant_options.get("r1_every") == (r1 and 16)


def test_a_named_preset_or_the_recorded_one_wins_over_the_datas_default():
  given = TrainConfig(workdir="", variant="cgan", dataset="colour_mnist",
                      preset="gantape")
  assert run_lib.settings(given, COLOUR_SHAPE)[0].preset == "gantape"
  resumed = TrainConfig(workdir="", variant="cgan", dataset="colour_mnist")
  # A run recorded before "general" existed resumes with its own preset.
  assert run_lib.settings(resumed, COLOUR_SHAPE,
                          recorded_run={"preset": "gantape"})[0].preset == (
                              "gantape")


def test_every_built_in_variant_has_the_general_preset():
  for name in variants.names():
    cls = variants.get_class(name)
    assert variants.settings.default_preset(cls.presets, "folder") == (
        "general")
    assert variants.settings.default_preset(cls.presets, "mnist") == (
        "gantape")
  # A variant of one's own without it falls back to "gantape".
  assert variants.settings.default_preset({"gantape": None}, "folder") == (
      "gantape")
