"""The train step: isolation, variable checks, and conformance of every variant."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantape import data as data_lib
from gantape import networks
from gantape.networks import salimans as salimans_networks
from gantape import optimizers as optimizers_lib
from gantape import step as step_lib
from gantape import variants
from gantape.errors import UsageError

BATCH = 8


# Every variant, plus options that swap its networks.
CASES = [(name, {}) for name in variants.names()] + [
    ("ssgan", {"networks": "salimans",
               "generator_objective": "feature_matching",
               "loss_form": "salimans"})]
CASE_IDS = [name + "".join(f"-{v}" for v in options.values())
            for name, options in CASES]


def make_step(name, mnist, seed=0, options=None, **kwargs):
  keras.utils.set_random_seed(seed)
  variant = variants.build(name, **(options or {}))
  d_opt, g_opt = optimizers_lib.make_optimizers(variant)
  step = step_lib.TrainStep(variant, d_opt, g_opt, seed=seed,
                            options=step_lib.StepOptions(**kwargs))
  iterator = step.make_iterator(
      variant.make_dataset(mnist, batch_size=BATCH, seed=seed))
  return step, iterator


def snapshot(variables):
  return [v.numpy().copy() for v in variables]


def assert_bitwise_equal(before, variables):
  for old, v in zip(before, variables):
    np.testing.assert_array_equal(old, v.numpy(), err_msg=v.path)


def assert_some_changed(before, variables):
  assert any(not np.array_equal(old, v.numpy())
             for old, v in zip(before, variables))


@pytest.mark.parametrize("updated", ["discriminator", "generator"])
@pytest.mark.parametrize("name,options", CASES, ids=CASE_IDS)
def test_each_step_moves_only_its_own_network(name, options, updated,
                                              fake_mnist):
  """A D step leaves G bitwise unchanged, and a G step leaves D unchanged."""
  step, iterator = make_step(name, fake_mnist, options=options)
  batch = next(iterator)
  inputs = step.variant.sample_inputs(step.rng, BATCH)
  other = "generator" if updated == "discriminator" else "discriminator"
  own_vars = getattr(step.variant, f"{updated}_variables")
  other_vars = getattr(step.variant, f"{other}_variables")
  own_before, other_before = snapshot(own_vars), snapshot(other_vars)
  tf.function(getattr(step, f"{updated}_step"))(batch, inputs)
  assert_bitwise_equal(other_before, other_vars)
  assert_some_changed(own_before, own_vars)


class SharedLayerGAN(variants.gan.GAN):
  """Generator and discriminator share their first layer: must be refused."""

  def __init__(self):
    shared = keras.layers.Dense(784, activation="sigmoid")
    generator = keras.Sequential([keras.Input((100,)), shared])
    discriminator = keras.Sequential(
        [keras.Input((784,)), keras.layers.Dense(100), shared,
         keras.layers.Dense(1, "sigmoid")])
    super().__init__(generator=generator, discriminator=discriminator)


class OrphanLayerGAN(variants.gan.GAN):
  """A trainable layer outside both networks: must be refused."""

  def __init__(self):
    super().__init__()
    self.projection = keras.layers.Dense(4)
    self.projection.build((None, 3))


@pytest.mark.parametrize("cls,message", [(SharedLayerGAN, "in both"),
                                         (OrphanLayerGAN, "in neither")])
def test_step_refuses_bad_variable_partitions(cls, message):
  variant = cls()
  d_opt, g_opt = optimizers_lib.make_optimizers(variant)
  with pytest.raises(UsageError, match=message):
    step_lib.TrainStep(variant, d_opt, g_opt)


def test_bad_optimizer_and_iteration_arguments(fake_mnist):
  with pytest.raises(UsageError, match="learning_rate"):
    optimizers_lib.make_optimizers(variants.build("gan"), learning_rate=0.0)
  step, iterator = make_step("gan", fake_mnist)
  with pytest.raises(UsageError, match="num_iterations"):
    step(iterator, 0)


def test_updates_per_batch_runs_the_seeds_fit_schedule(fake_mnist):
  """updates_per_batch=2: D on each half of the batch, then G on each half."""
  step, iterator = make_step("gan", fake_mnist, seed=5, updates_per_batch=2)
  step(iterator, 1)
  manual, manual_iterator = make_step("gan", fake_mnist, seed=5)
  batch = next(manual_iterator)
  inputs = manual.variant.sample_inputs(manual.rng, BATCH)
  half = lambda structure, i: tf.nest.map_structure(
      lambda t: t[i * BATCH // 2:(i + 1) * BATCH // 2], structure)
  for update in (manual.discriminator_step, manual.generator_step):
    for i in (0, 1):
      tf.function(update)(half(batch, i), half(inputs, i))
  assert int(step.d_optimizer.iterations) == int(step.g_optimizer.iterations) == 2
  for a, b in zip(step.variant.generator.weights + step.variant.discriminator.weights,
                  manual.variant.generator.weights + manual.variant.discriminator.weights):
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6, err_msg=a.path)

  with pytest.raises(UsageError, match="multiple of 3"):
    make_step("gan", fake_mnist, updates_per_batch=3)
  with pytest.raises(UsageError, match="updates_per_batch must be a positive"):
    make_step("gan", fake_mnist, updates_per_batch=0)


def test_presets():
  """make_optimizers takes the named preset; the seed's is Keras's Adam(1e-3)."""
  seed_d, _ = optimizers_lib.make_optimizers(variants.build("dcgan"), preset="seed")
  assert (float(seed_d.learning_rate), seed_d.beta_1) == pytest.approx((1e-3, 0.9))
  wgan_d, _ = optimizers_lib.make_optimizers(variants.build("wgan_gp"))
  assert (float(wgan_d.learning_rate), wgan_d.beta_1, wgan_d.beta_2) == (
      pytest.approx(1e-4), 0.5, 0.9)
  with pytest.raises(UsageError, match="no preset 'seed'; its presets are: gantape"):
    optimizers_lib.make_optimizers(variants.build("wgan_gp"), preset="seed")


def with_and_without(name, mnist, batch_size, **options):
  """The variant without and with `options`, sharing weights; a batch and
  random inputs for both."""
  plain, optioned = variants.build(name), variants.build(name, **options)
  for a, b in zip(optioned.discriminator.weights + optioned.generator.weights,
                  plain.discriminator.weights + plain.generator.weights):
    a.assign(b)
  batch = next(iter(plain.make_dataset(mnist, batch_size=batch_size, seed=0)))
  inputs = plain.sample_inputs(tf.random.Generator.from_seed(0), batch_size)
  return plain, optioned, batch, inputs


@pytest.mark.parametrize("name", ["gan", "dcgan", "cgan"])
def test_label_smoothing_changes_only_the_real_term(name, fake_mnist):
  """With s > 0 the D loss gains s * (log p - log(1 - p)), p = D's real prob."""
  s, batch_size = 0.1, 16
  plain, smoothed, batch, inputs = with_and_without(
      name, fake_mnist, batch_size, label_smoothing=s)
  difference = (smoothed.discriminator_loss(batch, inputs).per_example
                - plain.discriminator_loss(batch, inputs).per_example)
  real = tf.reshape(plain.discriminator(batch["image"], training=True),
                    [batch_size, -1])
  p = (tf.gather(real, batch["label"], axis=1, batch_dims=1)
       if plain.conditional else real[:, 0]).numpy().astype(np.float64)
  eps = plain.eps
  expected = s * (np.log(np.clip(p, eps, 1)) - np.log(np.clip(1 - p, eps, 1)))
  assert np.abs(expected).max() > 1e-2  # else the check below could not fail
  np.testing.assert_allclose(difference.numpy(), expected, rtol=1e-4,
                             atol=1e-5)
  with pytest.raises(UsageError, match="outside \\[0, 1\\)"):
    variants.build(name, label_smoothing=1.0)


