"""The networks' registry: families of builders, keyed by family and kind.

A variant asks for the pair of networks its losses need, by kind:

- "flat": generator of flat images (H*W*C pixels), discriminator of them
  with one sigmoid output (the GAN variant's MLPs);
- "unconditional": generator of images, discriminator with one sigmoid
  output, P(real) (dcgan);
- "critic": the same generator, a discriminator with one linear output and
  no BatchNorm, whose penalty is per sample (wgan_gp);
- "conditional": generator of `[noise, labels]`, discriminator with
  num_classes + 1 softmax outputs, the last "fake" (cgan);
- "classifier": generator of noise, discriminator with num_classes + 1
  softmax outputs, the last "fake" (ssgan);
- "projection": generator of `[noise, labels]` with class-conditional
  BatchNorm, discriminator of `[images, labels]` with one logit, the
  projection discriminator of Miyato & Koyama 2018 (cgan's
  conditioning="projection"; `gantape.networks.projection`).

A family offers some kinds for some image shapes; each of its builders
refuses a shape it cannot take (`UsageError`). A new family is one
`register` call.
"""

import dataclasses
from typing import Callable, Dict, Mapping, NamedTuple, Optional, Tuple

import keras

from gantape.data import NUM_CLASSES
from gantape.errors import UsageError
from gantape.networks import (IMAGE_SHAPE, NOISE_DIM, ImageShape,
                              check_image_shape)
from gantape.networks import dcgan
from gantape.networks import projection
from gantape.networks import resnet
from gantape.networks import salimans
from gantape.networks import seed
from gantape.networks import spectral

KINDS = ("flat", "unconditional", "critic", "conditional", "classifier",
         "projection")


@dataclasses.dataclass(frozen=True)
class Spec:
  """What a builder builds for: the data's shape and classes, and options.

  Attributes:
    image_shape: [H, W, C] of the images.
    num_classes: the number of labels (conditional and classifier kinds).
    noise_dim: the generator's noise size.
    synchronized_batch_norm: BatchNorm over the global batch across
      replicas (`gantape.networks`); default False: per replica.
    discriminator_batch_norm: False builds the discriminator without its
      BatchNorm layers (under spectral normalization).
  """
  image_shape: Tuple[int, int, int]
  num_classes: int = NUM_CLASSES
  noise_dim: int = NOISE_DIM
  synchronized_batch_norm: bool = False
  discriminator_batch_norm: bool = True


class Builders(NamedTuple):
  """A family's builders for one kind: each takes a `Spec`, returns a model."""
  generator: Callable[[Spec], keras.Model]
  discriminator: Callable[[Spec], keras.Model]


def _seed_kinds() -> Dict[str, Builders]:
  def generator(s):
    return seed.conv_generator(s.noise_dim, image_shape=s.image_shape,
                               synchronized_batch_norm=s.synchronized_batch_norm)

  def discriminator(outputs, activation="sigmoid", batch_norm=True, **kwargs):
    return lambda s: seed.conv_discriminator(
        outputs(s), image_shape=s.image_shape, output_activation=activation,
        batch_norm=batch_norm and s.discriminator_batch_norm,
        synchronized_batch_norm=s.synchronized_batch_norm, **kwargs)

  classes = discriminator(lambda s: s.num_classes + 1, "softmax")
  return {
      "unconditional": Builders(generator, discriminator(lambda s: 1)),
      "critic": Builders(generator, discriminator(
          lambda s: 1, None, batch_norm=False, name="critic")),
      "conditional": Builders(lambda s: seed.conditional_generator(
          s.noise_dim, s.num_classes, image_shape=s.image_shape,
          synchronized_batch_norm=s.synchronized_batch_norm), classes),
      "classifier": Builders(generator, classes),
      "projection": Builders(
          lambda s: projection.with_conditional_batch_norm(
              generator(s), s.num_classes),
          projection.discriminator_builder(
              discriminator(lambda s: 1, None), "conv_discriminator"))}


def _mlp_kinds() -> Dict[str, Builders]:
  return {"flat": Builders(
      lambda s: seed.mlp_generator(s.noise_dim, image_shape=s.image_shape),
      lambda s: seed.mlp_discriminator(image_shape=s.image_shape))}


def _dcgan_kinds() -> Dict[str, Builders]:
  def generator(conditional):
    return lambda s: dcgan.dcgan_generator(
        s.image_shape, s.noise_dim, s.num_classes if conditional else None,
        synchronized_batch_norm=s.synchronized_batch_norm)

  def discriminator(outputs, activation="sigmoid", batch_norm=True, **kwargs):
    return lambda s: dcgan.dcgan_discriminator(
        s.image_shape, outputs(s), output_activation=activation,
        batch_norm=batch_norm and s.discriminator_batch_norm,
        synchronized_batch_norm=s.synchronized_batch_norm, **kwargs)

  return {
      "unconditional": Builders(generator(False), discriminator(lambda s: 1)),
      "critic": Builders(generator(False), discriminator(
          lambda s: 1, None, batch_norm=False, name="critic")),
      "conditional": Builders(generator(True), discriminator(
          lambda s: s.num_classes + 1, "softmax")),
      "projection": Builders(
          lambda s: projection.with_conditional_batch_norm(
              generator(False)(s), s.num_classes),
          projection.discriminator_builder(
              discriminator(lambda s: 1, None), "dcgan_discriminator"))}


