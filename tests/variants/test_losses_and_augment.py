"""The losses, spectral normalization and DiffAugment as options of gan,
dcgan and wgan_gp (`settings.LOSS`, `settings.SPECTRAL_NORM`,
`settings.DIFFAUGMENT`): each loss's hand value, the seed's numbers
unchanged by the defaults, a spectrally normalized step and its checkpoint,
an augmented step under XLA, and the refusals."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantape import losses
from gantape import optimizers as optimizers_lib
from gantape import step as step_lib
from gantape import variants
from gantape.errors import UsageError

SHAPE = (8, 8, 1)
BATCH = 4
POLICY = "color,translation,cutout"


def linear_discriminator():
  """D(x) = sigmoid(x W + b): its logit is computable by hand."""
  return keras.Sequential([
      keras.Input(SHAPE), keras.layers.Flatten(),
      keras.layers.Dense(1, activation="sigmoid",
                         kernel_initializer=keras.initializers.RandomNormal(
                             stddev=0.5, seed=1),
                         bias_initializer=keras.initializers.RandomNormal(
                             stddev=0.5, seed=2))])


def build(name="dcgan", **options):
  keras.utils.set_random_seed(0)
  return variants.build(name, image_shape=SHAPE, **options)


def batch_and_inputs(variant, seed=0):
  images = np.random.default_rng(seed).uniform(size=(BATCH,) + SHAPE)
  batch = {"image": tf.constant(images, tf.float32),
           "label": tf.zeros([BATCH], tf.int32)}
  return batch, variant.sample_inputs(tf.random.Generator.from_seed(seed),
                                      BATCH)


def hand_logits(discriminator, images):
  kernel, bias = (w.numpy().astype(np.float64)
                  for w in discriminator.layers[-1].weights)
  flat = np.asarray(images, np.float64).reshape(len(images), -1)
  return (flat @ kernel + bias)[:, 0]


def relu(x):
  return np.maximum(x, 0.0)


def softplus(x):
  return np.logaddexp(0.0, x)


# (loss, options, L_D(f_real, f_fake), L_G(f_fake)) by hand.
HAND_LOSSES = [
    ("hinge", {}, lambda r, f: relu(1 - r) + relu(1 + f), lambda f: -f),
    ("ls", {}, lambda r, f: 0.5 * (r - 1) ** 2 + 0.5 * f ** 2,
     lambda f: 0.5 * (f - 1) ** 2),
    ("ns", {"label_smoothing": 0.1},
     lambda r, f: 0.9 * softplus(-r) + 0.1 * softplus(r) + softplus(f),
     lambda f: softplus(-f)),
    ("wasserstein", {}, lambda r, f: f - r, lambda f: -f)]


@pytest.mark.parametrize("loss, options, d_hand, g_hand", HAND_LOSSES,
                         ids=[case[0] for case in HAND_LOSSES])
def test_a_loss_from_logits_is_its_hand_value(loss, options, d_hand, g_hand):
  """On a dcgan with a linear discriminator: L_D and L_G of the logits
  f = x W + b, the sigmoid the seed's discriminator ends in left out."""
  variant = build(loss=loss, discriminator=linear_discriminator(), **options)
  batch, inputs = batch_and_inputs(variant)
  fake = variant.generate(inputs, training=True)
  real_f = hand_logits(variant.discriminator, batch["image"])
  fake_f = hand_logits(variant.discriminator, fake)
  assert np.abs(real_f).max() > 0.5 and np.abs(fake_f).max() > 0.5
  d_out = variant.discriminator_loss(batch, inputs)
  np.testing.assert_allclose(d_out.per_example.numpy(), d_hand(real_f, fake_f),
                             rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(float(d_out.metrics["d_fake"]),
                             np.mean(1 / (1 + np.exp(-fake_f))), rtol=1e-4)
  g_out = variant.generator_loss(batch, inputs)
  np.testing.assert_allclose(g_out.per_example.numpy(), g_hand(fake_f),
                             rtol=1e-4, atol=1e-5)


def test_the_defaults_are_the_seeds_losses_bitwise():
  """loss="seed", no spectral_norm, no diffaugment: the numbers of a dcgan
  built without the options, and of the seed's clipped losses written out;
  the random inputs are the same draws."""
  discriminator = linear_discriminator()
  plain = build(discriminator=discriminator, r1_gamma=1.0)
  seeded = variants.build("dcgan", image_shape=SHAPE,
                          generator=plain.generator,
                          discriminator=discriminator, r1_gamma=1.0,
                          loss="seed", spectral_norm=False, diffaugment="")
  batch, inputs = batch_and_inputs(plain)
  _, seeded_inputs = batch_and_inputs(seeded)
  assert sorted(inputs) == sorted(seeded_inputs) == ["noise"]
  np.testing.assert_array_equal(inputs["noise"], seeded_inputs["noise"])
  for loss in ("discriminator_loss", "generator_loss"):
    a = getattr(plain, loss)(batch, inputs)
    b = getattr(seeded, loss)(batch, inputs)
    np.testing.assert_array_equal(a.per_example, b.per_example)
    assert a.metrics.keys() == b.metrics.keys()
    for key in a.metrics:
      np.testing.assert_array_equal(a.metrics[key], b.metrics[key])
  fake = plain.generate(inputs, training=True)
  written = losses.minimax_discriminator_loss(
      discriminator(batch["image"], training=True),
      discriminator(fake, training=True), 1e-6)
  without_r1 = build(discriminator=discriminator).discriminator_loss(
      batch, inputs)
  np.testing.assert_array_equal(without_r1.per_example, written)


def one_step(variant, jit_compile=False):
  """One discriminator update on fixed data; returns (step, metrics)."""
  d_opt, g_opt = optimizers_lib.make_optimizers(variant)
  step = step_lib.TrainStep(variant, d_opt, g_opt, seed=0)
  batch, inputs = batch_and_inputs(variant)
  metrics = tf.function(step.discriminator_step,
                        jit_compile=jit_compile)(batch, inputs)
  return step, metrics


@pytest.mark.parametrize("name", ["dcgan", "wgan_gp"])
def test_a_spectrally_normalized_step_trains_and_checkpoints_its_vectors(
    name, tmp_path):
  variant = build(name, spectral_norm=True, loss="hinge")
  wrappers = [layer for layer in variant.discriminator.layers
              if isinstance(layer, keras.layers.SpectralNormalization)]
  assert wrappers
  kernels = [w.layer.kernel.numpy() for w in wrappers]
  vectors = [w.vector_u.numpy() for w in wrappers]
  step, metrics = one_step(variant)
  assert np.isfinite(float(metrics["d_loss"]))
  assert all(not np.array_equal(k, w.layer.kernel.numpy())
             for k, w in zip(kernels, wrappers))
  assert any(not np.array_equal(u, w.vector_u.numpy())
             for u, w in zip(vectors, wrappers))
  path = tf.train.Checkpoint(**step.checkpoint_items()).write(
      str(tmp_path / "ckpt"))
  saved = [name for name, _ in tf.train.list_variables(path)]
  assert sum("vector_u" in key for key in saved) == len(wrappers)


def test_diffaugment_steps_under_xla_and_its_draws_change_the_losses():
  variant = build(diffaugment=POLICY, discriminator=linear_discriminator(),
                  r1_gamma=1.0)
  batch, inputs = batch_and_inputs(variant)
  plain_inputs = batch_and_inputs(build())[1]
  np.testing.assert_array_equal(inputs["noise"], plain_inputs["noise"])
  other = {**inputs, **{key: batch_and_inputs(variant, seed=1)[1][key]
                        for key in ("augment_real", "augment_fake")}}
  for loss in ("discriminator_loss", "generator_loss"):
    drawn = getattr(variant, loss)(batch, inputs).per_example.numpy()
    redrawn = getattr(variant, loss)(batch, other).per_example.numpy()
    assert np.abs(drawn - redrawn).max() > 1e-3, loss
  _, metrics = one_step(variant, jit_compile=True)
  assert np.isfinite(float(metrics["d_loss"]))
  assert float(metrics["r1_penalty"]) > 0.0


def test_r1_is_taken_at_the_augmented_reals():
  """With a cutout the discriminator's logit of T(x) does not depend on the
  pixels cut out, so the gradient w.r.t. x would be 0 there; the one w.r.t.
  T(x) is W everywhere: R1 = gamma / 2 ||W||^2."""
  variant = build(diffaugment="cutout", discriminator=linear_discriminator(),
                  r1_gamma=2.0)
  batch, inputs = batch_and_inputs(variant)
  kernel = variant.discriminator.layers[-1].kernel.numpy()
  out = variant.discriminator_loss(batch, inputs)
  np.testing.assert_allclose(float(out.metrics["r1_penalty"]),
                             (kernel ** 2).sum(), rtol=1e-4)


@pytest.mark.parametrize("name, options, message", [
    ("gan", {"diffaugment": "color"}, "takes no option diffaugment"),
    ("dcgan", {"diffaugment": "colour"}, "unknown DiffAugment policy"),
    ("dcgan", {"loss": "softmax"}, "unknown dcgan loss"),
    ("wgan_gp", {"loss": "seed"}, "reads probabilities"),
    ("dcgan", {"loss": "hinge", "label_smoothing": 0.1},
     "does not apply to the 'hinge' loss"),
    ("dcgan", {"spectral_norm": True, "discriminator": "own"},
     "spectral_norm=True")])
def test_refusals_are_one_line(name, options, message):
  if options.get("discriminator") == "own":
    options = {**options, "discriminator": linear_discriminator()}
  with pytest.raises(UsageError, match=message) as error:
    build(name, **options)
  assert "\n" not in str(error.value)


def test_gan_mlp_takes_spectral_norm():
  variant = build("gan", spectral_norm=True, loss="ns")
  assert any(isinstance(layer, keras.layers.SpectralNormalization)
             for layer in variant.discriminator.layers)
  batch, inputs = batch_and_inputs(variant)
  batch = {**batch, "image": tf.reshape(batch["image"], [BATCH, -1])}
  out = variant.discriminator_loss(batch, inputs)
  assert np.all(np.isfinite(out.per_example.numpy()))


def test_spectral_norm_of_networks_without_dense_or_conv_names_the_flag(
    monkeypatch):
  """A family whose discriminator spectral normalization cannot take: the
  refusal names the option; without the option the networks build."""
  from gantape.networks import registry  # pylint: disable=g-import-not-at-top
  seed_pair = registry._FAMILIES["seed"]["unconditional"]  # pylint: disable=protected-access
  monkeypatch.setitem(registry._FAMILIES, "bare", {  # pylint: disable=protected-access
      "unconditional": registry.Builders(
          seed_pair.generator, lambda spec: keras.Sequential(
              [keras.Input(spec.image_shape), keras.layers.Flatten(),
               keras.layers.Activation("sigmoid")]))})

  class BareDCGAN(variants.dcgan.DCGAN):
    def _networks(self, generator, discriminator):
      return self.build_pair("bare", "unconditional",
                             image_shape=self.image_shape,
                             generator=generator, discriminator=discriminator)

  keras.utils.set_random_seed(0)
  BareDCGAN(image_shape=SHAPE)
  with pytest.raises(UsageError, match=r"^spectral_norm=True \(--spectral_norm"
                     r"\): .* no Dense or Conv2D layer") as error:
    BareDCGAN(image_shape=SHAPE, spectral_norm=True)
  assert "\n" not in str(error.value)
