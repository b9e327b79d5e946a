"""The two networks in a line (parameter counts) or in full (Keras's summary).

`gantape train` puts the counts in its start line, and `--summary` prints
Keras's `Model.summary()` of both networks before the first call.
"""

from typing import List

import keras


def parameters(model: keras.Model) -> int:
  """Weights of `model`, trainable or not (BatchNorm's statistics too)."""
  return int(sum(int(w.numpy().size) for w in model.weights))


def _short(n: int) -> str:
  """1,469,328 -> "1.47M"; 53,505 -> "53.5K"; 900 -> "900"."""
  for unit, size in (("M", 1e6), ("K", 1e3)):
    if n >= size:
      return f"{n / size:.3g}{unit}"
  return str(n)


def counts(variant) -> str:
  """E.g. "generator 1.47M parameters, discriminator 533K"."""
  return (f"generator {_short(parameters(variant.generator))} parameters, "
          f"discriminator {_short(parameters(variant.discriminator))}")


def full(variant) -> str:
  """Keras's summary of the generator, then of the discriminator."""
  lines: List[str] = []
  for model in (variant.generator, variant.discriminator):
    model.summary(print_fn=lambda text, line_break=True: lines.append(text))
  return "\n".join(lines)
