"""Reading a training workdir's checkpoints: the public import path.

    restored = gantape.checkpoints.restore_from_workdir("/tmp/gantape/dcgan")
    images = restored.sampler.generate(inputs, training=False)

The code lives in `gantape.training.checkpoints`; this module keeps the path
that users, scripts and the README import.
"""

from gantape.training.checkpoints import BEST
from gantape.training.checkpoints import BEST_DIR
from gantape.training.checkpoints import best_fcd
from gantape.training.checkpoints import BestCheckpoint
from gantape.training.checkpoints import CHECKPOINT_DIR
from gantape.training.checkpoints import exists
from gantape.training.checkpoints import LATEST
from gantape.training.checkpoints import read_run
from gantape.training.checkpoints import restore_from_workdir
from gantape.training.checkpoints import RestoredRun
from gantape.training.checkpoints import RUN_FILE

__all__ = ["BEST", "BEST_DIR", "best_fcd", "BestCheckpoint", "CHECKPOINT_DIR",
           "exists", "LATEST", "read_run", "restore_from_workdir",
           "RestoredRun", "RUN_FILE"]
