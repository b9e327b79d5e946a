"""DCGAN: the GAN losses on convolutional networks.

L_D = -log D(x) - log(1 - D(G(z))),  L_G = -log D(G(z)),  log = log_clip(1e-6).

`networks="seed"` (default) trains the seed's conv networks; `"dcgan"` the
standard DCGAN pair of Radford et al. 2016 for 32x32 and 64x64 images
(`gantape.networks.dcgan`).
"""

import dataclasses
from typing import Optional, Sequence

import keras

from gantape import networks as networks_lib
from gantape.variants import gan
from gantape.variants import settings

NETWORKS = networks_lib.families_for("unconditional")


class DCGAN(gan.GAN):
  """The seed's DCGAN: conv generator, conv discriminator with one sigmoid."""

  name = "dcgan"
  flat_images = False
  default_iterations = 10_000
  networks_offered = NETWORKS
  options = (settings.LABEL_SMOOTHING, settings.R1_GAMMA, settings.R1_EVERY,
             settings.SYNC_BATCH_NORM, settings.NETWORKS)
  # gantape's DCGAN adds the R1 penalty (gamma 1) to the shared defaults: the
  # lowest FCD at every evaluation of two seeds to 10k, and 25k iterations
  # without the late collapse of the seed's settings. Lazily, on one update
  # in 16: the same FCD at 10k for about no time per iteration
  # (docs/quality.md, docs/performance.md). The seed preset keeps the seed's
  # losses.
  presets = {"gantape": dataclasses.replace(
      settings.GANTAPE_PRESET,
      variant_options={"r1_gamma": 1.0, "r1_every": 16}),
             "seed": settings.SEED_PRESET}

  def __init__(self, *, label_smoothing: float = 0.0, r1_gamma: float = 0.0,
               r1_every: int = 1,
               sync_batch_norm: bool = False, networks: str = "seed",
               image_shape: Sequence[int] = networks_lib.IMAGE_SHAPE,
               generator: Optional[keras.Model] = None,
               discriminator: Optional[keras.Model] = None):
    """Builds the variant.

    Args:
      label_smoothing: one-sided label smoothing s of the discriminator's
        real target (1 - s); 0, the seed, for none.
      r1_gamma: weight gamma of the R1 penalty on the discriminator's
        gradient at real data; 0, the seed, for none.
      r1_every: the penalty on one discriminator update in this many,
        weighted by it (lazy R1, `Variant.real_probabilities`); 1 for every
        update.
      sync_batch_norm: under a multi-replica `tf.distribute` strategy,
        normalize over the global batch (synchronized BatchNorm) instead of
        each replica's slice (the default, Keras's). No effect on one device.
      networks: "seed" (the seed's conv networks) or "dcgan" (the standard
        DCGAN pair, for 32x32 and 64x64 images).
      image_shape: [H, W, C] of the images (the dataset's).
      generator: replaces the conv generator.
      discriminator: replaces the conv discriminator; one that returns
        logits (`networks.returns_logits`) gets the sigmoid here.

    Raises:
      UsageError: a bad option, or networks that cannot take `image_shape`.
    """
    settings.check_networks(self.name, networks, NETWORKS)
    generator, discriminator = networks_lib.build_pair(
        networks, "unconditional", image_shape=image_shape,
        synchronized_batch_norm=sync_batch_norm, generator=generator,
        discriminator=discriminator)
    super().__init__(
        label_smoothing=label_smoothing, r1_gamma=r1_gamma,
        r1_every=r1_every,
        image_shape=image_shape,
        generator=generator, discriminator=discriminator)
    self.sync_batch_norm = sync_batch_norm
    self.networks = networks
