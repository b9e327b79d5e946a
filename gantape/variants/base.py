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

A variant is its losses; the rest are parts it declares in `options`
(`settings.Option`s, each written once) and takes from here: R1 on its
real/fake output (`real_probabilities`, options `settings.R1`, on the
logits of its discriminator evaluated as the variant says), the
penalties on its critic (`critic_penalties`, `settings.CRITIC_PENALTIES`:
the gradient penalty's `settings.GP_WEIGHT`), spectral normalization of
the discriminator it builds (`build_pair`, `settings.SPECTRAL_NORM`) and
DiffAugment of the images its discriminator sees (`augment_images`,
`settings.DIFFAUGMENT`). Its constructor takes the declared options as
keywords and `set_options` sets them, checked, with their declared defaults.
"""

import abc
import dataclasses
from typing import (Any, Callable, ClassVar, Dict, List, Mapping, Optional,
                    Tuple)

import keras
import tensorflow as tf

from gantape import augment
from gantape import data as data_lib
from gantape import penalties
from gantape import networks
from gantape import precision
from gantape.errors import UsageError
from gantape.networks import NOISE_DIM
from gantape.penalties import Penalty
from gantape.variants import settings
from gantape.variants.settings import (DEFAULT_PRESET, GANTAPE_PRESET,
                                       SEED_PRESET, Option, Preset)

Metrics = Dict[str, tf.Tensor]
# Images -> the discriminator's logits on them (`Variant.real_probabilities`).
LogitsFn = Callable[[tf.Tensor], tf.Tensor]


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

  def plus(self, *penalties: Optional[Penalty]) -> "LossOutput":
    """This loss plus `penalties` (`Variant.real_probabilities`,
    `Variant.critic_penalties`), each logged as its name; None adds
    nothing."""
    total = self
    for penalty in penalties:
      if penalty is not None:
        total = LossOutput(total.per_example + penalty.per_example,
                           {**total.metrics, penalty.name: penalty.logged})
    return total

  # `plus` under the name variants use for the R1 penalty.
  plus_r1 = plus


# The images whose augmentations `sample_inputs` draws, in order.
AUGMENTED = ("real", "fake")


def _identity(x):
  return x


# Constructor arguments that the dataset gives, not the user: the image
# shape [H, W, C] and, for the variants that use labels, the class count.
DATA_ARGUMENTS = ("image_shape", "num_classes")


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
  # The values of the `networks` option (`settings.NETWORKS`) it offers;
  # training picks "dcgan" among them for images other than 28x28x1.
  networks_offered: ClassVar[Tuple[str, ...]] = ()
  flat_images: ClassVar[bool] = False
  # Discriminator (critic) updates per generator update.
  n_critic: int = 1
  noise_dim: int = NOISE_DIM
  # Named training settings; "gantape" is the default on MNIST, "general"
  # on other data (`settings.default_preset`), "seed" the blog post's
  # (absent for variants the seed does not have).
  presets: ClassVar[Dict[str, Preset]] = {"gantape": GANTAPE_PRESET,
                                          "general": GANTAPE_PRESET,
                                          "seed": SEED_PRESET}
  # The seed's iteration count for this variant: the default run length.
  default_iterations: ClassVar[int] = 10_000
  # Whether training suggests this variant when another's loss turns NaN or
  # Inf: its loss has no log to saturate.
  suggested_for_divergence: ClassVar[bool] = False
  # The penalties' options (`settings.R1`, `settings.GP_WEIGHT`) when the
  # variant does not declare them: no penalty.
  r1_gamma: float = 0.0
  r1_every: int = 1
  gp_weight: float = 0.0
  # The parts' options (`settings.SPECTRAL_NORM`, `settings.DIFFAUGMENT`)
  # when the variant does not declare them: off.
  spectral_norm: bool = False
  diffaugment: str = ""
  # The discriminator's update counter that lazy R1 reads
  # (`count_updates_with`); the train step sets it.
  update_counter: Optional[tf.Variable] = None
  # The last lazy R1 penalty applied, which the log shows; made with the
  # counter (`real_probabilities`).
  _last_r1: Optional[tf.Variable] = None
  # The constructor's keywords that scripts, the CLI and the benchmark may
  # set, declared once (`set_options` sets them as attributes).
  options: ClassVar[Tuple[Option, ...]] = ()
  # What the networks make and read; constructors take them (DATA_ARGUMENTS).
  image_shape: Tuple[int, int, int] = networks.IMAGE_SHAPE
  num_classes: int = networks.NUM_CLASSES

  def __init_subclass__(cls, **kwargs):
    super().__init_subclass__(**kwargs)
    if not hasattr(cls, "name"):  # a variant of your own that names none
      cls.name = cls.__name__
    if cls.options and cls.__doc__ is not None:  # help() lists them
      cls.__doc__ = cls.__doc__.rstrip() + "\n" + settings.describe(
          cls.options)

  def set_options(self, values: Mapping[str, Any]) -> None:
    """Sets each declared option (`options`) as an attribute of the same
    name: its value in `values`, checked, else its declared default.
    Constructors call it first, with their `**options`.

    Raises:
      UsageError: a keyword no option has, a value its option refuses, or
        networks the variant does not offer (`networks_offered`).
    """
    resolved = settings.resolve(self.options, values, self.name)
    if "networks" in resolved:
      settings.check_networks(self.name, resolved["networks"],
                              self.networks_offered)
    for name, value in resolved.items():
      setattr(self, name, value)

  def __init__(self, *, generator: keras.Model, discriminator: keras.Model):
    self.generator = generator
    self.discriminator = discriminator
    self._discriminator_logits = None  # see real_probabilities

  def build_pair(self, family: str, kind: str, *,
                 generator: Optional[keras.Model],
                 discriminator: Optional[keras.Model], **spec
                 ) -> Tuple[keras.Model, keras.Model]:
    """`networks.build_pair(family, kind, ...)` with this variant's
    `spectral_norm`: what constructors call.

    Raises:
      UsageError: as `networks.build_pair`; with `spectral_norm`, a
        discriminator given, or one the family builds that spectral
        normalization cannot take, the message naming the option.
    """
    flag = "spectral_norm=True (--spectral_norm)"
    if self.spectral_norm and discriminator is not None:
      raise UsageError(
          f"{flag} normalizes the discriminator variant {self.name!r} "
          f"builds, and one was given; wrap yours with "
          f"gantape.networks.spectral.spectrally_normalized(model), or drop "
          f"spectral_norm.")
    try:
      return networks.build_pair(
          family, kind, spectral_norm=self.spectral_norm, generator=generator,
          discriminator=discriminator, **spec)
    except UsageError as error:
      if not self.spectral_norm:
        raise
      # Raises the error of the networks themselves, if they have one.
      networks.build_pair(family, kind, generator=generator,
                          discriminator=discriminator, **spec)
      raise UsageError(f"{flag}: {error}") from None

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
    if self.r1_gamma and self.r1_every > 1 and self._last_r1 is None:
      # Written by the replicas' updates alike; one copy is enough.
      self._last_r1 = tf.Variable(
          0.0, trainable=False, name="last_r1_penalty",
          aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

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

  def input_streams(self, dataset: data_lib.Dataset, *,
                    seed: int) -> Dict[str, data_lib.Stream]:
    """The in-memory streams the real batches are made of, by key prefix.

    The default is the training set under `""`: batches `{"image",
    "label"}`. Override to add what the losses need (SSGAN adds a labelled
    stream under "labeled_"). Both input pipelines are built from it: the
    host's (`make_dataset`) and the device's (`data.DeviceBatches`).
    """
    return {"": data_lib.Stream(dataset.x_train, dataset.y_train, seed,
                                self.flat_images)}

  def make_dataset(self, dataset: data_lib.Dataset, *, batch_size: int,
                   seed: int) -> tf.data.Dataset:
    """The endless `tf.data` stream of real batches this variant trains on.

    Made of `input_streams`. A variant may override this instead, with a
    pipeline of its own; it then trains on host input only.
    """
    return data_lib.stream_batches(self.input_streams(dataset, seed=seed),
                                   batch_size=batch_size)

  def sample_inputs(self, rng: tf.random.Generator, batch_size) -> Metrics:
    """Random inputs of one iteration: `{"noise": U(-1, 1) [B, noise_dim]}`;
    `"epsilon"`, U(0, 1) [B], with penalties on the critic; and with
    `diffaugment` the parameters of the real and of the generated images'
    augmentations (`augment.sample_parameters`), `"augment_real"` and
    `"augment_fake"`, drawn last, so a run without it keeps its draws.

    Everything random in the losses is drawn here, from `rng`, so that a run
    is reproduced by its seed and a distributed step can hand each replica
    its slice of one global draw.
    """
    inputs = {"noise": rng.uniform([batch_size, self.noise_dim], -1.0, 1.0)}
    if self._critic_weights():  # interpolation weights of real and fake
      inputs["epsilon"] = rng.uniform([batch_size], 0.0, 1.0)
    if self.diffaugment:
      for images in AUGMENTED:
        inputs[f"augment_{images}"] = augment.sample_parameters(rng, batch_size)
    return inputs

  def augment_images(self, images: tf.Tensor, inputs: Metrics,
                     which: str) -> tf.Tensor:
    """DiffAugment's T(images) (Zhao et al. 2020; `augment.augment`) with
    the `diffaugment` policy and the parameters `inputs["augment_" +
    which]`, `which` "real" or "fake"; `images` itself, and nothing in the
    graph, without `diffaugment`.

    The discriminator's loss reads T(x) and T(G(z)), the generator's
    T(G(z)) with the same parameters as the discriminator's last update
    (it reuses that update's inputs); R1 and the gradient penalty are taken
    at the augmented images, the gradient with respect to T(x) as in Zhao
    et al.'s StyleGAN2 CIFAR code (`ns_r1_DiffAugment`; StyleGAN2-ADA
    instead differentiates with respect to x, through T).
    """
    if not self.diffaugment:
      return images
    return augment.augment(images, inputs[f"augment_{which}"],
                           self.diffaugment)

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

  # ---- penalties: the parts any variant takes ---------------------------

  def _logits_view(self):
    """The discriminator's logits view (`networks.logits_view`), made on
    first use; a view creates no variables, so making it while a
    tf.function traces is safe."""
    if self._discriminator_logits is None:
      self._discriminator_logits = networks.logits_view(self.discriminator)
    return self._discriminator_logits

  def real_probabilities(self, images: tf.Tensor, activation, realness, *,
                         logits_of: Optional[LogitsFn] = None
                         ) -> Tuple[tf.Tensor, Optional[Penalty]]:
    """The discriminator's output on a real batch, and its R1 penalty.

    With `r1_gamma` = 0 this is `discriminator(images)` (or `logits_of`'s
    activated) and no penalty, the seed's graph. Otherwise the logits come
    from `logits_of`, by default `networks.logits_view` (the discriminator
    itself when it returns logits), and the penalty is gamma / 2 *
    ||d f / d x||^2 at the images (`penalties.logits_and_r1`).

    With `r1_every` = N > 1 (lazy R1, `penalties.lazy_due`) the penalty is
    computed only when `update_counter` is a multiple of N, weighted by N,
    and is zero otherwise; a `tf.cond` on the counter chooses, so the trace
    is the same for every update. The log shows the last penalty applied,
    without the weight N (so it reads as with N = 1), 0 before the first.

    Args:
      images: a real batch.
      activation: the discriminator's output activation (logits -> probs).
      realness: maps the logits [B, K] to the [B] logit f of "real", the
        one with D(x) = sigmoid(f(x)).
      logits_of: how the variant evaluates its discriminator on the real
        images: images -> logits in training mode, what R1 differentiates;
        a conditional discriminator's with the batch's labels bound (cgan's
        projection). None: the logits view of `discriminator(images)`.

    Returns:
      probabilities (training mode), and the `Penalty` "r1_penalty" to add
      with `LossOutput.plus`, or None.

    Raises:
      UsageError: `r1_every` > 1 and no `update_counter` was given.
    """
    if not self.r1_gamma:  # a Python float: 0 builds exactly the seed's graph
      if logits_of is not None:
        return activation(precision.to_float32(logits_of(images))), None
      return self.discriminate(images, activation), None
    logits_of = logits_of or self._view_logits
    if self.r1_every == 1:
      logits, penalty = penalties.logits_and_r1(logits_of, images, realness,
                                                self.r1_gamma)
      return activation(logits), Penalty.of("r1_penalty", penalty)
    if self.update_counter is None:
      raise UsageError(
          f"variant {self.name!r} has r1_every={self.r1_every} (lazy R1) but "
          f"no update counter; call variant.count_updates_with("
          f"d_optimizer.iterations) (gantape.step.TrainStep does).")

    def unpenalized():
      probabilities = activation(precision.to_float32(logits_of(images)))
      return probabilities, tf.zeros_like(probabilities[:, 0])
    def penalized():
      logits, penalty = penalties.logits_and_r1(
          logits_of, images, realness, self.r1_gamma * self.r1_every)
      if self._last_r1 is not None:
        self._last_r1.assign(tf.reduce_mean(penalty) / self.r1_every)
      return activation(logits), penalty
    probabilities, penalty = tf.cond(
        penalties.lazy_due(self.update_counter, self.r1_every), penalized,
        unpenalized)
    if self._last_r1 is None:
      return probabilities, Penalty.of("r1_penalty", penalty)
    return probabilities, Penalty("r1_penalty", penalty,
                                  self._last_r1.read_value())

  def real_logits(self, images: tf.Tensor, realness, *,
                  logits_of: Optional[LogitsFn] = None
                  ) -> Tuple[tf.Tensor, Optional[Penalty]]:
    """`real_probabilities` without the activation: the discriminator's
    logits on a real batch (`logits_of`'s, else `discriminator_logits`),
    float32, and their R1 penalty."""
    if not self.r1_gamma and logits_of is None:
      return self.discriminator_logits(images), None
    return self.real_probabilities(images, _identity, realness,
                                   logits_of=logits_of)

  def discriminator_logits(self, images: tf.Tensor) -> tf.Tensor:
    """The discriminator's logits (`critic_scores`) in training mode, as
    float32 under any dtype policy."""
    return precision.to_float32(self.critic_scores(images))

  def _view_logits(self, images: tf.Tensor) -> tf.Tensor:
    """The logits view (`_logits_view`) on `images` in training mode: what
    R1 differentiates unless the variant says otherwise."""
    return self._logits_view()(images, training=True)

  def critic_scores(self, images: tf.Tensor) -> tf.Tensor:
    """What the critic's penalties differentiate: the discriminator's
    logits in training mode (`networks.logits_view`), [B, 1]."""
    return self._logits_view()(images, training=True)

  def _critic_weights(self) -> Dict[str, float]:
    """The weight of each penalty of `settings.CRITIC_PENALTIES` that this
    variant applies (its option set, nonzero), by option name."""
    weights = {name: getattr(self, name, 0.0)
               for name in settings.CRITIC_PENALTIES}
    return {name: weight for name, weight in weights.items() if weight}

  def critic_penalties(self, real: tf.Tensor, fake: tf.Tensor,
                       inputs: Metrics) -> List[Penalty]:
    """The penalties of `settings.CRITIC_PENALTIES` this variant applies
    (e.g. the gradient penalty of weight `gp_weight`), on `critic_scores`
    at `real` and `fake` images and `inputs["epsilon"]`, each a `Penalty`
    to add with `LossOutput.plus`; none, and nothing in the graph, with
    every weight 0."""
    found = []
    for name, weight in self._critic_weights().items():
      metric, function = settings.CRITIC_PENALTIES[name]
      found.append(Penalty.of(metric, function(
          self.critic_scores, precision.to_float32(real),
          precision.to_float32(fake), inputs["epsilon"], weight)))
    return found
