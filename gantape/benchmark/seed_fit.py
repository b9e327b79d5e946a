"""The seed's training code, kept as the baseline the benchmark compares with.

This is the blog post's Keras 2 code (`shared/seed/*.txt` beside this
repository), line for line, for its four variants (GAN, DCGAN, SSGAN, CGAN):
symbolic `Model`s whose output is the per-sample loss handed to `add_loss`, the
other network frozen by toggling `trainable` before `compile` (its BatchNorm
layers switched back to trainable, so they stay in batch-statistics mode), and
one `fit()` call per network per iteration on 64 samples with no `batch_size`,
so Keras's default of 32 makes every iteration two discriminator updates then
two generator updates.

Keras 3 cannot run this code (`add_loss` on symbolic tensors and the
trainable-before-compile freeze are gone), so it uses the legacy `tf_keras`
package, an optional extra: `pip install -e .[bench]`.

Two deliberate departures, both in the seed's favour when timed: `fit()` is
called with `verbose=0` (the post prints a progress bar per call) and the
per-100-iteration sample plot is left out.
"""

import random
from typing import Callable

import numpy as np

from gantape import data as data_lib
from gantape.errors import UsageError

# The variants the post trains; WGAN-GP is only recommended there, never coded.
VARIANTS = ("gan", "dcgan", "ssgan", "cgan")
BATCH_SIZE = 64


def import_tf_keras():
  """Returns the `tf_keras` module, or None when the extra is not installed."""
  try:
    import tf_keras  # pylint: disable=g-import-not-at-top
  except ImportError:
    return None
  return tf_keras


