"""gantape: GAN training on TensorFlow 2 with GradientTape train steps."""

import os

# oneDNN's CPU kernels make a DCGAN iteration 1.33x faster on the AMD CPU we
# benchmarked (docs/performance.md, "oneDNN on and off"), but TensorFlow
# enables them by default only on some Intel CPUs. The switch is read when TensorFlow
# is first imported, so it only takes effect if gantape is imported first (the
# scripts do); an explicit TF_ENABLE_ONEDNN_OPTS=0 or =1 from the user wins.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

# TensorFlow's start-up log (nine lines on every command) is held back unless
# TF_CPP_MIN_LOG_LEVEL is set: gantape/tf_log.py says what and how.
from gantape import tf_log  # pylint: disable=g-bad-import-order
tf_log.import_tensorflow()

from gantape import data
from gantape import losses
from gantape import networks
from gantape import step
from gantape import variants
from gantape.errors import (DataError, GantapeError, NonFiniteLossError,
                            UsageError)
from gantape.optimizers import make_optimizers
from gantape.step import TrainStep

__version__ = "0.1.0"
