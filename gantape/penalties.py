"""Penalties on the discriminator, as functions of tensors.

A penalty is a [B] per-example term added to the discriminator's loss; the
train step averages it over the global batch with the loss. Each is one
function here, which the variants apply (`variants.base.Variant`).

  R1 = gamma / 2 * ||d f(x) / d x||^2,           x real (Mescheder et al. 2018)
  GP = lambda * (||d C(x_hat) / d x_hat||_2 - 1)^2,
       x_hat = e x + (1 - e) G(z), e ~ U[0, 1]   (Gulrajani et al. 2017)
"""

import tensorflow as tf

from gantape import precision


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

