"""The registry of GAN variants, by name.

Adding a variant: write `gantape/variants/<name>.py` with a `base.Variant`
subclass (declaring its constructor's options in `options`), then add one line
to `_REGISTRY` below. The CLI, the benchmark and resume read the options from
here. A variant defined outside gantape needs no registry line: every
function here also takes its "package.module:ClassName" (`get_class`), and
`gantape.train.train(config, variant=MyGAN)` takes the class itself
(`register`).

Such a name is imported only when the user gives it (`--variant`, or a
class passed in this process), never because a workdir's run.json names it:
a workdir is data, so `run_class` refuses a name from run.json that the
caller does not also pass as trusted. The import never looks in the current
directory unless PYTHONPATH names it.
"""

import contextlib
import importlib
import inspect
import os
import sys
from typing import (Any, Dict, Iterator, List, Optional, Tuple, Type,
                    Union)

from gantape.errors import UsageError
from gantape.variants import base
from gantape.variants import cgan
from gantape.variants import dcgan
from gantape.variants import gan
from gantape.variants import settings
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


# Variant classes from outside gantape met in this process, by
# "module:QualName": a class defined in a script or a test cannot be imported
# again by that name, but sampling it in the same process still finds it.
_OUTSIDE: Dict[str, Type[Variant]] = {}


def class_path(cls: type) -> str:
  """The "module:QualName" that `get_class` imports `cls` by."""
  return f"{cls.__module__}:{cls.__qualname__}"


def register(cls: type) -> str:
  """Makes the `Variant` subclass `cls` known by its `class_path`.

  A class defined in the script being run (module `__main__`) trains, but
  no later process can import it by that name: one warning line on stderr
  says so and how to make it importable.

  Returns:
    The name to put in `TrainConfig.variant`: the registered name of a
    gantape variant, else `class_path(cls)`.

  Raises:
    UsageError: `cls` is not a `Variant` subclass.
  """
  _check_variant_class(cls, repr(cls))
  for name, registered in _REGISTRY.items():
    if registered is cls:
      return name
  path = class_path(cls)
  if cls.__module__ == "__main__":
    print(main_module_warning(cls), file=sys.stderr, flush=True)
  _OUTSIDE[path] = cls
  return path


def main_module_warning(cls: type) -> str:
  """The warning `register` gives for `cls` defined in `__main__`."""
  return (f"warning: {cls.__qualname__} is defined in the script you ran "
          f"(module __main__), so `gantape sample`, `evaluate` and `export` "
          f"of this run cannot import it; move it to a module, e.g. "
          f"my_gan.py on PYTHONPATH, and train `from my_gan import "
          f"{cls.__qualname__}` (or --variant=my_gan:{cls.__qualname__}).")


def _check_variant_class(cls: Any, name: str) -> None:
  if not (isinstance(cls, type) and issubclass(cls, Variant)):
    raise UsageError(
        f"variant {name!r} is {cls!r}, not a subclass of "
        f"gantape.variants.Variant; pass one (see docs/variants.md).")
  if inspect.isabstract(cls):
    raise UsageError(
        f"variant {name!r} leaves abstract methods unimplemented: "
        f"{', '.join(sorted(cls.__abstractmethods__))}.")


@contextlib.contextmanager
def _without_implicit_cwd() -> Iterator[None]:
  """`sys.path` without the current directory that `python -m`, `-c` or an
  interactive session put first, unless PYTHONPATH names it too."""
  cwd = os.getcwd()
  explicit = {os.path.abspath(p) for p in
              os.environ.get("PYTHONPATH", "").split(os.pathsep) if p}
  implicit = [p for i, p in enumerate(sys.path)
              if (p in ("", ".") or (i == 0 and p == cwd))
              and os.path.abspath(p or ".") not in explicit]
  saved = list(sys.path)
  sys.path[:] = [p for p in sys.path if p not in implicit]
  try:
    yield
  finally:
    added = [p for p in sys.path if p not in saved]
    sys.path[:] = added + saved


def _import_class(name: str) -> Type[Variant]:
  """The class at "package.module:ClassName" (a dotted QualName too)."""
  if name in _OUTSIDE:
    return _OUTSIDE[name]
  module_name, _, qualname = name.partition(":")
  try:
    with _without_implicit_cwd():
      found: Any = importlib.import_module(module_name)
  except ImportError as e:
    raise UsageError(
        f"cannot import variant {name!r}: {e}; put its package on "
        f"PYTHONPATH (or install it).") from None
  for part in qualname.split("."):
    if not hasattr(found, part):
      raise UsageError(f"cannot import variant {name!r}: module "
                       f"{module_name!r} has no {qualname!r}.")
    found = getattr(found, part)
  _check_variant_class(found, name)
  return found


