"""SSGAN beyond MNIST: any image shape and class count, and its labelled stream."""

import keras
import numpy as np
import pytest

from gantape import data as data_lib
from gantape import optimizers as optimizers_lib
from gantape import step as step_lib
from gantape import variants
from gantape.errors import UsageError

SALIMANS = {"networks": "salimans", "generator_objective": "feature_matching",
            "loss_form": "salimans"}


def two_class_colour_dataset(num_train=40):
  rng = np.random.RandomState(0)
  return data_lib.Dataset(
      x_train=rng.randint(0, 256, [num_train, 32, 32, 3]).astype(np.uint8),
      y_train=(np.arange(num_train) % 2).astype(np.uint8),
      x_test=rng.randint(0, 256, [4, 32, 32, 3]).astype(np.uint8),
      y_test=np.array([0, 1, 0, 1], np.uint8),
      name="folder:two", num_classes=2)


@pytest.mark.parametrize("options", [{}, SALIMANS], ids=["seed", "salimans"])
def test_ssgan_steps_on_a_two_class_colour_dataset_with_few_labels(options):
  data = two_class_colour_dataset()
  keras.utils.set_random_seed(0)
  variant = variants.build("ssgan", num_labeled=4, image_shape=(32, 32, 3),
                           num_classes=2, **options)
  assert variant.generator.output_shape[1:] == (32, 32, 3)
  assert variant.discriminator.output_shape[1:] == (3,)  # 2 classes + fake
  labelled = variant.labeled_indices(data)
  assert sorted(data.y_train[labelled].tolist()) == [0, 0, 1, 1]
  d_opt, g_opt = optimizers_lib.make_optimizers(variant)
  step = step_lib.TrainStep(variant, d_opt, g_opt, seed=0)
  batch = next(iter(variant.make_dataset(data, batch_size=8, seed=0)))
  assert set(batch["labeled_label"].numpy().tolist()) == {0, 1}
  inputs = variant.sample_inputs(step.rng, 8)
  before = [v.numpy().copy() for v in variant.discriminator_variables]
  metrics = {**step.discriminator_step(batch, inputs),
             **step.generator_step(batch, inputs)}  # eager: no tracing
  for name in ("d_loss", "g_loss", "d_supervised"):
    assert np.isfinite(float(metrics[name])), name
  assert any(not np.array_equal(old, v.numpy()) for old, v in
             zip(before, variant.discriminator_variables))


def test_ssgan_needs_a_label_for_every_class_of_the_data():
  variants.build("ssgan", num_labeled=2, image_shape=(32, 32, 3),
                 num_classes=2)
  with pytest.raises(UsageError, match="num_labeled=5 is smaller than the 10 "
                     "classes; use at least 10"):
    variants.build("ssgan", num_labeled=5)


def test_few_labels_are_tiled_into_every_batch_as_salimans_et_al_do():
  """Their script tiles the labelled set to an epoch and cuts batches as
  large as the unlabelled ones: with 20 labels and batches of 100, every
  batch holds each labelled example exactly 5 times (10 per class), with
  its own label."""
  num_train = 600
  labels = (np.arange(num_train) % 10).astype(np.uint8)
  images = np.zeros([num_train, 28, 28], np.uint8)  # pixels spell the index
  images[:, 0, 0] = np.arange(num_train) // 256
  images[:, 0, 1] = np.arange(num_train) % 256
  data = data_lib.Dataset(images, labels, images[:10], labels[:10])
  variant = variants.build("ssgan", num_labeled=20, **SALIMANS)
  chosen = variant.labeled_indices(data)
  assert np.bincount(labels[chosen], minlength=10).tolist() == [2] * 10
  for batch in variant.make_dataset(data, batch_size=100, seed=3).take(4):
    pixels = np.round(batch["labeled_image"].numpy()[:, 0, :2, 0] * 255)
    index = pixels[:, 0].astype(int) * 256 + pixels[:, 1].astype(int)
    assert sorted(np.unique(index, return_counts=True)[1]) == [5] * 20
    assert set(index.tolist()) == set(chosen.tolist())
    np.testing.assert_array_equal(batch["labeled_label"].numpy(),
                                  labels[index])
