"""SSGAN: the semi-supervised GAN, a (K + 1)-way discriminator (K classes + fake).

L_D = -log(1 - P(n|x)) - log P(n|G(z)) - log P(y|x_l),  log = log_clip(1e-3)
L_G = log P(n|G(z))                      (the seed's generator loss), or
L_G = -log(1 - P(n|G(z)))                (non-saturating), or
L_G = ||E f(x) - E f(G(z))||^2           (feature matching, Salimans et al. 2016)

`loss_form="logits"` computes the same losses from the discriminator's logits
(softplus, logsumexp; `losses.ssgan_real_logit`) instead of the seed's clipped
log of its softmax, so that they keep their gradient where the softmax
saturates. `loss_form="salimans"` is the discriminator loss of Salimans et
al.'s code, also from logits:

L_D = -log P(y|x_l, real) + 1/2 (-log(1 - P(n|x)) - log P(n|G(z)))

with the supervised cross-entropy over the 10 digits only, and feature
matching on the last hidden layer before its noise.

`x` runs over all training images and `(x_l, y)` over the labelled ones. With
`num_labeled=None` (the seed) every image is labelled and `x_l = x`; with
`num_labeled=N`, N images balanced over classes carry labels and feed the
supervised term from a stream of their own, while all images still feed the
real/fake term. K and the image shape are the dataset's (MNIST: ten digits,
28x28x1), so a folder or colour dataset of K classes trains the same way.

`r1_gamma` adds the R1 penalty gamma / 2 ||grad_x r(x)||^2 on real x to L_D,
r(x) = log P(real|x) - log P(n|x) (`losses.ssgan_real_logit`,
`penalties.r1_penalty`).
"""

from typing import Optional, Sequence

import keras
import tensorflow as tf

from gantape import data as data_lib
from gantape import losses
from gantape import networks as networks_lib
from gantape.networks import salimans as salimans_networks
from gantape.errors import UsageError
from gantape.variants import base
from gantape.variants import settings

GENERATOR_OBJECTIVES = ("seed", "non_saturating", "feature_matching")
# "clipped": the seed's log(clip(P, 1e-3, 1)) of the softmax; "logits": the
# same losses, exact, from the logits; "salimans": their code's weighting.
LOSS_FORMS = ("clipped", "logits", "salimans")
# "seed": the seed's conv networks; "salimans": Salimans et al. 2016's MNIST
# MLPs (gantape/networks/salimans.py).
NETWORKS = networks_lib.families_for("classifier")


def _check_num_labeled(num_labeled: int) -> None:
  # Against the class count, which is the dataset's, the constructor checks
  # (`data.check_num_labeled`).
  if num_labeled < 1:
    raise UsageError(
        f"num_labeled={num_labeled} is not positive; use at least one label "
        f"per class.")


NUM_LABELED = settings.Option(
    "num_labeled", int, None, "labelled training examples, balanced over "
    "classes; unset: all.", check=_check_num_labeled)
GENERATOR_OBJECTIVE = settings.Option(
    "generator_objective", str, "seed", "generator loss: the seed's "
    "log P(fake|G(z)), -log(1 - P(fake|G(z))), or feature matching.",
    choices=GENERATOR_OBJECTIVES)
LOSS_FORM = settings.Option(
    "loss_form", str, "clipped", "the seed's clipped log of the "
    "discriminator's softmax; the same losses from its logits, which keep "
    "their gradient where the softmax saturates; or Salimans et al. 2016's "
    "code's losses.", choices=LOSS_FORMS)
LABEL_SEED = settings.Option(
    "label_seed", int, 0, "chooses which examples carry labels "
    "(--num_labeled).")


