"""A first gantape run, in notebook cells: train, look, sample, score.

Open it as a notebook (VS Code and Jupyter with jupytext read the `# %%`
cells) or run it: `python examples/quickstart.py`. It trains the MLP GAN on
MNIST (a few minutes on a CPU), shows the sample grid, draws samples into an
.npz and scores them. MNIST comes from $GANTAPE_DATA/mnist.npz when that is
set, else from Keras's downloader. The QUICKSTART_* variables below shorten
the run; the test suite runs it so (tests/test_examples.py).
"""

# %% Settings
import os

WORKDIR = os.environ.get("QUICKSTART_WORKDIR", "/tmp/gantape/quickstart")
STEPS = int(os.environ.get("QUICKSTART_STEPS", "2000"))
SAMPLES = int(os.environ.get("QUICKSTART_SAMPLES", "2000"))
# None: gantape's classifier for MNIST, trained once (minutes) and cached.
CLASSIFIER = os.environ.get("QUICKSTART_CLASSIFIER")

# %% Train: the same loop as `gantape train --variant=gan --steps=STEPS`
from gantape import train

config = train.TrainConfig(workdir=WORKDIR, variant="gan", steps=STEPS,
                           sample_every=STEPS, checkpoint_every=STEPS)
result = train.train(config)
print({k: round(v, 3) for k, v in result.final_metrics.items()})

# %% Look at the sample grid: one row per digit's worth of fixed noise
import matplotlib.pyplot as plt

plt.imshow(plt.imread(result.final_grid), cmap="gray")
plt.axis("off")
plt.show()

# %% Sample: 16 images into an .npz (and a PNG grid beside it)
from gantape.training import export

samples = export.write_samples(WORKDIR, os.path.join(WORKDIR, "samples.npz"),
                               16)
print(f"{samples['num']} samples in {samples['npz']}")

# %% Score: FCD against real digits, and how many classes the samples cover
from gantape import evaluation

scores = evaluation.evaluate_workdir(WORKDIR, num_samples=SAMPLES,
                                     classifier=CLASSIFIER)
print({k: scores[k] for k in ("fcd", "floor_fcd", "coverage") if k in scores})
