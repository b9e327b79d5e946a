"""DCGAN: the GAN losses on convolutional networks.

L_D = -log D(x) - log(1 - D(G(z))),  L_G = -log D(G(z)),  log = log_clip(1e-6).

`networks="seed"` (default) trains the seed's conv networks; `"dcgan"` the
standard DCGAN pair of Radford et al. 2016 for 32x32 and 64x64 images
(`gantape.networks.dcgan`). The options are GAN's (`gantape.variants.gan`)
and DiffAugment of the discriminator's inputs (`Variant.augment_images`).
"""


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
  options = (settings.LABEL_SMOOTHING, *settings.R1, settings.GP_WEIGHT,
             settings.LOSS, settings.SPECTRAL_NORM, settings.DIFFAUGMENT,
             settings.SYNC_BATCH_NORM, settings.NETWORKS, settings.N_CRITIC)
  # gantape's DCGAN adds the R1 penalty (gamma 1) to the shared defaults: the
  # lowest FCD at every evaluation of two seeds to 10k, and 25k iterations
  # without the late collapse of the seed's settings. Lazily, on one update
  # in 16: the same FCD at 10k for about no time per iteration
  # (docs/quality.md, docs/performance.md). The seed preset keeps the seed's
  # losses.
  presets = {"gantape": settings.GANTAPE_R1_PRESET,
             "general": settings.GANTAPE_R1_PRESET,
             "seed": settings.SEED_PRESET}

  def _networks(self, generator, discriminator):
    """The `networks` family's pair for `image_shape`, each unless given
    (`build_pair`); a given discriminator that returns logits
    (`networks.returns_logits`) gets the sigmoid here."""
    return self.build_pair(
        self.networks, "unconditional", image_shape=self.image_shape,
        synchronized_batch_norm=self.sync_batch_norm, generator=generator,
        discriminator=discriminator)
