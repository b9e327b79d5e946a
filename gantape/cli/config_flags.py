"""Flags made from `TrainConfig`'s fields and the variants' declared options.

Each `TrainConfig` field with help text in its metadata becomes one flag with
the field's default; each option a registered variant declares
(`Variant.options`) becomes one flag whose default is None, "unset": the
preset's value if it sets one, else the variant's own default. So a setting,
its default and its help are written once, where they belong.
"""

import dataclasses
import os
import typing
from typing import Any, Dict, Iterable

from absl import flags

from gantape import variants
from gantape.errors import UsageError
from gantape.training.config import TrainConfig

# Flags defined here belong to the command module that calls the functions.
flags.disclaim_key_flags()

_DEFINE = {int: flags.DEFINE_integer, float: flags.DEFINE_float,
           bool: flags.DEFINE_bool, str: flags.DEFINE_string}


def config_fields(exclude: Iterable[str] = ()) -> Dict[str, dataclasses.Field]:
  """`TrainConfig`'s fields that are flags, by name, less `exclude`."""
  return {f.name: f for f in dataclasses.fields(TrainConfig)
          if "help" in f.metadata and f.name not in set(exclude)}


def _value_type(annotation) -> type:
  """int for `int` and `Optional[int]`, and so on."""
  args = [a for a in typing.get_args(annotation) if a is not type(None)]
  return args[0] if args else annotation


def _define(name: str, kind: type, default: Any, help_text: str,
            choices=None) -> None:
  if choices is not None:
    flags.DEFINE_enum(name, default, list(choices), help_text)
  else:
    _DEFINE[kind](name, default, help_text)


def define_config_flags(exclude: Iterable[str] = ()) -> None:
  """Defines one flag per `TrainConfig` field, as the caller's own flags."""
  for name, field in config_fields(exclude).items():
    default = None if field.default is dataclasses.MISSING else field.default
    choices = field.metadata["choices"]
    _define(name, _value_type(field.type), default, field.metadata["help"],
            choices and choices())


def config_values(exclude: Iterable[str] = ()) -> Dict[str, Any]:
  """The config flags' values, paths made absolute (so `flags.txt` works
  from any folder); unset required fields are left out.

  Raises:
    UsageError: a path flag given as the empty string.
  """
  values = {}
  for name, field in config_fields(exclude).items():
    value = flags.FLAGS[name].value
    if field.metadata["path"] and value is not None:
      if not value:
        raise UsageError(f"--{name} is empty; pass a path, or leave the flag "
                         f"out for its default.")
      value = os.path.abspath(value)
    if value is not None or field.default is not dataclasses.MISSING:
      values[name] = value
  return values


def define_variant_option_flags() -> None:
  """Defines one flag per option any registered variant declares."""
  for name, (option, takers) in variants.all_options().items():
    help_text = (f"{', '.join(takers)}: {option.help} Default: "
                 f"{option.default!r}, or the preset's.")
    _define(name, option.type, None, help_text, option.choices)


def option_values() -> Dict[str, Any]:
  """The variant-option flags set on the command line (not None)."""
  return {name: flags.FLAGS[name].value for name in variants.all_options()
          if flags.FLAGS[name].value is not None}


def variant_options(variant: str) -> Dict[str, Any]:
  """`option_values()`, checked for `variant`.

  Raises:
    UsageError: a flag set for an option `variant` does not take, or a bad
      value; the message lists the options it takes.
  """
  return variants.check_options(variant, option_values())