def np_mlp_logit_gradients(variant, images):
  """d f / d x of the MLP discriminator's logit, by hand:
  f = w2 . relu(W1 x + b1) + b2, so d f / d x = W1 (w2 * [W1 x + b1 > 0])."""
  hidden, out = variant.discriminator.layers
  w1, b1 = (v.numpy().astype(np.float64) for v in hidden.weights)
  w2 = out.weights[0].numpy().astype(np.float64)[:, 0]
  active = (images.astype(np.float64) @ w1 + b1) > 0
  return (active * w2) @ w1.T


def test_r1_penalty_on_the_mlp_gan_matches_a_hand_gradient(fake_mnist):
  """With r1_gamma the GAN's D loss gains gamma/2 ||d f / d x||^2 exactly."""
  gamma, batch_size = 3.0, 16
  plain, penalized, batch, inputs = with_and_without(
      "gan", fake_mnist, batch_size, r1_gamma=gamma)
  out = penalized.discriminator_loss(batch, inputs)
  difference = out.per_example - plain.discriminator_loss(batch, inputs).per_example
  gradients = np_mlp_logit_gradients(plain, batch["image"].numpy())
  expected = 0.5 * gamma * (gradients ** 2).sum(axis=1)
  assert expected.min() > 1e-3  # else the check below could not fail
  np.testing.assert_allclose(difference.numpy(), expected, rtol=1e-4)
  np.testing.assert_allclose(float(out.metrics["r1_penalty"]), expected.mean(),
                             rtol=1e-4)
  with pytest.raises(UsageError, match="r1_gamma=-1.0 is negative"):
    variants.build("gan", r1_gamma=-1.0)


