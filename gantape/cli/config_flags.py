"""Flags made from `TrainConfig`'s fields and the variants' declared options.

Each `TrainConfig` field with help text in its metadata becomes one flag with
the field's default; each option a registered variant declares
(`Variant.options`) becomes one flag whose default is None, "unset": the
preset's value if it sets one, else the variant's own default. So a setting,
its default and its help are written once, where they belong. The flags are
defined from `flag_table`, those facts read without TensorFlow, so that
`--help` and a bad flag answer at once.
"""

import os
from typing import Any, Dict, Iterable

from absl import flags

from gantape.cli.flag_table import TABLE
from gantape.errors import UsageError

# Flags defined here belong to the command module that calls the functions.
flags.disclaim_key_flags()

_DEFINE = {"int": flags.DEFINE_integer, "float": flags.DEFINE_float,
           "bool": flags.DEFINE_bool, "str": flags.DEFINE_string}
CONSTANTS = TABLE["constants"]


def config_fields(exclude: Iterable[str] = ()) -> Dict[str, Dict[str, Any]]:
  """`TrainConfig`'s fields that are flags, by name, less `exclude`: each a
  dict of name, type (a name), default, required, help, choices, path."""
  excluded = set(exclude)
  return {f["name"]: f for f in TABLE["config_fields"]
          if f["name"] not in excluded}


def variant_option_table() -> Dict[str, Dict[str, Any]]:
  """Every option a registered variant declares, by name: type, default,
  help, choices, and takers (the variants that take it)."""
  return {o["name"]: o for o in TABLE["variant_options"]}


def _define(name: str, kind: str, default: Any, help_text: str,
            choices=None) -> None:
  if choices is not None:
    flags.DEFINE_enum(name, default, list(choices), help_text)
  else:
    _DEFINE[kind](name, default, help_text)


def define_config_flags(exclude: Iterable[str] = ()) -> None:
  """Defines one flag per `TrainConfig` field, as the caller's own flags."""
  for name, field in config_fields(exclude).items():
    _define(name, field["type"], field["default"], field["help"],
            field["choices"])


def config_values(exclude: Iterable[str] = ()) -> Dict[str, Any]:
  """The config flags' values, paths made absolute (so `flags.txt` works
  from any folder); unset required fields are left out.

  Raises:
    UsageError: a path flag given as the empty string.
  """
  values = {}
  for name, field in config_fields(exclude).items():
    value = flags.FLAGS[name].value
    if field["path"] and value is not None:
      if not value:
        raise UsageError(f"--{name} is empty; pass a path, or leave the flag "
                         f"out for its default.")
      value = os.path.abspath(value)
    if value is not None or not field["required"]:
      values[name] = value
  return values


def define_variant_option_flags() -> None:
  """Defines one flag per option any registered variant declares."""
  for name, option in variant_option_table().items():
    others = "".join(f" ({taker}: {default!r})" for taker, default
                     in option["other_defaults"].items())
    help_text = (f"{', '.join(option['takers'])}: {option['help']} Default: "
                 f"{option['default']!r}{others}, or the preset's.")
    _define(name, option["type"], None, help_text, option["choices"])


def option_values() -> Dict[str, Any]:
  """The variant-option flags set on the command line (not None)."""
  return {name: flags.FLAGS[name].value for name in variant_option_table()
          if flags.FLAGS[name].value is not None}


def variant_options(variant: str) -> Dict[str, Any]:
  """`option_values()`, checked for `variant`.

  Raises:
    UsageError: a flag set for an option `variant` does not take, or a bad
      value; the message lists the options it takes.
  """
  from gantape import variants  # pylint: disable=g-import-not-at-top
  return variants.check_options(variant, option_values())
