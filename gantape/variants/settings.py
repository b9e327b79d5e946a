"""The settings a variant declares: its presets and its constructor's options.

`Preset` names how a variant trains unless told otherwise (Adam, updates per
batch, averages, variant options); `Option` declares one keyword of a
variant's constructor once (name, type, default, help, check): the
constructor reads its value from it (`resolve`), its docstring lists it
(`describe`), the CLI makes a flag of it, the benchmark passes it through and
resume compares it. The options several variants share, the parts any
variant can take (the penalties), are declared here.
"""

import dataclasses
import textwrap
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

from gantape import augment
from gantape import losses
from gantape import penalties
from gantape.errors import UsageError


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


def check_values(options: Sequence[Option], values: Mapping[str, Any],
                 variant: str) -> Dict[str, Any]:
  """`values`, each checked against its option in `options` (`checked`).

  Raises:
    UsageError: a name no option has (the message lists the options), or a
      value its option refuses.
  """
  declared = {option.name: option for option in options}
  unknown = sorted(set(values) - set(declared))
  if unknown:
    raise UsageError(
        f"variant {variant!r} takes no option {', '.join(unknown)}; its "
        f"options are: {', '.join(declared) or 'none'}.")
  return {k: declared[k].checked(v, variant) for k, v in values.items()}


def resolve(options: Sequence[Option], values: Mapping[str, Any],
            variant: str) -> Dict[str, Any]:
  """Every option of `options` by name: its value in `values`, checked
  (`check_values`), else its default. What a constructor sets.

  Raises:
    UsageError: as `check_values`.
  """
  checked = check_values(options, values, variant)
  return {o.name: checked.get(o.name, o.default) for o in options}


def describe(options: Sequence[Option]) -> str:
  """The options as a docstring section: name, type, default and help."""
  lines = ["", "Options (constructor keywords, flags of `gantape train`):"]
  for o in options:
    lines += textwrap.wrap(
        f"{o.name} ({o.type.__name__}, default {o.default!r}): {o.help}",
        width=76, initial_indent="  ", subsequent_indent="    ")
  return "\n".join(lines) + "\n"


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


def _check_gp_weight(weight: float) -> None:
  if not weight >= 0.0:
    raise UsageError(
        f"gp_weight={weight} is negative; it weighs a penalty, so use a "
        f"value >= 0 (e.g. 10), or 0 for none.")


def _check_label_smoothing(s: float) -> None:
  if not 0.0 <= s < 1.0:
    raise UsageError(
        f"label_smoothing={s} is outside [0, 1); the real target is "
        f"1 - label_smoothing, so use e.g. 0.1 (or 0 for none).")


def _check_n_critic(n_critic: int) -> None:
  if isinstance(n_critic, bool) or not isinstance(n_critic, int) or (
      n_critic < 1):
    raise UsageError(
        f"n_critic={n_critic!r} is not a positive integer; it is the "
        f"discriminator updates per generator update (e.g. 5 for wgan_gp), "
        f"or 1 to alternate.")


# Options several variants share.
N_CRITIC = Option(
    "n_critic", int, 1,
    "discriminator (critic) updates per generator update, each on a fresh "
    "real batch and fresh noise, the generator's update reusing the last "
    "(WGAN-GP, Gulrajani et al. 2017, uses 5; SNGAN's hinge recipe, Miyato "
    "et al. 2018, n_dis=5; BigGAN, Brock et al. 2019, 2); 1 alternates.",
    check=_check_n_critic)
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
# The R1 penalty, a part of every variant with a real/fake output
# (`Variant.real_probabilities`).
R1 = (R1_GAMMA, R1_EVERY)
GP_WEIGHT = Option(
    "gp_weight", float, 0.0,
    "weight lambda of the gradient penalty lambda (||grad C(x_hat)||_2 - 1)^2 "
    "at random interpolates x_hat of real and generated images, C the "
    "critic's score or the discriminator's logit (Gulrajani et al. 2017); 0 "
    "for none.", check=_check_gp_weight)
