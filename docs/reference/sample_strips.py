"""One figure of the first row of several runs' sample grids at one iteration,
a row per run, for comparing recipes by eye (docs/quality_colour.md).

    python docs/reference/sample_strips.py OUT.png STEP "TITLE" LABEL=WORKDIR...

Reads WORKDIR/samples/step_<STEP>.png, the grid `gantape train` writes every
--sample_every iterations (32x32 images assumed), and saves a 128-colour PNG.
"""
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
from PIL import Image  # matplotlib's own dependency

SIDE, COLUMNS = 32, 10


def main(out, step, title, runs):
  fig, axes = plt.subplots(len(runs), 1, figsize=(6.4, 1.15 * len(runs) + 0.0))
  for ax, run in zip(axes, runs):
    label, workdir = run.split("=", 1)
    grid = plt.imread(f"{workdir}/samples/step_{int(step):07d}.png")[..., :3]
    ax.imshow(grid[:SIDE, :SIDE * COLUMNS], interpolation="nearest")
    ax.set_title(label, fontsize=8, loc="left", pad=2)
    ax.axis("off")
  fig.suptitle(title, fontsize=9)
  fig.tight_layout()
  fig.savefig(out, dpi=100)
  Image.open(out).convert("RGB").quantize(colors=128).save(out, optimize=True)


if __name__ == "__main__":
  main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