def get_class(name: Union[str, Type[Variant]]) -> Type[Variant]:
  """The variant class registered as `name`, or at "package.module:Class";
  a class given as `name` is returned as it is, so every function here takes
  a class already looked up as well as a name.

  Raises:
    UsageError: no variant has that name, the module or class cannot be
      imported, or the class is not a `Variant` subclass.
  """
  if isinstance(name, type):
    return name
  if ":" in name:
    return _import_class(name)
  try:
    return _REGISTRY[name]
  except KeyError:
    raise UsageError(
        f"unknown variant {name!r}; choose one of: {', '.join(_REGISTRY)}, "
        f"or name your own as package.module:ClassName."
    ) from None


def run_class(name: str, trusted: Union[None, str, type] = None
              ) -> Type[Variant]:
  """The variant class a workdir's run.json names, imported only if trusted.

  A registered name, or a class already known in this process (trained or
  passed here), is returned as `get_class` would. Any other
  "package.module:ClassName" is code: it is imported only when the caller
  passes the same name (or the class) as `trusted`, e.g. from
  `gantape sample --variant=package.module:ClassName`.

  Args:
    name: the run's `variant`, as run.json records it.
    trusted: the class, or its "package.module:ClassName", that the user
      named; None: only registered variants and known classes.

  Raises:
    UsageError: `name` is code the caller did not trust, `trusted` names
      another variant, or `get_class` refuses it.
  """
  if not isinstance(name, str):
    raise UsageError(
        f"the run records the variant as {name!r}, not a name; its run.json "
        f"is damaged: rerun gantape train with this --workdir to rewrite it.")
  if isinstance(trusted, type):
    trusted = register(trusted)
  if trusted is not None and trusted != name:
    raise UsageError(
        f"--variant={trusted} does not match the variant the run recorded, "
        f"{name!r}; pass --variant={name}, or leave it out for a registered "
        f"variant.")
  if ":" in name and name not in _OUTSIDE and trusted is None:
    raise UsageError(
        f"the run records the variant {name!r}, code from outside gantape, "
        f"and gantape never imports code because a workdir names it; if you "
        f"trust that module, pass --variant={name} (with its package on "
        f"PYTHONPATH).")
  cls = get_class(name)
  if ":" in name:
    _OUTSIDE.setdefault(name, cls)
  return cls


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


def _label(name: Union[str, Type[Variant]]) -> str:
  """`name`, or the name a class given in its place is known by."""
  if isinstance(name, str):
    return name
  return next((key for key, cls in _REGISTRY.items() if cls is name),
              class_path(name))


def check_options(name: str, values: Dict[str, Any]) -> Dict[str, Any]:
  """`values` checked against the options the variant `name` declares.

  Returns:
    The values, each as its option's type.

  Raises:
    UsageError: unknown name, an option the variant does not take (the
      message lists those it takes), or a bad value.
  """
  cls = get_class(name)
  return settings.check_values(cls.options, values, _label(name))


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


def data_arguments(name: str, image_shape: Optional[Any] = None,
                   num_classes: Optional[int] = None) -> Dict[str, Any]:
  """The data's `base.DATA_ARGUMENTS` that the constructor of `name` takes.

  Args:
    name: a variant name.
    image_shape: [H, W, C] of the data; None: the constructor's default.
    num_classes: the data's class count; None (or unlabelled data): the
      constructor's default.

  Raises:
    UsageError: images other than the seed's 28x28x1 for a variant whose
      constructor takes no `image_shape`.
  """
  cls = get_class(name)
  name = _label(name)
  accepted = inspect.signature(cls.__init__).parameters
  given = {"image_shape": None if image_shape is None else tuple(image_shape),
           "num_classes": num_classes}
  if ("image_shape" not in accepted and given["image_shape"] is not None
      and given["image_shape"] != tuple(cls.image_shape)):
    raise UsageError(
        f"variant {name!r} trains on {tuple(cls.image_shape)} images only, "
        f"not {given['image_shape']}; choose one that takes the data's "
        f"shape (gan, dcgan, ssgan, cgan, wgan_gp).")
  return {k: v for k, v in given.items()
          if k in base.DATA_ARGUMENTS and k in accepted and v is not None}


def build(name: str, *, preset: Optional[str] = None,
          generator: Optional[Any] = None, discriminator: Optional[Any] = None,
          image_shape: Optional[Any] = None, num_classes: Optional[int] = None,
          **values) -> Variant:
  """Builds the variant `name` with its networks.

  Args:
    name: a registered variant name, or "package.module:ClassName".
    preset: also apply this preset's variant options (`Preset`), under
      `values`; None (default): only `values`, over the constructor's
      defaults (the seed's losses).
    generator, discriminator: `keras.Model`s that replace the variant's own
      networks; None builds its own.
    image_shape, num_classes: the data's (`base.DATA_ARGUMENTS`), passed to
      a constructor that takes them; None: the constructor's default.
    **values: the variant's declared options (`options(name)`).

  Raises:
    UsageError: unknown name or preset, an option the variant does not
      take, a bad option value, or a shape the variant cannot take.
  """
  if preset is not None:
    values = resolve_options(name, preset, values)
  networks = {k: v for k, v in (("generator", generator),
                                ("discriminator", discriminator))
              if v is not None}
  return get_class(name)(**check_options(name, values), **networks,
                         **data_arguments(name, image_shape, num_classes))