class SeedTrainer:
  """The seed's models and its loop body for one variant.

  Attributes:
    name: the variant.
    fit_discriminator: the Keras 2 model whose `fit` trains the discriminator.
    fit_generator: the Keras 2 model whose `fit` trains the generator.
    generator: the generator (Keras 2).
  """

  def __init__(self, name: str, dataset: data_lib.Dataset, *,
               batch_size: int = BATCH_SIZE, seed: int = 0, tf_keras=None):
    """Builds and compiles the seed's models.

    Args:
      name: one of `VARIANTS`.
      dataset: the training data; scaled as the post does (`x / 255`).
      batch_size: samples per `fit()` call (the post's 64).
      seed: seeds Python's and NumPy's random draws and TensorFlow's.
      tf_keras: the `tf_keras` module; default: imported here.

    Raises:
      UsageError: `name` has no seed version, or tf_keras is not installed.
    """
    if name not in VARIANTS:
      raise UsageError(
          f"the seed has no {name!r} code; it covers {', '.join(VARIANTS)}.")
    tf_keras = tf_keras or import_tf_keras()
    if tf_keras is None:
      raise UsageError("seed_fit needs the legacy Keras 2 package: "
                       "pip install -e .[bench]  (installs tf_keras).")
    tf_keras.utils.set_random_seed(seed)
    self._random = random.Random(seed)
    self._np_random = np.random.RandomState(seed)
    self.name = name
    self.batch_size = batch_size
    self._keras = tf_keras
    shape = [-1, 28 * 28] if name == "gan" else [-1, 28, 28, 1]
    self._train_x = dataset.x_train.reshape(shape) / 255  # float64, as the post
    self._train_y = dataset.y_train
    build = {"gan": self._build_gan, "dcgan": self._build_dcgan,
             "ssgan": self._build_ssgan, "cgan": self._build_cgan}[name]
    build()

  # ---- the loop body -------------------------------------------------

  def iteration(self) -> None:
    """One iteration of the post's loop (without its sample plot)."""
    k = self._keras.backend
    index = self._random.sample(range(len(self._train_x)), self.batch_size)
    x = self._train_x[index]
    g_sample = self._np_random.uniform(-1, 1, [self.batch_size, 100])
    if self.name in ("gan", "dcgan"):
      self.fit_discriminator.fit([k.constant(x), k.constant(g_sample)],
                                 verbose=0)
      self.fit_generator.fit(g_sample, verbose=0)
    elif self.name == "ssgan":
      label = self._train_y[index]
      self.fit_discriminator.fit(
          [k.constant(g_sample), k.constant(x), k.constant(label)], verbose=0)
      self.fit_generator.fit(g_sample, verbose=0)
    else:  # cgan
      x_label = self._train_y[index]
      g_label = self._np_random.randint(0, 10, [self.batch_size])
      self.fit_discriminator.fit(
          [k.constant(g_sample), k.constant(g_label), k.constant(x),
           k.constant(x_label)], verbose=0)
      self.fit_generator.fit([k.constant(g_sample), k.constant(g_label)],
                             verbose=0)

  # ---- the post's model code, per variant -----------------------------

  def _log_clip(self, eps: float) -> Callable:
    k = self._keras.backend
    return self._keras.layers.Lambda(
        lambda x: k.log(k.clip(k.stop_gradient(x), eps, 1)
                        - k.stop_gradient(x) + x))

  def _conv_generator(self, input_dim: int):
    L = self._keras.layers  # pylint: disable=invalid-name
    return self._keras.Sequential([
        L.Dense(7 * 7 * 64, input_shape=[input_dim]),
        L.BatchNormalization(),
        L.LeakyReLU(),
        L.Reshape([7, 7, 64]),
        L.UpSampling2D([2, 2]),
        L.Conv2DTranspose(64, [3, 3], padding="same"),
        L.BatchNormalization(),
        L.LeakyReLU(),
        L.UpSampling2D([2, 2]),
        L.Conv2DTranspose(1, [3, 3], padding="same", activation="sigmoid"),
    ])

  def _conv_discriminator(self, outputs: int, activation: str):
    L = self._keras.layers  # pylint: disable=invalid-name
    return self._keras.Sequential([
        L.Conv2D(64, [3, 3], padding="same", input_shape=[28, 28, 1]),
        L.BatchNormalization(),
        L.LeakyReLU(),
        L.MaxPool2D([2, 2]),
        L.Conv2D(64, [3, 3], padding="same"),
        L.BatchNormalization(),
        L.LeakyReLU(),
        L.MaxPool2D([2, 2]),
        L.Flatten(),
        L.Dense(128),
        L.BatchNormalization(),
        L.LeakyReLU(),
        L.Dense(outputs, activation=activation),
    ])

  def _compile_frozen(self, model, frozen, keep_batch_norm: bool) -> None:
    """The post's freeze: `frozen.trainable = False` around `compile`."""
    frozen.trainable = False
    if keep_batch_norm:
      for layer in frozen.layers:
        if isinstance(layer, self._keras.layers.BatchNormalization):
          layer.trainable = True  # keeps BatchNorm in training mode
    model.compile(optimizer=self._keras.optimizers.Adam(0.001))
    frozen.trainable = True

  def _minimax(self, generator, discriminator, image_shape,
               keep_batch_norm: bool) -> None:
    """GAN and DCGAN: the post's first model, on either pair of networks."""
    keras = self._keras
    g_sample_input = keras.Input([100])
    x_input = keras.Input(image_shape)
    log_clip = self._log_clip(1e-6)
    g = discriminator(generator(g_sample_input))
    d_loss = -log_clip(discriminator(x_input)) - log_clip(1.0 - g)
    self.fit_discriminator = keras.Model(inputs=[x_input, g_sample_input],
                                         outputs=d_loss)
    self.fit_discriminator.add_loss(d_loss)
    self._compile_frozen(self.fit_discriminator, generator, keep_batch_norm)
    g_loss = -log_clip(g)
    self.fit_generator = keras.Model(inputs=g_sample_input, outputs=g_loss)
    self.fit_generator.add_loss(g_loss)
    self._compile_frozen(self.fit_generator, discriminator, keep_batch_norm)
    self.generator = generator

  def _build_gan(self):
    L = self._keras.layers  # pylint: disable=invalid-name
    generator = self._keras.Sequential([
        L.Dense(128, activation="relu", input_shape=[100]),
        L.Dense(28 * 28, activation="sigmoid"),
    ])
    discriminator = self._keras.Sequential([
        L.Dense(128, activation="relu", input_shape=[28 * 28]),
        L.Dense(1, activation="sigmoid"),
    ])
    self._minimax(generator, discriminator, [28 * 28], keep_batch_norm=False)

  def _build_dcgan(self):
    self._minimax(self._conv_generator(100),
                  self._conv_discriminator(1, "sigmoid"), [28, 28, 1],
                  keep_batch_norm=True)

  def _build_ssgan(self):
    keras, k = self._keras, self._keras.backend
    tf = _tf()
    generator = self._conv_generator(100)
    discriminator = self._conv_discriminator(11, "softmax")
    g_sample_input = keras.Input([100])
    x_input = keras.Input([28, 28, 1])
    label_input = keras.Input([], dtype="int32")
    log_clip = self._log_clip(1e-3)
    g_prob = discriminator(generator(g_sample_input))
    d_prob = discriminator(x_input)
    index = k.stack([k.arange(0, k.shape(d_prob)[0]), label_input], axis=1)
    d_loss = (-log_clip(1.0 - d_prob[:, -1])
              - log_clip(g_prob[:, -1])
              - log_clip(tf.gather_nd(d_prob, index)))
    self.fit_discriminator = keras.Model(
        inputs=[g_sample_input, x_input, label_input], outputs=d_loss)
    self.fit_discriminator.add_loss(d_loss)
    self._compile_frozen(self.fit_discriminator, generator, True)
    g_loss = log_clip(g_prob[:, -1])
    self.fit_generator = keras.Model(inputs=g_sample_input, outputs=g_loss)
    self.fit_generator.add_loss(g_loss)
    self._compile_frozen(self.fit_generator, discriminator, True)
    self.generator = generator

  def _build_cgan(self):
    keras, k = self._keras, self._keras.backend
    tf = _tf()
    g_sequential = self._conv_generator(100 + 10)
    discriminator = self._conv_discriminator(11, "softmax")
    g_sample_input = keras.Input([100])
    g_label_input = keras.Input([], dtype="int32")
    x_input = keras.Input([28, 28, 1])
    x_label_input = keras.Input([], dtype="int32")
    condition = k.concatenate([g_sample_input, k.one_hot(g_label_input, 10)])
    generator = keras.Model(inputs=[g_sample_input, g_label_input],
                            outputs=g_sequential(condition))
    log_clip = self._log_clip(1e-3)
    g_prob = discriminator(generator([g_sample_input, g_label_input]))
    g_index = k.stack([k.arange(0, k.shape(g_prob)[0]), g_label_input], axis=1)
    d_prob = discriminator(x_input)
    x_index = k.stack([k.arange(0, k.shape(d_prob)[0]), x_label_input], axis=1)
    d_loss = (-log_clip(tf.gather_nd(d_prob, x_index))
              - log_clip(1.0 - tf.gather_nd(g_prob, g_index)))
    self.fit_discriminator = keras.Model(
        inputs=[g_sample_input, g_label_input, x_input, x_label_input],
        outputs=d_loss)
    self.fit_discriminator.add_loss(d_loss)
    self._compile_frozen(self.fit_discriminator, generator, True)
    g_loss = -log_clip(tf.gather_nd(g_prob, g_index))
    self.fit_generator = keras.Model(inputs=[g_sample_input, g_label_input],
                                     outputs=g_loss)
    self.fit_generator.add_loss(g_loss)
    self._compile_frozen(self.fit_generator, discriminator, True)
    self.generator = generator


def _tf():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf

