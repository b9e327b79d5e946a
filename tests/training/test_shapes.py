"""The data's image shape and classes reach every part of a run: 32x32x3
DCGAN and CGAN train, sample, export and evaluate on tiny fake colour images;
grids are in colour; unlabelled images are refused for a variant that needs
labels.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from gantape import data as data_lib
from gantape import train as train_lib
from gantape.errors import UsageError
from gantape.evaluation import classifier as classifier_lib
from gantape.evaluation import workdir as evaluation_workdir
from gantape.training import checkpoints
from gantape.training import export
from gantape.training import samples as samples_lib
from gantape.variants import gan as gan_lib

SHAPE = (32, 32, 3)
BATCH = 8


def fake_colour(num_train=32, labelled=True, num_classes=4):
  """Random uint8 32x32 colour images, with `num_classes` labels or none."""
  rng = np.random.RandomState(0)
  labels = (np.arange(num_train) % num_classes).astype(np.int64)
  return data_lib.Dataset(
      x_train=rng.randint(0, 256, [num_train, *SHAPE]).astype(np.uint8),
      y_train=labels if labelled else None,
      x_test=rng.randint(0, 256, [8, *SHAPE]).astype(np.uint8),
      y_test=labels[:8] if labelled else None,
      name="fake_colour", num_classes=num_classes if labelled else None)


def config(workdir, variant, **overrides):
  options = dict(workdir=str(workdir), variant=variant, steps=2,
                 batch_size=BATCH, iterations_per_call=1, log_every=1,
                 sample_every=2, checkpoint_every=2, dataset="cifar10")
  options.update(overrides)
  return train_lib.TrainConfig(**options)


def quiet(line):
  del line


def read_png(path):
  with open(path, "rb") as f:
    return tf.io.decode_png(f.read()).numpy()


# An evaluation classifier that trains in a second.
TINY_CLASSIFIER = classifier_lib.ClassifierConfig(width=4, feature_dim=8,
                                                  epochs=1, batch_size=16)


@pytest.mark.parametrize("variant", ["dcgan", "cgan"])
def test_colour_run_trains_samples_exports_and_evaluates(tmp_path, variant,
                                                         monkeypatch):
  lines = []
  data = fake_colour()
  result = train_lib.train(config(tmp_path / "run", variant), log=lines.append,
                           dataset=data)
  assert result.iterations == 2
  assert all(np.isfinite(v) for v in result.final_metrics.values())
  # The start line says which networks the shape chose.
  assert any("on cifar10 32x32x3 with the dcgan networks" in line
             for line in lines), lines
  with open(tmp_path / "run" / "run.json") as f:
    run = json.load(f)
  assert run["dataset"] == "cifar10"
  assert run["image_shape"] == list(SHAPE)
  assert run["num_classes"] == 4
  assert run["variant_options"]["networks"] == "dcgan"
  assert run["image_size"] is None and run["channels"] is None
  # The grids are in colour.
  assert read_png(result.final_grid).shape == (10 * 32, 10 * 32, 3)

  restored = checkpoints.restore_from_workdir(str(tmp_path / "run"))
  assert restored.variant.image_shape == SHAPE
  out = export.write_samples(str(tmp_path / "run"),
                             str(tmp_path / "samples.npz"), 12)
  with np.load(out["npz"]) as npz:
    assert npz["x"].shape == (12, *SHAPE)
    assert 0.0 <= npz["x"].min() and npz["x"].max() <= 1.0
    if variant == "cgan":
      assert list(npz["y"]) == [i % 4 for i in range(12)]
  assert read_png(out["png"]).shape == (2 * 32, 10 * 32, 3)
  if variant == "cgan":
    with pytest.raises(UsageError, match=r"label must be a class in 0\.\.3"):
      export.write_samples(str(tmp_path / "run"),
                           str(tmp_path / "seven.npz"), 2, label=7)

  exported = export.export_generator(str(tmp_path / "run"),
                                     str(tmp_path / "saved"))
  assert exported["image_shape"] == SHAPE
  serve = tf.saved_model.load(str(tmp_path / "saved")).signatures[
      "serving_default"]
  inputs = {"noise": tf.random.uniform([3, 100], -1.0, 1.0)}
  if variant == "cgan":
    inputs["labels"] = tf.constant([0, 1, 3])
  images = serve(**inputs)["images"]
  assert images.shape == (3, *SHAPE)

  scores = _evaluate(str(tmp_path / "run"), data, tmp_path, monkeypatch)
  assert np.isfinite(scores["fcd"]) and np.isfinite(scores["kid"])


def test_a_changed_dataset_is_refused_on_resume(tmp_path):
  train_lib.train(config(tmp_path, "dcgan", steps=1), log=quiet,
                  dataset=fake_colour())
  with pytest.raises(UsageError, match="holds a run with dataset='cifar10', "
                     "not 'fashion_mnist'"):
    train_lib.train(config(tmp_path, "dcgan", dataset="fashion_mnist"),
                    log=quiet, dataset=fake_colour())


@pytest.mark.parametrize("variant", ["cgan", "ssgan"])
def test_unlabelled_images_are_refused_for_a_variant_needing_labels(
    tmp_path, variant):
  with pytest.raises(UsageError, match=f"variant '{variant}' trains on class "
                     "labels and the fake_colour images have none"):
    train_lib.train(config(tmp_path, variant), log=quiet,
                    dataset=fake_colour(labelled=False))
  assert not os.listdir(tmp_path)  # refused before the first write


def test_eval_every_on_unlabelled_images_is_refused_first(tmp_path):
  with pytest.raises(UsageError, match="--eval_every measures FCD with a "
                     "classifier of the data's classes, and the fake_colour "
                     "images have none"):
    train_lib.train(config(tmp_path, "dcgan", eval_every=2), log=quiet,
                    dataset=fake_colour(labelled=False))
  assert not os.listdir(tmp_path)  # refused before the first write


class MnistOnlyGAN(gan_lib.GAN):
  """A variant whose constructor takes no `image_shape`: MNIST's alone."""

  def __init__(self, **options):
    super().__init__(**options)


