"""Evaluation beyond MNIST: a classifier per dataset, any Keras model or
SavedModel as the classifier, and unlabelled data scored in part."""

import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
from keras import layers

from gantape import data as data_lib
from gantape import train as train_lib
from gantape.errors import UsageError
from gantape.evaluation import classifier as classifier_lib
from gantape.evaluation import evaluator as evaluator_lib
from gantape.evaluation import features as features_lib
from gantape.evaluation import training as training_lib
from gantape.evaluation import workdir as workdir_lib

from tests.evaluation.conftest import TINY
from tests.evaluation.conftest import make_fake_dataset


def test_mnist_classifier_and_its_cache_key_are_unchanged():
  # The documented FCDs and existing caches rest on this exact model and key.
  model = classifier_lib.build_classifier()
  assert model.name == "mnist_classifier"
  assert [type(l).__name__ for l in model.layers] == (
      ["Conv2D", "BatchNormalization", "ReLU"] * 2 + ["MaxPooling2D"]
      + ["Conv2D", "BatchNormalization", "ReLU"] * 2 + ["MaxPooling2D"]
      + ["Flatten", "Dense", "BatchNormalization", "ReLU", "Dropout",
         "Dense"])
  assert [tuple(w.shape) for w in model.weights if "kernel" in w.path] == [
      (3, 3, 1, 32), (3, 3, 32, 32), (3, 3, 32, 64), (3, 3, 64, 64),
      (1024, 128), (128, 10)]
  assert model.count_params() == 198442
  rng = np.random.RandomState(0)
  x = rng.randint(0, 256, [20, 28, 28]).astype(np.uint8)
  y = (np.arange(20) % 10).astype(np.uint8)
  mnist = data_lib.Dataset(x_train=x, y_train=y, x_test=x[:10],
                           y_test=y[:10], name="mnist", num_classes=10)
  assert classifier_lib.classifier_path(mnist, root="/r") == (
      "/r/mnist_classifier/b98ac8f30cabf9cf.weights.h5")
  assert classifier_lib.classifier_path(mnist, TINY, root="/r") == (
      "/r/mnist_classifier/9ed8e8b82b58c1c4.weights.h5")


@pytest.mark.parametrize("shape,blocks", [((32, 32, 3), 2), ((64, 64, 3), 3),
                                          ((16, 16, 1), 1)])
def test_classifier_is_sized_to_the_images(shape, blocks):
  model = classifier_lib.build_classifier(TINY, shape, num_classes=7)
  pools = [l for l in model.layers if isinstance(l, layers.MaxPooling2D)]
  assert len(pools) == blocks and model.output_shape == (None, 7)
  assert model.name == "classifier"
  with pytest.raises(UsageError, match="at least 6x6"):
    classifier_lib.build_classifier(TINY, (4, 4, 1))


def test_colour_dataset_gets_its_own_cached_classifier_and_scores(
    tmp_path, monkeypatch):
  monkeypatch.setenv(classifier_lib.CACHE_ENV, str(tmp_path))
  cifar = make_fake_dataset((32, 32, 3), name="cifar10")
  path = classifier_lib.classifier_path(cifar, TINY)
  assert path.startswith(str(tmp_path / "cifar10_classifier") + os.sep)
  model = classifier_lib.load_or_train_classifier(cifar, TINY,
                                                  log=lambda s: None)
  assert model.input_shape == (None, 32, 32, 3)
  sidecar = classifier_lib.read_sidecar(path)
  assert 0.0 <= sidecar["test_accuracy"] <= 1.0
  assert sidecar["dataset"] == "cifar10" and sidecar["num_classes"] == 10
  assert sidecar["image_shape"] == [32, 32, 3]
  loaded = features_lib.load_feature_model(path, dataset=cifar)
  assert loaded.info["classifier_test_accuracy"] == sidecar["test_accuracy"]
  evaluator = evaluator_lib.Evaluator(cifar, loaded)
  result = evaluator.evaluate_images(cifar.x_test)
  assert result["fcd"] == pytest.approx(0.0, abs=1e-6)
  assert np.isfinite(result["kid"]) and result["kid_std"] >= 0
  assert sum(result["class_histogram"]) == 40 and "skipped" not in result
  # MNIST-shaped weights do not fit colour images: one clear line.
  mnist = make_fake_dataset((28, 28, 1), name="mnist")
  with pytest.raises(UsageError, match="do not fit images"):
    classifier_lib.load_or_train_classifier(mnist, TINY, path=path)


