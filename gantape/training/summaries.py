"""TensorBoard summaries without the `tensorboard` package.

`tf.summary.scalar` and `tf.summary.image` import `tensorboard`, which
TensorFlow 2.21 no longer installs. The event format they write is simple: a
tensor plus metadata naming the TensorBoard plugin. We write exactly that with
`tf.summary.write`, so training needs no extra dependency and
`pip install tensorboard` is only needed to *view* the logs.
"""

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2


def _metadata(plugin_name: str) -> bytes:
  metadata = summary_pb2.SummaryMetadata()
  metadata.plugin_data.plugin_name = plugin_name
  return metadata.SerializeToString()


_SCALAR = _metadata("scalars")
_IMAGE = _metadata("images")


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
