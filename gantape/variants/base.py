"""What every variant is: two networks, how to feed them, and two losses.

A variant never trains itself. The train step (`gantape.step`) calls, once per
iteration:

    batch  = next(iterator)                      # from variant.make_dataset
    inputs = variant.sample_inputs(rng, batch_size)
    variant.discriminator_loss(batch, inputs)    # n_critic times, differentiated
                                                 # w.r.t. discriminator_variables
    variant.generator_loss(batch, inputs)        # once, w.r.t. generator_variables

so the step and the loop never branch on a variant's name. Writing a new
variant means subclassing `Variant` in one file and adding one line to
`gantape/variants/__init__.py`.
"""

import abc
import dataclasses
from typing import (Any, Callable, ClassVar, Dict, Mapping, Optional,
                    Tuple)

import keras
import tensorflow as tf

from gantape import data as data_lib
from gantape import losses
from gantape import networks
from gantape import precision
from gantape.errors import UsageError
from gantape.networks import NOISE_DIM

Metrics = Dict[str, tf.Tensor]


@dataclasses.dataclass(frozen=True)
class LossOutput:
  """A loss for one network.

  Attributes:
    per_example: [B] loss per example; the step averages it over the global
      batch.
    metrics: scalar diagnostics for logging (e.g. mean D(x)); never
      differentiated.
  """
  per_example: tf.Tensor
  metrics: Metrics = dataclasses.field(default_factory=dict)

  def plus_r1(self, penalty: Optional[tf.Tensor]) -> "LossOutput":
    """This loss plus an R1 penalty (`Variant.real_probabilities`), logged
    as `r1_penalty`; itself when the penalty is None."""
    if penalty is None:
      return self
    return LossOutput(self.per_example + penalty,
                      {**self.metrics, "r1_penalty": tf.reduce_mean(penalty)})


