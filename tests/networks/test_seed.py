"""The seed's architectures: layer order and parameter counts."""

import keras
import numpy as np
import pytest

from gantape import networks
from gantape.networks import salimans as salimans_networks
from gantape.networks import seed
from gantape.errors import UsageError


def layer_kinds(model):
  return [type(layer).__name__ for layer in model.layers]


def dense(n_in, n_out):
  return n_in * n_out + n_out


def conv(k, c_in, c_out):
  return k * k * c_in * c_out + c_out


def batch_norm(c):  # gamma, beta trainable; moving mean and variance not.
  return 4 * c


CONV_GENERATOR_LAYERS = [
    "Dense", "BatchNormalization", "LeakyReLU", "Reshape", "UpSampling2D",
    "Conv2DTranspose", "BatchNormalization", "LeakyReLU", "UpSampling2D",
    "Conv2DTranspose"]


def conv_generator_params(input_dim):
  return (dense(input_dim, 3136) + batch_norm(3136) + conv(3, 64, 64)
          + batch_norm(64) + conv(3, 64, 1))


def conv_discriminator_params(outputs, bn=True):
  norm = batch_norm if bn else (lambda c: 0)
  return (conv(3, 1, 64) + norm(64) + conv(3, 64, 64) + norm(64)
          + dense(7 * 7 * 64, 128) + norm(128) + dense(128, outputs))


def test_mlp_networks():
  g, d = seed.mlp_generator(), seed.mlp_discriminator()
  assert layer_kinds(g) == ["Dense", "Dense"]
  assert layer_kinds(d) == ["Dense", "Dense"]
  assert g.count_params() == dense(100, 128) + dense(128, 784) == 114_064
  assert d.count_params() == dense(784, 128) + dense(128, 1) == 100_609
  assert g.output_shape == (None, 784)
  assert [layer.activation.__name__ for layer in g.layers] == ["relu", "sigmoid"]
  assert [layer.activation.__name__ for layer in d.layers] == ["relu", "sigmoid"]


def test_conv_generator():
  g = seed.conv_generator()
  assert layer_kinds(g) == CONV_GENERATOR_LAYERS
  assert g.count_params() == conv_generator_params(100) == 367_041
  assert g.output_shape == (None, 28, 28, 1)
  assert g.layers[-1].activation.__name__ == "sigmoid"
  assert g.layers[2].negative_slope == pytest.approx(0.3)  # Keras 2's alpha


@pytest.mark.parametrize("outputs,activation", [(1, "sigmoid"), (11, "softmax")])
def test_conv_discriminator(outputs, activation):
  d = seed.conv_discriminator(outputs, output_activation=activation)
  assert layer_kinds(d) == [
      "Conv2D", "BatchNormalization", "LeakyReLU", "MaxPooling2D",
      "Conv2D", "BatchNormalization", "LeakyReLU", "MaxPooling2D",
      "Flatten", "Dense", "BatchNormalization", "LeakyReLU", "Dense"]
  assert d.count_params() == conv_discriminator_params(outputs)
  assert d.output_shape == (None, outputs)
  assert d.layers[-1].activation.__name__ == activation


@pytest.mark.parametrize("make,activation", [
    (seed.mlp_discriminator, keras.activations.sigmoid),
    (lambda: seed.conv_discriminator(11, output_activation="softmax"),
     keras.activations.softmax),
    (salimans_networks.salimans_discriminator, keras.activations.softmax)])
def test_logits_view_is_the_discriminator_before_its_activation(make,
                                                               activation):
  d = make()
  weights_before = len(d.weights)
  logits = networks.logits_view(d)
  images = np.random.default_rng(0).uniform(
      size=(4,) + tuple(d.input_shape[1:])).astype(np.float32)
  np.testing.assert_allclose(
      activation(logits(images, training=False)).numpy(),
      d(images, training=False).numpy(), rtol=1e-5, atol=1e-7)
  assert len(d.weights) == weights_before  # it shares, it adds nothing
  flatten_last = keras.Sequential([keras.Input((3, 1)), keras.layers.Flatten()])
  with pytest.raises(UsageError, match="not an Activation, Dense or WeightNormDense"):
    networks.logits_view(flatten_last)


def test_features_view_is_the_final_layers_input_on_shared_variables():
  d = seed.conv_discriminator(11, output_activation="softmax")
  features = networks.features_view(d)
  images = np.random.default_rng(0).uniform(size=(4, 28, 28, 1)).astype(
      np.float32)
  out = features(images, training=False)
  assert out.shape == (4, 128)
  last = d.layers[-1]
  np.testing.assert_allclose(
      keras.activations.softmax(out @ last.kernel + last.bias).numpy(),
      d(images, training=False).numpy(), rtol=1e-5, atol=1e-7)
  shared = {id(v) for v in d.weights} - {id(v) for v in last.weights}
  assert {id(v) for v in features.weights} == shared


def test_wgan_critic_has_no_batch_norm_and_linear_output():
  d = seed.conv_discriminator(1, output_activation=None, batch_norm=False)
  assert "BatchNormalization" not in layer_kinds(d)
  assert d.count_params() == conv_discriminator_params(1, bn=False)
  assert d.layers[-1].activation.__name__ == "linear"


