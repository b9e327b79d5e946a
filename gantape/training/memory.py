"""Refusing a batch that cannot fit in memory, before the run writes anything.

A batch far too big for the machine does not fail cleanly: on a CPU the
first step's allocations end in a long allocator dump or in the kernel's
out-of-memory kill, after the run has written run.json and its first
checkpoint. `check` compares an estimate of the step's activations with
the memory available first.

The estimate is a floor: the output of every layer of the generator, and of
the discriminator twice (real and generated images), float32, for one
update's slice of the batch, which is what a gradient tape keeps for the
backward pass. Gradients, optimizer slots and TensorFlow's scratch space
come on top, so a refused batch would certainly not have fit, and a batch
that passes may still be too big. The check reads layer shapes and
/proc/meminfo: microseconds. It applies to runs on CPUs; on an accelerator
TensorFlow itself raises a clear `ResourceExhaustedError`.
"""

from typing import Optional

import numpy as np
import tensorflow as tf

from gantape.errors import UsageError

_FLOAT_BYTES = 4
_MEMINFO = "/proc/meminfo"
_CGROUP_LIMIT = "/sys/fs/cgroup/memory.max"
_CGROUP_USAGE = "/sys/fs/cgroup/memory.current"


def activations_per_example(model) -> int:
  """The number of values all of `model`'s layers output for one example."""
  total = 0
  for layer in model.layers:
    try:
      outputs = tf.nest.flatten(layer.output)
    except (AttributeError, ValueError):  # a layer outside a functional graph
      continue
    total += sum(int(np.prod([d or 1 for d in t.shape[1:]])) for t in outputs)
  return total


def _read_int(path: str) -> Optional[int]:
  try:
    with open(path) as f:
      return int(f.read().split()[0])
  except (OSError, ValueError, IndexError):
    return None


def available_bytes() -> Optional[int]:
  """Memory this process may still use: MemAvailable, capped by a cgroup.

  Returns None where neither can be read (not Linux).
  """
  available = None
  try:
    with open(_MEMINFO) as f:
      for line in f:
        if line.startswith("MemAvailable:"):
          available = int(line.split()[1]) * 1024
  except (OSError, ValueError, IndexError):
    pass
  limit, used = _read_int(_CGROUP_LIMIT), _read_int(_CGROUP_USAGE)
  if limit is not None and used is not None:
    room = max(limit - used, 0)
    available = room if available is None else min(available, room)
  return available


def shortfall(needed: int) -> Optional[str]:
  """Why `needed` bytes will not fit, or None when they may.

  Returns:
    "<needed> of memory, more than the <available> available", for a
    message that names what needs it; None where memory cannot be read.
  """
  available = available_bytes()
  if available is None or needed <= available:
    return None
  return (f"{_size(needed)} of memory, more than the {_size(available)} "
          f"available")


def _on_cpu_only() -> bool:
  return all(d.device_type == "CPU" for d in tf.config.list_logical_devices())


def check(variant, *, batch_size: int, updates_per_batch: int) -> None:
  """Refuses a batch whose activations alone exceed the available memory.

  Args:
    variant: the built variant (its networks' layer shapes are read).
    batch_size: the global batch.
    updates_per_batch: the slices each batch is cut into, one update each.

  Raises:
    UsageError: on a CPU-only machine, the estimate (the module docstring's
      floor) is above `available_bytes()`.
  """
  if not _on_cpu_only():
    return
  available = available_bytes()
  if available is None:
    return
  per_example = _FLOAT_BYTES * (
      activations_per_example(variant.generator)
      + 2 * activations_per_example(variant.discriminator))
  needed = per_example * -(-batch_size // updates_per_batch)
  if needed > available:
    largest = max(updates_per_batch,
                  available // per_example * updates_per_batch)
    raise UsageError(
        f"batch_size={batch_size} needs at least {_size(needed)} for the "
        f"step's activations ({_size(per_example)} per example, "
        f"{updates_per_batch} update(s) per batch), more than the "
        f"{_size(available)} of memory available; pass a --batch_size of at "
        f"most {largest}.")


def _size(num_bytes: float) -> str:
  for unit, scale in (("GiB", 2**30), ("MiB", 2**20)):
    if num_bytes >= scale:
      return f"{num_bytes / scale:.1f} {unit}"
  return f"{num_bytes / 2**10:.1f} KiB"
