"""CGAN: the conditional GAN. The generator draws the digit it is asked for.

L_D = -log P(y|x) - log(1 - P(c|G(z, c))),  L_G = -log P(c|G(z, c)),
log = log_clip(1e-3), c ~ uniform over the ten digits.

Options: one-sided label smoothing s, which replaces -log P(y|x) with
-(1 - s) log P(y|x) - s log(1 - P(y|x)) (`losses.smoothed_real_loss`); and the
R1 penalty gamma / 2 ||grad_x f(x)||^2 on real x added to L_D, f the logit of
P(y|x) (`losses.class_logit`, `losses.r1_penalty`).

The discriminator is the 11-way SSGAN one; the seed never uses its "fake"
output here, which we keep for fidelity.
"""

from typing import Optional

import keras
import tensorflow as tf

from gantape import data as data_lib
from gantape import losses
from gantape import networks
from gantape.variants import base


class CGAN(base.Variant):
  """Conditional GAN on concat(z, one_hot(c, 10))."""

  name = "cgan"
  conditional = True
  options = (base.LABEL_SMOOTHING, base.R1_GAMMA, base.SYNC_BATCH_NORM)
  eps = 1e-3

  def __init__(self, *, label_smoothing: float = 0.0, r1_gamma: float = 0.0,
               sync_batch_norm: bool = False,
               generator: Optional[keras.Model] = None,
               discriminator: Optional[keras.Model] = None):
    """Builds the variant.

    Args:
      label_smoothing: one-sided label smoothing s of the discriminator's
        real target (1 - s); 0, the seed, for none.
      r1_gamma: weight gamma of the R1 penalty on the discriminator's
        gradient at real data; 0, the seed, for none.
      sync_batch_norm: under a multi-replica `tf.distribute` strategy,
        normalize over the global batch (synchronized BatchNorm) instead of
        each replica's slice (the default, Keras's). No effect on one device.
      generator: replaces the conditional conv generator.
      discriminator: replaces the 11-way conv discriminator.
    """
    super().__init__(
        generator=generator or networks.conditional_generator(
            synchronized_batch_norm=sync_batch_norm),
        discriminator=discriminator or networks.conv_discriminator(
            11, output_activation="softmax",
            synchronized_batch_norm=sync_batch_norm))
    self.sync_batch_norm = sync_batch_norm
    self.label_smoothing = base.LABEL_SMOOTHING.checked(label_smoothing)
    self.r1_gamma = base.R1_GAMMA.checked(r1_gamma)

  def sample_inputs(self, rng, batch_size):
    inputs = super().sample_inputs(rng, batch_size)
    inputs["labels"] = rng.uniform([batch_size], 0, data_lib.NUM_CLASSES,
                                   dtype=tf.int32)
    return inputs

  def generate(self, inputs, training):
    return self.generator([inputs["noise"], inputs["labels"]], training=training)

  def discriminator_loss(self, batch, inputs):
    fake = tf.stop_gradient(self.generate(inputs, training=True))
    real_probs, r1 = self.real_probabilities(
        batch["image"], tf.nn.softmax,
        lambda logits: losses.class_logit(logits, batch["label"]))
    fake_probs = self.discriminator(fake, training=True)
    p_real = tf.gather(real_probs, batch["label"], axis=1, batch_dims=1)
    p_fake = tf.gather(fake_probs, inputs["labels"], axis=1, batch_dims=1)
    return base.LossOutput(
        losses.cgan_discriminator_loss(real_probs, batch["label"], fake_probs,
                                       inputs["labels"], self.eps,
                                       self.label_smoothing),
        {"d_real": tf.reduce_mean(p_real),
         "d_fake": tf.reduce_mean(p_fake)}).plus_r1(r1)

  def generator_loss(self, batch, inputs):
    fake_probs = self.discriminator(self.generate(inputs, training=True),
                                    training=True)
    p_fake = tf.gather(fake_probs, inputs["labels"], axis=1, batch_dims=1)
    return base.LossOutput(
        losses.cgan_generator_loss(fake_probs, inputs["labels"], self.eps),
        {"g_fake": tf.reduce_mean(p_fake)})
