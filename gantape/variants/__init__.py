"""The registry of GAN variants, by name.

Adding a variant: write `gantape/variants/<name>.py` with a `base.Variant`
subclass, then add one line to `_REGISTRY` below.
"""

import inspect
from typing import Any, Dict, List, Optional, Type

from gantape.errors import UsageError
from gantape.variants import base
from gantape.variants import cgan
from gantape.variants import dcgan
from gantape.variants import gan
from gantape.variants import ssgan
from gantape.variants import wgan_gp
from gantape.variants.base import LossOutput, Preset, Variant

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


def check_options(name: str, options: Dict[str, Any]) -> None:
  """Checks that the variant `name` takes every option in `options`.

  Raises:
    UsageError: unknown name, or an option the variant does not take; the
      message lists the options it does take.
  """
  cls = get_class(name)
  accepted = inspect.signature(cls.__init__).parameters
  unknown = sorted(set(options) - set(accepted))
  if unknown:
    takes = sorted(k for k in accepted if k not in ("self", "generator",
                                                    "discriminator"))
    raise UsageError(
        f"variant {name!r} takes no option {', '.join(unknown)}; its options "
        f"are: {', '.join(takes) or 'none'}.")


def resolve_options(name: str, preset: str,
                    options: Dict[str, Any]) -> Dict[str, Any]:
  """`options` over the variant options of `name`'s preset `preset`.

  Raises:
    UsageError: unknown name or preset.
  """
  return {**get_class(name).preset(preset).variant_options, **options}


def nondefault_options(name: str, options: Dict[str, Any]) -> Dict[str, Any]:
  """`options` without those equal to the constructor's default: the options
  that make the variant differ from `build(name)`. Two option sets build the
  same variant if these agree (e.g. {} and {"r1_gamma": 0.0})."""
  defaults = inspect.signature(get_class(name).__init__).parameters
  return {k: v for k, v in options.items()
          if k not in defaults or defaults[k].default != v}


def build(name: str, *, preset: Optional[str] = None, **options) -> Variant:
  """Builds the variant `name` with its networks; `options` go to its class.

  Args:
    name: a registered variant name.
    preset: also apply this preset's variant options (`Preset`), under
      `options`; None (default): only `options`, over the constructor's
      defaults (the seed's losses).
    **options: keyword options of the variant's class.

  Raises:
    UsageError: unknown name or preset, an option the variant does not
      take, or a bad option value.
  """
  if preset is not None:
    options = resolve_options(name, preset, options)
  check_options(name, options)
  return get_class(name)(**options)