def _keras_classifier(shape=(32, 32, 3), num_classes=10, logits=False):
  """A functional classifier of someone else's, with a layer "embedding"."""
  inputs = keras.Input(shape)
  h = layers.Conv2D(4, 3, activation="relu")(inputs)
  h = layers.GlobalAveragePooling2D()(h)
  embedding = layers.Dense(6, activation="relu", name="embedding")(h)
  out = layers.Dense(num_classes,
                     activation=None if logits else "softmax")(embedding)
  return inputs, embedding, out


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_keras_model_file_as_classifier(tmp_path, suffix):
  cifar = make_fake_dataset((32, 32, 3))
  inputs, _, out = _keras_classifier(logits=suffix == ".h5")
  path = str(tmp_path / f"model{suffix}")
  keras.Model(inputs, out).save(path)
  model = features_lib.load_feature_model(path, "embedding", dataset=cifar)
  result = evaluator_lib.Evaluator(cifar, model).evaluate_images(
      cifar.x_train[:40])
  assert result["fcd"] > 0 and np.isfinite(result["kid"])
  assert 1.0 <= result["classifier_score"] <= 10.0  # logits get a softmax
  with pytest.raises(UsageError) as error:
    features_lib.load_feature_model(path, "nope", dataset=cifar)
  message = str(error.value)
  assert "no layer 'nope'" in message and "embedding" in message
  assert "--feature_layer" in message and "\n" not in message
  with pytest.raises(UsageError, match=r"takes images \[32, 32, 3\].*"
                     r"\[28, 28, 1\]"):
    features_lib.load_feature_model(path, "embedding",
                                    dataset=make_fake_dataset((28, 28, 1)))


def test_saved_model_as_classifier(tmp_path):
  cifar = make_fake_dataset((32, 32, 3))
  inputs, embedding, out = _keras_classifier()
  path = str(tmp_path / "saved_model")
  keras.Model(inputs, {"embedding": embedding, "probs": out}).export(
      path, verbose=False)
  model = features_lib.load_feature_model(path, "embedding", dataset=cifar)
  assert model.num_outputs == 10
  result = evaluator_lib.Evaluator(cifar, model).evaluate_images(
      cifar.x_train[:40], labels=np.arange(40) % 10, per_class=False)
  assert result["fcd"] > 0 and 0 <= result["conditional_accuracy"] <= 1
  with pytest.raises(UsageError, match="no output 'features'.*embedding"):
    features_lib.load_feature_model(path, dataset=cifar)
  with pytest.raises(UsageError, match="does not exist"):
    features_lib.load_feature_model(str(tmp_path / "none"))


def test_unlabelled_data_is_scored_in_part(tmp_path):
  faces = make_fake_dataset((32, 32, 3), num_classes=None,
                            name=f"folder:{tmp_path}")
  assert features_lib.evaluation_classifier(faces) is None
  bare = evaluator_lib.Evaluator(faces, None)
  result = bare.evaluate_images(faces.x_test)
  assert set(result) == {"num_samples", "skipped"}
  assert set(result["skipped"]) == {"fcd", "kid", "classifier_score",
                                    "coverage", "conditional_accuracy",
                                    "test_accuracy"}
  assert "no --classifier" in result["skipped"]["fcd"]
  assert bare.floor(40) == {}
  with pytest.raises(UsageError, match="unlabelled: gantape's evaluation "
                     "classifier learns its class labels"):
    classifier_lib.load_or_train_classifier(faces, TINY, log=lambda s: None)
  with pytest.raises(UsageError, match="unlabelled dataset folder:.*"
                     "--classifier"):
    training_lib.TrainingEvaluator(faces, num_samples=20, log=lambda s: None)
  # With a classifier of its own: FCD and KID, still no class scores.
  inputs, _, out = _keras_classifier()
  path = str(tmp_path / "model.keras")
  keras.Model(inputs, out).save(path)
  model = features_lib.evaluation_classifier(faces, path, "embedding")
  scored = evaluator_lib.Evaluator(faces, model).evaluate_images(
      faces.x_train[:40])
  assert {"fcd", "kid", "kid_std"} <= set(scored)
  assert "coverage" not in scored and "fcd" not in scored["skipped"]
  assert "unlabelled" in scored["skipped"]["coverage"]
  # A labelled dataset whose classifier predicts other classes: no class
  # scores either, and why.
  other = make_fake_dataset((32, 32, 3), num_classes=3)
  mismatch = evaluator_lib.Evaluator(other, model).evaluate_images(
      other.x_train[:40])
  assert "fcd" in mismatch and "predicts 10 classes" in (
      mismatch["skipped"]["coverage"])


