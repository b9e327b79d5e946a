"""The Keras 3 `fit` adapter: what a Keras user would write instead of gantape.

A `keras.Model` subclass overriding `train_step` with one GAN iteration (the
variant's networks and losses), trained with
`fit(steps_per_execution=iterations_per_call)`: the pattern of the Keras
guides, timed beside gantape's step.
"""

import keras
import tensorflow as tf

from gantape import data as data_lib
from gantape import variants
from gantape.benchmark.config import BenchmarkConfig
from gantape.benchmark import runners
from gantape.benchmark.runners import Runner


class GANModel(keras.Model):
  """The Keras-guide pattern: fit() drives a custom train_step."""

  def __init__(self, variant: variants.Variant, seed: int):
    super().__init__()
    self.generator = variant.generator
    self.discriminator = variant.discriminator
    self._variant = variant
    self._rng = [tf.random.Generator.from_seed(seed)]

  def compile(self, d_optimizer, g_optimizer, steps_per_execution):  # pylint: disable=arguments-differ
    super().compile(steps_per_execution=steps_per_execution,
                    jit_compile=False)
    self.d_optimizer = d_optimizer
    self.g_optimizer = g_optimizer

  def train_step(self, data):
    variant = self._variant
    n = variant.n_critic
    batches = ([data] if n == 1 else
               [tf.nest.map_structure(lambda t, i=i: t[i], data)
                for i in range(n)])
    d_vars = variant.discriminator_variables
    g_vars = variant.generator_variables
    for batch in batches:
      inputs = variant.sample_inputs(
          self._rng[0], tf.shape(batch["image"])[0])
      with tf.GradientTape() as tape:
        d_loss = tf.reduce_mean(
            variant.discriminator_loss(batch, inputs).per_example)
      self.d_optimizer.apply_gradients(
          zip(tape.gradient(d_loss, d_vars), d_vars))
    with tf.GradientTape() as tape:
      g_loss = tf.reduce_mean(
          variant.generator_loss(batches[-1], inputs).per_example)
    self.g_optimizer.apply_gradients(
        zip(tape.gradient(g_loss, g_vars), g_vars))
    return {"d_loss": d_loss, "g_loss": g_loss}


class KerasFitRunner(Runner):
  """Keras 3 `fit` over a train_step override, steps_per_execution=k."""

  def __init__(self, name: str, dataset: data_lib.Dataset,
               config: BenchmarkConfig, k: int):
    # Keras's own loop has no loss scaling: float32 whatever the config.
    built = runners.trainable(name, dataset, config, k=k,
                              precision="float32")
    variant = built.variant
    self.model = GANModel(variant, config.step.seed)
    self.model.compile(built.d_optimizer, built.g_optimizer,
                       steps_per_execution=k)
    batches = variant.make_dataset(dataset, batch_size=config.step.batch_size,
                                   seed=config.step.seed)
    if variant.n_critic > 1:
      batches = batches.batch(variant.n_critic, drop_remainder=True)
    self.dataset = batches
    self.unit = k

  def run(self, n: int) -> None:
    self.model.fit(self.dataset, steps_per_epoch=n, epochs=1, verbose=0,
                   shuffle=False)  # the dataset shuffles itself
