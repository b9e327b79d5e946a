"""`gantape <command> --help`: the command's own flags, in groups.

Only the command's flags are listed (absl's and TensorFlow's are not), each
under the group a user looks for it in; a flag in no group is listed first,
under the command's name.
"""

import re
import sys
import textwrap
from typing import List, Sequence, Tuple

from absl import flags

from gantape.cli.flag_table import TABLE

_VARIANT_OPTIONS = tuple(o["name"] for o in TABLE["variant_options"])

# (group, its flags in the order shown). A command lists the groups it has
# flags of, in this order.
GROUPS: Tuple[Tuple[str, Sequence[str]], ...] = (
    ("run", ("variant", "variants", "workdir", "steps", "preset", "seed",
             "resume_from", "log_every", "sample_every", "checkpoint_every",
             "keep_checkpoints", "summary")),
    ("data", ("dataset", "data_path", "image_size", "channels",
              "train_subset", "allow_data_change")),
    ("optimizer and schedule", (
        "batch_size", "learning_rate", "d_learning_rate", "beta_1", "beta_2",
        "d_beta_1", "d_beta_2", "adam_epsilon", "lr_decay_start",
        "lr_decay_end", "updates_per_batch", "ema_decay",
        "discriminator_ema_decay")),
    ("variant options (the variants that take each come first)",
     _VARIANT_OPTIONS),
    ("evaluation", ("eval_every", "eval_samples")),
    ("performance", ("iterations_per_call", "precision", "jit_compile",
                     "input_pipeline")),
    ("distribution", ("strategy", "tpu")),
)

_WIDTH = 79


def _describe(flag) -> List[str]:
  """A flag's lines: `--name=<value>  (default: ...)`, then its help."""
  help_text = " ".join(flag.help.split())
  # absl starts an enum's help with its values, "<a|b>: ": they go first.
  values = re.match(r"<([^>]*)>: ", help_text)
  if values:
    help_text = help_text[values.end():]
  if isinstance(flag, flags.BooleanFlag):
    head = f"--[no]{flag.name}"
  else:
    head = f"--{flag.name}=<{values.group(1) if values else flag.flag_type()}>"
  if flag.default is not None:
    default = flag.default
    shown = str(default).lower() if isinstance(default, bool) else default
    head += f"  (default: {shown})"
  lines = textwrap.wrap(head, _WIDTH - 2, initial_indent="  ",
                        subsequent_indent="      ")
  lines += textwrap.wrap(help_text, _WIDTH - 6, initial_indent="      ",
                         subsequent_indent="      ")
  return lines


def grouped_flags(module_name: str) -> List[Tuple[str, list]]:
  """The flags `module_name` defines, as [(group, [flag, ...])], groups in
  `GROUPS` order after the ungrouped ones (group: the command's name)."""
  own = {f.name: f for f in flags.FLAGS.get_flags_for_module(module_name)}
  grouped = []
  placed = set()
  for group, names in GROUPS:
    members = [own[name] for name in names if name in own]
    placed.update(f.name for f in members)
    if members:
      grouped.append((group, members))
  rest = sorted((f for name, f in own.items() if name not in placed),
                key=lambda f: f.name)
  if rest:
    command = module_name.rsplit(".", 1)[-1].replace("_", "-")
    grouped.insert(0, (command, rest))
  return grouped


def command_help(program: str, module_name: str) -> str:
  """The `--help` text of the command whose module is `module_name`."""
  module = sys.modules[module_name]
  doc = (module.__doc__ or "").strip()
  lines = [f"usage: {program} [--flag=value ...]", ""]
  if doc:
    lines += [doc, ""]
  for group, members in grouped_flags(module_name):
    lines.append(f"{group}:")
    for flag in members:
      lines += _describe(flag)
    lines.append("")
  lines.append("--flagfile=FILE reads flags from FILE, one --name=value a "
               "line (a run's flags.txt).")
  return "\n".join(lines)
