"""Projection conditioning: class-conditional BatchNorm, the projection head,
the registry's "projection" pairs, their steps and checkpoints."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantape import networks
from gantape.errors import UsageError
from gantape.networks import projection

SHAPE = (16, 16, 3)
CLASSES = 2


def _inputs(seed, batch=4, noise_dim=networks.NOISE_DIM):
  rng = np.random.default_rng(seed)
  noise = tf.constant(rng.uniform(-1, 1, (batch, noise_dim)), tf.float32)
  labels = tf.constant(np.arange(batch) % CLASSES, tf.int32)
  return noise, labels


def _by_name(model, part):
  found = [v for v in model.weights if part in v.path]
  assert found, f"no variable {part!r} in {model.name}"
  return found


@pytest.mark.parametrize("family", ["seed", "dcgan", "resnet"])
def test_each_projection_pair_maps_noise_and_labels_to_images_to_one_logit(
    family):
  g, d = networks.build_pair(family, "projection", image_shape=SHAPE,
                             num_classes=CLASSES, spectral_norm=True)
  noise, labels = _inputs(0)
  images = g([noise, labels], training=True)
  assert images.shape == (4,) + SHAPE
  logits = d([images, labels], training=True)
  assert logits.shape == (4, 1) and logits.dtype == tf.float32
  assert networks.returns_logits(d)
  wrapped = {type(layer.layer).__name__ for layer in d.layers
             if isinstance(layer, keras.layers.SpectralNormalization)}
  assert wrapped == {"Conv2D", "Dense"}
  assert any(isinstance(layer, keras.layers.SpectralNormalization)
             and layer.layer.name == "class_embedding" for layer in d.layers)
  cbn = [layer for layer in g.layers
         if isinstance(layer, projection.ConditionalBatchNormalization)]
  assert cbn and all(layer.gamma.shape[0] == CLASSES for layer in cbn)


def test_the_seeds_pair_takes_28x28_and_mlp_and_salimans_have_none():
  assert networks.families_for("projection") == ("seed", "dcgan", "resnet")
  g, d = networks.build_pair("seed", "projection", num_classes=CLASSES)
  noise, labels = _inputs(6)
  images = g([noise, labels], training=True)
  assert images.shape == (4, 28, 28, 1)
  assert d([images, labels], training=True).shape == (4, 1)
  for family in ("mlp", "salimans"):
    with pytest.raises(UsageError, match="no projection pair"):
      networks.build_pair(family, "projection")


def test_conditional_batch_norm_is_gamma_of_the_class_times_x_hat_plus_beta():
  rng = np.random.default_rng(1)
  x = rng.normal(2.0, 3.0, (6, 2, 2, 3)).astype(np.float32)
  labels = np.array([0, 1, 1, 0, 1, 0], np.int32)
  layer = projection.ConditionalBatchNormalization(CLASSES, epsilon=1e-3)
  layer([tf.constant(x), tf.constant(labels)], training=False)  # builds
  np.testing.assert_array_equal(layer.gamma.numpy(), np.ones((CLASSES, 3)))
  np.testing.assert_array_equal(layer.beta.numpy(), np.zeros((CLASSES, 3)))
  gamma = rng.normal(size=(CLASSES, 3)).astype(np.float32)
  beta = rng.normal(size=(CLASSES, 3)).astype(np.float32)
  layer.gamma.assign(gamma)
  layer.beta.assign(beta)
  out = layer([tf.constant(x), tf.constant(labels)], training=True)
  mean = x.mean(axis=(0, 1, 2))
  x_hat = (x - mean) / np.sqrt(x.var(axis=(0, 1, 2)) + 1e-3)
  expected = (gamma[labels][:, None, None, :] * x_hat
              + beta[labels][:, None, None, :])
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


def test_the_projection_logit_is_psi_of_phi_plus_the_class_embedding_dot_phi():
  rng = np.random.default_rng(2)
  body = keras.Sequential([keras.Input((5,), name="image"),
                           keras.layers.Dense(1)])
  d = projection.with_projection(body, 3, "head")
  kernel, bias = rng.normal(size=(5, 1)), rng.normal(size=(1,))
  embed = rng.normal(size=(3, 5))
  body.layers[-1].set_weights([kernel, bias])
  _by_name(d, "class_embedding")[0].assign(embed)
  phi = rng.normal(size=(4, 5)).astype(np.float32)
  labels = np.array([2, 0, 1, 2], np.int32)
  logits = d([tf.constant(phi), tf.constant(labels)], training=False)
  expected = phi @ kernel + bias + (embed[labels] * phi).sum(1, keepdims=True)
  np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)


def _step(loss_fn, variables):
  with tf.GradientTape() as tape:
    loss = loss_fn()
  grads = tape.gradient(loss, variables)
  assert all(g is not None for g in grads)
  keras.optimizers.SGD(0.1).apply_gradients(zip(grads, variables))


def test_a_gradient_step_changes_its_own_networks_variables_only():
  tf.random.set_seed(0)
  g, d = networks.build_pair("dcgan", "projection", image_shape=SHAPE,
                             num_classes=CLASSES)
  noise, labels = _inputs(3)
  real = tf.random.uniform((4,) + SHAPE, seed=1)

  def d_loss():
    fake = tf.stop_gradient(g([noise, labels], training=True))
    return tf.reduce_mean(tf.nn.relu(1 - d([real, labels], training=True))
                          + tf.nn.relu(1 + d([fake, labels], training=True)))

  def g_loss():
    return -tf.reduce_mean(d([g([noise, labels], training=True), labels],
                             training=True))

  # The hinge loss's gradient on psi's bias is 0 when every logit is inside
  # the margins, so the checks are on the embeddings, which must move.
  steps = ((d_loss, d, g, ["class_embedding"]),
           (g_loss, g, d, ["gamma_embeddings", "beta_embeddings"]))
  for loss, own, other, moved in steps:
    before = [v.numpy() for v in other.trainable_variables]
    embeddings = [v for part in moved for v in _by_name(own, part)]
    was = [v.numpy() for v in embeddings]
    _step(loss, own.trainable_variables)
    for value, now in zip(before, other.trainable_variables):
      np.testing.assert_array_equal(value, now.numpy())
    for value, now in zip(was, embeddings):
      assert not np.array_equal(value, now.numpy()), now.path


def test_a_checkpoint_restores_the_embeddings(tmp_path):
  def build():
    return networks.build_pair("resnet", "projection", image_shape=SHAPE,
                               num_classes=CLASSES, spectral_norm=True)

  g, d = build()
  noise, labels = _inputs(4)
  d([g([noise, labels], training=True), labels], training=True)
  rng = np.random.default_rng(5)
  embeddings = (_by_name(g, "gamma_embeddings") + _by_name(g, "beta_embeddings")
                + _by_name(d, "class_embedding"))
  for v in embeddings:
    v.assign(rng.normal(size=v.shape))
  path = tf.train.Checkpoint(generator=g, discriminator=d).write(
      os.path.join(tmp_path, "ckpt"))
  fresh_g, fresh_d = build()
  tf.train.Checkpoint(generator=fresh_g, discriminator=fresh_d).read(
      path).assert_consumed()
  # Checkpoints match by object graph; auto-numbered paths may differ.
  for mine, theirs in zip(fresh_g.weights + fresh_d.weights,
                          g.weights + d.weights):
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
  images = g([noise, labels], training=False)
  np.testing.assert_array_equal(fresh_g([noise, labels], training=False),
                                images)
  np.testing.assert_array_equal(fresh_d([images, labels], training=False),
                                d([images, labels], training=False))