@pytest.mark.parametrize("name", ["dcgan", "cgan"])
def test_r1_penalty_differentiates_the_log_odds_of_the_real_class(name,
                                                                  fake_mnist):
  """The conv variants' R1 term equals one computed from D's probabilities.

  Reference: f = log p - log(1 - p), p = D(x) (dcgan) or P(y|x) (cgan),
  through the Keras model with its output activation, not the logits view.
  """
  gamma, batch_size = 2.0, 16
  keras.utils.set_random_seed(1)
  variant = variants.build(name, r1_gamma=gamma)
  batch = next(iter(variant.make_dataset(fake_mnist, batch_size=batch_size,
                                         seed=0)))
  inputs = variant.sample_inputs(tf.random.Generator.from_seed(0), batch_size)
  # The loss runs D in training mode, which moves BatchNorm's moving
  # statistics; restore them so the reference sees the same network.
  weights = [w.numpy() for w in variant.discriminator.weights]
  penalty = float(variant.discriminator_loss(batch, inputs)
                  .metrics["r1_penalty"])
  for w, value in zip(variant.discriminator.weights, weights):
    w.assign(value)
  images = batch["image"]
  with tf.GradientTape() as tape:
    tape.watch(images)
    probs = variant.discriminator(images, training=True)
    p = (tf.gather(probs, batch["label"], axis=1, batch_dims=1)
         if variant.conditional else probs[:, 0])
    total = tf.reduce_sum(tf.math.log(p) - tf.math.log(1.0 - p))
  gradients = tape.gradient(total, images).numpy().astype(np.float64)
  expected = 0.5 * gamma * (gradients ** 2).reshape(batch_size, -1).sum(1).mean()
  assert expected > 1e-4
  np.testing.assert_allclose(penalty, expected, rtol=2e-3)


