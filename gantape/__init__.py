"""gantape: GAN training on TensorFlow 2 with GradientTape train steps.

`import gantape` is quick: TensorFlow is imported when something needs it
(`gantape.TrainStep`, `from gantape import step`, a command past its flags),
so `gantape --help` and a bad flag answer at once.
"""

import importlib
import importlib.util
import os

# oneDNN's CPU kernels make a DCGAN iteration 1.33x faster on the AMD CPU we
# benchmarked (docs/performance.md, "oneDNN on and off"), but TensorFlow
# enables them by default only on some Intel CPUs. The switch is read when TensorFlow
# is first imported, so it only takes effect if gantape is imported first (the
# scripts do); an explicit TF_ENABLE_ONEDNN_OPTS=0 or =1 from the user wins.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

# TensorFlow's start-up log (nine lines on every command) is held back unless
# TF_CPP_MIN_LOG_LEVEL is set, whichever module imports it first:
# gantape/tf_log.py says what and how.
from gantape import tf_log  # pylint: disable=g-bad-import-order
tf_log.install()

from gantape.errors import (DataError, GantapeError, NonFiniteLossError,
                            UsageError)

__version__ = "0.1.0"

# Names imported on first use (they import TensorFlow): name -> (module,
# attribute, or None for the module itself).
_LAZY = {
    "data": ("gantape.data", None),
    "losses": ("gantape.losses", None),
    "networks": ("gantape.networks", None),
    "step": ("gantape.step", None),
    "variants": ("gantape.variants", None),
    "TrainStep": ("gantape.step", "TrainStep"),
    "StepOptions": ("gantape.step", "StepOptions"),
    "make_optimizers": ("gantape.optimizers", "make_optimizers"),
}


def __getattr__(name):
  """The names of `_LAZY`, and any submodule (`gantape.checkpoints`),
  imported on first use."""
  if name not in _LAZY:
    if name.startswith("_") or importlib.util.find_spec(
        f"gantape.{name}") is None:
      raise AttributeError(f"module 'gantape' has no attribute {name!r}")
    return importlib.import_module(f"gantape.{name}")
  module_name, attribute = _LAZY[name]
  value = importlib.import_module(module_name)
  if attribute is not None:
    value = getattr(value, attribute)
  globals()[name] = value
  return value


def __dir__():
  return sorted(set(globals()) | set(_LAZY))
