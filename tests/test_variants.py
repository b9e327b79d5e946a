"""The registry: every variant declares its constructor's options once."""

import dataclasses
import inspect

import pytest

from gantape import variants
from gantape.errors import UsageError
from gantape.variants import base
from gantape.variants import settings

NETWORK_ARGUMENTS = ("self", "generator", "discriminator")


@pytest.mark.parametrize("name", variants.names())
def test_a_constructor_takes_its_options_from_the_declaration(name):
  """No option is a keyword of its own (the default would be written
  twice): the constructor takes the networks, what the dataset gives
  (`base.DATA_ARGUMENTS`) and **options, and sets each declared option to
  its declared default."""
  cls = variants.get_class(name)
  parameters = inspect.signature(cls.__init__).parameters
  named = {k for k, p in parameters.items() if p.kind != p.VAR_KEYWORD}
  assert named <= set(NETWORK_ARGUMENTS + base.DATA_ARGUMENTS)
  variant = variants.build(name)
  assert {o.name: getattr(variant, o.name) for o in cls.options} == {
      o.name: o.default for o in cls.options}


def test_a_constructor_refuses_an_option_it_does_not_declare():
  with pytest.raises(UsageError, match="variant 'cgan' takes no option "
                     "gp_weight; its options are: label_smoothing"):
    variants.get_class("cgan")(gp_weight=10.0)


def test_the_class_docstring_lists_the_declared_options():
  doc = variants.get_class("wgan_gp").__doc__
  assert "gp_weight (float, default 10.0): weight lambda" in doc
  assert "n_critic (int, default 5): discriminator (critic) updates" in doc


def _check_margin(margin):
  if margin < 0:
    raise UsageError(f"margin={margin} is negative; use a value >= 0.")


class _Margin(variants.get_class("gan")):
  """A variant with one new option: its declaration is all it writes."""

  options = variants.get_class("gan").options + (
      settings.Option("margin", float, 0.5, "a margin.",
                      check=_check_margin),)


def test_a_new_option_is_one_declaration():
  assert _Margin().margin == 0.5
  assert _Margin(margin=2).margin == 2.0  # as its type
  assert variants.check_options(_Margin, {"margin": 1.0}) == {"margin": 1.0}
  assert variants.nondefault_options(_Margin, {"margin": 0.5}) == {}
  assert "margin (float, default 0.5): a margin." in _Margin.__doc__
  with pytest.raises(UsageError, match="margin=-1.0 is negative"):
    _Margin(margin=-1.0)


@pytest.mark.parametrize("name", variants.names())
def test_declared_defaults_pass_their_own_checks(name):
  for option in variants.options(name).values():
    assert option.checked(option.default) == option.default
    if option.choices is not None:
      assert option.default in option.choices


def test_shared_options_agree_across_variants():
  """One flag per option name: every variant that takes it agrees on all
  but the default, which the flag's help gives per variant."""
  for name, (option, takers) in variants.all_options().items():
    for taker in takers:
      assert (dataclasses.replace(variants.options(taker)[name], default=None)
              == dataclasses.replace(option, default=None)), (name, taker)
  assert variants.options("wgan_gp")["gp_weight"].default == 10.0
  assert variants.options("dcgan")["gp_weight"].default == 0.0


def test_check_options_refuses_what_the_variant_does_not_take():
  with pytest.raises(UsageError, match="variant 'gan' takes no option "
                     "num_labeled; its options are: label_smoothing, "
                     "r1_gamma"):
    variants.check_options("gan", {"num_labeled": 2})


@pytest.mark.parametrize("name, values, message", [
    ("gan", {"r1_gamma": -1.0}, "r1_gamma=-1.0 is negative"),
    ("dcgan", {"label_smoothing": 1.0}, "outside \\[0, 1\\)"),
    ("ssgan", {"loss_form": "log"}, "unknown ssgan loss_form 'log'"),
    ("ssgan", {"num_labeled": 0}, "num_labeled=0 is not positive"),
    ("wgan_gp", {"n_critic": 0}, "n_critic=0 is not a positive integer"),
    ("wgan_gp", {"gp_weight": -1.0}, "gp_weight=-1.0 is negative"),
    ("dcgan", {"gp_weight": -0.5}, "gp_weight=-0.5 is negative"),
    ("ssgan", {"r1_every": 0}, "r1_every=0 is not a positive integer"),
    ("cgan", {"networks": "bogus"}, "unknown cgan networks 'bogus'"),
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
  assert variants.preset_names() == ["gantape", "general", "seed", "salimans"]


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
