"""Lazy R1 (`r1_every`): the penalty on one discriminator update in N,
weighted by N, driven by the discriminator optimizer's checkpointed counter."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantape import losses
from gantape import optimizers as optimizers_lib
from gantape import step as step_lib
from gantape import variants
from gantape.errors import UsageError

BATCH = 8
GAMMA = 3.0


def linear_discriminator():
  """D(x) = sigmoid(w . x): the R1 gradient is w for every image."""
  model = keras.Sequential([keras.Input([784]), keras.layers.Dense(1)])
  model.returns_logits = True
  return model


class OwnLossGAN(variants.gan.GAN):
  """A variant of one's own that adds R1 with `plus_r1` and nothing else."""

  def discriminator_loss(self, batch, inputs):
    fake = tf.stop_gradient(self.generate(inputs, training=True))
    real, r1 = self.real_probabilities(batch["image"], tf.sigmoid,
                                       lambda logits: logits[:, 0])
    fake = self.discriminate(fake, tf.sigmoid)
    return variants.LossOutput(
        losses.minimax_discriminator_loss(real, fake), {}).plus_r1(r1)


def lazy_step(mnist, every, seed=0, variant="gan"):
  keras.utils.set_random_seed(seed)
  variant = variants.build(variant, r1_gamma=GAMMA, r1_every=every,
                           discriminator=linear_discriminator())
  d_opt, g_opt = optimizers_lib.make_optimizers(variant)
  step = step_lib.TrainStep(variant, d_opt, g_opt, seed=seed)
  iterator = step.make_iterator(
      variant.make_dataset(mnist, batch_size=BATCH, seed=seed))
  return step, iterator


def d_updates(step, iterator, update, count):
  """`count` discriminator updates; each one's R1 metric and its hand value:
  gamma / 2 * ||w||^2 for the weights the last penalized update saw (the
  penalty it applied, N times that, without the lazy weight N)."""
  seen, expected = [], []
  last = 0.0
  for _ in range(count):
    kernel = step.variant.discriminator.layers[-1].kernel.numpy()
    n = step.variant.r1_every
    if int(step.d_optimizer.iterations.numpy()) % n == 0:
      last = 0.5 * GAMMA * float((kernel.astype(np.float64) ** 2).sum())
    expected.append(last)
    metrics = update(next(iterator),
                     step.variant.sample_inputs(step.rng, BATCH))
    seen.append(float(metrics["r1_penalty"]))
  return seen, expected


@pytest.mark.parametrize("variant", ["gan", OwnLossGAN])
def test_the_log_shows_the_last_penalty_applied(fake_mnist, variant):
  """Whoever adds the penalty, a registered variant or one's own with
  `plus_r1`: the R1 path carries what the log shows."""
  step, iterator = lazy_step(fake_mnist, every=3, variant=variant)
  update = tf.function(step.discriminator_step)
  seen, expected = d_updates(step, iterator, update, 7)
  # Penalized on updates 0, 3 and 6; the updates between show update 0's
  # and 3's, not 0.
  assert len(set(expected)) == 3 and min(expected) > 0
  np.testing.assert_allclose(seen, expected, rtol=1e-5)
  # One trace for penalized and unpenalized updates alike.
  assert update.experimental_get_tracing_count() == 1


def test_the_step_is_traced_once_and_counts_d_updates(fake_mnist):
  step, iterator = lazy_step(fake_mnist, every=4)
  for count in (1, 3, 2):
    step(iterator, count)
  assert step.executor.train.experimental_get_tracing_count() == 1
  assert int(step.d_optimizer.iterations.numpy()) == 6
  assert int(step.global_step.numpy()) == 6


def test_a_restored_run_penalizes_the_same_updates(fake_mnist, tmp_path):
  step, iterator = lazy_step(fake_mnist, every=3)
  update = tf.function(step.discriminator_step)
  d_updates(step, iterator, update, 4)
  path = tf.train.Checkpoint(**step.checkpoint_items(),
                             iterator=iterator).save(str(tmp_path / "ckpt"))
  continued, _ = d_updates(step, iterator, update, 3)

  restored, restored_iterator = lazy_step(fake_mnist, every=3, seed=5)
  tf.train.Checkpoint(**restored.checkpoint_items(),
                      iterator=restored_iterator).restore(
                          path).assert_consumed()
  assert int(restored.d_optimizer.iterations.numpy()) == 4
  resumed, expected = d_updates(restored, restored_iterator,
                                tf.function(restored.discriminator_step), 3)
  assert [e > 0 for e in expected] == [False, False, True]
  # Bitwise: the same update penalized, by the same value. The logged last
  # penalty is not checkpointed: 0 until the resumed run applies one.
  assert resumed[-1] == continued[-1]
  assert resumed[:2] == [0.0, 0.0]


def test_every_update_is_the_graph_without_the_option(fake_mnist):
  """r1_every=1 builds no tf.cond and gives the numbers of no option."""
  losses, graphs = [], []
  for options in ({}, {"r1_every": 1}):
    keras.utils.set_random_seed(0)
    variant = variants.build("dcgan", r1_gamma=1.0, **options)
    batch = next(iter(variant.make_dataset(fake_mnist, batch_size=BATCH,
                                           seed=0)))
    inputs = variant.sample_inputs(tf.random.Generator.from_seed(0), BATCH)
    loss = tf.function(
        lambda b, i, v=variant: v.discriminator_loss(b, i).per_example)
    losses.append(loss(batch, inputs).numpy())
    graph = loss.get_concrete_function(batch, inputs).graph
    graphs.append(sorted(op.type for op in graph.get_operations()))
  np.testing.assert_array_equal(losses[0], losses[1])
  assert graphs[0] == graphs[1]
  assert not {"If", "StatelessIf"} & set(graphs[0])


def test_lazy_r1_needs_a_counter_and_a_positive_interval(fake_mnist):
  variant = variants.build("gan", r1_gamma=1.0, r1_every=2)
  batch = next(iter(variant.make_dataset(fake_mnist, batch_size=BATCH,
                                         seed=0)))
  inputs = variant.sample_inputs(tf.random.Generator.from_seed(0), BATCH)
  with pytest.raises(UsageError, match="count_updates_with"):
    variant.discriminator_loss(batch, inputs)
  for bad in (0, -16, 2.5):
    with pytest.raises(UsageError, match="r1_every=.* is not a positive"):
      variants.build("dcgan", r1_every=bad)
