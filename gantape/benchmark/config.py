"""What the benchmark runs: its config and the parsing of list-valued flags."""

import dataclasses
from typing import Dict, Optional, Sequence, Tuple

from gantape import precision as precision_lib
from gantape import variants
from gantape.errors import UsageError
from gantape.training.config import TrainConfig

IMPLEMENTATIONS = ("gantape", "gantape_k", "gantape_xla", "gantape_k_xla",
                   "seed_fit", "keras_fit")
# The input pipeline alone (`runners.InputRunner`): the real batches of
# `iterations_per_call` iterations per call, nothing trained. Asked for by
# name; not part of the default list, since it has no FLOPs.
INPUT_ONLY = "input_only"
ALL_IMPLEMENTATIONS = IMPLEMENTATIONS + (INPUT_ONLY,)
# Keras dtype policies a `TrainStep` may train under.
PRECISIONS = precision_lib.PRECISIONS
# Iterations for the memory measurement when not set: the 20,000 for
# the MLP GAN, fewer for the convolutional variants (seconds per iteration).
DEFAULT_MEMORY_ITERATIONS = {"gan": 20_000}
DEFAULT_MEMORY_ITERATIONS_CONV = 1_000


# The step the default suite times: `gantape train`'s settings, less what
# the suite sets itself (one update per batch, 50 iterations per call).
DEFAULT_STEP = TrainConfig(workdir="", iterations_per_call=50,
                           updates_per_batch=1)


def step_config(**fields) -> TrainConfig:
  """`DEFAULT_STEP` with `fields` (`TrainConfig` fields) changed."""
  return dataclasses.replace(DEFAULT_STEP, **fields)


@dataclasses.dataclass(frozen=True)
class BenchmarkConfig:
  """What to benchmark and how long.

  Attributes:
    variants: registered variant names.
    step: the step's settings, as `gantape train` takes them (its
      `variant` and `workdir` are not read): `batch_size`,
      `iterations_per_call` (K of `gantape_k` and keras_fit's
      steps_per_execution), `updates_per_batch`, `variant_options`, `seed`,
      `precision` and `input_pipeline` of the gantape implementations, and
      the data (`dataset`, `data_path`, `image_size`, `channels`); for
      MNIST, when it cannot be loaded, random arrays of its shape are used
      and a note is printed. Every implementation runs the constructor's
      (the seed's) losses plus `variant_options`, without weight averages:
      a preset's options are timed only when they are in `variant_options`
      (`gantape benchmark --variant=...` resolves them there). seed_fit
      runs the seed's losses only, so with options its rows are "not
      applicable".
    implementations: a subset of `IMPLEMENTATIONS`.
    timed_blocks: timed blocks per figure; the median is reported.
    block_seconds: target length of one timed block.
    memory_iterations: iterations between the two RSS readings, by variant
      name ("*" for any other); a variant not named takes 20,000 for gan and
      1,000 otherwise, cut to what fits in `memory_seconds` at the measured
      rate.
    memory_seconds: time cap of the default memory run (ignored when
      `memory_iterations` is set).
    smoke: a handful of iterations per part, to check that everything runs.
    output_json: where to write the JSON report; None writes none.
    profile: also profile `gantape_k` per variant and report the op types
      that take its time.
  """
  variants: Tuple[str, ...] = ("gan", "dcgan")
  step: TrainConfig = DEFAULT_STEP
  implementations: Tuple[str, ...] = IMPLEMENTATIONS
  timed_blocks: int = 5
  block_seconds: float = 3.0
  memory_iterations: Optional[Dict[str, int]] = None
  memory_seconds: float = 120.0
  smoke: bool = False
  output_json: Optional[str] = None
  profile: bool = False

  def validate(self) -> None:
    """Raises UsageError naming the first bad field."""
    if not self.variants:
      raise UsageError("--variants is empty; name at least one variant.")
    for name in self.variants:
      variants.check_options(name, self.step.variant_options)
    unknown = [i for i in self.implementations
               if i not in ALL_IMPLEMENTATIONS]
    if unknown or not self.implementations:
      raise UsageError(
          f"unknown implementation(s) {unknown}; choose from "
          f"{', '.join(ALL_IMPLEMENTATIONS)}.")
    self.step.validate()
    if self.timed_blocks < 1:
      raise UsageError(f"timed_blocks must be at least 1, got "
                       f"{self.timed_blocks}.")
    if self.step.batch_size % self.step.updates_per_batch:
      raise UsageError(
          f"batch_size {self.step.batch_size} does not split into "
          f"updates_per_batch={self.step.updates_per_batch} equal updates; "
          f"pick a divisor of the batch size.")
    for name, n in (self.memory_iterations or {}).items():
      if n < 1:
        raise UsageError(f"memory_iterations for {name} must be at least 1, "
                         f"got {n}.")

  def memory_iterations_for(self, variant: str) -> Optional[int]:
    """The memory run's length set for `variant` (or "*"), else None."""
    fixed = self.memory_iterations or {}
    return fixed.get(variant, fixed.get("*"))


def parse_memory_iterations(text: Optional[str]
                            ) -> Optional[Dict[str, int]]:
  """"2000" (every variant) or "gan=20000,dcgan=300" -> {name: iterations}.

  Raises:
    UsageError: not of either form.
  """
  if not text:
    return None
  try:
    if "=" not in text:
      return {"*": int(text)}
    return {k.strip(): int(v) for k, v in
            (item.split("=") for item in text.split(",") if item.strip())}
  except ValueError:
    raise UsageError(f"--memory_iterations={text!r}: give a number or "
                     f"variant=number pairs, e.g. gan=20000,dcgan=300."
                     ) from None


def parse_list(text: str, allowed: Sequence[str], what: str) -> Tuple[str, ...]:
  """Splits a comma list and checks each item is in `allowed`.

  Raises:
    UsageError: an unknown item; the message lists the allowed ones.
  """
  items = tuple(s.strip() for s in text.split(",") if s.strip())
  bad = [s for s in items if s not in allowed]
  if bad:
    raise UsageError(f"unknown {what} {', '.join(bad)}; choose from "
                     f"{', '.join(allowed)}.")
  return items
