"""Penalties on the discriminator, as functions of tensors.

A penalty is a [B] per-example term added to the discriminator's loss; the
train step averages it over the global batch with the loss. Each is one
function here; `variants.base.Variant` applies them as `Penalty` terms,
which carry what the log shows: R1 (`logits_and_r1`, on the logits of the
function of the real images that the variant passes, e.g. a conditional
discriminator with the batch's labels bound) in `real_probabilities`, and the
penalties of the critic, functions of (critic, real, fake, epsilon, weight)
such as `gradient_penalty`, in `critic_penalties`, which takes those listed
in `variants.settings.CRITIC_PENALTIES`. `variants.settings` declares their
options (`r1_gamma`, `r1_every`, `gp_weight`).

  R1 = gamma / 2 * ||d f(x) / d x||^2,           x real (Mescheder et al. 2018)
  GP = lambda * (||d C(x_hat) / d x_hat||_2 - 1)^2,
       x_hat = e x + (1 - e) G(z), e ~ U[0, 1]   (Gulrajani et al. 2017)
"""

import dataclasses
from typing import Callable, Tuple

import tensorflow as tf

from gantape import precision


@dataclasses.dataclass(frozen=True)
class Penalty:
  """A penalty term of the discriminator's loss, and what the log shows.

  Attributes:
    name: the metric it is logged as, e.g. "r1_penalty".
    per_example: [B] float32, added to the per-example loss.
    logged: the scalar the progress lines show: the mean of `per_example`,
      or for a penalty applied on some updates only (lazy R1) the last one
      applied, without its lazy weight.
  """
  name: str
  per_example: tf.Tensor
  logged: tf.Tensor

  @classmethod
  def of(cls, name: str, per_example: tf.Tensor) -> "Penalty":
    """The penalty `per_example`, logged as its mean."""
    return cls(name, per_example, tf.reduce_mean(per_example))


def safe_norm(x: tf.Tensor, axis, floor: float = 1e-12) -> tf.Tensor:
  """Euclidean norm over `axis` whose gradient is finite everywhere.

  sqrt(max(sum x^2, floor)): exact above `floor`; at zero the value is
  sqrt(floor) and the gradient 0, where sqrt(sum x^2) would give NaN.
  """
  return tf.sqrt(tf.maximum(tf.reduce_sum(tf.square(x), axis=axis), floor))


def gradient_penalty(critic_fn, real: tf.Tensor, fake: tf.Tensor,
                     epsilon: tf.Tensor, weight: float = 10.0) -> tf.Tensor:
  """WGAN-GP gradient penalty (Gulrajani et al. 2017, eq. 3).

  x_hat = eps * x + (1 - eps) * G(z),  eps ~ U[0, 1] per sample,
  GP    = weight * (||d C(x_hat) / d x_hat||_2 - 1)^2.

  Args:
    critic_fn: maps images [B, ...] to scores [B] or [B, 1].
    real: real images.
    fake: generated images, same shape.
    epsilon: [B] interpolation weights, one per sample.
    weight: lambda; the paper uses 10.

  Returns:
    [B] per-example penalty, float32; under float16 the inner gradient is
    loss-scaled (`precision.scale_inner`).
  """
  eps = tf.reshape(epsilon, [-1] + [1] * (len(real.shape) - 1))
  interpolated = eps * real + (1.0 - eps) * fake
  with tf.GradientTape() as tape:
    tape.watch(interpolated)
    scores = precision.scale_inner(precision.to_float32(
        critic_fn(interpolated)))
  grads = precision.unscale_inner(tape.gradient(scores, interpolated))
  norms = safe_norm(grads, axis=list(range(1, len(real.shape))))
  return weight * tf.square(norms - 1.0)


def r1_penalty(real_gradients: tf.Tensor, gamma: float) -> tf.Tensor:
  """R1 regularizer (Mescheder et al. 2018, eq. 9), per example.

  R1 = gamma / 2 * ||d f(x) / d x||^2,  x real,

  f the discriminator's logit of "real" (D(x) = sigmoid(f(x))). It penalizes
  the discriminator for steep slopes on the data itself, which keeps it from
  sharpening into the near-certain, saturated discriminator that precedes
  the seed's collapses; at the equilibrium p_G = p_data it is zero.

  Args:
    real_gradients: [B, ...] d f / d x on a batch of real images.
    gamma: the penalty weight.

  Returns:
    [B] per-example penalty.
  """
  axes = list(range(1, len(real_gradients.shape)))
  return 0.5 * gamma * tf.reduce_sum(tf.square(real_gradients), axis=axes)


def logits_and_r1(logits_fn: Callable[[tf.Tensor], tf.Tensor],
                  real: tf.Tensor, realness: Callable[[tf.Tensor], tf.Tensor],
                  gamma: float) -> Tuple[tf.Tensor, tf.Tensor]:
  """The discriminator's logits on a real batch and their R1 penalty.

  The gradient is with respect to the images only: a conditional
  discriminator comes as `logits_fn` with the batch's labels bound (cgan's
  projection f(x, y)). With BatchNorm in the discriminator, f of one image
  depends on its batch; the gradient is that of the batch's sum of f, as in
  Mescheder et al.'s and StyleGAN's code.

  Args:
    logits_fn: maps real images [B, ...] to the discriminator's logits in
      training mode.
    real: a batch of real images, the point the gradient is taken at.
    realness: maps the logits to the [B] logit f of "real" that R1
      differentiates (D(x) = sigmoid(f(x))).
    gamma: the penalty weight.

  Returns:
    the logits, float32, and the [B] penalty gamma / 2 * ||d f / d x||^2
    (`r1_penalty`); under float16 the inner gradient is loss-scaled
    (`precision.scale_inner`).
  """
  with tf.GradientTape() as tape:
    tape.watch(real)
    logits = precision.to_float32(logits_fn(real))
    total_realness = precision.scale_inner(tf.reduce_sum(realness(logits)))
  gradients = precision.unscale_inner(tape.gradient(total_realness, real))
  return logits, r1_penalty(gradients, gamma)


def lazy_due(update: tf.Tensor, every: int) -> tf.Tensor:
  """Whether a lazy penalty applies on the discriminator update numbered
  `update` (0, 1, ...): on one in `every`, the first included. It applies
  weighted by `every` (Karras et al. 2020, "Analyzing and Improving the
  Image Quality of StyleGAN", sec. B), so that its average over `every`
  updates is the penalty's."""
  return update % every == 0
