"""Loss curves from a run's `metrics.jsonl`, as a PNG (matplotlib, no display).

`metrics.jsonl` holds one JSON object per progress line: `step`, `time`,
`iterations_per_s` and every metric the train step returns. It is meant to be
plotted without TensorBoard; `plot_metrics` is that plot.
"""

import json
import os
from typing import Dict, List

# Agg renders to files only: training runs on machines without a display.
import matplotlib
matplotlib.use("Agg")
from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position

from gantape import files  # pylint: disable=g-import-not-at-top,wrong-import-position

# A workdir's metrics file (`summaries.MetricsSink` writes it).
METRICS_FILE = "metrics.jsonl"
_NOT_METRICS = ("step", "time", "iterations_per_s")


def read_metrics(path: str) -> List[Dict[str, float]]:
  """The records of a `metrics.jsonl`, skipping a torn last line.

  A run killed while writing leaves at most one partial line; it is dropped
  rather than failing the plot.
  """
  records = []
  with open(path, errors="replace") as f:  # not UTF-8: U+FFFD, never a crash
    for line in f:
      try:
        record = json.loads(line)
      except json.JSONDecodeError:
        continue
      if isinstance(record, dict) and "step" in record:
        records.append(record)
  return records


def plot_metrics(metrics_path: str, png_path: str, title: str = "") -> bool:
  """Plots every metric of `metrics_path` against the iteration.

  Losses (`*_loss`) share the top panel; the other metrics (e.g. `d_real`,
  `d_fake`) share the bottom one. The PNG is written atomically.

  Args:
    metrics_path: a `metrics.jsonl` file.
    png_path: where the PNG goes.
    title: the figure's title, e.g. the variant.

  Returns:
    True if a plot was written, False when there was nothing to plot.
  """
  if not os.path.exists(metrics_path):
    return False
  fig = figure(read_metrics(metrics_path), title)
  if fig is None:
    return False
  try:
    with files.atomic_path(png_path) as tmp:
      fig.savefig(tmp, dpi=80)
  finally:
    plt.close(fig)
  return True


def figure(records, title: str = ""):
  """`plot_metrics`'s figure of `records`, or None when there is nothing to
  plot. Each panel's legend stands right of it, off the curves."""
  keys = sorted({k for r in records for k in r if k not in _NOT_METRICS})
  panels = [[k for k in keys if k.endswith("_loss")],
            [k for k in keys if not k.endswith("_loss")]]
  panels = [p for p in panels if p]
  if not panels:
    return None
  fig, axes = plt.subplots(len(panels), 1, figsize=(10, 3 * len(panels)),
                           sharex=True, squeeze=False)
  for ax, panel in zip(axes[:, 0], panels):
    for key in panel:
      points = [(r["step"], r[key]) for r in records
                if isinstance(r.get(key), (int, float))]
      if points:
        steps, values = zip(*points)
        ax.plot(steps, values, label=key, linewidth=1)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0),
              borderaxespad=0.0, fontsize="small")
    ax.grid(alpha=0.3)
  axes[-1, 0].set_xlabel("iteration")
  if title:
    axes[0, 0].set_title(title)
  # Fixed margins: tight_layout doubles the cost of the plot.
  fig.subplots_adjust(left=0.08, right=0.8, top=0.92 if title else 0.97,
                      bottom=0.12 if len(panels) == 1 else 0.08, hspace=0.1)
  return fig
