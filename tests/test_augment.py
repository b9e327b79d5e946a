"""DiffAugment against hand-made images."""

import numpy as np
import pytest
import tensorflow as tf

from gantape import augment
from gantape.errors import UsageError

ALL = "color,translation,cutout"


def _images(shape, seed=0):
  return tf.constant(np.random.RandomState(seed).uniform(size=shape),
                     tf.float32)


def _parameters(batch, **values):
  """Parameters of `batch` images, 0.5 unless given (a list per name)."""
  return {name: tf.constant(values.get(name, [0.5] * batch), tf.float32)
          for name in augment.PARAMETERS}


@pytest.mark.parametrize("channels", [1, 3])
def test_every_policy_keeps_shape_and_dtype(channels):
  images = _images([4, 8, 6, channels])
  parameters = augment.sample_parameters(tf.random.Generator.from_seed(1), 4)
  for policy in ["", "color", "translation", "cutout", ALL,
                 "cutout, color"]:
    out = augment.augment(images, parameters, policy)
    assert out.shape == images.shape and out.dtype == images.dtype, policy
  assert augment.augment(images, parameters, "") is images


def test_the_same_seed_gives_the_same_augmentation_and_another_does_not():
  images = _images([6, 8, 8, 3])
  def run(seed):
    rng = tf.random.Generator.from_seed(seed)
    return augment.augment(images, augment.sample_parameters(rng, 6),
                           ALL).numpy()
  np.testing.assert_array_equal(run(3), run(3))
  assert not np.allclose(run(3), run(4))


def test_xla_compiles_it_and_its_gradient_to_the_same_numbers():
  images = _images([4, 8, 8, 3])
  parameters = augment.sample_parameters(tf.random.Generator.from_seed(2), 4)
  weights = _images([4, 8, 8, 3], seed=1)
  def forward_and_gradient(x, p):
    with tf.GradientTape() as tape:
      tape.watch(x)
      out = augment.augment(x, p, ALL)
      loss = tf.reduce_sum(out * weights)
    return out, tape.gradient(loss, x)
  compiled = tf.function(forward_and_gradient, jit_compile=True)
  for got, want in zip(compiled(images, parameters),
                       forward_and_gradient(images, parameters)):
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", ALL])
def test_the_gradient_reaches_the_images(policy):
  images = _images([3, 8, 8, 3])
  parameters = augment.sample_parameters(tf.random.Generator.from_seed(5), 3)
  weights = _images([3, 8, 8, 3], seed=1)  # a loss that is not shift-blind
  with tf.GradientTape() as tape:
    tape.watch(images)
    loss = tf.reduce_sum(augment.augment(images, parameters, policy) * weights)
  gradient = tape.gradient(loss, images).numpy()
  assert np.all(np.isfinite(gradient))
  assert np.count_nonzero(gradient) > gradient.size // 4


def test_translation_moves_the_content_by_the_drawn_shift():
  # 8 x 8: shifts in [-1, 1], from floor(u * 3) - 1.
  image = np.zeros([2, 8, 8, 1], np.float32)
  image[:, 2, 5, 0] = 1.0  # one lit pixel at row 2, column 5
  image[:, 7, 0, 0] = 2.0  # one in the bottom-left corner
  parameters = _parameters(2, translation_y=[0.9, 0.0],
                           translation_x=[0.0, 0.5])
  dy, dx = augment.translation_shifts(parameters, 8, 8)
  np.testing.assert_array_equal(dy.numpy(), [1, -1])
  np.testing.assert_array_equal(dx.numpy(), [-1, 0])
  out = augment.augment(tf.constant(image), parameters, "translation").numpy()
  expected = np.zeros_like(image)
  expected[0, 3, 4, 0] = 1.0  # down 1, left 1; the corner pixel leaves
  expected[1, 1, 5, 0] = 1.0  # up 1
  expected[1, 6, 0, 0] = 2.0
  np.testing.assert_array_equal(out, expected)


def test_translation_spans_an_eighth_of_each_side():
  u = tf.constant([0.0, 0.2, 0.45, 0.55, 0.999], tf.float32)
  dy, dx = augment.translation_shifts(
      {"translation_y": u, "translation_x": u}, 32, 28)
  np.testing.assert_array_equal(dy.numpy(), [-4, -3, 0, 0, 4])  # of 9
  np.testing.assert_array_equal(dx.numpy(), [-3, -2, 0, 0, 3])  # of 7


def test_cutout_zeroes_the_expected_rectangle():
  images = np.ones([2, 8, 6, 3], np.float32)
  # Centres in [0, 8] and [0, 3 - 1 + 1): the hole is 4 x 3.
  parameters = _parameters(2, cutout_y=[4.5 / 9, 0.0], cutout_x=[0.4, 0.0])
  cy, cx = augment.cutout_centers(parameters, 8, 6)
  np.testing.assert_array_equal(cy.numpy(), [4, 0])
  np.testing.assert_array_equal(cx.numpy(), [2, 0])
  out = augment.augment(tf.constant(images), parameters, "cutout").numpy()
  expected = np.ones_like(images)
  expected[0, 2:6, 1:4] = 0.0  # rows 4 - 2 .. 4 + 1, columns 2 - 1 .. 2 + 1
  expected[1, 0:2, 0:2] = 0.0  # clipped at the top-left corner
  np.testing.assert_array_equal(out, expected)


def test_color_is_the_papers_transform_moved_to_zero_one():
  images = _images([2, 4, 4, 3])
  parameters = _parameters(2, brightness=[0.0, 0.9], saturation=[0.25, 1.0],
                           contrast=[0.0, 0.75])
  out = augment.augment(images, parameters, "color").numpy()
  # The paper's ops on [-1, 1] images, mapped back to [0, 1].
  x = images.numpy() * 2.0 - 1.0
  b = np.array([0.0, 0.9]).reshape(-1, 1, 1, 1)
  s = np.array([0.25, 1.0]).reshape(-1, 1, 1, 1)
  c = np.array([0.0, 0.75]).reshape(-1, 1, 1, 1)
  x = x + (b - 0.5)
  m = x.mean(axis=3, keepdims=True)
  x = (x - m) * s * 2 + m
  m = x.mean(axis=(1, 2, 3), keepdims=True)
  x = (x - m) * (c + 0.5) + m
  np.testing.assert_allclose(out, (x + 1.0) / 2.0, rtol=1e-5, atol=1e-6)


def test_saturation_is_the_identity_on_one_channel():
  # s = 0 would make a colour image grey; brightness 1/2 and contrast 1/2
  # are the identity.
  images = _images([1, 4, 4, 1])
  out = augment.adjust_color(images, [0.5], [0.0], [0.5]).numpy()
  np.testing.assert_allclose(out, images.numpy(), rtol=1e-6)


@pytest.mark.parametrize("policy, message", [
    ("colour", "unknown DiffAugment policy 'colour'"),
    ("color,,cutout", "unknown DiffAugment policy ''"),
    ("cutout,cutout", "'cutout' appears more than once"),
])
def test_a_bad_policy_is_refused_with_the_choices(policy, message):
  with pytest.raises(UsageError, match=message) as raised:
    augment.parse_policy(policy)
  assert "color, translation, cutout" in str(raised.value)


def test_policies_parse_in_order():
  assert augment.parse_policy(" translation , color") == ("translation",
                                                          "color")
  assert augment.parse_policy("") == ()


def test_flat_images_are_refused():
  parameters = _parameters(2)
  with pytest.raises(UsageError, match=r"\[B, H, W, C\]"):
    augment.augment(tf.zeros([2, 784]), parameters, "cutout")
