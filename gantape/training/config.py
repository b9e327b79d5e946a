"""`TrainConfig`: everything that defines a training run, in one place."""

import dataclasses
from typing import Any, Dict, Optional

from gantape import checkpoints
from gantape import variants
from gantape.errors import UsageError


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """Everything that defines a training run.

  Attributes:
    workdir: where checkpoints, samples, summaries and metrics go.
    variant: a registered variant name (`gantape.variants.names()`).
    steps: GAN iterations in all; None takes the variant's seed default.
    batch_size: global batch size (the seed's 64).
    preset: the variant's named settings (`Variant.presets`) that fill every
      field below left at None: "gantape" (the default, chosen from the
      README's measurements) or "seed" (the blog post's).
    learning_rate, beta_1, beta_2: Adam settings; None takes the preset's.
    updates_per_batch: updates per network per batch, one per equal slice
      (the seed's fit() makes 2); None takes the preset's.
    seed: seeds the data order, the noise and the networks' initial weights.
    data_path: MNIST `.npz` or IDX folder; None uses Keras's downloader.
    variant_options: keyword options for the variant (e.g. num_labeled);
      they win over the preset's (`Preset.variant_options`).
    iterations_per_call: iterations per `tf.function` call.
    log_every: iterations between metric records and progress lines.
    sample_every: iterations between sample grids.
    checkpoint_every: iterations between checkpoints.
    keep_checkpoints: how many checkpoints to keep.
    jit_compile: compile the step with XLA.
    ema_decay: keep an exponential moving average of the generator's weights
      with this per-iteration decay (e.g. 0.999) and sample and evaluate with
      it; 0 (the seed) samples the live generator; None takes the preset's.
      See gantape/ema.py.
    eval_every: iterations between cheap sample-quality evaluations (FCD,
      classifier score, coverage; see gantape/evaluation.py); None: never.
    eval_samples: images generated per such evaluation.
    resume_from: a checkpoint prefix of another run (e.g.
      OTHER/checkpoints/ckpt-12000) that a workdir without checkpoints of
      its own starts from: networks, optimizer state, EMA, iteration, data
      order and noise stream continue from it, under this config's learning
      rate and variant options. The other run's metrics up to that iteration
      are copied, so curves read on. Ignored once the workdir has
      checkpoints: rerunning the command resumes them.
  """
  workdir: str
  variant: str = "dcgan"
  steps: Optional[int] = None
  batch_size: int = 64
  preset: str = variants.base.DEFAULT_PRESET
  learning_rate: Optional[float] = None
  beta_1: Optional[float] = None
  beta_2: Optional[float] = None
  updates_per_batch: Optional[int] = None
  seed: int = 0
  data_path: Optional[str] = None
  variant_options: Dict[str, Any] = dataclasses.field(default_factory=dict)
  iterations_per_call: int = 100
  log_every: int = 100
  sample_every: int = 1000
  checkpoint_every: int = 1000
  keep_checkpoints: int = 3
  jit_compile: bool = False
  ema_decay: Optional[float] = None
  eval_every: Optional[int] = None
  eval_samples: int = 2000
  resume_from: Optional[str] = None

  def resolved(self) -> "TrainConfig":
    """This config with every None preset field filled from the preset.

    Raises:
      UsageError: unknown variant or preset.
    """
    preset = variants.get_class(self.variant).preset(self.preset)
    return dataclasses.replace(
        self,
        variant_options=variants.resolve_options(
            self.variant, self.preset, self.variant_options),
        **{f.name: getattr(preset, f.name)
           for f in dataclasses.fields(preset)
           if f.name != "variant_options" and getattr(self, f.name) is None})

  def validate(self) -> None:
    """Raises UsageError naming the first bad field and how to fix it."""
    variants.get_class(self.variant).preset(self.preset)
    positive = ["batch_size", "iterations_per_call", "log_every",
                "sample_every", "checkpoint_every", "keep_checkpoints"]
    for field in ("steps", "updates_per_batch"):
      if getattr(self, field) is not None:
        positive.append(field)
    if self.eval_every is not None:
      positive.append("eval_every")
    defaults = {f.name: f.default for f in dataclasses.fields(self)}
    for field in positive:
      value = getattr(self, field)
      if not isinstance(value, int) or value <= 0:
        default = defaults.get(field)
        raise UsageError(
            f"{field} must be a positive integer, got {value!r}; pass "
            f"--{field}=N with N >= 1"
            + (f" (default {default})." if default is not None else
               " (or leave it unset for the variant's default)."))
    if self.learning_rate is not None and not self.learning_rate > 0:
      raise UsageError(
          f"learning_rate must be positive, got {self.learning_rate!r}; pass "
          f"e.g. --learning_rate=0.001, or leave it unset for the variant's "
          f"default.")
    for field in ("beta_1", "beta_2"):
      value = getattr(self, field)
      if value is not None and not 0.0 <= value < 1.0:
        raise UsageError(f"{field} must be in [0, 1), got {value!r}.")
    if self.ema_decay is not None and not 0.0 <= self.ema_decay < 1.0:
      raise UsageError(f"ema_decay must be in [0, 1), got {self.ema_decay!r}.")
    if self.eval_every is not None and not (
        isinstance(self.eval_samples, int) and self.eval_samples >= 20):
      raise UsageError(
          f"eval_samples must be an integer >= 20, got {self.eval_samples!r}.")
    if not self.workdir:
      raise UsageError("workdir must be set, e.g. --workdir=/tmp/gantape/dcgan.")
    if self.resume_from is not None and not checkpoints.exists(
        self.resume_from):
      raise UsageError(
          f"resume_from={self.resume_from!r} is not a checkpoint (no "
          f"{self.resume_from}.index); pass a prefix such as "
          f"OTHER_WORKDIR/{checkpoints.CHECKPOINT_DIR}/ckpt-12000.")



def total_iterations(config: TrainConfig) -> int:
  """`config.steps`, or the variant's seed default when unset."""
  if config.steps is not None:
    return config.steps
  return variants.get_class(config.variant).default_iterations
