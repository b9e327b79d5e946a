"""Mixed precision: Keras dtype policies and float16 loss scaling.

    with gantape.precision.policy("mixed_float16"):
      variant = gantape.variants.build("dcgan")   # float16 math, float32 weights
    d_opt, g_opt = gantape.optimizers.make_optimizers(variant)
    step = gantape.step.TrainStep(
        variant, d_opt, g_opt,
        options=gantape.step.StepOptions(precision="mixed_float16"))

The networks compute in the policy's dtype and keep float32 variables (Keras's
mixed policies). Everything after the networks is float32: the variants cast
the discriminator's outputs before their losses and penalties
(`Variant.discriminate`), and the step averages a float32 loss.

float16 needs loss scaling, as its gradients underflow: the step wraps both
optimizers in `keras.optimizers.LossScaleOptimizer` (dynamic: an overflow
halves the scale and skips the update; 2000 clean updates double it), scales
the loss by it and divides the gradients back. A penalty on a gradient (R1,
WGAN-GP's gradient penalty) has an inner gradient that the outer scaling does
not reach: the outer loss scale multiplies only the adjoints of the inner
backward pass, not its values, which are float16 and underflow alike. So the
inner gradient is taken of its target times the same scale and divided back
in float32 (`scale_inner`, `unscale_inner`, which the step enables while it
computes a loss); an inner overflow makes the penalty, and so the outer
gradients, non-finite, which the optimizer answers like any overflow.
bfloat16 has float32's exponent range and needs no scaling.
"""

import contextlib
import threading
from typing import Iterator, Optional

import keras
import tensorflow as tf

from gantape.errors import UsageError

FLOAT32 = "float32"
MIXED_FLOAT16 = "mixed_float16"
MIXED_BFLOAT16 = "mixed_bfloat16"
PRECISIONS = (FLOAT32, MIXED_FLOAT16, MIXED_BFLOAT16)


def check(precision: str) -> str:
  """`precision` if it is one of `PRECISIONS`.

  Raises:
    UsageError: any other value.
  """
  if precision not in PRECISIONS:
    raise UsageError(f"unknown precision {precision!r}; choose one of "
                     f"{', '.join(PRECISIONS)}.")
  return precision


@contextlib.contextmanager
def policy(precision: str) -> Iterator[None]:
  """Builds the Keras layers made inside it under `precision`'s dtype policy.

  A variant builds its networks in its constructor, so build it inside
  (`variants.build`). The previous global policy is restored on exit; layers
  keep the policy they were made with.

  Raises:
    UsageError: an unknown precision.
  """
  check(precision)
  previous = keras.mixed_precision.global_policy()
  keras.mixed_precision.set_global_policy(precision)
  try:
    yield
  finally:
    keras.mixed_precision.set_global_policy(previous)


def of_variant(variant, precision: Optional[str] = None) -> str:
  """The precision of `variant`'s networks, checked against `precision`.

  Args:
    variant: a `gantape.variants.Variant`.
    precision: what the caller expects; None: whatever the networks have.

  Raises:
    UsageError: an unknown precision, or networks built under another one
      (or under two).
  """
  built = {model.dtype_policy.name
           for model in (variant.generator, variant.discriminator)}
  expected = check(precision if precision is not None else
                   (built.pop() if len(built) == 1 else FLOAT32))
  if built and built != {expected}:
    raise UsageError(
        f"variant {variant.name!r} has networks built under the dtype "
        f"policy {', '.join(sorted(built))}, not {expected}; build it inside "
        f"gantape.precision.policy({expected!r}).")
  return expected


def with_loss_scaling(optimizer: keras.optimizers.Optimizer,
                      precision: str) -> keras.optimizers.Optimizer:
  """`optimizer` wrapped in a dynamic `LossScaleOptimizer` for
  mixed_float16 (unless it is one); itself for the other precisions."""
  if (precision != MIXED_FLOAT16 or
      isinstance(optimizer, keras.optimizers.LossScaleOptimizer)):
    return optimizer
  return keras.optimizers.LossScaleOptimizer(
      optimizer, name=f"{optimizer.name}_loss_scale")


def loss_scale(optimizer: keras.optimizers.Optimizer) -> Optional[tf.Tensor]:
  """The current loss scale of a `LossScaleOptimizer`; None for others."""
  if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
    return tf.convert_to_tensor(optimizer.dynamic_scale)
  return None


def scaled_update_metrics(prefix: str, norm: tf.Tensor, scale: tf.Tensor,
                          optimizer) -> dict:
  """The metrics of a loss-scaled update: its gradients' unscaled global
  `norm` (0 for an update skipped for non-finite gradients) and the loss
  scale after it, so a few skipped updates at the start of a run, while the
  scale falls to what the gradients allow, stop no run."""
  unscaled = norm / scale
  return {f"{prefix}_grad_norm": tf.where(tf.math.is_finite(unscaled),
                                          unscaled, tf.zeros_like(unscaled)),
          f"{prefix}_loss_scale": tf.convert_to_tensor(
              optimizer.dynamic_scale)}


_INNER = threading.local()


@contextlib.contextmanager
def inner_scale(scale: Optional[tf.Tensor]) -> Iterator[None]:
  """Makes `scale_inner` and `unscale_inner` use `scale` (None: no scaling)
  while the losses inside it are computed (traced)."""
  previous = getattr(_INNER, "scale", None)
  _INNER.scale = scale
  try:
    yield
  finally:
    _INNER.scale = previous


def scale_inner(target: tf.Tensor) -> tf.Tensor:
  """A penalty's inner-gradient target times the loss scale; `target`
  itself without loss scaling. Call it inside the inner tape."""
  scale = getattr(_INNER, "scale", None)
  return target if scale is None else target * tf.cast(scale, target.dtype)


def unscale_inner(gradient: tf.Tensor) -> tf.Tensor:
  """The gradient of a `scale_inner` target, as float32 and unscaled;
  `gradient` itself without loss scaling."""
  scale = getattr(_INNER, "scale", None)
  if scale is None:
    return gradient
  return tf.cast(gradient, tf.float32) / tf.cast(scale, tf.float32)


def to_float32(tensor: tf.Tensor) -> tf.Tensor:
  """`tensor` as float32; the same tensor when it is float32 already."""
  return tf.cast(tensor, tf.float32)
