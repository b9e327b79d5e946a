"""Training a GAN: the public entry point.

    config = gantape.train.TrainConfig(workdir="/tmp/gantape/dcgan",
                                       variant="dcgan")
    result = gantape.train.train(config)

`train` trains (or resumes) the run `config` describes. The loop lives in
`gantape.training.loop` (a runner over `TrainStep` with actions for logging,
evaluation, sample grids, checkpoints and the NaN guard), the config in
`gantape.training.config`; this module keeps the import path that users,
the README and the command line use.
"""

from gantape.training.config import TrainConfig
from gantape.training.loop import train
from gantape.training.loop import TrainResult
from gantape.training.run import total_iterations

__all__ = ["total_iterations", "train", "TrainConfig", "TrainResult"]
