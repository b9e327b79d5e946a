"""Drop-in Keras layers with faster TensorFlow kernels, same math and variables.

Keras 3's `BatchNormalization` computes its batch moments with generic
reductions (`tf.nn.moments`), so its training-mode forward and, above all,
its gradient are a dozen element-wise and broadcast (`Tile`) ops per layer.
On the DCGAN step on a CPU they cost more time than its convolutions
(docs/design.md, "Fused BatchNorm"). `BatchNormalization` below runs the same
computation through TensorFlow's fused kernel (`FusedBatchNormV3` and its
gradient, oneDNN-backed on CPU, cuDNN on GPU).

Same as Keras 3's layer: the variables (gamma, beta, moving_mean,
moving_variance; so checkpoints are interchangeable), the normalisation with
the biased batch variance, and the moving-average update. The fused kernel
returns the Bessel-corrected variance for the moving average; it is scaled
back to the biased one, which is what Keras 3 averages. Results agree with
Keras 3's layer to float32 round-off (tests/test_fast_layers.py).
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="gantape")
class BatchNormalization(keras.layers.BatchNormalization):
  """`keras.layers.BatchNormalization` with TensorFlow's fused kernel.

  The fused path is taken in training mode for float32 NHWC images
  ([B, H, W, C]) and feature vectors ([B, C], run as [B, 1, 1, C]) with the
  default last-axis, centre and scale, no mask, renorm or synchronisation;
  anything else, and inference, goes through Keras's own code.
  """

  def _can_fuse(self, inputs, training, mask) -> bool:
    rank = len(inputs.shape)
    return (bool(training) and self.trainable and mask is None
            and not self.renorm and not self.synchronized
            and rank in (2, 4) and self.axis in (-1, rank - 1)
            and inputs.dtype == tf.float32
            and self.center and self.scale)

  def call(self, inputs, training=None, mask=None):
    if not self._can_fuse(inputs, training, mask):
      return super().call(inputs, training=training, mask=mask)
    rank = len(inputs.shape)
    x = inputs if rank == 4 else inputs[:, None, None, :]
    empty = tf.zeros([0], tf.float32)
    y, mean, variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
        x=x, scale=tf.convert_to_tensor(self.gamma),
        offset=tf.convert_to_tensor(self.beta), mean=empty, variance=empty,
        epsilon=self.epsilon, exponential_avg_factor=1.0,
        data_format="NHWC", is_training=True)
    count = tf.cast(tf.size(x) // tf.shape(x)[-1], tf.float32)
    # Bessel-corrected -> biased, the variance Keras 3 averages.
    variance = variance * (count - 1.0) / count
    m = self.momentum
    self.moving_mean.assign(self.moving_mean * m + mean * (1.0 - m))
    self.moving_variance.assign(
        self.moving_variance * m + variance * (1.0 - m))
    return y if rank == 4 else tf.reshape(y, tf.shape(inputs))
