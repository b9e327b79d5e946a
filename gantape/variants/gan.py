"""GAN: the seed's MLP GAN on flat images, 784 pixels for MNIST (Goodfellow et
al. 2014).

L_D = -log D(x) - log(1 - D(G(z))),  L_G = -log D(G(z)),  log = log_clip(1e-6).

Options: one-sided label smoothing s, which replaces -log D(x) with
-(1 - s) log D(x) - s log(1 - D(x)) (`losses.smoothed_real_loss`); and the
penalties added to L_D (`gantape.penalties`): R1, gamma / 2 ||grad_x f(x)||^2
on real x, f the logit of D; the gradient penalty on f at interpolates.
"""

from typing import Optional, Sequence

import keras
import tensorflow as tf

from gantape import losses
from gantape import networks
from gantape.variants import base
from gantape.variants import settings


class GAN(base.Variant):
  """The seed's first model: one hidden layer of 128 in each network."""

  name = "gan"
  flat_images = True
  default_iterations = 20_000
  options = (settings.LABEL_SMOOTHING, *settings.R1, settings.GP_WEIGHT)
  # The seed's clip floor for GAN and DCGAN.
  eps = 1e-6

  def __init__(self, *, image_shape: Sequence[int] = networks.IMAGE_SHAPE,
               generator: Optional[keras.Model] = None,
               discriminator: Optional[keras.Model] = None, **options):
    """Builds the variant.

    Args:
      image_shape: [H, W, C] of the images (the dataset's); the MLPs read
        and write H*W*C pixels.
      generator: replaces the MLP generator.
      discriminator: replaces the MLP discriminator; one that returns logits
        (`networks.returns_logits`) gets the sigmoid here.
      **options: the declared `options` (listed above).

    Raises:
      UsageError: an option it does not declare, or a bad value.
    """
    self.set_options(options)
    self.image_shape = networks.check_image_shape(image_shape)
    generator, discriminator = networks.build_pair(
        "mlp", "flat", image_shape=self.image_shape, generator=generator,
        discriminator=discriminator)
    super().__init__(generator=generator, discriminator=discriminator)
    self.build_networks()

  def discriminator_loss(self, batch, inputs):
    fake = tf.stop_gradient(self.generate(inputs, training=True))
    real_prob, r1 = self.real_probabilities(
        batch["image"], tf.sigmoid, lambda logits: logits[:, 0])
    fake_prob = self.discriminate(fake, tf.sigmoid)
    return base.LossOutput(
        losses.minimax_discriminator_loss(real_prob, fake_prob, self.eps,
                                          self.label_smoothing),
        {"d_real": tf.reduce_mean(real_prob),
         "d_fake": tf.reduce_mean(fake_prob)}).plus(
             r1, *self.critic_penalties(batch["image"], fake, inputs))

  def generator_loss(self, batch, inputs):
    fake_prob = self.discriminate(self.generate(inputs, training=True),
                                  tf.sigmoid)
    return base.LossOutput(
        losses.non_saturating_generator_loss(fake_prob, self.eps),
        {"g_fake": tf.reduce_mean(fake_prob)})
