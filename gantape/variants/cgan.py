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

`conditioning="projection"` replaces that discriminator with Miyato & Koyama
2018's projection discriminator, one logit f(x, y) = psi(phi(x)) +
<embed(y), phi(x)>, and the generator's BatchNorm with class-conditional
BatchNorm (`gantape.networks.projection`; networks "seed", "dcgan" or
"resnet"),
trained with a real/fake loss from logits (`projection_loss`, hinge as in
the paper, `losses.LOSSES`) on (x, y) real and (G(z, c), c) generated. Its
R1 penalty is gamma / 2 ||grad_x f(x, y)||^2 on real (x, y), on the logit
f as for the other variants and the other losses, the gradient with respect
to the image only. Label smoothing applies with `projection_loss="ns"`, the
only one of these losses that has it (`losses.LossPair.label_smoothing`).
"""

from typing import Optional, Sequence

import keras
import tensorflow as tf

from gantape import losses
from gantape import precision
from gantape import networks as networks_lib
from gantape.errors import UsageError
from gantape.variants import base
from gantape.variants import settings

CONDITIONING = settings.Option(
    "conditioning", str, "n_plus_1",
    "how the discriminator reads the label: n_plus_1, the post's (classes "
    "+ 1)-way softmax; projection, Miyato & Koyama 2018's projection "
    "discriminator with class-conditional BatchNorm in the generator "
    "(networks seed, dcgan or resnet).",
    choices=("n_plus_1", "projection"))
PROJECTION_LOSS = settings.Option(
    "projection_loss", str, "hinge",
    "the real/fake loss from logits of conditioning=projection "
    "(losses.LOSSES): hinge as Miyato & Koyama 2018, ns, ls or wasserstein.",
    choices=tuple(name for name, pair in losses.LOSSES.items()
                  if pair.from_logits))
# Each conditioning's network kind (`networks.build_pair`).
KIND = {"n_plus_1": "conditional", "projection": "projection"}
NETWORKS = tuple(dict.fromkeys(
    networks_lib.families_for("conditional")
    + networks_lib.families_for("projection")))


class CGAN(base.Variant):
  """Conditional GAN on concat(z, one_hot(c, num_classes))."""

  name = "cgan"
  conditional = True
  networks_offered = NETWORKS
  needs_labels = True
  options = (settings.LABEL_SMOOTHING, *settings.R1,
             settings.SPECTRAL_NORM, settings.SYNC_BATCH_NORM,
             settings.NETWORKS, CONDITIONING, PROJECTION_LOSS,
             settings.N_CRITIC)
  eps = 1e-3
  # Off MNIST (colour MNIST's luma, two seeds) the lazy R1 penalty cuts
  # CGAN's FCD at 3000 iterations by a third to a half and keeps its
  # conditional accuracy from falling as its discriminator pulls away; on
  # MNIST it gives a higher FCD, so "gantape" has none
  # (docs/quality_colour.md).
  presets = {**base.Variant.presets, "general": settings.GANTAPE_R1_PRESET}

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
      UsageError: an option it does not declare, a bad value, networks
        that cannot take `image_shape` or have no pair for the
        conditioning, or with projection, label smoothing with a loss that
        has none.
    """
    self.set_options(options)
    self.image_shape = networks_lib.check_image_shape(image_shape)
    self.num_classes = num_classes
    if self.conditioning == "projection":
      self._check_projection_options()
    generator, discriminator = self.build_pair(
        self.networks, KIND[self.conditioning], image_shape=image_shape,
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

  def _check_projection_options(self):
    if (self.label_smoothing
        and not losses.get_loss(self.projection_loss).label_smoothing):
      raise UsageError(
          f"label_smoothing={self.label_smoothing} does not apply to the "
          f"{self.projection_loss!r} loss of conditioning='projection'; use "
          f"projection_loss='ns' with it, or label_smoothing=0.")

  def _projection_logits(self, images, labels):
    return precision.to_float32(
        self.discriminator([images, labels], training=True))

  def _projection_discriminator_loss(self, batch, inputs):
    fake = tf.stop_gradient(self.generate(inputs, training=True))
    labels = batch["label"]
    # R1's gradient is taken at the images, the labels held.
    real, r1 = self.real_logits(
        batch["image"], lambda logits: logits[:, 0],
        logits_of=lambda images: self._projection_logits(images, labels))
    fake = self._projection_logits(fake, inputs["labels"])
    pair = losses.get_loss(self.projection_loss)
    smoothing = ({"label_smoothing": self.label_smoothing}
                 if pair.label_smoothing else {})
    return base.LossOutput(
        pair.discriminator(real, fake, **smoothing),
        {"d_real": tf.reduce_mean(tf.sigmoid(real)),
         "d_fake": tf.reduce_mean(tf.sigmoid(fake))}).plus(r1)

  def _projection_generator_loss(self, inputs):
    fake = self._projection_logits(self.generate(inputs, training=True),
                                   inputs["labels"])
    return base.LossOutput(
        losses.get_loss(self.projection_loss).generator(fake),
        {"g_fake": tf.reduce_mean(tf.sigmoid(fake))})

  def discriminator_loss(self, batch, inputs):
    if self.conditioning == "projection":
      return self._projection_discriminator_loss(batch, inputs)
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
    if self.conditioning == "projection":
      return self._projection_generator_loss(inputs)
    fake_probs = self.discriminate(self.generate(inputs, training=True),
                                   tf.nn.softmax)
    p_fake = tf.gather(fake_probs, inputs["labels"], axis=1, batch_dims=1)
    return base.LossOutput(
        losses.cgan_generator_loss(fake_probs, inputs["labels"], self.eps),
        {"g_fake": tf.reduce_mean(p_fake)})
