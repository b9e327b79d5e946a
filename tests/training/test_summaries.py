"""summaries.MetricsSink: TensorBoard tags in groups, records as written."""

import glob

import tensorflow as tf

from gantape.training import curves
from gantape.training import summaries


def test_tensorboard_tags_are_grouped(tmp_path):
  sink = summaries.MetricsSink(str(tmp_path))
  sink.write(10, {"d_loss": 1.5, "eval/fcd": 3.0},
             timing={"iterations_per_s": 2.0})
  sink.settings({"variant": "dcgan", "batch_size": 64}, step=0)
  sink.flush()
  values = {}
  for path in glob.glob(str(tmp_path / "events.out.tfevents*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      values.update((value.tag, value) for value in event.summary.value)
  assert set(values) == {"train/d_loss", "eval/fcd", "speed/iterations_per_s",
                         "config"}
  config = values["config"]
  assert config.metadata.plugin_data.plugin_name == "text"
  assert tf.make_ndarray(config.tensor).item().decode() == (
      "| setting | value |\n|---|---|\n| batch_size | 64 |\n"
      "| variant | dcgan |")
  # metrics.jsonl keeps the names as they are.
  [record] = curves.read_metrics(str(tmp_path / curves.METRICS_FILE))
  assert {"d_loss", "eval/fcd", "iterations_per_s"} <= set(record)
