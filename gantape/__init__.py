"""gantape: GAN training on TensorFlow 2 with GradientTape train steps."""

from gantape import data
from gantape import losses
from gantape import networks
from gantape import step
from gantape import variants
from gantape.errors import (DataError, GantapeError, NonFiniteLossError,
                            UsageError)
from gantape.step import TrainStep, make_optimizers

__version__ = "0.1.0"
