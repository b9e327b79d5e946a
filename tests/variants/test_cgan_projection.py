"""cgan's conditioning option: the post's (N+1)-way discriminator by
default, Miyato & Koyama 2018's projection discriminator on request."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantape import variants
from gantape.errors import UsageError
from gantape.networks import projection

SHAPE = (16, 16, 3)
# The tiny projection discriminator's, linear in the image, for hand values.
SMALL = (4, 4, 1)
CLASSES = 3
BATCH = 4
GAMMA = 3.0


def test_the_default_is_the_n_plus_1_way_discriminator():
  variant = variants.build("cgan", image_shape=SHAPE, num_classes=2,
                           networks="dcgan")
  assert variant.conditioning == "n_plus_1"
  assert variant.discriminator.output_shape == (None, 3)


def test_projection_trains_one_discriminator_and_one_generator_step():
  keras.utils.set_random_seed(0)
  variant = variants.build("cgan", conditioning="projection",
                           image_shape=SHAPE, num_classes=2, networks="dcgan",
                           spectral_norm=True)  # Miyato & Koyama's recipe
  assert variant.projection_loss == "hinge"
  assert any(isinstance(layer, keras.layers.SpectralNormalization)
             and layer.layer.name == "class_embedding"
             for layer in variant.discriminator.layers)
  assert variant.discriminator.output_shape == (None, 1)
  assert any(isinstance(layer, projection.ConditionalBatchNormalization)
             for layer in variant.generator.layers)
  rng = tf.random.Generator.from_seed(1)
  batch = {"image": rng.uniform((4,) + SHAPE),
           "label": tf.constant([0, 1, 1, 0], tf.int32)}
  for network, loss in ((variant.discriminator, variant.discriminator_loss),
                        (variant.generator, variant.generator_loss)):
    before = [v.numpy() for v in network.trainable_variables]
    inputs = variant.sample_inputs(rng, 4)
    with tf.GradientTape() as tape:
      output = loss(batch, inputs)
      value = tf.reduce_mean(output.per_example)
    assert output.per_example.shape == (4,)
    gradients = tape.gradient(value, network.trainable_variables)
    assert np.isfinite(value.numpy())
    assert all(g is not None for g in gradients)
    keras.optimizers.Adam(2e-4, 0.0, 0.9).apply(
        gradients, network.trainable_variables)
    assert any(not np.array_equal(b, v.numpy())
               for b, v in zip(before, network.trainable_variables))
  assert set(output.metrics) == {"g_fake"}


@pytest.mark.parametrize("options,match", [
    ({"label_smoothing": 0.1}, "label_smoothing=0.1 does not apply to the "
     "'hinge' loss of conditioning='projection'; use projection_loss='ns'"),
    ({"projection_loss": "seed"}, "projection_loss"),
])
def test_projection_refuses_what_it_cannot_take(options, match):
  with pytest.raises(UsageError, match=match):
    variants.build("cgan", conditioning="projection", image_shape=SMALL,
                   num_classes=CLASSES, **options)



def linear_projection():
  """f(x, y) = w.x + b + <E[y], x>, phi(x) = x flattened: grad_x f = w +
  E[y]. Returns the discriminator, psi (w, b) and the embedding (E)."""
  init = keras.initializers.RandomNormal(stddev=0.3, seed=1)
  body = keras.Sequential([
      keras.Input(SMALL), keras.layers.Flatten(),
      keras.layers.Dense(1, kernel_initializer=init, bias_initializer=init)])
  discriminator = projection.with_projection(body, CLASSES, "linear")
  return (discriminator, body.layers[-1],
          discriminator.get_layer("class_embedding"))


def projection_pair(penalty, **options):
  """cgan with projection on `linear_projection`, without and with the
  `penalty` options, on the same networks, and a batch whose labels differ
  from the generated ones."""
  keras.utils.set_random_seed(0)
  discriminator, psi, embedding = linear_projection()
  common = dict(conditioning="projection", image_shape=SMALL,
                num_classes=CLASSES, discriminator=discriminator, **options)
  plain = variants.build("cgan", **common)
  penalized = variants.build("cgan", generator=plain.generator,
                             **{**common, **penalty})
  inputs = plain.sample_inputs(tf.random.Generator.from_seed(2), BATCH)
  images = np.random.default_rng(3).uniform(size=(BATCH,) + SMALL)
  batch = {"image": tf.constant(images, tf.float32),
           "label": (inputs["labels"] + 1) % CLASSES}
  return plain, penalized, batch, inputs, (psi, embedding)


def hand_r1(weights, labels, gamma=GAMMA):
  """gamma / 2 ||w + E[y]||^2 per example, in float64."""
  psi, embedding = weights
  w = psi.kernel.numpy().astype(np.float64)[:, 0]
  table = embedding.kernel.numpy().astype(np.float64)
  return 0.5 * gamma * ((w + table[labels.numpy()]) ** 2).sum(axis=1)


def hand_logits(weights, batch):
  psi, embedding = weights
  flat = batch["image"].numpy().reshape(BATCH, -1).astype(np.float64)
  w = psi.kernel.numpy().astype(np.float64)[:, 0]
  table = embedding.kernel.numpy().astype(np.float64)
  return (flat * (w + table[batch["label"].numpy()])).sum(axis=1) + float(
      psi.bias.numpy()[0])


@pytest.mark.parametrize("projection_loss", ["hinge", "ns"])
def test_r1_adds_half_gamma_times_the_squared_image_gradient_of_the_logit(
    projection_loss):
  """R1 on the projection logit f(x, y) at the real (x, y), differentiated
  with respect to the image: the same with every loss."""
  plain, penalized, batch, inputs, weights = projection_pair(
      {"r1_gamma": GAMMA}, projection_loss=projection_loss)
  without = plain.discriminator_loss(batch, inputs)
  with_r1 = penalized.discriminator_loss(batch, inputs)
  expected = hand_r1(weights, batch["label"])
  assert expected.min() > 1e-2  # else the check could not fail
  # The generated labels would give other values: the real ones are used.
  assert not np.allclose(hand_r1(weights, inputs["labels"]), expected)
  np.testing.assert_allclose(
      (with_r1.per_example - without.per_example).numpy(), expected,
      rtol=1e-4)
  np.testing.assert_allclose(float(with_r1.metrics["r1_penalty"]),
                             expected.mean(), rtol=1e-4)
  np.testing.assert_allclose(float(with_r1.metrics["d_real"]),
                             float(without.metrics["d_real"]), rtol=1e-6)
  assert "r1_penalty" not in without.metrics


def test_lazy_r1_applies_on_one_update_in_n_weighted_by_n():
  every = 3
  plain, penalized, batch, inputs, weights = projection_pair(
      {"r1_gamma": GAMMA, "r1_every": every})
  counter = tf.Variable(0, dtype=tf.int64)
  penalized.count_updates_with(counter)

  without = plain.discriminator_loss(batch, inputs).per_example

  @tf.function
  def loss(batch, inputs):
    output = penalized.discriminator_loss(batch, inputs)
    return output.per_example, output.metrics["r1_penalty"]

  expected = hand_r1(weights, batch["label"])
  for update in range(4):
    counter.assign(update)
    with_r1, logged = loss(batch, inputs)
    penalty = with_r1 - without
    due = update % every == 0
    np.testing.assert_allclose(penalty.numpy(),
                               every * expected if due else 0 * expected,
                               rtol=1e-4, atol=1e-6)
    # The last penalty applied, without the weight N.
    np.testing.assert_allclose(float(logged), expected.mean(), rtol=1e-4)
  assert loss.experimental_get_tracing_count() == 1


def test_label_smoothing_with_the_ns_loss_adds_s_times_the_real_logit():
  """(1 - s) softplus(-f) + s softplus(f) - softplus(-f) = s f."""
  plain, smoothed, batch, inputs, weights = projection_pair(
      {"label_smoothing": 0.1}, projection_loss="ns")
  np.testing.assert_allclose(
      (smoothed.discriminator_loss(batch, inputs).per_example
       - plain.discriminator_loss(batch, inputs).per_example).numpy(),
      0.1 * hand_logits(weights, batch), rtol=1e-4, atol=1e-6)


def test_projection_takes_the_seeds_networks_at_28x28():
  variant = variants.build("cgan", conditioning="projection", num_classes=10)
  assert variant.generator.input_shape == [(None, 100), (None,)]
  assert variant.discriminator.output_shape == (None, 1)


def test_resnet_has_no_n_plus_1_pair():
  with pytest.raises(UsageError, match="no conditional pair"):
    variants.build("cgan", image_shape=SHAPE, num_classes=2,
                   networks="resnet")
