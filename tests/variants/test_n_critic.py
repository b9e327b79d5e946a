"""n_critic, discriminator updates per generator update: one shared option
(`settings.N_CRITIC`) that every built-in variant takes, each update on a
fresh real batch of every stream the variant reads."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantape import data as data_lib
from gantape import networks
from gantape import optimizers as optimizers_lib
from gantape import step as step_lib
from gantape import variants
from gantape.errors import UsageError
from gantape.variants import settings

SHAPE = (8, 8, 1)
BATCH = 4


@pytest.mark.parametrize("name", ["gan", "dcgan", "ssgan", "cgan",
                                  "wgan_gp"])
def test_every_variant_takes_the_one_n_critic_option(name):
  option = variants.options(name)["n_critic"]
  assert option.check is settings.N_CRITIC.check
  assert option.default == (5 if name == "wgan_gp" else 1)


def tiny_networks(outputs):
  """A one-layer generator of SHAPE images and a discriminator with
  `outputs` softmax (sigmoid for one) outputs: the fastest to trace."""
  generator = keras.Sequential([
      keras.Input((networks.NOISE_DIM,)),
      keras.layers.Dense(int(np.prod(SHAPE)), activation="sigmoid"),
      keras.layers.Reshape(SHAPE)])
  discriminator = keras.Sequential([
      keras.Input(SHAPE), keras.layers.Flatten(),
      keras.layers.Dense(outputs, activation="sigmoid" if outputs == 1
                         else "softmax")])
  return {"generator": generator, "discriminator": discriminator}


def numbered_batches():
  """Batch k's pixels are all k / 1000: the next batch tells how many
  were pulled."""
  def batch(k):
    return {"image": tf.fill((BATCH,) + SHAPE, tf.cast(k, tf.float32) / 1e3),
            "label": tf.zeros([BATCH], tf.int32)}
  return tf.data.Dataset.range(1000).map(batch)


def test_n_critic_2_on_dcgan_is_two_d_updates_on_two_batches_per_g_update():
  keras.utils.set_random_seed(0)
  variant = variants.build("dcgan", image_shape=SHAPE, n_critic=2,
                           **tiny_networks(1))
  d_opt, g_opt = optimizers_lib.make_optimizers(
      variant, learning_rate=0.01, lr_decay=(0, 10), updates_per_batch=1)
  step = step_lib.TrainStep(
      variant, d_opt, g_opt,
      options=step_lib.StepOptions(updates_per_batch=1))
  iterator = step.make_iterator(numbered_batches())
  step(iterator, 3)
  assert int(d_opt.iterations.numpy()) == 6
  assert int(g_opt.iterations.numpy()) == 3
  assert round(float(next(iterator)["image"][0, 0, 0, 0]) * 1e3) == 6
  # The decay counts GAN iterations for both networks: the same rate.
  for optimizer in (d_opt, g_opt):
    assert float(optimizer.learning_rate) == pytest.approx(0.01 * 7 / 10)


def numbered_dataset(num_train=40, classes=2):
  """8x8 images whose first pixel is their index."""
  images = np.zeros([num_train, 8, 8], np.uint8)
  images[:, 0, 0] = np.arange(num_train)
  labels = (np.arange(num_train) % classes).astype(np.uint8)
  return data_lib.Dataset(images, labels, images[:4], labels[:4],
                          num_classes=classes)


def test_ssgan_pulls_n_critic_batches_of_its_labelled_stream_too():
  """Each discriminator update reads a fresh batch of both streams (all
  images and the labelled few), so both move n_critic batches per
  iteration, in step."""
  data = numbered_dataset()
  keras.utils.set_random_seed(0)
  variant = variants.build("ssgan", image_shape=SHAPE, num_classes=2,
                           num_labeled=4, n_critic=2, **tiny_networks(3))
  d_opt, g_opt = optimizers_lib.make_optimizers(variant, updates_per_batch=1)
  step = step_lib.TrainStep(
      variant, d_opt, g_opt,
      options=step_lib.StepOptions(updates_per_batch=1))
  iterator = step.make_iterator(
      variant.make_dataset(data, batch_size=BATCH, seed=0))
  step(iterator, 1)
  assert (int(d_opt.iterations.numpy()), int(g_opt.iterations.numpy())) == (
      2, 1)
  third = list(variant.make_dataset(data, batch_size=BATCH, seed=0).take(3))[2]
  after = next(iterator)
  assert set(third) == {"image", "label", "labeled_image", "labeled_label"}
  for key in third:
    np.testing.assert_array_equal(after[key].numpy(), third[key].numpy(),
                                  err_msg=key)


@pytest.mark.parametrize("value", [0, -1, 2.5, True])
def test_a_bad_n_critic_is_refused_in_one_line(value):
  with pytest.raises(UsageError, match=(
      f"^n_critic={value!r} is not a positive integer; it is the "
      f"discriminator updates per generator update")):
    variants.build("dcgan", image_shape=SHAPE, n_critic=value)