def _salimans_kinds() -> Dict[str, Builders]:
  return {"classifier": Builders(
      lambda s: salimans.salimans_generator(
          s.noise_dim, image_shape=s.image_shape,
          synchronized_batch_norm=s.synchronized_batch_norm),
      lambda s: salimans.salimans_discriminator(
          s.num_classes, image_shape=s.image_shape))}


def _resnet_kinds() -> Dict[str, Builders]:
  def generator(s):
    return resnet.resnet_generator(
        s.image_shape, s.noise_dim,
        synchronized_batch_norm=s.synchronized_batch_norm)

  return {
      "unconditional": Builders(generator, lambda s: resnet.resnet_discriminator(
          s.image_shape)),
      "critic": Builders(generator, lambda s: resnet.resnet_discriminator(
          s.image_shape, output_activation=None, name="critic")),
      "projection": Builders(
          lambda s: projection.resnet_projection_generator(
              s.image_shape, s.noise_dim, s.num_classes,
              synchronized_batch_norm=s.synchronized_batch_norm),
          projection.discriminator_builder(
              lambda s: resnet.resnet_discriminator(
                  s.image_shape, output_activation=None),
              "resnet_discriminator"))}


# family -> kind -> builders, in the order `families_for` lists them.
_FAMILIES: Dict[str, Dict[str, Builders]] = {
    "seed": _seed_kinds(), "mlp": _mlp_kinds(), "dcgan": _dcgan_kinds(),
    "salimans": _salimans_kinds(), "resnet": _resnet_kinds()}


def register(family: str, kinds: Mapping[str, Builders]) -> None:
  """Adds (or replaces) the family `family`: its `Builders` for each kind.

  Raises:
    UsageError: a kind not in `KINDS`.
  """
  unknown = sorted(set(kinds) - set(KINDS))
  if unknown:
    raise UsageError(f"unknown network kind(s) {', '.join(unknown)}; "
                     f"choose among {', '.join(KINDS)}.")
  _FAMILIES[family] = dict(kinds)


def families() -> Tuple[str, ...]:
  """Every registered family, in registration order."""
  return tuple(_FAMILIES)


def families_for(kind: str) -> Tuple[str, ...]:
  """The families that build networks of `kind`, in registration order."""
  return tuple(name for name, kinds in _FAMILIES.items() if kind in kinds)


def default_family(image_shape: ImageShape,
                   offered: Tuple[str, ...]) -> Optional[str]:
  """The family to train on `image_shape` among `offered`, or None.

  The seed's networks for the seed's 28x28x1 (they are its post's); the
  standard DCGAN pair (Radford et al. 2016) for other shapes where offered,
  else the seed's.
  """
  shape = tuple(int(d) for d in image_shape)
  preference = (("seed",) if shape == IMAGE_SHAPE else ("dcgan", "seed"))
  return next((f for f in preference if f in offered), None)


def build_pair(family: str, kind: str, *,
               image_shape: ImageShape = IMAGE_SHAPE,
               num_classes: int = NUM_CLASSES, noise_dim: int = NOISE_DIM,
               synchronized_batch_norm: bool = False,
               spectral_norm: bool = False,
               generator: Optional[keras.Model] = None,
               discriminator: Optional[keras.Model] = None
               ) -> Tuple[keras.Model, keras.Model]:
  """(generator, discriminator) of `family` for a variant of `kind`.

  Builds the ones not given, the generator first (so layer names, and
  variable paths, are the ones the variants have always built).

  Args:
    family: a registered family ("seed", "mlp", "dcgan", "salimans", ...).
    kind: one of `KINDS` (module docstring).
    image_shape: [H, W, C] of the images.
    num_classes: the number of labels, for the conditional and classifier
      kinds.
    noise_dim: the generator's noise size.
    synchronized_batch_norm: BatchNorm over the global batch across
      replicas; default False: per replica.
    spectral_norm: the built discriminator's Dense and Conv2D layers (the
      projection discriminator's class embedding included) under
      spectral normalization (Miyato et al. 2018;
      `spectral.spectrally_normalized`), and without BatchNorm: BatchNorm
      divides by the batch's statistics, which undoes the Lipschitz bound
      (Miyato et al.'s networks have none, and StudioGAN drops its DCGAN
      discriminator's when it normalizes it).
    generator: used as is instead of the family's.
    discriminator: used as is instead of the family's.

  Raises:
    UsageError: an unknown family, a kind it does not build, an image shape
      its networks cannot take, or `spectral_norm` with a discriminator of
      your own.
  """
  if family not in _FAMILIES:
    raise UsageError(f"unknown networks {family!r}; choose one of "
                     f"{', '.join(_FAMILIES)}.")
  builders = _FAMILIES[family].get(kind)
  if builders is None:
    raise UsageError(
        f"the {family!r} networks have no {kind} pair; for {kind} use one "
        f"of {', '.join(families_for(kind)) or 'your own'}.")
  if spectral_norm and discriminator is not None:
    raise UsageError(
        "spectral_norm normalizes the discriminator the registry builds; "
        "wrap your own with networks.spectral.spectrally_normalized(model).")
  spec = Spec(check_image_shape(image_shape), num_classes, noise_dim,
              synchronized_batch_norm,
              discriminator_batch_norm=not spectral_norm)
  if generator is None:
    generator = builders.generator(spec)
  if discriminator is None:
    discriminator = builders.discriminator(spec)
    if spectral_norm:
      discriminator = spectral.spectrally_normalized(discriminator)
  return generator, discriminator

