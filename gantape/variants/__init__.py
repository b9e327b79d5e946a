"""The registry of GAN variants, by name.

Adding a variant: write `gantape/variants/<name>.py` with a `base.Variant`
subclass (declaring its constructor's options in `options`), then add one line
to `_REGISTRY` below. The CLI, the benchmark and resume read the options from
here.
"""

from typing import Any, Dict, List, Optional, Tuple, Type

from gantape.errors import UsageError
from gantape.variants import base
from gantape.variants import cgan
from gantape.variants import dcgan
from gantape.variants import gan
from gantape.variants import ssgan
from gantape.variants import wgan_gp
from gantape.variants.base import LossOutput, Option, Preset, Variant

_REGISTRY: Dict[str, Type[Variant]] = {
    "gan": gan.GAN,
    "dcgan": dcgan.DCGAN,
    "ssgan": ssgan.SSGAN,
    "cgan": cgan.CGAN,
    "wgan_gp": wgan_gp.WGANGP,
}


def names() -> List[str]:
  """Names of the registered variants, in registry order."""
  return list(_REGISTRY)


def get_class(name: str) -> Type[Variant]:
  """The variant class registered as `name`.

  Raises:
    UsageError: no variant has that name; the message lists the names.
  """
  try:
    return _REGISTRY[name]
  except KeyError:
    raise UsageError(
        f"unknown variant {name!r}; choose one of: {', '.join(_REGISTRY)}."
    ) from None


def options(name: str) -> Dict[str, Option]:
  """The options the variant `name` declares (`Variant.options`), by name.

  Raises:
    UsageError: no variant has that name.
  """
  return {option.name: option for option in get_class(name).options}


def all_options() -> Dict[str, Tuple[Option, List[str]]]:
  """Every option any registered variant declares, with the variants that
  take it, in registry order: what the CLI makes flags of."""
  table: Dict[str, Tuple[Option, List[str]]] = {}
  for name, cls in _REGISTRY.items():
    for option in cls.options:
      table.setdefault(option.name, (option, []))[1].append(name)
  return table


def preset_names() -> List[str]:
  """Every preset name any registered variant has, in registry order."""
  found: Dict[str, None] = {}
  for cls in _REGISTRY.values():
    found.update(dict.fromkeys(cls.presets))
  return list(found)


def check_options(name: str, values: Dict[str, Any]) -> Dict[str, Any]:
  """`values` checked against the options the variant `name` declares.

  Returns:
    The values, each as its option's type.

  Raises:
    UsageError: unknown name, an option the variant does not take (the
      message lists those it takes), or a bad value.
  """
  declared = options(name)
  unknown = sorted(set(values) - set(declared))
  if unknown:
    raise UsageError(
        f"variant {name!r} takes no option {', '.join(unknown)}; its options "
        f"are: {', '.join(declared) or 'none'}.")
  return {k: declared[k].checked(v, name) for k, v in values.items()}


def resolve_options(name: str, preset: str,
                    values: Dict[str, Any]) -> Dict[str, Any]:
  """`values` over the variant options of `name`'s preset `preset`.

  Raises:
    UsageError: unknown name or preset.
  """
  return {**get_class(name).preset(preset).variant_options, **values}


def nondefault_options(name: str, values: Dict[str, Any]) -> Dict[str, Any]:
  """`values` without those equal to their declared default: the options
  that make the variant differ from `build(name)`. Two option sets build the
  same variant if these agree (e.g. {} and {"r1_gamma": 0.0})."""
  declared = options(name)
  return {k: v for k, v in values.items()
          if k not in declared or declared[k].default != v}


def build(name: str, *, preset: Optional[str] = None,
          generator: Optional[Any] = None, discriminator: Optional[Any] = None,
          **values) -> Variant:
  """Builds the variant `name` with its networks.

  Args:
    name: a registered variant name.
    preset: also apply this preset's variant options (`Preset`), under
      `values`; None (default): only `values`, over the constructor's
      defaults (the seed's losses).
    generator, discriminator: `keras.Model`s that replace the variant's own
      networks; None builds its own.
    **values: the variant's declared options (`options(name)`).

  Raises:
    UsageError: unknown name or preset, an option the variant does not
      take, or a bad option value.
  """
  if preset is not None:
    values = resolve_options(name, preset, values)
  networks = {k: v for k, v in (("generator", generator),
                                ("discriminator", discriminator))
              if v is not None}
  return get_class(name)(**check_options(name, values), **networks)
