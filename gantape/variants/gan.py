"""GAN: the seed's MLP GAN on flat images, 784 pixels for MNIST (Goodfellow et
al. 2014).

L_D = -log D(x) - log(1 - D(G(z))),  L_G = -log D(G(z)),  log = log_clip(1e-6).

Options: the losses (`loss`: the seed's above, or one of `losses.LOSSES`
from the logit f of D, D(x) = sigmoid(f(x))); one-sided label smoothing s,
which replaces -log D(x) with -(1 - s) log D(x) - s log(1 - D(x))
(`losses.smoothed_real_loss`; the "seed" and "ns" losses); the penalties
added to L_D (`gantape.penalties`): R1, gamma / 2 ||grad_x f(x)||^2 on real
x; the gradient penalty on f at interpolates; and spectral normalization of
the discriminator. The metrics d_real, d_fake and g_fake are mean D(x) =
sigmoid(f(x)) whatever the loss.
"""

from typing import Optional, Sequence

import keras
import tensorflow as tf

from gantape import losses
from gantape import networks
from gantape.errors import UsageError
from gantape.variants import base
from gantape.variants import settings


class GAN(base.Variant):
  """The seed's first model: one hidden layer of 128 in each network."""

  name = "gan"
  flat_images = True
  default_iterations = 20_000
  options = (settings.LABEL_SMOOTHING, *settings.R1, settings.GP_WEIGHT,
             settings.LOSS, settings.SPECTRAL_NORM, settings.N_CRITIC)
  # The seed's clip floor for GAN and DCGAN.
  eps = 1e-6

  def __init__(self, *, image_shape: Sequence[int] = networks.IMAGE_SHAPE,
               generator: Optional[keras.Model] = None,
               discriminator: Optional[keras.Model] = None, **options):
    """Builds the variant.

    Args:
      image_shape: [H, W, C] of the images (the dataset's); the networks
        read and write them (the MLPs H*W*C pixels).
      generator: replaces the variant's generator.
      discriminator: replaces the variant's discriminator; one that returns
        logits (`networks.returns_logits`) gets the sigmoid here.
      **options: the declared `options` (listed above).

    Raises:
      UsageError: an option it does not declare, a bad value,
        label_smoothing with a loss that has none, or networks that cannot
        take `image_shape`.
    """
    self.set_options(options)
    if self.label_smoothing and not losses.get_loss(self.loss).label_smoothing:
      raise UsageError(
          f"label_smoothing={self.label_smoothing} does not apply to the "
          f"{self.loss!r} loss; use loss='ns' (or 'seed') with it, or "
          f"label_smoothing=0.")
    self.image_shape = networks.check_image_shape(image_shape)
    generator, discriminator = self._networks(generator, discriminator)
    super().__init__(generator=generator, discriminator=discriminator)
    self.build_networks()

  def _networks(self, generator, discriminator):
    """The MLP pair, each unless given (`build_pair`)."""
    return self.build_pair("mlp", "flat", image_shape=self.image_shape,
                           generator=generator, discriminator=discriminator)

  def discriminator_loss(self, batch, inputs):
    fake = self.augment_images(
        tf.stop_gradient(self.generate(inputs, training=True)), inputs, "fake")
    real = self.augment_images(batch["image"], inputs, "real")
    pair = losses.get_loss(self.loss)
    if pair.from_logits:
      real_logits, r1 = self.real_logits(real, _realness)
      fake_logits = self.discriminator_logits(fake)
      smoothing = ({"label_smoothing": self.label_smoothing}
                   if pair.label_smoothing else {})
      loss = pair.discriminator(real_logits, fake_logits, **smoothing)
      real_prob, fake_prob = tf.sigmoid(real_logits), tf.sigmoid(fake_logits)
    else:  # the seed's clipped losses on probabilities
      real_prob, r1 = self.real_probabilities(real, tf.sigmoid, _realness)
      fake_prob = self.discriminate(fake, tf.sigmoid)
      loss = losses.minimax_discriminator_loss(real_prob, fake_prob, self.eps,
                                               self.label_smoothing)
    return base.LossOutput(
        loss, {"d_real": tf.reduce_mean(real_prob),
               "d_fake": tf.reduce_mean(fake_prob)}).plus(
                   r1, *self.critic_penalties(real, fake, inputs))

  def generator_loss(self, batch, inputs):
    fake = self.augment_images(self.generate(inputs, training=True), inputs,
                               "fake")
    pair = losses.get_loss(self.loss)
    if pair.from_logits:
      fake_logits = self.discriminator_logits(fake)
      loss, fake_prob = pair.generator(fake_logits), tf.sigmoid(fake_logits)
    else:
      fake_prob = self.discriminate(fake, tf.sigmoid)
      loss = losses.non_saturating_generator_loss(fake_prob, self.eps)
    return base.LossOutput(loss, {"g_fake": tf.reduce_mean(fake_prob)})


def _realness(logits):
  """The logit f of "real" of a one-output discriminator's [B, 1] logits."""
  return logits[:, 0]