@pytest.mark.parametrize("name", ["dcgan", "cgan"])
def test_r1_discriminator_step_leaves_the_generator_unchanged(name, fake_mnist):
  keras.utils.set_random_seed(0)
  variant = variants.build(name, r1_gamma=1.0)
  d_opt, g_opt = optimizers_lib.make_optimizers(variant)
  step = step_lib.TrainStep(variant, d_opt, g_opt, seed=0)
  iterator = step.make_iterator(variant.make_dataset(fake_mnist,
                                                     batch_size=BATCH, seed=0))
  generator_before = snapshot(variant.generator_variables)
  discriminator_before = snapshot(variant.discriminator_variables)
  metrics = tf.function(step.discriminator_step)(
      next(iterator), variant.sample_inputs(step.rng, BATCH))
  assert_bitwise_equal(generator_before, variant.generator_variables)
  assert_some_changed(discriminator_before, variant.discriminator_variables)
  assert float(metrics["r1_penalty"]) > 0 and all_finite(metrics)


@pytest.mark.parametrize("objective", variants.ssgan.GENERATOR_OBJECTIVES)
def test_ssgan_generator_objectives(objective, fake_mnist):
  """Each SSGAN generator loss is its formula of D's outputs, and a G step
  under it leaves D bitwise unchanged."""
  keras.utils.set_random_seed(0)
  variant = variants.build("ssgan", generator_objective=objective)
  d_opt, g_opt = optimizers_lib.make_optimizers(variant)
  step = step_lib.TrainStep(variant, d_opt, g_opt, seed=0)
  batch = next(step.make_iterator(variant.make_dataset(
      fake_mnist, batch_size=BATCH, seed=0)))
  inputs = variant.sample_inputs(step.rng, BATCH)
  fake = variant.generate(inputs, training=True)
  d = variant.discriminator
  if objective == "feature_matching":
    features = keras.Model(d.inputs, d.layers[-2].output)
    real_f = features(batch["image"], training=True).numpy().astype(np.float64)
    fake_f = features(fake, training=True).numpy().astype(np.float64)
    expected = ((real_f.mean(0) - fake_f.mean(0)) ** 2).sum()
  else:
    p_n = d(fake, training=True).numpy()[:, 10].astype(np.float64)  # P(n|G(z))
    expected = (np.log(np.clip(p_n, 1e-3, 1.0)) if objective == "seed"
                else -np.log(np.clip(1.0 - p_n, 1e-3, 1.0))).mean()
  loss = float(tf.reduce_mean(variant.generator_loss(batch, inputs).per_example))
  np.testing.assert_allclose(loss, expected, rtol=1e-4)
  discriminator_before = snapshot(variant.discriminator_variables)
  generator_before = snapshot(variant.generator_variables)
  tf.function(step.generator_step)(batch, inputs)
  assert_bitwise_equal(discriminator_before, variant.discriminator_variables)
  assert_some_changed(generator_before, variant.generator_variables)


def all_finite(metrics):
  return all(np.isfinite(float(v)) for v in metrics.values())


@pytest.mark.parametrize("name,options", CASES, ids=CASE_IDS)
def test_conformance(name, options, fake_mnist, tmp_path):
  """Eager and graph steps are finite; K never retraces; checkpoints round-trip."""
  step, iterator = make_step(name, fake_mnist, options=options)
  tf.config.run_functions_eagerly(True)
  try:
    eager_metrics = step(iterator, 1)
  finally:
    tf.config.run_functions_eagerly(False)
  assert all_finite(eager_metrics)
  assert {"d_loss", "g_loss", "d_real", "d_fake"} <= set(eager_metrics)

  for k in (1, 3, 7):
    metrics = step(iterator, k)
    assert all_finite(metrics)
  assert step.executor.train.experimental_get_tracing_count() == 1
  assert int(step.global_step) == 1 + 1 + 3 + 7
  # n_critic discriminator updates (5 for wgan_gp), one generator update.
  assert int(step.d_optimizer.iterations) == 12 * step.variant.n_critic
  assert int(step.g_optimizer.iterations) == 12

  items = step.checkpoint_items()
  path = tf.train.Checkpoint(**items).save(str(tmp_path / "ckpt"))
  fresh, _ = make_step(name, fake_mnist, seed=1, options=options)
  status = tf.train.Checkpoint(**fresh.checkpoint_items()).restore(path)
  status.assert_consumed()
  assert int(fresh.global_step) == int(step.global_step)
  for a, b in zip(step.variant.generator.weights + step.variant.discriminator.weights
                  + step.d_optimizer.variables + step.g_optimizer.variables,
                  fresh.variant.generator.weights + fresh.variant.discriminator.weights
                  + fresh.d_optimizer.variables + fresh.g_optimizer.variables):
    np.testing.assert_array_equal(a.numpy(), b.numpy())
  np.testing.assert_array_equal(step.rng.state.numpy(), fresh.rng.state.numpy())


