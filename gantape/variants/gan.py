"""GAN: the seed's MLP GAN on flat images, 784 pixels for MNIST (Goodfellow et
al. 2014).

L_D = -log D(x) - log(1 - D(G(z))),  L_G = -log D(G(z)),  log = log_clip(1e-6).

Options: one-sided label smoothing s, which replaces -log D(x) with
-(1 - s) log D(x) - s log(1 - D(x)) (`losses.smoothed_real_loss`); and the R1
penalty gamma / 2 ||grad_x f(x)||^2 on real x added to L_D, f the logit of D
(`penalties.r1_penalty`).
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
  options = (settings.LABEL_SMOOTHING, settings.R1_GAMMA, settings.R1_EVERY)
  # The seed's clip floor for GAN and DCGAN.
  eps = 1e-6

  def __init__(self, *, label_smoothing: float = 0.0, r1_gamma: float = 0.0,
               r1_every: int = 1,
               image_shape: Sequence[int] = networks.IMAGE_SHAPE,
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
      image_shape: [H, W, C] of the images (the dataset's); the MLPs read
        and write H*W*C pixels.
      generator: replaces the MLP generator.
      discriminator: replaces the MLP discriminator; one that returns logits
        (`networks.returns_logits`) gets the sigmoid here.
    """
    self.image_shape = networks.check_image_shape(image_shape)
    generator, discriminator = networks.build_pair(
        "mlp", "flat", image_shape=self.image_shape, generator=generator,
        discriminator=discriminator)
    super().__init__(generator=generator, discriminator=discriminator)
    self.label_smoothing = settings.LABEL_SMOOTHING.checked(label_smoothing)
    self.r1_gamma = settings.R1_GAMMA.checked(r1_gamma)
    self.r1_every = settings.R1_EVERY.checked(r1_every)
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
         "d_fake": tf.reduce_mean(fake_prob)}).plus_r1(r1, self.logged_r1(r1))

  def generator_loss(self, batch, inputs):
    fake_prob = self.discriminate(self.generate(inputs, training=True),
                                  tf.sigmoid)
    return base.LossOutput(
        losses.non_saturating_generator_loss(fake_prob, self.eps),
        {"g_fake": tf.reduce_mean(fake_prob)})