class SSGAN(base.Variant):
  """Semi-supervised GAN, with the seed's conv networks by default."""

  name = "ssgan"
  eps = 1e-3
  networks_offered = NETWORKS
  needs_labels = True
  options = (NUM_LABELED, GENERATOR_OBJECTIVE, settings.NETWORKS, LOSS_FORM,
             LABEL_SEED, settings.SYNC_BATCH_NORM, *settings.R1,
             settings.N_CRITIC)
  # "salimans": Salimans et al. 2016's semi-supervised MNIST recipe
  # (openai/improved-gan, train_mnist_feature_matching.py): their networks
  # and losses, one update per batch of Adam(0.003, beta_1=0.5) with their
  # epsilon, 1e-8 under the square root (about 1e-4 added to sqrt(v)), and
  # the test accuracy of an average of the discriminator's weights at rate
  # 1e-4. Their batch of 100 is --batch_size=100.
  presets = {**base.Variant.presets, "salimans": settings.Preset(
      0.003, 0.5, 0.999, adam_epsilon=1e-4, updates_per_batch=1,
      ema_decay=0.0, discriminator_ema_decay=0.9999, variant_options={
          "networks": "salimans", "generator_objective": "feature_matching",
          "loss_form": "salimans"})}

  def __init__(self, *, image_shape: Sequence[int] = networks_lib.IMAGE_SHAPE,
               num_classes: int = networks_lib.NUM_CLASSES,
               generator: Optional[keras.Model] = None,
               discriminator: Optional[keras.Model] = None, **options):
    """Builds the variant.

    Args:
      image_shape: [H, W, C] of the images (the dataset's).
      num_classes: K, the number of labels (the dataset's).
      generator: replaces the conv generator.
      discriminator: replaces the (K + 1)-way conv discriminator, whose last
        output is "fake"; for feature matching, the input of its final layer
        is the feature layer. `loss_form` "logits" and "salimans", and R1,
        need one that ends in a Dense or WeightNormDense layer or returns
        logits.
      **options: the declared `options` (listed above).

    Raises:
      UsageError: an option it does not declare, a bad value (more labels
        than examples per class), or networks that cannot take
        `image_shape`.
    """
    self.set_options(options)
    self.image_shape = networks_lib.check_image_shape(image_shape)
    self.num_classes = num_classes
    if self.num_labeled is not None:
      data_lib.check_num_labeled(self.num_labeled, num_classes)
    generator, discriminator = networks_lib.build_pair(
        self.networks, "classifier", image_shape=self.image_shape,
        num_classes=num_classes, synchronized_batch_norm=self.sync_batch_norm,
        generator=generator, discriminator=discriminator)
    super().__init__(generator=generator, discriminator=discriminator)
    self._logits = None
    if self.loss_form != "clipped":
      self._logits = networks_lib.logits_view(self.discriminator)
    self._features = None
    if self.generator_objective == "feature_matching":
      self._features = networks_lib.features_view(
          self.discriminator, before_noise=self.loss_form == "salimans")

  def labeled_indices(self, dataset: data_lib.Dataset):
    """Indices of the labelled training examples (all when num_labeled=None)."""
    if self.num_labeled is None:
      return None
    return data_lib.balanced_subset(dataset.y_train, self.num_labeled,
                                    self.label_seed, self.num_classes)

  def input_streams(self, dataset, *, seed):
    streams = super().input_streams(dataset, seed=seed)
    indices = self.labeled_indices(dataset)
    if indices is not None:
      streams["labeled_"] = data_lib.Stream(
          dataset.x_train[indices], dataset.y_train[indices], seed + 1, False)
    return streams

  def _discriminate(self, images):
    """The discriminator in training mode: its logits, or its softmax for
    loss_form="clipped"."""
    if self.loss_form != "clipped":
      return self._logits(images, training=True)
    return self.discriminator(images, training=True)

  def _real_outputs(self, images):
    """`_discriminate(images)` on a real batch, and the R1 penalty on r(x),
    the logit of real against fake (`losses.ssgan_real_logit`), or None."""
    if not self.r1_gamma:  # a Python float: 0 builds exactly the seed's graph
      return self._discriminate(images), None
    activation = (tf.nn.softmax if self.loss_form == "clipped"
                  else tf.identity)
    return self.real_probabilities(images, activation,
                                   losses.ssgan_real_logit)

  def _real_probability(self, outputs):
    """1 - P(n|x) from `_discriminate`'s outputs."""
    if self.loss_form != "clipped":
      return tf.sigmoid(losses.ssgan_real_logit(outputs))
    return 1.0 - outputs[:, losses.FAKE_CLASS]

  def discriminator_loss(self, batch, inputs):
    # Salimans et al.'s weight-normalized layers start from statistics of
    # real images; only a discriminator step may set them.
    salimans_networks.initialize_weight_norm(self.discriminator,
                                             batch["image"])
    fake = tf.stop_gradient(self.generate(inputs, training=True))
    real_out, r1 = self._real_outputs(batch["image"])
    fake_out = self._discriminate(fake)
    if "labeled_image" in batch:
      labeled_out = self._discriminate(batch["labeled_image"])
      labels = batch["labeled_label"]
    else:
      labeled_out, labels = real_out, batch["label"]
    if self.loss_form == "salimans":
      supervised = losses.digit_classification_loss_from_logits(
          labeled_out, labels)
      unsupervised = 0.5 * (
          losses.ssgan_unsupervised_discriminator_loss_from_logits(
              real_out, fake_out))
    elif self.loss_form == "logits":
      supervised = losses.classification_loss_from_logits(labeled_out, labels)
      unsupervised = losses.ssgan_unsupervised_discriminator_loss_from_logits(
          real_out, fake_out)
    else:
      supervised = losses.classification_loss(labeled_out, labels, self.eps)
      unsupervised = losses.ssgan_unsupervised_discriminator_loss(
          real_out, fake_out, self.eps)
    accuracy = tf.reduce_mean(tf.cast(
        tf.equal(tf.argmax(labeled_out[:, :self.num_classes], axis=1,
                           output_type=tf.int32), labels), tf.float32))
    return base.LossOutput(unsupervised + supervised, {
        "d_real": tf.reduce_mean(self._real_probability(real_out)),
        "d_fake": tf.reduce_mean(self._real_probability(fake_out)),
        "d_supervised": tf.reduce_mean(supervised),
        "d_label_accuracy": accuracy}).plus(r1)

  def generator_loss(self, batch, inputs):
    fake = self.generate(inputs, training=True)
    if self.generator_objective == "feature_matching":
      real_features = self._features(batch["image"], training=True)
      fake_features = self._features(fake, training=True)
      loss = losses.feature_matching_generator_loss(
          real_features, fake_features,
          average_features=self.loss_form == "salimans")
      return base.LossOutput(loss, {})
    fake_out = self._discriminate(fake)
    non_saturating = self.generator_objective == "non_saturating"
    if self.loss_form != "clipped":
      loss = (losses.ssgan_non_saturating_generator_loss_from_logits
              if non_saturating
              else losses.ssgan_generator_loss_from_logits)(fake_out)
    else:
      loss = (losses.ssgan_non_saturating_generator_loss if non_saturating
              else losses.ssgan_generator_loss)(fake_out, self.eps)
    return base.LossOutput(
        loss, {"g_fake": tf.reduce_mean(self._real_probability(fake_out))})
