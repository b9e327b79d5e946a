"""GAN losses as pure functions of tensors.

Every function returns a per-example loss vector [B]; the train step reduces it
(`tf.nn.compute_average_loss`), so the same functions serve one device and many.
Probabilities are what the seed's networks output (sigmoid or softmax); the
clipped log below is the seed's guard against log(0). The real/fake losses
from logits at the end take the discriminator's logit instead, and `LOSSES`
names each real/fake loss, the seed's included, for a variant to choose.

Notation: `D(x)` a discriminator probability, `P(k|x)` the k-th softmax output,
`n` the "fake" class of a (K + 1)-way discriminator: its last output (n = 10
for MNIST's 11).
"""

from typing import Callable, NamedTuple

import tensorflow as tf

from gantape.errors import UsageError

FAKE_CLASS = -1  # the last column: n = K of K + 1 outputs


def log_clip(p: tf.Tensor, eps: float) -> tf.Tensor:
  """The seed's clipped log with a straight-through gradient.

  value: log(clip(p, eps, 1));  d/dp: 1 / clip(p, eps, 1).

  Written as log(clip(sg(p), eps, 1) - sg(p) + p), `sg` = stop_gradient: the
  clip shapes the value but is invisible to the gradient, so a saturated
  discriminator still passes a (bounded) gradient.
  """
  p_const = tf.stop_gradient(p)
  return tf.math.log(tf.clip_by_value(p_const, eps, 1.0) - p_const + p)


