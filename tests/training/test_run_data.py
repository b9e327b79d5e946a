"""`--train_subset`: N training images, the same for every seed, balanced
over the classes; the run trains on them and is evaluated on the whole
dataset, and a resume keeps N."""

import dataclasses
import json
import os
import re

import numpy as np
import pytest

from gantape import build as build_lib
from gantape import train as train_lib
from gantape import variants
from gantape.errors import UsageError
from gantape.evaluation import workdir as eval_workdir
from gantape.training import loop as loop_lib
from gantape.training import resume as resume_lib
from gantape.training import run_data
from gantape.training.config import TrainConfig

from tests.conftest import make_fake_mnist


def _subset(dataset, num, seed=0):
  return run_data.training_data(
      TrainConfig(workdir="w", train_subset=num, seed=seed), dataset)


def _rows(images):
  return {image.tobytes() for image in images}


def test_the_subset_is_the_same_for_every_seed_and_balanced_over_classes():
  full = make_fake_mnist(num_train=200, num_test=50)
  first, second = _subset(full, 40, seed=0), _subset(full, 40, seed=1)
  np.testing.assert_array_equal(first.x_train, second.x_train)
  np.testing.assert_array_equal(first.y_train, second.y_train)
  assert np.bincount(first.y_train, minlength=10).tolist() == [4] * 10
  assert _rows(first.x_train) <= _rows(full.x_train)
  assert len(_rows(first.x_train)) == 40  # 40 distinct images
  # Labels stay with their images, and the test split is whole.
  where = {image.tobytes(): i for i, image in enumerate(full.x_train)}
  assert [full.y_train[where[image.tobytes()]] for image in first.x_train] == (
      first.y_train.tolist())
  assert first.x_test is full.x_test and first.y_test is full.y_test
  assert (first.num_classes, first.name) == (10, full.name)
  assert _subset(full, None) is full


def test_unlabelled_images_are_drawn_the_same_for_every_seed():
  full = dataclasses.replace(make_fake_mnist(num_train=100), y_train=None,
                             y_test=None)
  first, second = _subset(full, 30, seed=0), _subset(full, 30, seed=5)
  np.testing.assert_array_equal(first.x_train, second.x_train)
  assert len(_rows(first.x_train)) == 30 and first.y_train is None
  assert _rows(first.x_train) <= _rows(full.x_train)


@pytest.mark.parametrize("num,labelled,message", [
    (45, True, re.escape(
        "train_subset=45 is not a multiple of the 10 classes of the mnist "
        "images; pass a multiple of 10 (e.g. --train_subset=40)")),
    (5, True, r"not a multiple .* \(e.g. --train_subset=10\)"),
    (210, True, "train_subset=210 is larger than the 200 training examples"),
    (120, False, "train_subset=120 is larger than the 100 training examples"),
])
def test_a_subset_the_data_cannot_give_is_refused(num, labelled, message):
  full = make_fake_mnist(num_train=200 if labelled else 100)
  if not labelled:
    full = dataclasses.replace(full, y_train=None, y_test=None)
  with pytest.raises(UsageError, match=message):
    _subset(full, num)


def test_more_of_a_class_than_it_holds_is_refused():
  full = make_fake_mnist(num_train=200)
  y_train = full.y_train.copy()
  y_train[y_train == 3] = 4  # class 3 left with no images
  y_train[:2] = 3
  full = dataclasses.replace(full, y_train=y_train)
  with pytest.raises(UsageError, match="train_subset=40 asks 4 examples of "
                     "class 3 but the data holds 2; lower train_subset"):
    _subset(full, 40)


@pytest.mark.parametrize("value", [0, -2000, 2.5])
def test_a_train_subset_that_is_not_a_positive_integer_is_refused(value):
  with pytest.raises(UsageError, match="train_subset must be a positive "
                     "integer"):
    TrainConfig(workdir="w", train_subset=value).validate()


def test_ssgan_draws_its_labels_from_the_subset():
  full = make_fake_mnist(num_train=200)
  subset = _subset(full, 40)
  ssgan = variants.build("ssgan", num_labeled=20)
  labelled = ssgan.input_streams(subset, seed=0)["labeled_"]
  assert _rows(labelled.images) <= _rows(subset.x_train)
  assert np.bincount(labelled.labels, minlength=10).tolist() == [2] * 10
  with pytest.raises(UsageError, match="num_labeled=50 is larger than the 40 "
                     "training examples"):
    variants.build("ssgan", num_labeled=50).input_streams(subset, seed=0)


def test_a_run_trains_on_the_subset_and_is_evaluated_on_the_whole_dataset(
    tmp_path, monkeypatch):
  full = make_fake_mnist(num_train=200, num_test=50)
  data_path = str(tmp_path / "mnist.npz")
  np.savez(data_path, x_train=full.x_train, y_train=full.y_train,
           x_test=full.x_test, y_test=full.y_test)
  trained_on, evaluated_on = [], []
  make_input = build_lib.Trainable.input

  def recording_input(trainable, dataset):
    trained_on.append(dataset)
    return make_input(trainable, dataset)

  class RecordingEvaluator:
    """Stands in for `TrainingEvaluator`, whose dataset also trains (and
    names in the cache) the classifier that scores the run."""

    def __init__(self, dataset, **unused_kwargs):
      evaluated_on.append(dataset)

    def __call__(self, variant, step, live_variant=None, best_fcd=None):
      return {"eval/fcd": 1.0}

  monkeypatch.setattr(build_lib.Trainable, "input", recording_input)
  monkeypatch.setattr(loop_lib, "TrainingEvaluator", RecordingEvaluator)
  workdir = str(tmp_path / "run")
  config = TrainConfig(
      workdir=workdir, variant="gan", preset="seed", data_path=data_path,
      train_subset=40, steps=2, batch_size=8, iterations_per_call=2,
      log_every=2, sample_every=2, checkpoint_every=2, eval_every=2)
  train_lib.train(config, log=lambda _: None)
  [trained], [evaluated] = trained_on, evaluated_on
  assert len(trained.x_train) == 40
  assert len(evaluated.x_train) == 200 and len(evaluated.x_test) == 50
  with open(os.path.join(workdir, "run.json")) as f:
    run = json.load(f)
  assert (run["train_subset"], run["train_images"]) == (40, 40)
  # `gantape evaluate` reads the whole dataset from run.json too.
  assert len(eval_workdir.load_run_dataset(run).x_train) == 200
  for other in (None, 50):
    with pytest.raises(UsageError, match=rf"train_subset=40, not {other}; "
                       r"use a new --workdir, or the same train_subset .*"
                       r"\(--train_subset=40\)"):
      train_lib.train(dataclasses.replace(config, train_subset=other,
                                          steps=4), log=lambda _: None)


def test_a_run_recorded_before_train_subset_trained_on_every_image():
  recorded = resume_lib.Recorded(None, [resume_lib.Record(
      "workdir 'w'", "holds a run", {"variant": "dcgan", "batch_size": 64})])
  config = TrainConfig(workdir="w", ema_decay=0.0, train_subset=40)
  with pytest.raises(UsageError, match=r"holds a run with train_subset=None, "
                     r"not 40; use a new --workdir"):
    resume_lib.check(config, recorded, variants.get_class("dcgan"))
  resume_lib.check(dataclasses.replace(config, train_subset=None), recorded,
                   variants.get_class("dcgan"))