def test_no_test_split_scores_against_the_training_set():
  cifar = make_fake_dataset((32, 32, 3), num_test=0)
  evaluator = evaluator_lib.Evaluator(
      cifar, classifier_lib.build_classifier(TINY, (32, 32, 3)))
  assert evaluator.reference == "train"
  assert evaluator.evaluate_images(cifar.x_train)["fcd"] == pytest.approx(
      0.0, abs=1e-6)


def test_train_classifier_command_for_a_colour_dataset(tmp_path):
  cifar = make_fake_dataset((32, 32, 3), num_train=60, num_test=20)
  data_path = str(tmp_path / "cifar.npz")
  np.savez(data_path, x_train=cifar.x_train, y_train=cifar.y_train,
           x_test=cifar.x_test, y_test=cifar.y_test)
  out = subprocess.run(
      [sys.executable, "-m", "gantape", "train-classifier",
       "--dataset=cifar10", f"--data_path={data_path}", "--epochs=1"],
      capture_output=True, text=True, check=False,
      env={**os.environ, classifier_lib.CACHE_ENV: str(tmp_path / "cache")})
  assert out.returncode == 0, out.stderr[-2000:]
  lines = out.stdout.strip().splitlines()
  assert lines[-2].startswith(
      f"classifier: {tmp_path / 'cache' / 'cifar10_classifier'}")
  assert re.fullmatch(r"test accuracy: \d\.\d{4}", lines[-1])


def test_evaluate_workdir_with_a_keras_classifier_and_unlabelled_data(
    tmp_path, monkeypatch):
  mnist = make_fake_dataset((28, 28, 1), num_train=64, num_test=20,
                            name="mnist")
  data_path = str(tmp_path / "mnist.npz")
  np.savez(data_path, x_train=mnist.x_train, y_train=mnist.y_train,
           x_test=mnist.x_test, y_test=mnist.y_test)
  workdir = str(tmp_path / "run")
  train_lib.train(train_lib.TrainConfig(
      workdir=workdir, variant="gan", steps=2, batch_size=8,
      data_path=data_path, iterations_per_call=1, log_every=2,
      sample_every=2, checkpoint_every=2), log=lambda s: None)
  inputs, _, out = _keras_classifier((28, 28, 1))
  path = str(tmp_path / "model.keras")
  keras.Model(inputs, out).save(path)
  result = workdir_lib.evaluate_workdir(
      workdir, num_samples=20, classifier=path, feature_layer="embedding",
      log=lambda s: None)
  assert result["classifier"] == path and result["reference"] == "test"
  assert {"fcd", "kid", "floor_fcd", "coverage"} <= set(result)
  with pytest.raises(UsageError, match="no layer 'features'"):
    workdir_lib.evaluate_workdir(workdir, num_samples=20, classifier=path)
  # The same run scored against unlabelled images: the documented partial
  # result, and one line saying what is not computed and why.
  unlabelled = make_fake_dataset((28, 28, 1), num_classes=None,
                                 name="folder:/faces")
  monkeypatch.setattr(workdir_lib, "load_run_dataset",
                      lambda run, data_path=None: unlabelled)
  lines = []
  result = workdir_lib.evaluate_workdir(workdir, num_samples=20,
                                        log=lines.append)
  assert "fcd" not in result and "coverage" not in result
  assert set(result["skipped"]) >= {"fcd", "kid", "coverage"}
  assert result["dataset"] == "folder:/faces"
  assert any(line.startswith("Not computed: fcd, kid: dataset folder:/faces "
                             "is unlabelled and no --classifier was given")
             for line in lines)
  result = workdir_lib.evaluate_workdir(
      workdir, num_samples=20, classifier=path, feature_layer="embedding",
      log=lambda s: None)
  assert "fcd" in result and "coverage" not in result
  with open(os.path.join(workdir, workdir_lib.RESULT_FILE)) as f:
    assert json.load(f)["skipped"] == result["skipped"]


def test_per_class_fcd_leaves_out_classes_with_too_few_images():
  # 12 samples over 10 classes: most classes hold one, too few for an FCD.
  cifar = make_fake_dataset((32, 32, 3), num_test=40)
  evaluator = evaluator_lib.Evaluator(
      cifar, classifier_lib.build_classifier(TINY, (32, 32, 3)))
  result = evaluator.evaluate_images(cifar.x_train[:12],
                                     labels=np.arange(12) % 10)
  by_class = result["per_class_fcd_by_digit"]
  assert by_class[2:] == [None] * 8 and None not in by_class[:2]
  assert result["per_class_fcd"] == pytest.approx(np.mean(by_class[:2]))