def test_same_seed_same_run_with_and_without_xla(fake_mnist):
  def run(jit):
    step, iterator = make_step("gan", fake_mnist, seed=3, jit_compile=jit)
    step(iterator, 3)
    return snapshot(step.variant.generator.weights), step.rng.state.numpy()
  (w_a, rng_a), (w_b, rng_b) = run(False), run(False)
  for a, b in zip(w_a, w_b):
    np.testing.assert_array_equal(a, b)
  w_xla, rng_xla = run(True)
  np.testing.assert_array_equal(rng_a, rng_xla)  # the same noise was drawn
  for a, b in zip(w_a, w_xla):
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_dcgan_learns_on_real_mnist(real_mnist_path):
  """Smoke test on the real digits: 200 iterations move both networks.

  What 200 iterations of the seed's DCGAN do varies with the seed and the
  CPU kernels (oneDNN on or off): samples may be bright blobs or near-black
  at this point, and D's verdict on a fixed batch of samples may end where it
  started. What held in every run measured (seeds 0-4, oneDNN on and off):
  G's samples moved by >= 0.21 (mean absolute pixel change), D's mean output
  on real digits by >= 0.059, and samples differed from each other (std over
  the batch >= 0.035). The thresholds leave a margin of 2-3.5x.
  """
  mnist = data_lib.load_mnist(real_mnist_path)
  keras.utils.set_random_seed(0)
  variant = variants.build("dcgan")
  d_opt, g_opt = optimizers_lib.make_optimizers(variant)
  step = step_lib.TrainStep(variant, d_opt, g_opt, seed=0)
  iterator = step.make_iterator(variant.make_dataset(mnist, batch_size=64, seed=0))
  probe = variant.sample_inputs(tf.random.Generator.from_seed(1), 64)
  real = (mnist.x_train[:256, :, :, None] / 255.0).astype(np.float32)

  def snapshot():
    images = variant.generate(probe, training=False).numpy()
    return images, float(np.mean(variant.discriminator(real, training=False)))

  images_before, d_real_before = snapshot()
  metrics = step(iterator, 200)
  assert all_finite(metrics)
  images, d_real = snapshot()
  assert np.abs(images - images_before).mean() > 0.1  # G learned something
  assert abs(d_real - d_real_before) > 0.02, (d_real_before, d_real)
  assert images.std(axis=0).mean() > 0.01  # not collapsed to one image


def test_ssgan_refuses_unknown_networks():
  with pytest.raises(UsageError, match="variant 'ssgan' has no 'resnet' "
                     "networks; choose one of seed, salimans"):
    variants.build("ssgan", networks="resnet")


@pytest.mark.parametrize("objective", ["seed", "non_saturating"])
def test_ssgan_logit_losses_equal_the_clipped_ones_away_from_the_clip(
    fake_mnist, objective):
  """Both loss forms on the same networks, batch and noise: the same losses
  and metrics, while no probability the seed's form uses is below its clip."""
  step, iterator = make_step("ssgan", fake_mnist,
                             options={"generator_objective": objective})
  clipped = step.variant
  exact = variants.build("ssgan", generator_objective=objective,
                         loss_form="logits", generator=clipped.generator,
                         discriminator=clipped.discriminator)
  batch = next(iterator)
  inputs = clipped.sample_inputs(step.rng, BATCH)
  probs = clipped.discriminator(batch["image"], training=True).numpy()
  assert probs.min() > clipped.eps  # fresh networks: nothing is clipped
  for loss in ("discriminator_loss", "generator_loss"):
    a = getattr(clipped, loss)(batch, inputs)
    b = getattr(exact, loss)(batch, inputs)
    np.testing.assert_allclose(b.per_example.numpy(), a.per_example.numpy(),
                               rtol=1e-4)
    assert a.metrics.keys() == b.metrics.keys()
    for key in a.metrics:
      np.testing.assert_allclose(b.metrics[key].numpy(),
                                 a.metrics[key].numpy(), rtol=1e-4,
                                 atol=1e-6)