def _class_prob(probs: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
  """probs[i, labels[i]] for every row i."""
  return tf.gather(probs, tf.cast(labels, tf.int32), axis=1, batch_dims=1)


def smoothed_real_loss(real_prob: tf.Tensor, eps: float,
                       label_smoothing: float = 0.0) -> tf.Tensor:
  """Cross-entropy of a "real" probability against the target 1 - s.

  L = -(1 - s) log p - s log(1 - p),  s = `label_smoothing`.

  s = 0 is the plain -log p. s > 0 is one-sided label smoothing (Salimans et
  al. 2016, sec. 3.4; they use s = 0.1): the discriminator's optimum on real
  data drops from 1 to 1 - s, so it is no longer rewarded for ever more
  confident logits, the saturation that precedes the seed's collapses. Only
  the real side is smoothed: smoothing the fake target too would reward the
  generator for staying where the data has no mass.
  """
  loss = -log_clip(real_prob, eps)
  if label_smoothing:  # a Python float: s = 0 builds exactly the seed's graph
    loss = ((1.0 - label_smoothing) * loss
            - label_smoothing * log_clip(1.0 - real_prob, eps))
  return loss


def minimax_discriminator_loss(real_prob: tf.Tensor, fake_prob: tf.Tensor,
                               eps: float = 1e-6,
                               label_smoothing: float = 0.0) -> tf.Tensor:
  """GAN / DCGAN discriminator loss (Goodfellow et al. 2014).

  L_D = -log D(x) - log(1 - D(G(z)))

  and with one-sided label smoothing s (see `smoothed_real_loss`)

  L_D = -(1 - s) log D(x) - s log(1 - D(x)) - log(1 - D(G(z))).

  Args:
    real_prob: D(x), [B] or [B, 1].
    fake_prob: D(G(z)), same shape.
    eps: clip floor of `log_clip`; the seed uses 1e-6.
    label_smoothing: s; 0 (the seed) for none.

  Returns:
    [B] per-example loss.
  """
  loss = (smoothed_real_loss(real_prob, eps, label_smoothing)
          - log_clip(1.0 - fake_prob, eps))
  return tf.reshape(loss, [-1])


def non_saturating_generator_loss(fake_prob: tf.Tensor,
                                  eps: float = 1e-6) -> tf.Tensor:
  """GAN / DCGAN generator loss, the non-saturating form.

  L_G = -log D(G(z))

  Returns:
    [B] per-example loss.
  """
  return tf.reshape(-log_clip(fake_prob, eps), [-1])


def ssgan_unsupervised_discriminator_loss(real_probs: tf.Tensor,
                                          fake_probs: tf.Tensor,
                                          eps: float = 1e-3) -> tf.Tensor:
  """The real/fake part of the SSGAN discriminator loss.

  L = -log(1 - P(n|x)) - log P(n|G(z))

  Args:
    real_probs: [B, K + 1] softmax on real images.
    fake_probs: [B, K + 1] softmax on generated images.
    eps: clip floor; the seed uses 1e-3.
  """
  return (-log_clip(1.0 - real_probs[:, FAKE_CLASS], eps)
          - log_clip(fake_probs[:, FAKE_CLASS], eps))


def classification_loss(probs: tf.Tensor, labels: tf.Tensor,
                        eps: float = 1e-3) -> tf.Tensor:
  """Clipped cross-entropy of the true class: L = -log P(y|x).

  Args:
    probs: [B, K] probabilities.
    labels: [B] integer classes.
    eps: clip floor.
  """
  return -log_clip(_class_prob(probs, labels), eps)


def ssgan_discriminator_loss(real_probs: tf.Tensor, fake_probs: tf.Tensor,
                             labels: tf.Tensor, eps: float = 1e-3) -> tf.Tensor:
  """SSGAN discriminator loss, every real example labelled (the seed's case).

  L_D = -log(1 - P(n|x)) - log P(n|G(z)) - log P(y|x)
  """
  return (ssgan_unsupervised_discriminator_loss(real_probs, fake_probs, eps)
          + classification_loss(real_probs, labels, eps))


def ssgan_generator_loss(fake_probs: tf.Tensor, eps: float = 1e-3) -> tf.Tensor:
  """SSGAN generator loss as the seed writes it.

  L_G = log P(n|G(z))

  Minimising it pushes P(n|G(z)), the probability that a sample is fake, down.
  """
  return log_clip(fake_probs[:, FAKE_CLASS], eps)


def ssgan_non_saturating_generator_loss(fake_probs: tf.Tensor,
                                        eps: float = 1e-3) -> tf.Tensor:
  """SSGAN generator loss in Goodfellow et al.'s non-saturating form.

  L_G = -log(1 - P(n|G(z)))

  Same fixed point as the seed's log P(n|G(z)), but its gradient with respect
  to the fake logit does not vanish when the discriminator is sure that
  samples are fake (P(n|G(z)) -> 1), where the seed's does: the same change
  that the seed itself makes for GAN and DCGAN.
  """
  return -log_clip(1.0 - fake_probs[:, FAKE_CLASS], eps)


def feature_matching_generator_loss(real_features: tf.Tensor,
                                    fake_features: tf.Tensor, *,
                                    average_features: bool = False
                                    ) -> tf.Tensor:
  """Feature matching (Salimans et al. 2016, "Improved Techniques for Training
  GANs", eq. 4).

  L_G = || mean_x f(x) - mean_z f(G(z)) ||^2,  f = a discriminator layer,
  or that divided by the number of features F for `average_features` (their
  code's `mean(square(...))`). The scale matters to Adam only through its
  epsilon.

  The loss is a property of the batch, not of one example: it is returned
  broadcast to [B] so that averaging over the batch gives it back.
  """
  diff = (tf.reduce_mean(tf.stop_gradient(real_features), axis=0)
          - tf.reduce_mean(fake_features, axis=0))
  batch = tf.shape(fake_features)[0]
  reduce = tf.reduce_mean if average_features else tf.reduce_sum
  return tf.fill([batch], reduce(tf.square(diff)))


# ---- SSGAN from logits -------------------------------------------------
# The same SSGAN losses, computed from the discriminator's K + 1 logits l
# instead of its clipped softmax. With r(x) = logsumexp(l_0..l_{K-1}) - l_n,
# the logit of "real" against "fake":
#   -log(1 - P(n|x)) = softplus(-r(x)),   -log P(n|x) = softplus(r(x)),
#   -log P(y|x) = logsumexp(l) - l_y.
# Exact where the clipped form saturates: once a softmax output rounds to 0 or
# 1 in float32, log_clip's value is stuck at log(eps) and its gradient
# through the softmax is 0; softplus and logsumexp keep both finite and
# nonzero. This is how Salimans et al.'s code writes these losses.


def ssgan_real_logit(logits: tf.Tensor) -> tf.Tensor:
  """r(x) = logsumexp(l_0..l_{K-1}) - l_n: log P(real|x) - log P(fake|x).

  The negated `class_logit` of the fake class n.

  Args:
    logits: [B, K + 1] discriminator logits; the last column, n = K, is
      "fake".
  """
  fake = tf.fill(tf.shape(logits)[:1], tf.shape(logits)[1] - 1)
  return -class_logit(logits, fake)


def ssgan_unsupervised_discriminator_loss_from_logits(
    real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
  """`ssgan_unsupervised_discriminator_loss` from logits, unclipped.

  L = -log(1 - P(n|x)) - log P(n|G(z)) = softplus(-r(x)) + softplus(r(G(z)))
  """
  return (tf.nn.softplus(-ssgan_real_logit(real_logits))
          + tf.nn.softplus(ssgan_real_logit(fake_logits)))


def classification_loss_from_logits(logits: tf.Tensor,
                                    labels: tf.Tensor) -> tf.Tensor:
  """`classification_loss` from logits: L = -log P(y|x) = logsumexp(l) - l_y.

  Args:
    logits: [B, K] logits.
    labels: [B] integer classes.
  """
  return tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=tf.cast(labels, tf.int32), logits=logits)


def digit_classification_loss_from_logits(logits: tf.Tensor,
                                          labels: tf.Tensor) -> tf.Tensor:
  """Cross-entropy over the K real classes alone (the ten digits for
  MNIST): L = -log P(y|x, real) = logsumexp(l_0..l_{K-1}) - l_y; the fake
  logit plays no part (Salimans et al.'s supervised loss).

  Args:
    logits: [B, K + 1] logits; the last column, n = K ("fake"), is ignored.
    labels: [B] classes in 0..K-1.
  """
  return classification_loss_from_logits(logits[:, :FAKE_CLASS], labels)


def ssgan_generator_loss_from_logits(fake_logits: tf.Tensor) -> tf.Tensor:
  """`ssgan_generator_loss` from logits: L_G = log P(n|G(z)) = -softplus(r)."""
  return -tf.nn.softplus(ssgan_real_logit(fake_logits))


def ssgan_non_saturating_generator_loss_from_logits(
    fake_logits: tf.Tensor) -> tf.Tensor:
  """`ssgan_non_saturating_generator_loss` from logits:
  L_G = -log(1 - P(n|G(z))) = softplus(-r(G(z)))."""
  return tf.nn.softplus(-ssgan_real_logit(fake_logits))


def cgan_discriminator_loss(real_probs: tf.Tensor, real_labels: tf.Tensor,
                            fake_probs: tf.Tensor, fake_labels: tf.Tensor,
                            eps: float = 1e-3,
                            label_smoothing: float = 0.0) -> tf.Tensor:
  """CGAN discriminator loss as the seed writes it.

  L_D = -log P(y|x) - log(1 - P(c|G(z, c)))

  and with one-sided label smoothing s (see `smoothed_real_loss`)

  L_D = -(1 - s) log P(y|x) - s log(1 - P(y|x)) - log(1 - P(c|G(z, c))).

  Args:
    real_probs: [B, 11] softmax on real images.
    real_labels: [B] true digits y.
    fake_probs: [B, 11] softmax on generated images.
    fake_labels: [B] requested digits c.
    eps: clip floor; the seed uses 1e-3.
    label_smoothing: s; 0 (the seed) for none.
  """
  return (smoothed_real_loss(_class_prob(real_probs, real_labels), eps,
                             label_smoothing)
          - log_clip(1.0 - _class_prob(fake_probs, fake_labels), eps))


def cgan_generator_loss(fake_probs: tf.Tensor, fake_labels: tf.Tensor,
                        eps: float = 1e-3) -> tf.Tensor:
  """CGAN generator loss: L_G = -log P(c|G(z, c))."""
  return -log_clip(_class_prob(fake_probs, fake_labels), eps)


def wasserstein_critic_loss(real_scores: tf.Tensor,
                            fake_scores: tf.Tensor) -> tf.Tensor:
  """Wasserstein critic loss (Arjovsky et al. 2017): L_C = C(G(z)) - C(x)."""
  return tf.reshape(fake_scores - real_scores, [-1])


def wasserstein_generator_loss(fake_scores: tf.Tensor) -> tf.Tensor:
  """Wasserstein generator loss: L_G = -C(G(z))."""
  return tf.reshape(-fake_scores, [-1])


def class_logit(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
  """The logit of class y against the rest: log P(y|x) - log(1 - P(y|x)).

  f = l_y - logsumexp_{k != y} l_k  for softmax logits l [B, K], labels y [B].

  Computed from the logits, so it stays finite and differentiable where
  P(y|x) rounds to 1 in float32.

  Returns:
    [B] logits.
  """
  is_label = tf.one_hot(tf.cast(labels, tf.int32), tf.shape(logits)[1],
                        on_value=True, off_value=False)
  others = tf.where(is_label, tf.constant(-float("inf"), logits.dtype), logits)
  return _class_prob(logits, labels) - tf.reduce_logsumexp(others, axis=1)


# ---- Real/fake losses from logits -------------------------------------
# For a discriminator with one output f per image, the logit of "real":
# D(x) = sigmoid(f(x)), or a critic's linear score. softplus(t) = log(1 + e^t)
# is computed without overflow (`tf.nn.softplus`), so these stay finite with
# finite gradients for any float32 logit, where a clipped log of a rounded
# sigmoid loses both. Each takes f as [B] or [B, 1] and returns [B].


def minimax_discriminator_loss_from_logits(real_logits: tf.Tensor,
                                           fake_logits: tf.Tensor,
                                           label_smoothing: float = 0.0
                                           ) -> tf.Tensor:
  """`minimax_discriminator_loss` from logits, unclipped (Goodfellow et al.
  2014, "Generative Adversarial Nets").

  L_D = -log D(x) - log(1 - D(G(z))) = softplus(-f(x)) + softplus(f(G(z)))

  and with one-sided label smoothing s (`smoothed_real_loss`)

  L_D = (1 - s) softplus(-f(x)) + s softplus(f(x)) + softplus(f(G(z))).
  """
  real = tf.reshape(real_logits, [-1])
  loss = tf.nn.softplus(-real)
  if label_smoothing:  # a Python float: s = 0 builds no smoothing ops
    loss = (1.0 - label_smoothing) * loss + label_smoothing * tf.nn.softplus(
        real)
  return loss + tf.nn.softplus(tf.reshape(fake_logits, [-1]))


def non_saturating_generator_loss_from_logits(fake_logits: tf.Tensor
                                              ) -> tf.Tensor:
  """`non_saturating_generator_loss` from logits, unclipped (Goodfellow et
  al. 2014, sec. 3): L_G = -log D(G(z)) = softplus(-f(G(z))).

  Its gradient in f is -(1 - D(G(z))): largest where the discriminator is
  sure that the sample is fake.
  """
  return tf.nn.softplus(-tf.reshape(fake_logits, [-1]))


def hinge_discriminator_loss(real_logits: tf.Tensor,
                             fake_logits: tf.Tensor) -> tf.Tensor:
  """Hinge discriminator loss (Lim & Ye 2017, "Geometric GAN"; Miyato et al.
  2018, "Spectral Normalization for Generative Adversarial Networks").

  L_D = max(0, 1 - f(x)) + max(0, 1 + f(G(z))),  f the raw output.

  Zero, with zero gradient, for images scored beyond the margin (f(x) >= 1,
  f(G(z)) <= -1).
  """
  return (tf.nn.relu(1.0 - tf.reshape(real_logits, [-1]))
          + tf.nn.relu(1.0 + tf.reshape(fake_logits, [-1])))


def hinge_generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
  """Hinge generator loss (Miyato et al. 2018): L_G = -f(G(z)), the
  Wasserstein generator loss (`wasserstein_generator_loss`)."""
  return wasserstein_generator_loss(fake_logits)


def least_squares_discriminator_loss(real_logits: tf.Tensor,
                                     fake_logits: tf.Tensor) -> tf.Tensor:
  """Least-squares discriminator loss (Mao et al. 2017, "Least Squares
  Generative Adversarial Networks", eq. 2 with a = 0, b = 1).

  L_D = 1/2 (f(x) - 1)^2 + 1/2 f(G(z))^2,

  f the raw output (no sigmoid, as in the paper's linear last layer):
  targets 1 for real, 0 (a) for fake.
  """
  return 0.5 * (tf.square(tf.reshape(real_logits, [-1]) - 1.0)
                + tf.square(tf.reshape(fake_logits, [-1])))


def least_squares_generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
  """Least-squares generator loss (Mao et al. 2017, eq. 2 with c = 1):
  L_G = 1/2 (f(G(z)) - 1)^2, f the raw output."""
  return 0.5 * tf.square(tf.reshape(fake_logits, [-1]) - 1.0)


class LossPair(NamedTuple):
  """A real/fake GAN loss: two per-example functions, one signature.

  Attributes:
    discriminator: (real, fake) -> [B] L_D; real and fake [B] or [B, 1].
    generator: (fake) -> [B] L_G.
    from_logits: True when real and fake are the discriminator's logit f
      (or a critic's score); False when they are probabilities D(x), which
      the loss clips (the seed's).
    label_smoothing: whether `discriminator` takes a `label_smoothing=s`
      keyword (one-sided label smoothing, `smoothed_real_loss`).
    reference: the formula and its paper, for help texts.
  """
  discriminator: Callable[..., tf.Tensor]
  generator: Callable[[tf.Tensor], tf.Tensor]
  from_logits: bool
  label_smoothing: bool
  reference: str


LOSSES = {
    "seed": LossPair(
        minimax_discriminator_loss, non_saturating_generator_loss, False,
        True, "the post's clipped losses on D(x): -log D(x) - "
        "log(1 - D(G(z))) and -log D(G(z)), log clipped at 1e-6 "
        "(Goodfellow et al. 2014)"),
    "ns": LossPair(
        minimax_discriminator_loss_from_logits,
        non_saturating_generator_loss_from_logits, True, True,
        "non-saturating, from logits: softplus(-f(x)) + softplus(f(G(z))) "
        "and softplus(-f(G(z))) (Goodfellow et al. 2014)"),
    "hinge": LossPair(
        hinge_discriminator_loss, hinge_generator_loss, True, False,
        "hinge: max(0, 1 - f(x)) + max(0, 1 + f(G(z))) and -f(G(z)) "
        "(Lim & Ye 2017; Miyato et al. 2018)"),
    "ls": LossPair(
        least_squares_discriminator_loss, least_squares_generator_loss, True,
        False, "least squares: (f(x) - 1)^2 / 2 + f(G(z))^2 / 2 and "
        "(f(G(z)) - 1)^2 / 2 (Mao et al. 2017)"),
    "wasserstein": LossPair(
        wasserstein_critic_loss, wasserstein_generator_loss, True, False,
        "Wasserstein: f(G(z)) - f(x) and -f(G(z)), for a Lipschitz critic "
        "(a gradient penalty or spectral normalization) (Arjovsky et al. "
        "2017)"),
}


def get_loss(name: str) -> LossPair:
  """The `LOSSES` entry called `name`.

  Raises:
    UsageError: no loss has that name.
  """
  try:
    return LOSSES[name]
  except KeyError:
    raise UsageError(f"unknown loss {name!r}; choose one of "
                     f"{', '.join(LOSSES)}.") from None
