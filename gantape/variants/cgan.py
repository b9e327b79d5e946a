"""CGAN: the conditional GAN. The generator draws the digit it is asked for.

L_D = -log P(y|x) - log(1 - P(c|G(z, c))),  L_G = -log P(c|G(z, c)),
log = log_clip(1e-3), c ~ uniform over the classes (the ten digits for MNIST).

Options: one-sided label smoothing s, which replaces -log P(y|x) with
-(1 - s) log P(y|x) - s log(1 - P(y|x)) (`losses.smoothed_real_loss`); and the
R1 penalty gamma / 2 ||grad_x f(x)||^2 on real x added to L_D, f the logit of
P(y|x) (`losses.class_logit`, `penalties.r1_penalty`).

The discriminator is the (classes + 1)-way SSGAN one; the seed never uses
its "fake" output here, which we keep for fidelity. `networks="dcgan"` builds
the standard DCGAN pair (`gantape.networks.dcgan`), conditioned the same way,
for 32x32 and 64x64 images.
"""

from typing import Optional, Sequence

import keras
import tensorflow as tf

from gantape import losses
from gantape import networks as networks_lib
from gantape.variants import base
from gantape.variants import settings

NETWORKS = networks_lib.families_for("conditional")


class CGAN(base.Variant):
  """Conditional GAN on concat(z, one_hot(c, num_classes))."""

  name = "cgan"
  conditional = True
  networks_offered = NETWORKS
  needs_labels = True
  options = (settings.LABEL_SMOOTHING, *settings.R1,
             settings.SYNC_BATCH_NORM, settings.NETWORKS)
  eps = 1e-3

  def __init__(self, *, image_shape: Sequence[int] = networks_lib.IMAGE_SHAPE,
               num_classes: int = networks_lib.NUM_CLASSES,
               generator: Optional[keras.Model] = None,
               discriminator: Optional[keras.Model] = None, **options):
    """Builds the variant.

    Args:
      image_shape: [H, W, C] of the images (the dataset's).
      num_classes: the number of labels (the dataset's).
      generator: replaces the conditional conv generator; it takes
        `[noise, labels]`.
      discriminator: replaces the (num_classes + 1)-way conv discriminator;
        one that returns logits (`networks.returns_logits`) gets the softmax
        here.
      **options: the declared `options` (listed above).

    Raises:
      UsageError: an option it does not declare, a bad value, or networks
        that cannot take `image_shape`.
    """
    self.set_options(options)
    self.image_shape = networks_lib.check_image_shape(image_shape)
    self.num_classes = num_classes
    generator, discriminator = networks_lib.build_pair(
        self.networks, "conditional", image_shape=image_shape,
        num_classes=num_classes, synchronized_batch_norm=self.sync_batch_norm,
        generator=generator, discriminator=discriminator)
    super().__init__(generator=generator, discriminator=discriminator)
    self.build_networks()

  def sample_inputs(self, rng, batch_size):
    inputs = super().sample_inputs(rng, batch_size)
    inputs["labels"] = rng.uniform([batch_size], 0, self.num_classes,
                                   dtype=tf.int32)
    return inputs

  def generate(self, inputs, training):
    return self.generator([inputs["noise"], inputs["labels"]], training=training)

  def discriminator_loss(self, batch, inputs):
    fake = tf.stop_gradient(self.generate(inputs, training=True))
    real_probs, r1 = self.real_probabilities(
        batch["image"], tf.nn.softmax,
        lambda logits: losses.class_logit(logits, batch["label"]))
    fake_probs = self.discriminate(fake, tf.nn.softmax)
    p_real = tf.gather(real_probs, batch["label"], axis=1, batch_dims=1)
    p_fake = tf.gather(fake_probs, inputs["labels"], axis=1, batch_dims=1)
    return base.LossOutput(
        losses.cgan_discriminator_loss(real_probs, batch["label"], fake_probs,
                                       inputs["labels"], self.eps,
                                       self.label_smoothing),
        {"d_real": tf.reduce_mean(p_real),
         "d_fake": tf.reduce_mean(p_fake)}).plus(r1)

  def generator_loss(self, batch, inputs):
    fake_probs = self.discriminate(self.generate(inputs, training=True),
                                   tf.nn.softmax)
    p_fake = tf.gather(fake_probs, inputs["labels"], axis=1, batch_dims=1)
    return base.LossOutput(
        losses.cgan_generator_loss(fake_probs, inputs["labels"], self.eps),
        {"g_fake": tf.reduce_mean(p_fake)})
