"""The penalties as parts of the variants (`Variant.real_probabilities`,
`Variant.gradient_penalty`): each adds its hand value to the discriminator's
loss on every variant that offers it, and a step with it on moves only its
own network."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantape import optimizers as optimizers_lib
from gantape import step as step_lib
from gantape import variants

SHAPE = (8, 8, 1)
CLASSES = 3
BATCH = 4
GAMMA = 3.0
LAMBDA = 7.0


def softmax_discriminator(outputs):
  """D(x) = softmax(x W + b), or sigmoid for one output: the logit's
  gradient in x is a combination of W's columns, computable by hand."""
  activation = "sigmoid" if outputs == 1 else "softmax"
  return keras.Sequential([
      keras.Input(SHAPE), keras.layers.Flatten(),
      keras.layers.Dense(outputs, activation=activation,
                         kernel_initializer=keras.initializers.RandomNormal(
                             stddev=0.3, seed=1),
                         bias_initializer=keras.initializers.RandomNormal(
                             stddev=0.3, seed=2))])


def variant_pair(name, discriminator, penalty, **options):
  """The variant with `options`, without and with the `penalty` options, on
  the same networks."""
  keras.utils.set_random_seed(0)
  data = data_shape(name)
  plain = variants.build(name, discriminator=discriminator, **data, **options)
  penalized = variants.build(name, generator=plain.generator,
                             discriminator=discriminator, **data,
                             **{**options, **penalty})
  return plain, penalized


def data_shape(name):
  """The data's constructor arguments: SHAPE, and CLASSES where labelled."""
  if name in ("cgan", "ssgan"):
    return {"image_shape": SHAPE, "num_classes": CLASSES}
  return {"image_shape": SHAPE}


def batch_and_inputs(variant, seed=0):
  rng = np.random.default_rng(seed)
  shape = (-1,) if variant.flat_images else SHAPE
  images = rng.uniform(size=(BATCH,) + SHAPE).reshape((BATCH,) + shape)
  batch = {"image": tf.constant(images, tf.float32),
           "label": tf.constant(rng.integers(0, CLASSES, BATCH), tf.int32)}
  return batch, variant.sample_inputs(tf.random.Generator.from_seed(seed),
                                      BATCH)


def np_logits_and_kernel(discriminator, images):
  kernel, bias = (w.numpy().astype(np.float64)
                  for w in discriminator.layers[-1].weights)
  flat = images.numpy().reshape(BATCH, -1).astype(np.float64)
  return flat @ kernel + bias, kernel


def np_softmax(logits):
  e = np.exp(logits - logits.max(axis=1, keepdims=True))
  return e / e.sum(axis=1, keepdims=True)


def hand_r1_cgan(discriminator, images, labels):
  """f = l_y - logsumexp_{k != y} l_k: df/dx = W_y - sum_{k != y} q_k W_k,
  q the softmax over the classes other than y."""
  logits, kernel = np_logits_and_kernel(discriminator, images)
  grads = []
  for i, y in enumerate(labels.numpy()):
    others = [k for k in range(CLASSES + 1) if k != y]
    q = np_softmax(logits[i:i + 1, others])[0]
    grads.append(kernel[:, y] - kernel[:, others] @ q)
  return 0.5 * GAMMA * (np.array(grads) ** 2).sum(axis=1)


def hand_r1_ssgan(discriminator, images):
  """r = logsumexp(l_0..l_{K-1}) - l_n: dr/dx = sum_k q_k W_k - W_n, q the
  softmax over the K classes."""
  logits, kernel = np_logits_and_kernel(discriminator, images)
  q = np_softmax(logits[:, :CLASSES])
  grads = q @ kernel[:, :CLASSES].T - kernel[:, CLASSES]
  return 0.5 * GAMMA * (grads ** 2).sum(axis=1)


@pytest.mark.parametrize("name, options", [
    ("cgan", {}), ("ssgan", {"loss_form": "clipped"}),
    ("ssgan", {"loss_form": "logits"})])
def test_r1_changes_the_d_loss_by_its_hand_value(name, options):
  """R1 on the variants with a real/fake output of several classes:
  gamma/2 ||df/dx||^2 per example, logged as its mean."""
  plain, penalized = variant_pair(name, softmax_discriminator(CLASSES + 1),
                                  {"r1_gamma": GAMMA}, **options)
  batch, inputs = batch_and_inputs(plain)
  without = plain.discriminator_loss(batch, inputs)
  with_r1 = penalized.discriminator_loss(batch, inputs)
  expected = (hand_r1_cgan(plain.discriminator, batch["image"], batch["label"])
              if name == "cgan"
              else hand_r1_ssgan(plain.discriminator, batch["image"]))
  assert expected.min() > 1e-2  # else the check could not fail
  np.testing.assert_allclose(
      (with_r1.per_example - without.per_example).numpy(), expected,
      rtol=1e-4)
  np.testing.assert_allclose(float(with_r1.metrics["r1_penalty"]),
                             expected.mean(), rtol=1e-4)
  assert "r1_penalty" not in without.metrics


