"""WGAN-GP: the cure the seed pointed to (Gulrajani et al. 2017).

L_C = C(G(z)) - C(x) + lambda * (||grad C(x_hat)||_2 - 1)^2,
      x_hat = e x + (1 - e) G(z),  e ~ U[0, 1] per sample,
L_G = -C(G(z)).

The critic is the seed's conv discriminator (or with `networks="dcgan"` the
standard DCGAN one, `gantape.networks.dcgan`) without BatchNorm (the penalty
is per sample, and BatchNorm would couple samples) and with a linear output.
It takes `n_critic` steps per generator step, with the paper's
Adam(1e-4, 0.5, 0.9). The penalty differentiates the critic as a function of
its input, so any critic works, subclassed ones included.

Options beyond the paper: another loss of the critic's scores, taken as
logits, instead of the Wasserstein one (e.g. `loss="hinge"`, Miyato et al.
2018; not the seed's, which reads probabilities), spectral
normalization of the critic, and DiffAugment of its inputs (the penalty then
at interpolates of the augmented images).
"""

import dataclasses
from typing import Optional, Sequence

import keras
import tensorflow as tf

from gantape import losses
from gantape import networks as networks_lib
from gantape import precision
from gantape.errors import UsageError
from gantape.variants import base
from gantape.variants import settings

NETWORKS = networks_lib.families_for("critic")


# The shared critic updates per generator update, the paper's 5 here.
N_CRITIC = dataclasses.replace(settings.N_CRITIC, default=5)
# The shared gradient penalty, on by default here: the paper's lambda.
GP_WEIGHT = dataclasses.replace(settings.GP_WEIGHT, default=10.0)
# The shared losses, the paper's by default; the critic's scores are
# logits, so any loss from logits (`losses.LOSSES`), not the seed's.
LOSS = dataclasses.replace(settings.LOSS, default="wasserstein")


class WGANGP(base.Variant):
  """Wasserstein GAN with gradient penalty on the DCGAN networks."""

  name = "wgan_gp"
  suggested_for_divergence = True
  # Gulrajani et al. 2017's Adam; the seed has no WGAN-GP, so no "seed" preset.
  presets = dict.fromkeys(
      ("gantape", "general"),
      settings.Preset(1e-4, 0.5, 0.9, updates_per_batch=1, ema_decay=0.999))
  networks_offered = NETWORKS
  options = (N_CRITIC, GP_WEIGHT, LOSS, settings.SPECTRAL_NORM,
             settings.DIFFAUGMENT, settings.SYNC_BATCH_NORM, settings.NETWORKS)

  def __init__(self, *, image_shape: Sequence[int] = networks_lib.IMAGE_SHAPE,
               generator: Optional[keras.Model] = None,
               discriminator: Optional[keras.Model] = None, **options):
    """Builds the variant.

    Args:
      image_shape: [H, W, C] of the images (the dataset's).
      generator: replaces the conv generator.
      discriminator: replaces the critic (no BatchNorm, linear output).
      **options: the declared `options` (listed above); `sync_batch_norm`
        applies to the generator, the critic having no BatchNorm.

    Raises:
      UsageError: an option it does not declare, a bad value, the seed's
        loss, or networks that cannot take `image_shape`.
    """
    self.set_options(options)
    if not losses.get_loss(self.loss).from_logits:
      raise UsageError(
          f"loss={self.loss!r} reads probabilities, and the critic of "
          f"wgan_gp gives scores; choose a loss from logits: "
          f"{', '.join(n for n, p in losses.LOSSES.items() if p.from_logits)}.")
    self.image_shape = networks_lib.check_image_shape(image_shape)
    generator, discriminator = self.build_pair(
        self.networks, "critic", image_shape=image_shape,
        synchronized_batch_norm=self.sync_batch_norm, generator=generator,
        discriminator=discriminator)
    super().__init__(generator=generator, discriminator=discriminator)
    self.build_networks()

  def critic_scores(self, images):
    """The critic's output in training mode: its scores are its logits."""
    return self.discriminator(images, training=True)

  def _scores(self, images):
    """The critic's scores in training mode, float32 under any policy."""
    return precision.to_float32(self.discriminator(images, training=True))

  def discriminator_loss(self, batch, inputs):
    real = self.augment_images(batch["image"], inputs, "real")
    fake = self.augment_images(precision.to_float32(
        tf.stop_gradient(self.generate(inputs, training=True))), inputs, "fake")
    real_scores = self._scores(real)
    fake_scores = self._scores(fake)
    return base.LossOutput(
        losses.get_loss(self.loss).discriminator(real_scores, fake_scores),
        {"d_real": tf.reduce_mean(real_scores),
         "d_fake": tf.reduce_mean(fake_scores),
         "wasserstein_estimate": tf.reduce_mean(real_scores - fake_scores)}
    ).plus(*self.critic_penalties(real, fake, inputs))

  def generator_loss(self, batch, inputs):
    fake_scores = self._scores(self.augment_images(
        self.generate(inputs, training=True), inputs, "fake"))
    return base.LossOutput(losses.get_loss(self.loss).generator(fake_scores),
                           {"g_fake": tf.reduce_mean(fake_scores)})
