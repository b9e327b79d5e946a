"""What the absl scripts share: option packing and turning errors into exits."""

import sys
from typing import Any, Callable, Dict, List

from absl import flags

from gantape import checkpoints
from gantape.variants import ssgan
from gantape.errors import GantapeError, Interrupted, UsageError

EXIT_USAGE = 2
EXIT_FAILURE = 1


# Flags defined in this module's functions belong to the module that calls
# them (absl attributes a flag to the first module on the stack that has not
# disclaimed).
flags.disclaim_key_flags()

# The flags that become variant options (`variants.build(name, **options)`),
# shared by train.py and benchmark.py. Unset flags (None) leave the variant's
# own default.
VARIANT_FLAGS = ("num_labeled", "generator_objective", "networks",
                 "loss_form", "label_smoothing", "r1_gamma", "n_critic",
                 "sync_batch_norm")


def define_variant_flags() -> None:
  """Defines `VARIANT_FLAGS` as flags of the script that calls it.

  They count as the script's own flags (its `--helpshort`, `flagfile_text`),
  as if the script had defined them itself.
  """
  flags.DEFINE_integer("num_labeled", None, "ssgan: labelled training "
                       "examples, balanced over classes (default: all).")
  flags.DEFINE_enum("generator_objective", None,
                    list(ssgan.GENERATOR_OBJECTIVES),
                    "ssgan: generator loss: the seed's log P(fake|G(z)) "
                    "(default), -log(1 - P(fake|G(z))), or feature matching.")
  flags.DEFINE_enum("networks", None, list(ssgan.NETWORKS),
                    "ssgan: the seed's conv networks (default) or Salimans "
                    "et al. 2016's MNIST MLPs, with Gaussian noise in the "
                    "discriminator (README 'Variants').")
  flags.DEFINE_enum("loss_form", None, list(ssgan.LOSS_FORMS),
                    "ssgan: the seed's clipped log of the discriminator's "
                    "softmax (default); the same losses from its logits, "
                    "which keep their gradient where the softmax saturates; "
                    "or Salimans et al. 2016's code's losses (README "
                    "'Variants').")
  flags.DEFINE_float("label_smoothing", None, "gan, dcgan, cgan: one-sided "
                     "label smoothing s, the discriminator's real target "
                     "becomes 1 - s (Salimans et al. 2016 use 0.1; default "
                     "0, the seed).")
  flags.DEFINE_float("r1_gamma", None, "gan, dcgan, cgan: weight gamma of "
                     "the R1 penalty gamma/2 ||grad_x f(x)||^2 on the "
                     "discriminator's logit at real images (Mescheder et al. "
                     "2018); default 0, the seed: none, but train.py's "
                     "default preset sets 1 for dcgan.")
  flags.DEFINE_integer("n_critic", None, "wgan_gp: critic steps per "
                       "generator step (default 5).")
  flags.DEFINE_bool("sync_batch_norm", None, "dcgan, ssgan, cgan, wgan_gp: "
                    "BatchNorm over the global batch across replicas "
                    "(default: per replica, as Keras).")


def variant_options() -> Dict[str, Any]:
  """The `VARIANT_FLAGS` set on the command line, as variant options."""
  return {name: flags.FLAGS[name].value for name in VARIANT_FLAGS
          if flags.FLAGS[name].value is not None}


# `--checkpoint` of the scripts that read a workdir. Each script defines the
# flag itself: absl refuses a flag defined twice from one module, and the
# tests run every script in one process.
CHECKPOINT_DEFAULT = checkpoints.LATEST
CHECKPOINT_HELP = (
    "Which of the run's checkpoints: latest; best, the one at the lowest FCD "
    "that training measured (kept in <workdir>/best/ by runs with "
    "--eval_every); or a checkpoint prefix such as "
    "<workdir>/checkpoints/ckpt-10000.")


def run(fn: Callable[[], Any]) -> int:
  """Calls `fn`; a gantape error becomes one line on stderr and an exit code.

  Returns:
    0 on success, 2 for a usage error, 128 + the signal's number for a run
    stopped by SIGINT/SIGTERM (`Interrupted`), 1 for any other gantape error
    (e.g. a NaN loss). Other exceptions are bugs and keep their traceback.
  """
  try:
    fn()
  except UsageError as e:
    print(f"error: {e}", file=sys.stderr)
    return EXIT_USAGE
  except Interrupted as e:
    print(str(e), file=sys.stderr)
    return 128 + e.signum
  except GantapeError as e:
    print(f"error: {e}", file=sys.stderr)
    return EXIT_FAILURE
  return 0


def parse_flags(argv: List[str]) -> List[str]:
  """Parses absl flags; a bad flag is one line on stderr and exit code 2.

  Pass it to `app.run(main, flags_parser=cli.parse_flags)`: absl's own parser
  exits with 1 and a two-line message, but a bad flag is a usage error like
  any other.

  Returns:
    `[program name]`: positional arguments are refused the same way.
  """
  try:
    rest = flags.FLAGS(argv)
  except flags.Error as e:
    message = " ".join(str(e).split())
    print(f"error: {message}; see --helpfull.", file=sys.stderr)
    sys.exit(EXIT_USAGE)
  if len(rest) > 1:
    print(f"error: unexpected arguments {rest[1:]}; every option is a flag, "
          f"--name=value; see --helpfull.", file=sys.stderr)
    sys.exit(EXIT_USAGE)
  if "verbosity" in flags.FLAGS and not flags.FLAGS["verbosity"].present:
    # TensorFlow's INFO lines (one per checkpoint saved) would drown the
    # progress lines; --verbosity=0 brings them back.
    flags.FLAGS.verbosity = -1
  return rest


def flagfile_text(module, **overrides: Any) -> str:
  """The flags `module` defines, as `--flagfile` lines.

  Args:
    module: the script's module object (`sys.modules[__name__]`).
    **overrides: values written instead of the flags' own, e.g. a default
      resolved at run time.

  Returns:
    One `--name=value` line per flag; unset flags (value None) are left out,
    so their defaults apply on rerun.
  """
  lines = []
  for flag in sorted(flags.FLAGS.get_flags_for_module(module),
                     key=lambda f: f.name):
    if flag.name in overrides:
      lines.append(f"--{flag.name}={overrides[flag.name]}")
    elif flag.value is not None:
      lines.append(flag.serialize())
  return "".join(line + "\n" for line in lines)