# The penalties at real and generated images that a variant takes by
# declaring their weight option (`Variant.critic_penalties`): the option's
# name -> (the metric it is logged as, the function of
# (critic, real, fake, epsilon, weight) that gives its [B] values).
CRITIC_PENALTIES = {
    GP_WEIGHT.name: ("gradient_penalty", penalties.gradient_penalty)}
# The losses, the normalization and the augmentation of the discriminator:
# parts a variant takes by declaring their option (`Variant.build_pair`,
# `Variant.augment_images`, gan.py's losses).
LOSS = Option(
    "loss", str, "seed",
    "the real/fake losses: 'seed' the post's clipped losses on D(x) "
    "(Goodfellow et al. 2014); from the discriminator's logit f, 'ns' "
    "non-saturating (Goodfellow et al. 2014), 'hinge' (Lim & Ye 2017; "
    "Miyato et al. 2018), 'ls' least squares (Mao et al. 2017), "
    "'wasserstein' (Arjovsky et al. 2017; with gp_weight or spectral_norm "
    "for a Lipschitz critic); label_smoothing applies to 'seed' and 'ns'; "
    "wgan_gp's critic takes those from logits.",
    choices=tuple(losses.LOSSES))
SPECTRAL_NORM = Option(
    "spectral_norm", bool, False,
    "spectral normalization of the discriminator's Dense and Conv2D layers "
    "(Miyato et al. 2018; keras.layers.SpectralNormalization, one power "
    "iteration per training call, its vectors checkpointed); for the "
    "networks the variant builds, not a discriminator of your own.")


def _check_diffaugment(policy: str) -> None:
  augment.parse_policy(policy)


DIFFAUGMENT = Option(
    "diffaugment", str, "",
    "DiffAugment policy (Zhao et al. 2020): a comma-separated subset of "
    "color, translation, cutout, applied to every image the discriminator "
    "sees, real and generated, in both losses (a draw per image, the "
    "generator's loss reusing the discriminator's last); R1 and the "
    "gradient penalty are taken at the augmented images (the gradient with "
    "respect to T(x)); '' for none.",
    check=_check_diffaugment)
SYNC_BATCH_NORM = Option(
    "sync_batch_norm", bool, False,
    "BatchNorm over the global batch across replicas under a multi-replica "
    "strategy, instead of each replica's slice (Keras's default).")
NETWORKS = Option(
    "networks", str, "seed", "the seed's networks; Salimans et al. 2016's "
    "MNIST MLPs (ssgan); the standard DCGAN pair of Radford et al. 2016 "
    "for 32x32 and 64x64 images (dcgan, cgan, wgan_gp); or the SNGAN ResNet "
    "pair of Miyato et al. 2018 for 32x32 to 64x64 images (dcgan, wgan_gp, "
    "cgan's conditioning=projection).",
    choices=("seed", "salimans", "dcgan", "resnet"))

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
# The same with the lazy R1 penalty (gamma 1, on one discriminator update in
# 16): DCGAN's "gantape" preset, and CGAN's on data other than MNIST.
GANTAPE_R1_PRESET = dataclasses.replace(
    GANTAPE_PRESET, variant_options={"r1_gamma": 1.0, "r1_every": 16})
DEFAULT_PRESET = "gantape"
# The default preset on data other than MNIST (`--dataset` not mnist):
# gantape's, with R1 on CGAN too (docs/quality_colour.md).
OTHER_DATA_PRESET = "general"


def default_preset(presets: Mapping[str, Preset], dataset: str) -> str:
  """The preset a run of a variant with `presets` takes unless told, on the
  dataset named `dataset` (`TrainConfig.dataset`): `DEFAULT_PRESET` on
  MNIST, `OTHER_DATA_PRESET` elsewhere when the variant has it."""
  if dataset != "mnist" and OTHER_DATA_PRESET in presets:
    return OTHER_DATA_PRESET
  return DEFAULT_PRESET
