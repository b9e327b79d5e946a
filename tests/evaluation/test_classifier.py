"""Tests of gantape.evaluation.classifier: its outputs and its cache."""

import json
import os

import numpy as np
import pytest

from gantape.errors import UsageError
from gantape.evaluation import classifier as classifier_lib

from tests.conftest import make_fake_mnist
from tests.evaluation.conftest import TINY


def test_classifier_shapes_and_feature_model_shares_weights():
  model = classifier_lib.build_classifier(TINY)
  both = classifier_lib.features_and_probs_model(model)
  x = np.random.default_rng(0).uniform(size=[3, 28, 28, 1]).astype(np.float32)
  features, probs = both(x, training=False)
  assert features.shape == (3, 8) and probs.shape == (3, 10)
  np.testing.assert_allclose(np.sum(probs, axis=1), 1.0, rtol=1e-5)
  np.testing.assert_allclose(probs, model(x, training=False), rtol=1e-5)


def test_classifier_cache_trains_once(tmp_path, monkeypatch):
  monkeypatch.setenv(classifier_lib.CACHE_ENV, str(tmp_path))
  mnist = make_fake_mnist(num_train=100, num_test=20)
  path = classifier_lib.classifier_path(mnist, TINY)
  assert path.startswith(str(tmp_path / "mnist_classifier"))
  with pytest.raises(UsageError, match="gantape train-classifier"):
    classifier_lib.load_or_train_classifier(mnist, TINY,
                                            train_if_missing=False)
  trained = classifier_lib.load_or_train_classifier(mnist, TINY,
                                                    log=lambda s: None)
  assert os.path.exists(path)
  with open(path.replace(".weights.h5", ".json")) as f:
    assert 0.0 <= json.load(f)["test_accuracy"] <= 1.0
  loaded = classifier_lib.load_or_train_classifier(mnist, TINY,
                                                   train_if_missing=False)
  for a, b in zip(trained.weights, loaded.weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy())
  # Another config or other data gets another file.
  other = classifier_lib.ClassifierConfig(width=4, feature_dim=8, epochs=2)
  assert classifier_lib.classifier_path(mnist, other) != path
  assert classifier_lib.classifier_path(make_fake_mnist(seed=1), TINY) != path
