"""The two Adams: learning-rate schedules (values, iteration counting,
checkpoints, flags) and the discriminator's own rate and betas."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantape import build as build_lib
from gantape import optimizers as optimizers_lib
from gantape import step as step_lib
from gantape import train as train_lib
from gantape import variants
from gantape.errors import UsageError
from gantape.training import resume as resume_lib
from tests.conftest import make_fake_mnist
from tests.training.test_train import checkpoint_values, config, quiet
from tests.training.test_train import op_determinism  # pylint: disable=unused-import


def test_linear_decay_is_constant_then_linear_to_zero():
  schedule = optimizers_lib.LinearDecay(0.003, start=100, end=300,
                                        updates_per_iteration=2)
  iterations = np.array([0, 99, 100, 150, 200, 299, 300, 1000])
  expected = 0.003 * np.clip((300 - iterations) / 200, 0, 1)
  got = [float(schedule(tf.constant(2 * t + 1, tf.int64)))
         for t in iterations]  # the second update of iteration t
  np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12)
  np.testing.assert_allclose(got[:3], 0.003)
  assert got[-2:] == [0.0, 0.0]
  again = optimizers_lib.LinearDecay.from_config(schedule.get_config())
  assert float(again(tf.constant(300))) == pytest.approx(expected[3])


@pytest.mark.parametrize("start,end", [(5, 5), (-1, 3), (7, 2)])
def test_linear_decay_refuses_an_empty_range(start, end):
  with pytest.raises(UsageError, match="must start before it ends"):
    optimizers_lib.LinearDecay(1e-3, start, end)


@pytest.mark.parametrize("name,updates_per_batch", [("gan", 2),
                                                    ("wgan_gp", 1)])
def test_both_optimizers_count_gan_iterations(name, updates_per_batch,
                                              fake_mnist):
  """D makes n_critic x updates_per_batch updates per iteration and G
  updates_per_batch; both are at the rate of the same iteration."""
  keras.utils.set_random_seed(0)
  variant = variants.build(name)
  d_opt, g_opt = optimizers_lib.make_optimizers(
      variant, learning_rate=0.01, lr_decay=(2, 6),
      updates_per_batch=updates_per_batch)
  step = step_lib.TrainStep(
      variant, d_opt, g_opt,
      options=step_lib.StepOptions(updates_per_batch=updates_per_batch))
  iterator = step.make_iterator(
      variant.make_dataset(fake_mnist, batch_size=16, seed=0))
  for done in (1, 3, 5, 7):
    step(iterator, done - int(step.global_step.numpy()))
    expected = 0.01 * min(max((6 - done) / 4, 0.0), 1.0)
    assert int(d_opt.iterations.numpy()) == (
        done * variant.n_critic * updates_per_batch)
    for optimizer in (d_opt, g_opt):
      assert float(optimizer.learning_rate) == pytest.approx(expected,
                                                             abs=1e-9)


def test_a_constant_rate_set_now_survives_a_restore(tmp_path):
  variant = variants.build("gan")
  d_opt, g_opt = optimizers_lib.make_optimizers(variant, learning_rate=0.01)
  d_opt.build(variant.discriminator_variables)
  path = tf.train.Checkpoint(d=d_opt).save(str(tmp_path / "ckpt"))
  d_opt.learning_rate = 0.002
  with optimizers_lib.rates_kept([d_opt, g_opt]):
    tf.train.Checkpoint(d=d_opt).restore(path)
    assert float(d_opt.learning_rate) == pytest.approx(0.01)
  assert float(d_opt.learning_rate) == pytest.approx(0.002)
  assert not optimizers_lib.is_scheduled(d_opt)


def test_resume_under_a_schedule_is_exact(tmp_path, fake_mnist,
                                          op_determinism):
  del op_determinism
  one_go, halves = tmp_path / "one_go", tmp_path / "halves"
  decay = dict(lr_decay_start=2, lr_decay_end=8)
  train_lib.train(config(one_go, **decay), dataset=fake_mnist, log=quiet)
  train_lib.train(config(halves, steps=3, **decay), dataset=fake_mnist,
                  log=quiet)
  train_lib.train(config(halves, **decay), dataset=fake_mnist, log=quiet)
  a = checkpoint_values(str(one_go / "checkpoints" / "ckpt-6"))
  b = checkpoint_values(str(halves / "checkpoints" / "ckpt-6"))
  assert a.keys() == b.keys()
  assert not [k for k in a if not np.array_equal(a[k], b[k])]
  # The decay did act: the run differs from one at a constant rate.
  constant = tmp_path / "constant"
  train_lib.train(config(constant), dataset=fake_mnist, log=quiet)
  c = checkpoint_values(str(constant / "checkpoints" / "ckpt-6"))
  assert any(not np.array_equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize("overrides,message", [
    (dict(lr_decay_end=5), "lr_decay_end is set without lr_decay_start"),
    (dict(lr_decay_start=6), "lr_decay_start=6 must be >= 0 and before the "
     "decay's end, iteration 6"),
    (dict(lr_decay_start=4, lr_decay_end=3), "lr_decay_start=4 must be"),
])
def test_bad_decay_flags_are_refused(tmp_path, overrides, message):
  with pytest.raises(UsageError, match=re.escape(message)):
    train_lib.train(config(tmp_path / "never_made", **overrides))
  assert not (tmp_path / "never_made").exists()


def test_two_time_scales_give_the_discriminator_its_own_rate():
  variant = variants.build("gan")
  d_opt, g_opt = optimizers_lib.make_optimizers(
      variant, learning_rate=1e-4, d_learning_rate=4e-4)
  assert float(d_opt.learning_rate.numpy()) == pytest.approx(4e-4)
  assert float(g_opt.learning_rate.numpy()) == pytest.approx(1e-4)
  # Under a decay both fall to 0 over the same iterations.
  d_opt, g_opt = optimizers_lib.make_optimizers(
      variant, learning_rate=1e-4, d_learning_rate=4e-4, lr_decay=(0, 10),
      updates_per_batch=1)
  assert optimizers_lib.is_scheduled(d_opt)
  d_opt.iterations.assign(5)  # one discriminator update per iteration
  g_opt.iterations.assign(5)
  assert float(d_opt.learning_rate) == pytest.approx(2e-4)
  assert float(g_opt.learning_rate) == pytest.approx(5e-5)
  with pytest.raises(UsageError, match="d_learning_rate must be positive"):
    train_lib.train(train_lib.TrainConfig(workdir="unused",
                                          d_learning_rate=-1.0))


def test_d_betas_reach_the_discriminators_adam_and_not_the_generators():
  variant = variants.build("gan")
  d_opt, g_opt = optimizers_lib.make_optimizers(
      variant, beta_1=0.5, beta_2=0.9, d_beta_1=0.0, d_beta_2=0.99)
  assert (d_opt.beta_1, d_opt.beta_2) == (0.0, 0.99)
  assert (g_opt.beta_1, g_opt.beta_2) == (0.5, 0.9)
  # Unset, the discriminator's betas are the generator's.
  d_opt, g_opt = optimizers_lib.make_optimizers(variant, beta_1=0.5)
  assert (d_opt.beta_1, d_opt.beta_2) == (g_opt.beta_1, g_opt.beta_2) == (
      0.5, 0.999)
  # What `gantape train` builds from its settings.
  trainable = build_lib.for_data(
      make_fake_mnist(num_train=32), variant="gan", batch_size=16,
      d_beta_1=0.0, d_beta_2=0.9)
  step = trainable.step
  assert (step.d_optimizer.beta_1, step.d_optimizer.beta_2) == (0.0, 0.9)
  assert (step.g_optimizer.beta_1, step.g_optimizer.beta_2) == (0.9, 0.999)


@pytest.mark.parametrize("field,value", [("d_beta_1", 1.0),
                                         ("d_beta_2", -0.1)])
def test_a_bad_d_beta_is_refused_naming_its_flag(tmp_path, field, value):
  message = f"{field} must be in [0, 1), got {value!r}; pass "
  with pytest.raises(UsageError, match=re.escape(message + f"--{field}=B")):
    train_lib.train(config(tmp_path / "never_made", **{field: value}))
  assert not (tmp_path / "never_made").exists()
  with pytest.raises(UsageError, match=re.escape(message + f"{field}=B")):
    optimizers_lib.make_optimizers(variants.build("gan"), **{field: value})


def test_d_betas_are_fixed_on_resume_as_the_betas_are():
  """Betas are part of the optimization a run is, so a rerun keeps the
  run's, the discriminator's too; a run recorded before d_beta_1 and
  d_beta_2 existed gave D the generator's betas (None)."""
  assert {"beta_1", "beta_2", "d_beta_1", "d_beta_2"} <= set(
      resume_lib.FIXED_ON_RESUME)

  def settings(**values):
    return train_lib.TrainConfig(workdir="w", variant="gan", ema_decay=0.0,
                                 **values)

  def rerun(recorded, **values):
    resume_lib.check(settings(**values), resume_lib.Recorded(None, [
        resume_lib.Record("workdir 'w'", "holds a run", recorded)]),
                     variants.get_class("gan"))
  run = resume_lib.record(settings(d_beta_1=0.0), {})
  rerun(run, d_beta_1=0.0)
  with pytest.raises(UsageError, match=re.escape(
      "workdir 'w' holds a run with d_beta_1=0.0, not 0.5; use a new "
      "--workdir, or the same d_beta_1 to resume it (--d_beta_1=0.0).")):
    rerun(run, d_beta_1=0.5)
  older = {k: v for k, v in resume_lib.record(settings(), {}).items()
           if not k.startswith("d_beta")}
  rerun(older)
  with pytest.raises(UsageError, match="holds a run with d_beta_2=None, "
                     "not 0.9"):
    rerun(older, d_beta_2=0.9)