def test_a_variant_without_the_shape_is_refused(tmp_path):
  with pytest.raises(UsageError, match=r"test_shapes:MnistOnlyGAN' trains on "
                     r"\(28, 28, 1\) images only, not \(32, 32, 3\)"):
    train_lib.train(config(tmp_path, "gan"), log=quiet,
                    dataset=fake_colour(), variant=MnistOnlyGAN)


def test_grids_tile_grey_and_colour_images():
  grey = np.linspace(0, 1, 6 * 4 * 5).reshape(6, 4, 5)
  grid = samples_lib.tile(grey, rows=2)
  assert grid.shape == (8, 15) and grid.dtype == np.uint8
  np.testing.assert_array_equal(grid[4:8, 0:5],
                                np.round(grey[3] * 255).astype(np.uint8))
  colour = np.random.RandomState(0).rand(5, 4, 6, 3)
  grid = samples_lib.tile(colour, rows=2)
  assert grid.shape == (8, 18, 3)
  np.testing.assert_array_equal(grid[4:8, 6:12],
                                np.round(colour[4] * 255).astype(np.uint8))
  np.testing.assert_array_equal(grid[4:8, 12:18], 0)  # padding


def _evaluate(workdir, data, tmp_path, monkeypatch):
  """Scores the run with a tiny classifier of its own 32x32x3 data."""
  monkeypatch.setenv(classifier_lib.CACHE_ENV, str(tmp_path / "cache"))
  monkeypatch.setattr(evaluation_workdir, "load_run_dataset",
                      lambda run, data_path=None: data)
  classifier_lib.load_or_train_classifier(data, TINY_CLASSIFIER,
                                          log=lambda line: None)
  return evaluation_workdir.evaluate_workdir(
      workdir, num_samples=20, log=lambda line: None,
      classifier=classifier_lib.classifier_path(data, TINY_CLASSIFIER))
