"""summaries.MetricsSink: TensorBoard tags in groups, records as written."""

import glob

import tensorflow as tf

from gantape.training import curves
from gantape.training import summaries


def test_tensorboard_tags_are_grouped(tmp_path):
  sink = summaries.MetricsSink(str(tmp_path))
  sink.write(10, {"d_loss": 1.5, "eval/fcd": 3.0},
             timing={"iterations_per_s": 2.0})
  sink.flush()
  tags = set()
  for path in glob.glob(str(tmp_path / "events.out.tfevents*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      tags.update(value.tag for value in event.summary.value)
  assert tags == {"train/d_loss", "eval/fcd", "speed/iterations_per_s"}
  # metrics.jsonl keeps the names as they are.
  [record] = curves.read_metrics(str(tmp_path / curves.METRICS_FILE))
  assert {"d_loss", "eval/fcd", "iterations_per_s"} <= set(record)
