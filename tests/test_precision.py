"""Mixed precision: dtype policies, float32 losses, float16 loss scaling."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantape import penalties
from gantape import precision
from gantape import optimizers as optimizers_lib
from gantape import step as step_lib
from gantape import train as train_lib
from gantape import variants
from gantape.errors import UsageError

BATCH = 8
MIXED = [precision.MIXED_FLOAT16, precision.MIXED_BFLOAT16]
# Each variant with its penalty on: R1 where it has one (WGAN-GP always
# has its gradient penalty).
OPTIONS = {"gan": {"r1_gamma": 1.0}, "dcgan": {"r1_gamma": 1.0},
           "cgan": {"r1_gamma": 1.0}, "wgan_gp": {"n_critic": 2},
           "ssgan": {}}


def make_step(name, mnist, policy=None, options=None, seed=0, **kwargs):
  keras.utils.set_random_seed(seed)
  with precision.policy(policy or precision.FLOAT32):
    variant = variants.build(name, **(options or {}))
  d_opt, g_opt = optimizers_lib.make_optimizers(variant)
  step = step_lib.TrainStep(
      variant, d_opt, g_opt, seed=seed,
      options=step_lib.StepOptions(precision=policy, **kwargs))
  iterator = step.make_iterator(
      variant.make_dataset(mnist, batch_size=BATCH, seed=seed))
  return step, iterator


def all_finite(metrics):
  return all(np.isfinite(float(v)) for v in metrics.values())


@pytest.mark.parametrize("policy", MIXED)
@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_a_few_iterations_stay_finite_with_float32_weights(name, policy,
                                                          fake_mnist):
  step, iterator = make_step(name, fake_mnist, policy, OPTIONS[name])
  assert step.variant.discriminator.compute_dtype == policy.split("_")[1]
  metrics = step(iterator, 3)
  assert all_finite(metrics), metrics
  assert int(step.global_step.numpy()) == 3
  for v in step.variant.generator.variables + step.variant.discriminator.variables:
    assert v.dtype == "float32", v.path
  assert ("d_loss_scale" in metrics) == (policy == precision.MIXED_FLOAT16)
  assert metrics["d_loss"].dtype == tf.float32


def test_float32_is_bitwise_what_no_precision_gives(fake_mnist):
  results = []
  for policy in (None, precision.FLOAT32):
    step, iterator = make_step("dcgan", fake_mnist, policy,
                               {"r1_gamma": 1.0}, updates_per_batch=2)
    metrics = step(iterator, 2)
    results.append(({k: v.numpy() for k, v in metrics.items()},
                    [v.numpy() for v in step.variant.generator.variables
                     + step.variant.discriminator.variables]))
    assert not isinstance(step.d_optimizer,
                          keras.optimizers.LossScaleOptimizer)
  (metrics_a, weights_a), (metrics_b, weights_b) = results
  assert metrics_a.keys() == metrics_b.keys()
  for key in metrics_a:
    np.testing.assert_array_equal(metrics_a[key], metrics_b[key], key)
  for a, b in zip(weights_a, weights_b):
    np.testing.assert_array_equal(a, b)


def test_an_overflow_halves_the_scale_and_skips_the_update(fake_mnist):
  step, iterator = make_step("dcgan", fake_mnist, precision.MIXED_FLOAT16,
                             {"r1_gamma": 1.0})
  update = tf.function(step.discriminator_step)
  weights = [v.numpy() for v in step.variant.discriminator_variables]
  step.d_optimizer.dynamic_scale.assign(2.0 ** 60)  # float16 overflows
  metrics = update(next(iterator), step.variant.sample_inputs(step.rng, BATCH))
  assert float(step.d_optimizer.dynamic_scale.numpy()) == 2.0 ** 59
  assert float(metrics["d_loss_scale"]) == 2.0 ** 59
  assert float(metrics["d_grad_norm"]) == 0.0  # reported as skipped
  for before, v in zip(weights, step.variant.discriminator_variables):
    np.testing.assert_array_equal(before, v.numpy())
  assert int(step.d_optimizer.iterations.numpy()) == 0
  step.d_optimizer.dynamic_scale.assign(2.0 ** 10)
  metrics = update(next(iterator), step.variant.sample_inputs(step.rng, BATCH))
  assert float(metrics["d_grad_norm"]) > 0 and all_finite(metrics)
  assert int(step.d_optimizer.iterations.numpy()) == 1
  assert float(step.d_optimizer.dynamic_scale.numpy()) == 2.0 ** 10


def test_the_scale_grows_after_clean_updates(fake_mnist):
  step, iterator = make_step("gan", fake_mnist, precision.MIXED_FLOAT16)
  step.d_optimizer.dynamic_growth_steps = 2
  step.d_optimizer.dynamic_scale.assign(4.0)
  update = tf.function(step.discriminator_step)
  for _ in range(2):
    update(next(iterator), step.variant.sample_inputs(step.rng, BATCH))
  assert float(step.d_optimizer.dynamic_scale.numpy()) == 8.0


def tiny_slope_model():
  """x -> w2 (w1 . x) in float16, with d/dx = w1 w2 = 2e-8 per pixel, below
  float16's smallest subnormal (6e-8) though w1 and w2 are not."""
  with precision.policy(precision.MIXED_FLOAT16):
    model = keras.Sequential([
        keras.Input([784]),
        keras.layers.Dense(1, use_bias=False, kernel_initializer="ones"),
        keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")])
  model.layers[0].kernel.assign(np.full([784, 1], 1e-2, np.float32))
  model.layers[1].kernel.assign([[2e-6]])
  slope = float(np.float16(1e-2)) * float(np.float16(2e-6))
  return model, slope


@pytest.mark.parametrize("scale", [None, 2.0 ** 15])
def test_penalties_inner_gradients_survive_float16(scale):
  """The inner gradient of R1 and of WGAN-GP through a float16 network: the
  loss scale keeps it; unscaled, float16 rounds it to 0."""
  model, slope = tiny_slope_model()
  x = tf.random.uniform([4, 784])
  with precision.inner_scale(None if scale is None else tf.constant(scale)):
    with tf.GradientTape() as tape:
      tape.watch(x)
      target = precision.scale_inner(tf.reduce_sum(precision.to_float32(
          model(x))))
    gradient = precision.unscale_inner(tape.gradient(target, x))
    penalty = penalties.gradient_penalty(model, x, tf.zeros_like(x),
                                      tf.ones([4]), weight=1.0)
  assert gradient.dtype == tf.float32 and penalty.dtype == tf.float32
  if scale is None:
    assert float(tf.reduce_max(tf.abs(gradient))) == 0.0
    return
  np.testing.assert_allclose(gradient.numpy(), slope, rtol=1e-2)
  # The same penalty from float32 x -> slope * sum(x); GP is near 1, so
  # compare how far from 1 each is.
  reference = penalties.gradient_penalty(
      lambda images: slope * tf.reduce_sum(images, axis=1), x,
      tf.zeros_like(x), tf.ones([4]), weight=1.0)
  np.testing.assert_allclose(1.0 - penalty.numpy(), 1.0 - reference.numpy(),
                             rtol=0.02)


def test_r1_under_float16_matches_float32(fake_mnist):
  """The R1 penalty through the step's loss scaling agrees with float32's."""
  penalties = []
  for policy in (precision.FLOAT32, precision.MIXED_FLOAT16):
    step, iterator = make_step("dcgan", fake_mnist, policy, {"r1_gamma": 1.0})
    metrics = tf.function(step.discriminator_step)(
        next(iterator), step.variant.sample_inputs(step.rng, BATCH))
    penalties.append(float(metrics["r1_penalty"]))
  assert penalties[0] > 0
  np.testing.assert_allclose(penalties[1], penalties[0], rtol=0.05)


def test_a_checkpoint_resumes_the_loss_scale(fake_mnist, tmp_path):
  step, iterator = make_step("gan", fake_mnist, precision.MIXED_FLOAT16)
  step(iterator, 2)
  step.d_optimizer.dynamic_scale.assign(64.0)
  path = tf.train.Checkpoint(**step.checkpoint_items()).save(
      str(tmp_path / "ckpt"))
  restored, _ = make_step("gan", fake_mnist, precision.MIXED_FLOAT16, seed=3)
  tf.train.Checkpoint(**restored.checkpoint_items()).restore(
      path).assert_consumed()
  assert float(restored.d_optimizer.dynamic_scale.numpy()) == 64.0
  assert int(restored.global_step.numpy()) == 2
  for a, b in zip(step.d_optimizer.variables, restored.d_optimizer.variables):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_the_step_refuses_networks_of_another_precision():
  variant = variants.build("gan")
  d_opt, g_opt = optimizers_lib.make_optimizers(variant)
  with pytest.raises(UsageError, match=r"built under the dtype policy "
                     r"float32, not mixed_float16; build it inside "
                     r"gantape.precision.policy\('mixed_float16'\)"):
    step_lib.TrainStep(variant, d_opt, g_opt,
                       options=step_lib.StepOptions(precision="mixed_float16"))
  with pytest.raises(UsageError, match="unknown precision 'float8'"):
    step_lib.TrainStep(variant, d_opt, g_opt,
                       options=step_lib.StepOptions(precision="float8"))
  assert keras.mixed_precision.global_policy().name == "float32"


def test_a_run_resumes_under_its_own_precision_only(tmp_path, fake_mnist):
  """Training under mixed_float16 writes samples and checkpoints, resumes
  under the same policy (loss scale and all), and refuses another."""
  run = train_lib.TrainConfig(
      workdir=str(tmp_path), variant="gan", steps=2, batch_size=BATCH,
      iterations_per_call=1, log_every=1, sample_every=2, checkpoint_every=1,
      precision=precision.MIXED_FLOAT16)
  result = train_lib.train(run, dataset=fake_mnist, log=lambda line: None)
  assert result.iterations == 2
  assert keras.mixed_precision.global_policy().name == "float32"
  result = train_lib.train(dataclasses.replace(run, steps=3),
                           dataset=fake_mnist, log=lambda line: None)
  assert result.iterations == 3
  assert all(np.isfinite(v) for v in result.final_metrics.values())
  with pytest.raises(UsageError, match="holds a run with "
                     "precision='mixed_float16', not 'float32'"):
    train_lib.train(dataclasses.replace(run, steps=4, precision="float32"),
                    dataset=fake_mnist)