def test_conditional_generator_conditions_on_one_hot_labels():
  g = seed.conditional_generator()
  body = g.get_layer("conv_generator_body")
  assert layer_kinds(body) == CONV_GENERATOR_LAYERS
  assert g.count_params() == conv_generator_params(110)
  assert g.output_shape == (None, 28, 28, 1)


def test_salimans_networks():
  g = salimans_networks.salimans_generator()
  # Two Dense(500, no bias) + BN(beta, moving mean/var), then
  # WeightNormDense(784): v, g, b and its `initialized` flag.
  assert g.count_params() == (100 * 500 + 3 * 500 + 500 * 500 + 3 * 500
                              + 500 * 784 + 2 * 784 + 1)
  assert g.layers[-2].train_scale
  images = g(np.zeros((2, 100), np.float32), training=False).numpy()
  assert images.shape == (2, 28, 28, 1)
  assert ((images > 0) & (images < 1)).all()

  d = salimans_networks.salimans_discriminator()
  units = [784, 1000, 500, 250, 250, 250, 10]
  # Per WeightNormDense: v, b, g and the `initialized` flag; the 11th
  # output, "fake", is a constant 0 logit with no weights.
  assert d.count_params() == sum(a * b + 2 * b + 1
                                 for a, b in zip(units, units[1:]))
  assert d.output_shape == (None, 11)
  # Only the output layer trains its scale g.
  assert len(d.trainable_variables) == 2 * 6 + 1
  x = np.random.default_rng(0).uniform(size=(3, 28, 28, 1)).astype(np.float32)
  inference = d(x, training=False).numpy()
  np.testing.assert_allclose(inference.sum(axis=1), 1.0, rtol=1e-5)
  # The Gaussian noise acts in training mode only.
  np.testing.assert_array_equal(inference, d(x, training=False).numpy())
  assert not np.allclose(d(x, training=True).numpy(),
                         d(x, training=True).numpy())
  assert networks.features_view(d).output_shape == (None, 250)
  # Before the last noise: the output of the last WeightNormDense(250).
  before_noise = networks.features_view(d, before_noise=True)
  assert isinstance(before_noise.layers[-1], salimans_networks.WeightNormDense)
  assert isinstance(networks.features_view(d).layers[-1],
                    keras.layers.GaussianNoise)
  np.testing.assert_array_equal(before_noise(x, training=False).numpy(),
                                networks.features_view(d)(
                                    x, training=False).numpy())


def test_zero_logit_is_a_constant_last_logit():
  layer = salimans_networks.WeightNormDense(3, zero_logit=True)
  model = keras.Sequential([keras.Input((4,)), layer,
                            keras.layers.Activation("softmax")])
  x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
  logits = layer.linear(x).numpy()
  assert logits.shape == (5, 4)
  np.testing.assert_array_equal(logits[:, 3], 0.0)
  np.testing.assert_allclose(logits[:, :3], layer.pre_activation(x).numpy()
                             + layer.b.numpy(), rtol=1e-6)
  probs = model(x).numpy()
  np.testing.assert_allclose(
      probs[:, 3], 1 / (1 + np.exp(logits[:, :3].astype(np.float64)).sum(1)),
      rtol=1e-5)
  assert layer.v.shape == (4, 3)
  restored = salimans_networks.WeightNormDense.from_config(layer.get_config())
  assert restored.zero_logit and restored.units == 3


def test_weight_norm_dense_and_its_data_dependent_init():
  layer = salimans_networks.WeightNormDense(5, activation="relu")
  model = keras.Sequential([keras.Input((7,)), layer])
  rng = np.random.default_rng(0)
  x = (3 * rng.normal(size=(64, 7)) + 1).astype(np.float32)
  v = layer.v.numpy().astype(np.float64)
  direction = v / np.linalg.norm(v, axis=0)
  pre = x @ direction  # g starts at 1, b at 0
  np.testing.assert_allclose(layer(x).numpy(), np.maximum(pre, 0), atol=1e-5)

  salimans_networks.initialize_weight_norm(model, x)
  np.testing.assert_allclose(layer.g.numpy(), 1 / pre.std(0), rtol=1e-4)
  np.testing.assert_allclose(layer.b.numpy(), -pre.mean(0) / pre.std(0),
                             rtol=1e-4, atol=1e-6)
  standardized = (pre - pre.mean(0)) / pre.std(0)
  np.testing.assert_allclose(model(x, training=True).numpy(),
                             np.maximum(standardized, 0), atol=1e-4)
  g, b = layer.g.numpy(), layer.b.numpy()
  salimans_networks.initialize_weight_norm(model, 2 * x)  # once only
  np.testing.assert_array_equal(layer.g.numpy(), g)
  np.testing.assert_array_equal(layer.b.numpy(), b)

  assert [w.name for w in layer.trainable_weights] == ["v", "b"]
  scaled = salimans_networks.WeightNormDense(3, train_scale=True)
  scaled.build((None, 7))
  assert [w.name for w in scaled.trainable_weights] == ["v", "g", "b"]