@dataclasses.dataclass(frozen=True)
class Preset:
  """How a variant trains unless told otherwise.

  Attributes:
    learning_rate, beta_1, beta_2: Adam, the same for both networks.
    adam_epsilon: Adam's epsilon, added to sqrt(v); 1e-7 is Keras's.
    updates_per_batch: each network takes this many updates per batch, one
      per equal slice of it: all discriminator updates, then all generator
      updates. 2 reproduces the seed, whose `fit()` on 64 examples runs
      Keras's default batch of 32 twice.
    ema_decay: sample and evaluate with an exponential moving average of the
      generator's weights at this per-iteration decay; 0 samples the live
      generator (the seed).
    discriminator_ema_decay: the same for the discriminator, which only its
      test accuracy (a classifying discriminator, SSGAN's) reads.
    variant_options: options of the variant's constructor that the preset
      sets (e.g. r1_gamma); options given explicitly win
      (`variants.resolve_options`). The constructors' own defaults are the
      seed's losses, so the "seed" presets set none.
  """
  learning_rate: float
  beta_1: float = 0.9
  beta_2: float = 0.999
  adam_epsilon: float = 1e-7
  updates_per_batch: int = 1
  ema_decay: float = 0.0
  discriminator_ema_decay: float = 0.0
  variant_options: Mapping[str, Any] = dataclasses.field(
      default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Option:
  """One keyword option of a variant's constructor, declared once.

  The CLI makes a flag of it, the benchmark passes it through, resume
  compares it, and `variants.build` checks it before building networks.

  Attributes:
    name: the constructor's keyword (and the flag's name).
    type: int, float, bool or str: the flag's type.
    default: the constructor's default; the seed's behaviour.
    help: one sentence for `--help`, without the default.
    choices: the allowed values of a str option, or None.
    check: raises `UsageError` for a bad value that `choices` cannot
      express (e.g. a negative weight); None for none.
  """
  name: str
  type: type
  default: Any
  help: str
  choices: Optional[Tuple[str, ...]] = None
  check: Optional[Callable[[Any], None]] = None

  def checked(self, value: Any, variant: str = "") -> Any:
    """`value` if it is allowed, as `type` (a float for an int).

    Args:
      value: the option's value; None (unset) is always allowed.
      variant: the variant's name, for the message.

    Raises:
      UsageError: a value outside `choices`, or one `check` refuses.
    """
    if value is None:
      return value
    if self.choices is not None and value not in self.choices:
      raise UsageError(
          f"unknown {variant + ' ' if variant else ''}{self.name} {value!r}; "
          f"choose one of {', '.join(self.choices)}.")
    if self.type is float and isinstance(value, int):
      value = float(value)
    if self.check is not None:
      self.check(value)
    return value


def _check_r1_gamma(gamma: float) -> None:
  if not gamma >= 0.0:
    raise UsageError(
        f"r1_gamma={gamma} is negative; it weighs a penalty, so use a "
        f"value >= 0 (e.g. 1), or 0 for none.")


def _check_r1_every(every: int) -> None:
  if isinstance(every, bool) or not isinstance(every, int) or every < 1:
    raise UsageError(
        f"r1_every={every!r} is not a positive integer; it is the interval "
        f"in discriminator updates between R1 penalties (e.g. 16), or 1 for "
        f"every update.")


def _check_label_smoothing(s: float) -> None:
  if not 0.0 <= s < 1.0:
    raise UsageError(
        f"label_smoothing={s} is outside [0, 1); the real target is "
        f"1 - label_smoothing, so use e.g. 0.1 (or 0 for none).")


# Options several variants share.
LABEL_SMOOTHING = Option(
    "label_smoothing", float, 0.0,
    "one-sided label smoothing s: the discriminator's real target becomes "
    "1 - s (Salimans et al. 2016 use 0.1; 0, the seed, for none).",
    check=_check_label_smoothing)
R1_GAMMA = Option(
    "r1_gamma", float, 0.0,
    "weight gamma of the R1 penalty gamma/2 ||grad_x f(x)||^2 on the "
    "discriminator's logit at real images (Mescheder et al. 2018); 0, the "
    "seed, for none.", check=_check_r1_gamma)
R1_EVERY = Option(
    "r1_every", int, 1,
    "lazy R1 (Karras et al. 2020): the R1 penalty on one discriminator "
    "update in N, weighted by N, which saves most of its cost; 1 for every "
    "update.", check=_check_r1_every)
SYNC_BATCH_NORM = Option(
    "sync_batch_norm", bool, False,
    "BatchNorm over the global batch across replicas under a multi-replica "
    "strategy, instead of each replica's slice (Keras's default).")
NETWORKS = Option(
    "networks", str, "seed", "the seed's networks; Salimans et al. 2016's "
    "MNIST MLPs (ssgan); or the standard DCGAN pair of Radford et al. 2016 "
    "for 32x32 and 64x64 images (dcgan, cgan, wgan_gp).",
    choices=("seed", "salimans", "dcgan"))

# Constructor arguments that the dataset gives, not the user: the image
# shape [H, W, C] and, for the variants that use labels, the class count.
DATA_ARGUMENTS = ("image_shape", "num_classes")


def check_networks(variant: str, value: str,
                   allowed: Tuple[str, ...]) -> str:
  """`value` of the `networks` option if the variant `variant` has them.

  Raises:
    UsageError: an unknown value, or networks the variant does not have.
  """
  NETWORKS.checked(value, variant)
  if value not in allowed:
    raise UsageError(
        f"variant {variant!r} has no {value!r} networks; choose one of "
        f"{', '.join(allowed)}.")
  return value


# The seed's settings for its four variants: Keras's Adam(1e-3), two updates
# of 32 per network per iteration of 64, no weight averaging.
SEED_PRESET = Preset(1e-3, 0.9, 0.999, updates_per_batch=2, ema_decay=0.0)
# gantape's default for the seed's variants, chosen from the measurements in
# docs/quality.md: the seed's optimizer and 2x32 schedule, which
# scored better than the DCGAN paper's Adam(2e-4, beta_1=0.5) at one update of
# 64 at every point measured up to the default 10k iterations, plus an EMA of
# the generator for sampling.
GANTAPE_PRESET = dataclasses.replace(SEED_PRESET, ema_decay=0.999)
DEFAULT_PRESET = "gantape"


class Variant(abc.ABC):
  """Base class of a GAN variant.

  Subclasses set the class attributes and implement the abstract methods.
  Networks are built in `__init__` (pass your own to swap one), so build a
  variant inside `strategy.scope()` when training distributed.
  """

  name: ClassVar[str]
  conditional: ClassVar[bool] = False
  # Whether the losses read the data's labels: refused on unlabelled data.
  needs_labels: ClassVar[bool] = False
  # The values of the `networks` option (`NETWORKS`) the variant offers;
  # training picks "dcgan" among them for images other than 28x28x1.
  networks_offered: ClassVar[Tuple[str, ...]] = ()
  flat_images: ClassVar[bool] = False
  # Discriminator (critic) updates per generator update.
  n_critic: int = 1
  noise_dim: int = NOISE_DIM
  # Named training settings; "gantape" is the default, "seed" the blog
  # post's (absent for variants the seed does not have).
  presets: ClassVar[Dict[str, Preset]] = {"gantape": GANTAPE_PRESET,
                                          "seed": SEED_PRESET}
  # The seed's iteration count for this variant: the default run length.
  default_iterations: ClassVar[int] = 10_000
  # Whether training suggests this variant when another's loss turns NaN or
  # Inf: its loss has no log to saturate.
  suggested_for_divergence: ClassVar[bool] = False
  # Weight of the R1 penalty in `real_probabilities`, and the interval in
  # discriminator updates between penalties (lazy R1); variants that take
  # the options set them.
  r1_gamma: float = 0.0
  r1_every: int = 1
  # The discriminator's update counter that lazy R1 reads
  # (`count_updates_with`); the train step sets it.
  update_counter: Optional[tf.Variable] = None
  # The constructor's options that scripts and the benchmark may set.
  options: ClassVar[Tuple[Option, ...]] = ()
  # What the networks make and read; constructors take them (DATA_ARGUMENTS).
  image_shape: Tuple[int, int, int] = networks.IMAGE_SHAPE
  num_classes: int = networks.NUM_CLASSES

  def __init_subclass__(cls, **kwargs):
    super().__init_subclass__(**kwargs)
    if not hasattr(cls, "name"):  # a variant of your own that names none
      cls.name = cls.__name__

  def __init__(self, *, generator: keras.Model, discriminator: keras.Model):
    self.generator = generator
    self.discriminator = discriminator
    self._discriminator_logits = None  # see real_probabilities

  def build_networks(self) -> None:
    """Creates the variables of networks that have none yet (subclassed
    models not yet called) by running them once on two samples, in
    inference mode. Built networks are left alone. Variants call it at the
    end of their constructors."""
    if self.generator.variables and self.discriminator.variables:
      return
    inputs = self.sample_inputs(tf.random.Generator.from_seed(0), 2)
    self.discriminator(self.generate(inputs, training=False), training=False)

  def count_updates_with(self, counter: tf.Variable) -> None:
    """Makes lazy R1 (`r1_every` > 1) read `counter`, an int variable that
    counts the discriminator's updates and is checkpointed, e.g. the
    discriminator optimizer's `iterations` (`TrainStep` passes it): a run
    resumed from a checkpoint then penalizes the same updates."""
    self.update_counter = counter

  # ---- variables the step differentiates -------------------------------

  @property
  def generator_variables(self):
    """Variables the generator step updates (the generator's trainables)."""
    return self.generator.trainable_variables

  @property
  def discriminator_variables(self):
    """Variables the discriminator step updates."""
    return self.discriminator.trainable_variables

  def all_trainable_variables(self):
    """Every trainable variable reachable from this variant's attributes.

    The step checks that `generator_variables` and `discriminator_variables`
    partition this list, so a layer held outside both networks (or shared by
    them) is caught before it silently never trains.
    """
    found = {}
    def visit(value):
      if isinstance(value, keras.layers.Layer):
        for v in value.trainable_variables:
          found.setdefault(id(v), v)
      elif isinstance(value, (keras.Variable, tf.Variable)):
        if value.trainable:
          found.setdefault(id(value), value)
      elif isinstance(value, (list, tuple)):
        for item in value:
          visit(item)
      elif isinstance(value, dict):
        for item in value.values():
          visit(item)
    for attribute in vars(self).values():
      visit(attribute)
    return list(found.values())

  # ---- data ------------------------------------------------------------

  def input_streams(self, mnist: data_lib.Mnist, *,
                    seed: int) -> Dict[str, data_lib.Stream]:
    """The in-memory streams the real batches are made of, by key prefix.

    The default is the training set under `""`: batches `{"image",
    "label"}`. Override to add what the losses need (SSGAN adds a labelled
    stream under "labeled_"). Both input pipelines are built from it: the
    host's (`make_dataset`) and the device's (`data.DeviceBatches`).
    """
    return {"": data_lib.Stream(mnist.x_train, mnist.y_train, seed,
                                self.flat_images)}

  def make_dataset(self, mnist: data_lib.Mnist, *, batch_size: int,
                   seed: int) -> tf.data.Dataset:
    """The endless `tf.data` stream of real batches this variant trains on.

    Made of `input_streams`. A variant may override this instead, with a
    pipeline of its own; it then trains on host input only.
    """
    return data_lib.stream_batches(self.input_streams(mnist, seed=seed),
                                   batch_size=batch_size)

  def sample_inputs(self, rng: tf.random.Generator, batch_size) -> Metrics:
    """Random inputs of one iteration: `{"noise": U(-1, 1) [B, noise_dim]}`.

    Everything random in the losses is drawn here, from `rng`, so that a run
    is reproduced by its seed and a distributed step can hand each replica
    its slice of one global draw.
    """
    return {"noise": rng.uniform([batch_size, self.noise_dim], -1.0, 1.0)}

  def generate(self, inputs: Metrics, training: bool) -> tf.Tensor:
    """Images from `inputs` (see `sample_inputs`)."""
    return self.generator(inputs["noise"], training=training)

  # ---- losses ----------------------------------------------------------

  @abc.abstractmethod
  def discriminator_loss(self, batch: Metrics, inputs: Metrics) -> LossOutput:
    """The discriminator's loss on a real batch and generated inputs.

    Both networks run in training mode (BatchNorm on batch statistics), as
    in the seed. Metrics should include `d_real` and `d_fake`.
    """

  @abc.abstractmethod
  def generator_loss(self, batch: Metrics, inputs: Metrics) -> LossOutput:
    """The generator's loss, both networks in training mode."""

  # ---- presets, options of the losses ---------------------------------

  @classmethod
  def preset(cls, name: str = DEFAULT_PRESET) -> Preset:
    """The named preset of this variant.

    Raises:
      UsageError: the variant has no preset of that name.
    """
    try:
      return cls.presets[name]
    except KeyError:
      raise UsageError(
          f"variant {cls.name!r} has no preset {name!r}; its presets are: "
          f"{', '.join(cls.presets)}.") from None

  def discriminate(self, images: tf.Tensor, activation) -> tf.Tensor:
    """The discriminator's outputs in training mode, as float32 under any
    dtype policy, with `activation` applied when it returns logits
    (`networks.returns_logits`)."""
    outputs = precision.to_float32(self.discriminator(images, training=True))
    if networks.returns_logits(self.discriminator):
      return activation(outputs)
    return outputs

  def real_probabilities(self, images: tf.Tensor, activation, realness
                         ) -> Tuple[tf.Tensor, Optional[tf.Tensor]]:
    """The discriminator's output on a real batch, and its R1 penalty.

    With `r1_gamma` = 0 this is `discriminator(images)` and no penalty, the
    seed's graph. Otherwise the logits come from `networks.logits_view` (the
    discriminator itself when it returns logits) under a tape on `images`,
    and the penalty is gamma / 2 * ||d f / d x||^2 (`losses.r1_penalty`).
    With BatchNorm in the discriminator, f of one image depends on its
    batch; the gradient is that of the batch's sum of f, as in Mescheder et
    al.'s and StyleGAN's code.

    With `r1_every` = N > 1 (lazy regularization, Karras et al. 2020,
    "Analyzing and Improving the Image Quality of StyleGAN") the penalty is
    computed only when `update_counter` is a multiple of N, weighted by N,
    and is zero otherwise; a `tf.cond` on the counter chooses, so the trace
    is the same for every update.

    Args:
      images: a real batch.
      activation: the discriminator's output activation (logits -> probs).
      realness: maps the logits [B, K] to the [B] logit f of "real", the
        one with D(x) = sigmoid(f(x)).

    Returns:
      probabilities (training mode) and the [B] penalty, or None.

    Raises:
      UsageError: `r1_every` > 1 and no `update_counter` was given.
    """
    if not self.r1_gamma:  # a Python float: 0 builds exactly the seed's graph
      return self.discriminate(images, activation), None
    if self._discriminator_logits is None:
      # Built on first use; a view creates no variables, so building it
      # while a tf.function traces is safe.
      self._discriminator_logits = networks.logits_view(self.discriminator)
    if self.r1_every == 1:
      return self._penalized(images, activation, realness, self.r1_gamma)
    if self.update_counter is None:
      raise UsageError(
          f"variant {self.name!r} has r1_every={self.r1_every} (lazy R1) but "
          f"no update counter; call variant.count_updates_with("
          f"d_optimizer.iterations) (gantape.step.TrainStep does).")

    def unpenalized():
      probabilities = activation(precision.to_float32(
          self._discriminator_logits(images, training=True)))
      return probabilities, tf.zeros_like(probabilities[:, 0])
    return tf.cond(
        self.update_counter % self.r1_every == 0,
        lambda: self._penalized(images, activation, realness,
                                self.r1_gamma * self.r1_every),
        unpenalized)

  def _penalized(self, images, activation, realness, gamma):
    """Probabilities on `images` and their R1 penalty of weight `gamma`,
    both float32; under float16 the inner gradient is loss-scaled
    (`precision.scale_inner`)."""
    with tf.GradientTape() as tape:
      tape.watch(images)
      logits = precision.to_float32(
          self._discriminator_logits(images, training=True))
      total_realness = precision.scale_inner(tf.reduce_sum(realness(logits)))
    gradients = precision.unscale_inner(tape.gradient(total_realness, images))
    return activation(logits), losses.r1_penalty(gradients, gamma)