@pytest.mark.parametrize("name", ["dcgan", "wgan_gp"])
def test_the_gradient_penalty_adds_its_hand_value(name):
  """On a linear logit f = w.x + b the gradient is w at every interpolate:
  GP = lambda (||w|| - 1)^2 per example, on dcgan's sigmoid discriminator
  and on wgan_gp's critic alike."""
  outputs = keras.Sequential([keras.Input(SHAPE), keras.layers.Flatten(),
                              keras.layers.Dense(1)])
  discriminator = (outputs if name == "wgan_gp"
                   else softmax_discriminator(1))
  plain, penalized = variant_pair(name, discriminator, {"gp_weight": LAMBDA},
                                  gp_weight=0.0)
  batch, inputs = batch_and_inputs(penalized)
  assert "epsilon" in inputs and "epsilon" not in batch_and_inputs(plain)[1]
  without = plain.discriminator_loss(batch, inputs)
  with_gp = penalized.discriminator_loss(batch, inputs)
  kernel = discriminator.layers[-1].kernel.numpy().astype(np.float64)
  expected = LAMBDA * (np.linalg.norm(kernel) - 1.0) ** 2
  assert expected > 1e-2
  np.testing.assert_allclose(
      (with_gp.per_example - without.per_example).numpy(),
      np.full(BATCH, expected), rtol=1e-4)
  np.testing.assert_allclose(float(with_gp.metrics["gradient_penalty"]),
                             expected, rtol=1e-4)


def snapshot(variables):
  return [v.numpy().copy() for v in variables]


@pytest.mark.parametrize("updated", ["discriminator", "generator"])
@pytest.mark.parametrize("name, options", [
    ("ssgan", {"r1_gamma": 1.0}), ("cgan", {"r1_gamma": 1.0, "r1_every": 2}),
    ("cgan", {"conditioning": "projection", "r1_gamma": 1.0, "r1_every": 2}),
    ("gan", {"gp_weight": 10.0, "r1_gamma": 1.0})])
def test_a_step_with_penalties_moves_only_its_own_network(name, options,
                                                          updated):
  keras.utils.set_random_seed(0)
  variant = variants.build(name, **data_shape(name), **options)
  d_opt, g_opt = optimizers_lib.make_optimizers(variant)
  step = step_lib.TrainStep(variant, d_opt, g_opt, seed=0)
  batch, inputs = batch_and_inputs(variant)
  other = "generator" if updated == "discriminator" else "discriminator"
  own = getattr(variant, f"{updated}_variables")
  others = getattr(variant, f"{other}_variables")
  own_before, others_before = snapshot(own), snapshot(others)
  metrics = getattr(step, f"{updated}_step")(batch, inputs)  # eagerly: fast
  for old, v in zip(others_before, others):
    np.testing.assert_array_equal(old, v.numpy(), err_msg=v.path)
  assert any(not np.array_equal(old, v.numpy())
             for old, v in zip(own_before, own))
  if updated == "discriminator":
    assert float(metrics["r1_penalty"]) > 0
    assert all(np.isfinite(float(m)) for m in metrics.values())


def drift(critic, real, fake, epsilon, weight):
  """Karras et al. 2018's drift penalty, weight * C(x)^2 on real x."""
  del fake, epsilon
  return weight * tf.square(tf.reshape(critic(real), [-1]))


def test_a_critic_penalty_is_a_function_and_one_registration(monkeypatch):
  """Registered in `settings.CRITIC_PENALTIES` and declared by a variant,
  a penalty reaches the loss and the log with no other code."""
  monkeypatch.setitem(variants.settings.CRITIC_PENALTIES, "drift_weight",
                      ("drift_penalty", drift))

  class DriftDCGAN(variants.dcgan.DCGAN):
    options = variants.dcgan.DCGAN.options + (
        variants.settings.Option("drift_weight", float, 0.0, "drift."),)

  keras.utils.set_random_seed(0)
  discriminator = softmax_discriminator(1)
  plain = DriftDCGAN(image_shape=SHAPE, discriminator=discriminator)
  drifting = DriftDCGAN(image_shape=SHAPE, generator=plain.generator,
                        discriminator=discriminator, drift_weight=0.5)
  batch, inputs = batch_and_inputs(drifting)
  logits, _ = np_logits_and_kernel(discriminator, batch["image"])
  expected = 0.5 * logits[:, 0] ** 2
  assert expected.min() > 1e-4
  with_drift = drifting.discriminator_loss(batch, inputs)
  np.testing.assert_allclose(
      (with_drift.per_example
       - plain.discriminator_loss(batch, inputs).per_example).numpy(),
      expected, rtol=1e-4)
  np.testing.assert_allclose(float(with_drift.metrics["drift_penalty"]),
                             expected.mean(), rtol=1e-4)
