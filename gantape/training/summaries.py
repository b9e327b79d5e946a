"""Where a run's numbers go: TensorBoard events and `metrics.jsonl`, together.

`MetricsSink` is the one writer of both: every record it takes lands as
TensorBoard scalars and as one JSON line of the workdir's `metrics.jsonl`
(`curves.METRICS_FILE`), so the two never disagree. `MetricsSink.image`
writes the sample grids.

`tf.summary.scalar` and `tf.summary.image` import `tensorboard`, which
TensorFlow 2.21 no longer installs. The event format they write is simple: a
tensor plus metadata naming the TensorBoard plugin. We write exactly that with
`tf.summary.write`, so training needs no extra dependency and
`pip install tensorboard` is only needed to *view* the logs.
"""

import json
import os
import time
from typing import Any, Dict, Mapping, Optional

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

from gantape import files
from gantape.training import curves


def _metadata(plugin_name: str) -> bytes:
  metadata = summary_pb2.SummaryMetadata()
  metadata.plugin_data.plugin_name = plugin_name
  return metadata.SerializeToString()


_SCALAR = _metadata("scalars")
_IMAGE = _metadata("images")
_TEXT = _metadata("text")


def scalar(name: str, value, step: int) -> None:
  """Writes a float scalar, as `tf.summary.scalar` would."""
  tf.summary.write(name, tf.constant(value, tf.float32), step=step,
                   metadata=_SCALAR)


def image(name: str, grid: np.ndarray, step: int) -> None:
  """Writes one uint8 [H, W] or [H, W, C] image, as `tf.summary.image` would.

  The images plugin expects a string tensor [width, height, png...].
  """
  if grid.ndim == 2:
    grid = grid[..., None]
  height, width = grid.shape[:2]
  png = tf.io.encode_png(grid)
  tf.summary.write(name, tf.stack([tf.as_string(width), tf.as_string(height),
                                   png]), step=step, metadata=_IMAGE)


def text(name: str, markdown: str, step: int) -> None:
  """Writes a Markdown string, as `tf.summary.text` would."""
  tf.summary.write(name, tf.constant(markdown), step=step, metadata=_TEXT)


def tag(name: str, group: str = "train") -> str:
  """The TensorBoard tag of the record's `name`: `group/name`, unless the
  name has a group of its own (eval/fcd)."""
  return name if "/" in name else f"{group}/{name}"


class MetricsSink:
  """TensorBoard events and `metrics.jsonl` records of one workdir.

  A record is `{"step": ..., <timing>, "time": <unix time>, <scalars>}`:
  `curves.read_metrics` reads it back and `curves.plot_metrics` plots it.
  In TensorBoard the names are grouped (`tag`): the step's metrics under
  train/, the evaluation's under eval/ (their own prefix), timing under
  speed/.
  """

  def __init__(self, workdir: str):
    """Opens the event writer; `metrics.jsonl` is appended to, never cut.

    Args:
      workdir: the folder of the events and of `metrics.jsonl`.
    """
    self._writer = tf.summary.create_file_writer(workdir)
    self.path = os.path.join(workdir, curves.METRICS_FILE)

  def write(self, step: int, scalars: Mapping[str, float], *,
            timing: Optional[Mapping[str, float]] = None) -> None:
    """Writes `scalars` and `timing` as scalars and one record at `step`.

    Args:
      step: the iteration.
      scalars: metrics, e.g. the step's losses or `eval/*` scores.
      timing: speed scalars (e.g. `iterations_per_s`), recorded beside the
        record's `time` rather than among the metrics.
    """
    timing = dict(timing or {})
    with self._writer.as_default():
      for name, value in scalars.items():
        scalar(tag(name), value, step=step)
      for name, value in timing.items():
        scalar(tag(name, "speed"), value, step=step)
    record: Dict[str, float] = {"step": step, **timing, "time": time.time(),
                                **scalars}
    files.append_text(self.path, json.dumps(record) + "\n")

  def settings(self, values: Mapping[str, Any], step: int) -> None:
    """The run's settings as a table in TensorBoard's Text tab, tag
    "config" (the hparams plugin would need `tensorboard` to write)."""
    rows = ["| setting | value |", "|---|---|"] + [
        f"| {name} | {value} |" for name, value in sorted(values.items())]
    with self._writer.as_default():
      text("config", "\n".join(rows), step=step)

  def image(self, name: str, grid: np.ndarray, step: int) -> None:
    """Writes a uint8 image (e.g. a sample grid) at `step`."""
    with self._writer.as_default():
      image(name, grid, step=step)

  def flush(self) -> None:
    """Writes out buffered events."""
    self._writer.flush()
