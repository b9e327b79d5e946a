"""The networks' registry: every family builds what its kinds promise."""

import keras
import numpy as np
import pytest

from gantape import networks
from gantape import variants
from gantape.errors import UsageError
from gantape.networks import registry

SHAPE = (16, 16, 3)
CLASSES = 3
PAIRS = [(family, kind) for kind in networks.KINDS
         for family in networks.families_for(kind)]


def _noise(batch=2):
  return np.random.default_rng(0).uniform(
      -1, 1, (batch, networks.NOISE_DIM)).astype(np.float32)


LABELS = np.array([0, CLASSES - 1], np.int32)


def _generate(kind, generator):
  if kind in ("conditional", "projection"):
    return generator([_noise(), LABELS])
  return generator(_noise())


@pytest.mark.parametrize("family,kind", PAIRS)
def test_every_pair_makes_and_reads_what_its_kind_says(family, kind):
  generator, discriminator = networks.build_pair(
      family, kind, image_shape=SHAPE, num_classes=CLASSES)
  images = np.asarray(_generate(kind, generator))
  flat = (2, int(np.prod(SHAPE)))
  assert images.shape == (flat if kind == "flat" else (2,) + SHAPE)
  assert ((images >= 0) & (images <= 1)).all()  # gantape's image range
  outputs = np.asarray(discriminator(
      [images, LABELS] if kind == "projection" else images, training=False))
  if kind in ("conditional", "classifier"):
    assert outputs.shape == (2, CLASSES + 1)
    np.testing.assert_allclose(outputs.sum(axis=1), 1.0, rtol=1e-5)
  else:
    assert outputs.shape == (2, 1)
  if kind in ("flat", "unconditional"):
    assert ((outputs > 0) & (outputs < 1)).all()
  if kind == "critic":
    assert discriminator.layers[-1].activation.__name__ == "linear"
    assert not any(isinstance(layer, keras.layers.BatchNormalization)
                   for layer in discriminator.layers)


def test_the_variants_offer_the_families_of_their_kind():
  for name, kind in (("dcgan", "unconditional"), ("wgan_gp", "critic"),
                     ("ssgan", "classifier")):
    assert variants.get_class(name).networks_offered == (
        networks.families_for(kind))
  assert variants.get_class("cgan").networks_offered == (  # its two kinds
      networks.families_for("conditional") + ("resnet",))
  assert networks.families_for("unconditional")[:2] == ("seed", "dcgan")
  assert networks.families_for("classifier")[:2] == ("seed", "salimans")
  assert networks.families_for("flat") == ("mlp",)


def test_given_networks_are_used_and_only_the_missing_one_is_built():
  mine = keras.Sequential([keras.Input((networks.NOISE_DIM,)),
                           keras.layers.Dense(int(np.prod(SHAPE))),
                           keras.layers.Reshape(SHAPE)])
  generator, discriminator = networks.build_pair(
      "dcgan", "unconditional", image_shape=SHAPE, generator=mine)
  assert generator is mine
  assert discriminator.name == "dcgan_discriminator"
  both = networks.build_pair("seed", "critic", generator=mine,
                             discriminator=discriminator)
  assert both == (mine, discriminator)


@pytest.mark.parametrize("family,kind,match", [
    ("nope", "unconditional", "unknown networks 'nope'; choose one of seed"),
    ("salimans", "critic", "no critic pair; for critic use one of seed, "
     "dcgan"),
    ("dcgan", "unconditional", "divisible by 8"),
])
def test_a_family_or_kind_it_cannot_build_is_refused(family, kind, match):
  with pytest.raises(UsageError, match=match):
    networks.build_pair(family, kind, image_shape=(28, 28, 1))


def test_register_adds_a_family_in_one_call(monkeypatch):
  monkeypatch.setattr(registry, "_FAMILIES", dict(registry._FAMILIES))
  built = []

  def generator(spec):
    built.append(spec)
    return networks.seed.mlp_generator(spec.noise_dim,
                                       image_shape=spec.image_shape)

  networks.register("tiny", {"flat": networks.Builders(
      generator, lambda spec: networks.seed.mlp_discriminator(
          image_shape=spec.image_shape))})
  assert networks.families_for("flat") == ("mlp", "tiny")
  assert "tiny" in networks.families()
  g, _ = networks.build_pair("tiny", "flat", image_shape=(4, 4, 1),
                             noise_dim=7)
  assert g.input_shape == (None, 7)
  assert built == [networks.Spec((4, 4, 1), networks.NUM_CLASSES, 7, False)]
  with pytest.raises(UsageError, match="unknown network kind"):
    networks.register("bad", {"no_such_kind": None})


@pytest.mark.parametrize("shape,offered,expected", [
    ((28, 28, 1), ("seed", "dcgan"), "seed"),
    ((32, 32, 3), ("seed", "dcgan"), "dcgan"),
    ((32, 32, 3), ("seed", "salimans"), "seed"),
    ((32, 32, 3), ("mlp",), None),
])
def test_default_family_is_the_seeds_at_its_shape_else_dcgan(shape, offered,
                                                             expected):
  assert networks.default_family(shape, offered) == expected
