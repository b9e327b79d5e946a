"""`TrainConfig`: everything that defines a training run, in one place.

Each field carries its flag's help text in its metadata (`_setting`);
`gantape.cli.config_flags` defines one flag per field from it, with the
field's default, so a setting is written once.
"""

import dataclasses
import math
from typing import Any, Callable, Dict, List, Optional

from gantape import checkpoints
from gantape import data as data_lib
from gantape import precision as precision_lib
from gantape import variants
from gantape.errors import UsageError


def _setting(default: Any, help_text: str, *,
             choices: Optional[Callable[[], List[str]]] = None,
             path: bool = False) -> Any:
  """A `TrainConfig` field that is also a command-line flag.

  Args:
    default: the one default, the flag's too; `dataclasses.MISSING` for a
      field without one.
    help_text: the flag's help.
    choices: returns the allowed values (the flag becomes an enum); called
      when flags are defined, so it sees every registered variant.
    path: the value is a file or folder, made absolute by the CLI so that a
      `flags.txt` works from any directory.
  """
  return dataclasses.field(default=default, metadata={
      "help": help_text, "choices": choices, "path": path})


def _dataset_names() -> List[str]:
  return list(data_lib.DATASETS)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """Everything that defines a training run.

  Each field's help text, next to it below, is also its flag's help
  (`gantape train --helpfull`). Fields left at None take the preset's value
  (`Variant.presets`: "gantape", chosen from the measurements in
  docs/quality.md, or "seed", the blog post's) or the variant's default.
  `variant_options`, the one field that is not a flag, holds keyword options
  of the variant (`Variant.options`, one flag each); they win over the
  preset's (`Preset.variant_options`).
  """
  workdir: str = _setting(
      dataclasses.MISSING, "Run folder: checkpoints, samples, logs; rerunning "
      "resumes it, and only flags that say so may change on resume. "
      "Default: ~/gantape-runs/<variant>, this user's (never the shared "
      "/tmp).", path=True)
  variant: str = _setting(
      "dcgan", "GAN variant to train; your own as package.module:ClassName "
      "(a gantape.variants.Variant subclass, docs/variants.md).",
      choices=variants.names)
  steps: Optional[int] = _setting(
      None, "GAN iterations in all (default: the variant's: 20000 for gan, "
      "10000 otherwise). May change on resume.")
  batch_size: int = _setting(64, "Global batch size.")
  preset: Optional[str] = _setting(
      None, "Named settings for every flag marked 'the preset's' left unset: "
      "gantape's defaults for MNIST, 'general' for other data (the same, "
      "with R1 on cgan too), or the seed's (docs/quality.md). wgan_gp has "
      "no 'seed'; ssgan also has 'salimans', Salimans et al. 2016's recipe "
      "(docs/semi_supervised.md). Default: 'gantape' for --dataset=mnist, "
      "'general' for any other, a resumed run's own.",
      choices=variants.preset_names)
  learning_rate: Optional[float] = _setting(
      None, "Adam learning rate (default: the preset's: 1e-3, or 1e-4 for "
      "wgan_gp). May change on resume (e.g. lower it after a NaN).")
  d_learning_rate: Optional[float] = _setting(
      None, "The discriminator's Adam learning rate, when it differs from "
      "the generator's: two time-scale updates (TTUR, Heusel et al. 2017, "
      "e.g. 4e-4 against --learning_rate=1e-4); default: --learning_rate. "
      "May change on resume.")
  beta_1: Optional[float] = _setting(None, "Adam beta_1 (default: the "
                                     "preset's).")
  beta_2: Optional[float] = _setting(None, "Adam beta_2 (default: the "
                                     "preset's).")
  d_beta_1: Optional[float] = _setting(
      None, "The discriminator's Adam beta_1, when it differs from the "
      "generator's; default: --beta_1.")
  d_beta_2: Optional[float] = _setting(
      None, "The discriminator's Adam beta_2, when it differs from the "
      "generator's; default: --beta_2.")
  adam_epsilon: Optional[float] = _setting(
      None, "Adam epsilon, added to sqrt(v) (default: the preset's: Keras's "
      "1e-7, or 1e-4 for ssgan's salimans preset).")
  lr_decay_start: Optional[int] = _setting(
      None, "Iteration from which the learning rate falls linearly, to 0 at "
      "--lr_decay_end; default: constant. May change on resume.")
  lr_decay_end: Optional[int] = _setting(
      None, "Iteration where the --lr_decay_start decay reaches 0 (default: "
      "--steps). May change on resume.")
  updates_per_batch: Optional[int] = _setting(
      None, "Updates per network per batch, one per equal slice; the seed's "
      "fit() makes 2 (default: the preset's).")
  seed: int = _setting(0, "Seeds data order, noise and initial weights.")
  dataset: str = _setting(
      "mnist", "The images to train on: "
      "mnist, fashion_mnist, cifar10 from --data_path or Keras's "
      "downloader; colour_mnist: MNIST's digits at 32x32x3 on random "
      "colours, from MNIST's file; folder: the PNG/JPEG images under "
      "--data_path, labelled by subfolder if it has subfolders.",
      choices=_dataset_names)
  data_path: Optional[str] = _setting(
      None, "The --dataset's file or folder (e.g. an MNIST .npz in Keras's "
      "layout, a folder of IDX files); default: Keras's downloader. May "
      "change on resume (to the same data).",
      path=True)
  image_size: Optional[int] = _setting(
      None, "--dataset=folder: resize the images to this size x size "
      "(default: their own size, which must then agree).")
  channels: Optional[int] = _setting(
      None, "--dataset=folder: 1 (grayscale) or 3 (colour) channels "
      "(default: 3).")
  train_subset: Optional[int] = _setting(
      None, "Train on N images of the training split, the same N for every "
      "--seed (drawn with a fixed seed; N/K of each of K classes when "
      "labelled, so N must be a multiple of K); --num_labeled's labels are "
      "among them. Evaluation still uses the whole dataset (default: every "
      "image).")
  variant_options: Dict[str, Any] = dataclasses.field(default_factory=dict)
  iterations_per_call: int = _setting(
      100, "At most this many iterations per tf.function call; a call also "
      "ends after about 2 s, and the weight average moves at multiples of "
      "it. May change on resume.")
  log_every: int = _setting(100, "Iterations between progress lines. May "
                            "change on resume.")
  sample_every: int = _setting(1000, "Iterations between sample grids. May "
                               "change on resume.")
  checkpoint_every: int = _setting(1000, "Iterations between checkpoints. "
                                   "May change on resume.")
  keep_checkpoints: int = _setting(3, "How many checkpoints to keep (older "
                                   "ones are deleted). May change on "
                                   "resume.")
  precision: str = _setting(
      "float32", "Keras dtype policy of the networks: float32, or "
      "mixed_float16 / mixed_bfloat16 (float32 weights and losses, float16 "
      "or bfloat16 math; float16 with dynamic loss scaling). Faster on GPUs "
      "and TPUs with low-precision units.",
      choices=lambda: list(precision_lib.PRECISIONS))
  jit_compile: bool = _setting(False, "Compile the step with XLA. May "
                               "change on resume.")
  input_pipeline: str = _setting(
      "host", "Where real batches are made: host (a tf.data pipeline) or "
      "device (the training set held on the accelerator, each batch "
      "gathered inside the step; one replica only). Same batches for the "
      "same seed.", choices=lambda: list(data_lib.INPUT_PIPELINES))
  ema_decay: Optional[float] = _setting(
      None, "Sample and evaluate with an exponential moving average of the "
      "generator's weights at this decay (e.g. 0.999); 0 samples the live "
      "generator, as the seed (default: the preset's).")
  discriminator_ema_decay: Optional[float] = _setting(
      None, "Measure a classifying discriminator's test accuracy (SSGAN's) "
      "with an exponential moving average of its weights at this decay "
      "(e.g. 0.9999); 0: the live discriminator (default: the preset's).")
  eval_every: Optional[int] = _setting(
      None, "Iterations between sample-quality evaluations (FCD, coverage; "
      "warns on degeneration; keeps the lowest-FCD networks in "
      "<workdir>/best/); default: none. May change on resume.")
  eval_samples: int = _setting(2000, "Images per --eval_every evaluation. "
                               "May change on resume.")
  resume_from: Optional[str] = _setting(
      None, "Start this new workdir from another run's checkpoint prefix "
      "(e.g. OTHER/checkpoints/ckpt-12000): weights, optimizers, iteration "
      "and data order continue from it under this command's flags, e.g. a "
      "lower --learning_rate. Ignored once the workdir has checkpoints of "
      "its own, so it may change on resume.", path=True)

  def validate(self, variant_class: Optional[type] = None) -> None:
    """Raises UsageError naming the first bad field and how to fix it.

    Args:
      variant_class: the class `variant` names; None looks it up.
    """
    variant_class = variant_class or variants.get_class(self.variant)
    if self.preset is not None:
      variant_class.preset(self.preset)
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
    self._validate_optimizer(variant_class.default_iterations)
    for field in ("ema_decay", "discriminator_ema_decay"):
      value = getattr(self, field)
      if value is not None and not 0.0 <= value < 1.0:
        raise UsageError(f"{field} must be in [0, 1), got {value!r}.")
    if self.eval_every is not None and not (
        isinstance(self.eval_samples, int) and self.eval_samples >= 20):
      raise UsageError(
          f"eval_samples must be an integer >= 20, got {self.eval_samples!r}.")
    if self.train_subset is not None and not (
        isinstance(self.train_subset, int) and self.train_subset > 0):
      raise UsageError(f"train_subset must be a positive integer, got "
                       f"{self.train_subset!r}; e.g. --train_subset=2000, or "
                       f"leave it unset to train on every image.")
    if self.image_size is not None and not (
        isinstance(self.image_size, int) and self.image_size > 0):
      raise UsageError(f"image_size must be a positive integer, got "
                       f"{self.image_size!r}; e.g. --image_size=32.")
    if self.channels not in (None, 1, 3):
      raise UsageError(f"channels must be 1 or 3, got {self.channels!r}.")
    for field, allowed in (("input_pipeline", data_lib.INPUT_PIPELINES),
                           ("precision", precision_lib.PRECISIONS)):
      if getattr(self, field) not in allowed:
        raise UsageError(f"unknown {field} {getattr(self, field)!r}; choose "
                         f"one of {', '.join(allowed)}.")
    if self.resume_from is not None and not checkpoints.exists(
        self.resume_from):
      raise UsageError(
          f"resume_from={self.resume_from!r} is not a checkpoint (no "
          f"{self.resume_from}.index); pass a prefix such as "
          f"OTHER_WORKDIR/{checkpoints.CHECKPOINT_DIR}/ckpt-12000.")

  def _validate_optimizer(self, default_iterations: int) -> None:
    """`validate` for the Adam settings and the learning-rate schedule."""
    for field in ("learning_rate", "d_learning_rate"):
      rate = getattr(self, field)
      if rate is not None and not (rate > 0 and math.isfinite(rate)):
        raise UsageError(
            f"{field} must be positive and finite, got {rate!r}; pass "
            f"e.g. --{field}=0.001, or leave it unset for the default.")
    if self.lr_decay_end is not None and self.lr_decay_start is None:
      raise UsageError("lr_decay_end is set without lr_decay_start; pass "
                       "--lr_decay_start too (the iteration the decay "
                       "begins at).")
    if self.lr_decay_start is not None:
      end = (self.lr_decay_end if self.lr_decay_end is not None
             else self.steps or default_iterations)
      if not 0 <= self.lr_decay_start < end:
        raise UsageError(
            f"lr_decay_start={self.lr_decay_start} must be >= 0 and before "
            f"the decay's end, iteration {end} (--lr_decay_end, or "
            f"--steps).")
    if self.adam_epsilon is not None and not self.adam_epsilon > 0:
      raise UsageError(f"adam_epsilon must be positive, got "
                       f"{self.adam_epsilon!r}; e.g. --adam_epsilon=1e-7.")
    for field in ("beta_1", "beta_2", "d_beta_1", "d_beta_2"):
      value = getattr(self, field)
      if value is not None and not 0.0 <= value < 1.0:
        raise UsageError(f"{field} must be in [0, 1), got {value!r}; pass "
                         f"--{field}=B with 0 <= B < 1, or leave it unset "
                         f"for the default.")
