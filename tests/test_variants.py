"""The registry: every variant declares its constructor's options once."""

import inspect

import pytest

from gantape import variants
from gantape.errors import UsageError
from gantape.variants import base

NETWORK_ARGUMENTS = ("self", "generator", "discriminator")


@pytest.mark.parametrize("name", variants.names())
def test_declared_options_are_the_constructor_keywords(name):
  """Declared name and default = the constructor's, and nothing undeclared
  but the networks and what the dataset gives (`base.DATA_ARGUMENTS`)."""
  parameters = inspect.signature(variants.get_class(name).__init__).parameters
  keywords = {k: p.default for k, p in parameters.items()
              if k not in NETWORK_ARGUMENTS + base.DATA_ARGUMENTS}
  declared = {k: o.default for k, o in variants.options(name).items()}
  assert declared == keywords


@pytest.mark.parametrize("name", variants.names())
def test_declared_defaults_pass_their_own_checks(name):
  for option in variants.options(name).values():
    assert option.checked(option.default) == option.default
    if option.choices is not None:
      assert option.default in option.choices


def test_shared_options_agree_across_variants():
  """One flag per option name: every variant that takes it agrees."""
  for name, (option, takers) in variants.all_options().items():
    for taker in takers:
      assert variants.options(taker)[name] == option, (name, taker)


def test_check_options_refuses_what_the_variant_does_not_take():
  with pytest.raises(UsageError, match="variant 'gan' takes no option "
                     "n_critic; its options are: label_smoothing, r1_gamma"):
    variants.check_options("gan", {"n_critic": 2})


@pytest.mark.parametrize("name, values, message", [
    ("gan", {"r1_gamma": -1.0}, "r1_gamma=-1.0 is negative"),
    ("dcgan", {"label_smoothing": 1.0}, "outside \\[0, 1\\)"),
    ("ssgan", {"loss_form": "log"}, "unknown ssgan loss_form 'log'"),
    ("ssgan", {"num_labeled": 0}, "num_labeled=0 is not positive"),
    ("wgan_gp", {"n_critic": 0}, "n_critic must be at least 1"),
    ("wgan_gp", {"gp_weight": -1.0}, "gp_weight must be >= 0"),
    ("cgan", {"networks": "resnet"}, "unknown cgan networks 'resnet'"),
])
def test_bad_option_values_are_refused_before_building(name, values, message):
  with pytest.raises(UsageError, match=message):
    variants.check_options(name, values)


def test_a_float_option_takes_an_int():
  assert variants.check_options("dcgan", {"r1_gamma": 1}) == {"r1_gamma": 1.0}


def test_nondefault_options_drop_declared_defaults():
  assert variants.nondefault_options("dcgan", {"r1_gamma": 0.0}) == {}
  assert variants.nondefault_options("dcgan", {"r1_gamma": 1.0}) == {
      "r1_gamma": 1.0}


def test_preset_names_come_from_the_variants():
  assert variants.preset_names() == ["gantape", "seed", "salimans"]


@pytest.mark.parametrize("name", ["dcgan", "cgan", "wgan_gp"])
def test_networks_a_variant_does_not_have_are_refused(name):
  with pytest.raises(UsageError, match=f"variant '{name}' has no 'salimans' "
                     "networks; choose one of seed, dcgan"):
    variants.build(name, networks="salimans")


@pytest.mark.parametrize("name", ["dcgan", "cgan", "wgan_gp"])
def test_dcgan_networks_refuse_mnist_images(name):
  with pytest.raises(UsageError, match="dcgan networks need an image height "
                     "and width divisible by 8; got 28x28"):
    variants.build(name, networks="dcgan")


@pytest.mark.parametrize("name", ["gan", "dcgan", "ssgan", "cgan", "wgan_gp"])
def test_variants_take_the_image_shape_from_the_data(name):
  cls = variants.get_class(name)
  variant = cls(image_shape=(32, 32, 3))
  assert tuple(variant.image_shape) == (32, 32, 3)
  flat = (32 * 32 * 3,)
  assert variant.generator.output_shape[1:] == (
      flat if cls.flat_images else (32, 32, 3))