def test_salimans_loss_form_weighs_the_terms_as_their_code(fake_mnist):
  """L_D = CE over the 10 digits + 1/2 the unsupervised term of "logits"."""
  step, iterator = make_step("ssgan", fake_mnist,
                             options={"loss_form": "logits"})
  exact = step.variant
  theirs = variants.build("ssgan", loss_form="salimans",
                          generator=exact.generator,
                          discriminator=exact.discriminator)
  batch = next(iterator)
  inputs = exact.sample_inputs(step.rng, BATCH)
  logits = networks.logits_view(exact.discriminator)(batch["image"],
                                                     training=True).numpy()
  log_p = tf.nn.log_softmax(logits).numpy()
  log_p_digits = tf.nn.log_softmax(logits[:, :10]).numpy()
  rows = np.arange(BATCH)
  labels = batch["label"].numpy()
  unsupervised = (exact.discriminator_loss(batch, inputs).per_example.numpy()
                  + log_p[rows, labels])
  np.testing.assert_allclose(
      theirs.discriminator_loss(batch, inputs).per_example.numpy(),
      -log_p_digits[rows, labels] + 0.5 * unsupervised, rtol=1e-4)


def test_ssgan_refuses_unknown_loss_form():
  with pytest.raises(UsageError, match="unknown ssgan loss_form 'log'; "
                     "choose one of clipped, logits, salimans"):
    variants.build("ssgan", loss_form="log")


def test_salimans_discriminator_initializes_in_a_discriminator_step(
    fake_mnist):
  """The weight-normalized layers take their data-dependent init from the
  first discriminator step, never from a generator step."""
  step, iterator = make_step("ssgan", fake_mnist,
                             options={"networks": "salimans"})
  flags = [layer.initialized for layer in step.variant.discriminator.layers
           if isinstance(layer, salimans_networks.WeightNormDense)]
  assert len(flags) == 6
  batch = next(iterator)
  inputs = step.variant.sample_inputs(step.rng, BATCH)
  tf.function(step.generator_step)(batch, inputs)
  assert [float(f) for f in flags] == [0.0] * 6
  tf.function(step.discriminator_step)(batch, inputs)
  assert [float(f) for f in flags] == [1.0] * 6


def test_trace_iteration_returns_the_iteration_graph_without_running_it(
    fake_mnist):
  step, iterator = make_step("wgan_gp", fake_mnist, options={"n_critic": 2})
  batch_spec = tf.nest.map_structure(
      lambda t: tf.TensorSpec(t.shape, t.dtype), next(iterator))
  inputs_spec = tf.nest.map_structure(
      lambda t: tf.TensorSpec(t.shape, t.dtype),
      step.variant.sample_inputs(tf.random.Generator.from_seed(0), BATCH))
  variables = step.variant.all_trainable_variables()
  before = snapshot(variables)

  traced = step.trace_iteration(batch_spec, inputs_spec)

  assert_bitwise_equal(before, variables)
  assert int(step.global_step.numpy()) == 0
  # One argument per discriminator update, each a batch and its inputs.
  assert len(traced.structured_input_signature[0][0]) == step.variant.n_critic
  assert set(traced.structured_outputs) >= {"d_loss", "d_grad_norm",
                                            "g_loss", "g_grad_norm"}
