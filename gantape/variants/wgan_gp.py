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
"""

from typing import Optional, Sequence

import keras
import tensorflow as tf

from gantape import losses
from gantape import networks as networks_lib
from gantape import penalties
from gantape import precision
from gantape.errors import UsageError
from gantape.variants import base
from gantape.variants import settings

NETWORKS = networks_lib.families_for("critic")


def _check_n_critic(n_critic: int) -> None:
  if n_critic < 1:
    raise UsageError(f"n_critic must be at least 1, got {n_critic}.")


def _check_gp_weight(gp_weight: float) -> None:
  if not gp_weight >= 0.0:
    raise UsageError(f"gp_weight must be >= 0, got {gp_weight}.")


N_CRITIC = settings.Option("n_critic", int, 5, "critic steps per generator "
                       "step.", check=_check_n_critic)
GP_WEIGHT = settings.Option("gp_weight", float, 10.0, "lambda, the weight of the "
                        "gradient penalty.", check=_check_gp_weight)


class WGANGP(base.Variant):
  """Wasserstein GAN with gradient penalty on the DCGAN networks."""

  name = "wgan_gp"
  suggested_for_divergence = True
  # Gulrajani et al. 2017's Adam; the seed has no WGAN-GP, so no "seed" preset.
  presets = {"gantape": settings.Preset(1e-4, 0.5, 0.9, updates_per_batch=1,
                                    ema_decay=0.999)}
  networks_offered = NETWORKS
  options = (N_CRITIC, GP_WEIGHT, settings.SYNC_BATCH_NORM, settings.NETWORKS)

  def __init__(self, *, n_critic: int = 5, gp_weight: float = 10.0,
               sync_batch_norm: bool = False, networks: str = "seed",
               image_shape: Sequence[int] = networks_lib.IMAGE_SHAPE,
               generator: Optional[keras.Model] = None,
               discriminator: Optional[keras.Model] = None):
    """Builds the variant.

    Args:
      n_critic: critic steps per generator step.
      gp_weight: lambda, the gradient-penalty weight.
      sync_batch_norm: under a multi-replica `tf.distribute` strategy,
        normalize the generator's BatchNorm over the global batch instead of
        each replica's slice (the default, Keras's). The critic has no
        BatchNorm. No effect on one device.
      networks: "seed" (the seed's conv networks) or "dcgan" (the standard
        DCGAN pair, for 32x32 and 64x64 images).
      image_shape: [H, W, C] of the images (the dataset's).
      generator: replaces the conv generator.
      discriminator: replaces the critic (no BatchNorm, linear output).

    Raises:
      UsageError: a bad option, or networks that cannot take `image_shape`.
    """
    N_CRITIC.checked(n_critic)
    GP_WEIGHT.checked(gp_weight)
    settings.check_networks(self.name, networks, NETWORKS)
    self.image_shape = networks_lib.check_image_shape(image_shape)
    generator, discriminator = networks_lib.build_pair(
        networks, "critic", image_shape=image_shape,
        synchronized_batch_norm=sync_batch_norm, generator=generator,
        discriminator=discriminator)
    super().__init__(generator=generator, discriminator=discriminator)
    self.n_critic = n_critic
    self.gp_weight = gp_weight
    self.sync_batch_norm = sync_batch_norm
    self.networks = networks
    self.build_networks()

  def sample_inputs(self, rng, batch_size):
    inputs = super().sample_inputs(rng, batch_size)
    inputs["epsilon"] = rng.uniform([batch_size], 0.0, 1.0)
    return inputs

  def _scores(self, images):
    """The critic's scores in training mode, float32 under any policy."""
    return precision.to_float32(self.discriminator(images, training=True))

  def discriminator_loss(self, batch, inputs):
    real = batch["image"]
    fake = precision.to_float32(
        tf.stop_gradient(self.generate(inputs, training=True)))
    real_scores = self._scores(real)
    fake_scores = self._scores(fake)
    penalty = penalties.gradient_penalty(
        lambda x: self.discriminator(x, training=True), real, fake,
        inputs["epsilon"], self.gp_weight)
    return base.LossOutput(
        losses.wasserstein_critic_loss(real_scores, fake_scores) + penalty,
        {"d_real": tf.reduce_mean(real_scores),
         "d_fake": tf.reduce_mean(fake_scores),
         "gradient_penalty": tf.reduce_mean(penalty),
         "wasserstein_estimate": tf.reduce_mean(real_scores - fake_scores)})

  def generator_loss(self, batch, inputs):
    fake_scores = self._scores(self.generate(inputs, training=True))
    return base.LossOutput(losses.wasserstein_generator_loss(fake_scores),
                           {"g_fake": tf.reduce_mean(fake_scores)})
