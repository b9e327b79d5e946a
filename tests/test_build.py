"""`gantape.build`: what `gantape train` trains, from one call."""

import numpy as np

from gantape import build as build_lib

from tests.conftest import make_fake_mnist


def test_for_data_builds_the_default_preset_as_train_does():
  dataset = make_fake_mnist(num_train=64)
  trainable = build_lib.for_data(dataset, variant="gan", seed=0,
                                 batch_size=16)
  assert trainable.step.options.updates_per_batch == 2
  assert set(trainable.averages) == {"generator"}
  assert trainable.sampler is not trainable.variant
  assert set(trainable.checkpoint_items()) == {
      "generator", "discriminator", "d_optimizer", "g_optimizer",
      "global_step", "rng", "ema_generator"}
  average = trainable.averages["generator"].average
  before = average.weights[0].numpy().copy()
  metrics = trainable.train(trainable.input(dataset), 3)
  assert int(trainable.step.global_step) == 3
  assert np.isfinite(float(metrics["d_loss"]))
  # The average moved with the training, and lags the live network.
  after = average.weights[0].numpy()
  assert not np.array_equal(before, after)
  assert not np.array_equal(after,
                            trainable.variant.generator.weights[0].numpy())


def test_the_seed_preset_keeps_no_average():
  trainable = build_lib.for_data(make_fake_mnist(num_train=64),
                                 variant="dcgan", preset="seed",
                                 batch_size=16)
  assert trainable.averages == {} and trainable.sampler is trainable.variant
  assert trainable.variant.r1_gamma == 0.0
