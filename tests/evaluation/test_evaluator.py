"""Tests of gantape.evaluation.evaluator on fake data and untrained variants."""

import numpy as np
import pytest

from gantape import variants
from gantape.evaluation import classifier as classifier_lib
from gantape.evaluation import evaluator as evaluator_lib

from tests.conftest import make_fake_mnist
from tests.evaluation.conftest import TINY


def test_evaluator_on_fake_data():
  mnist = make_fake_mnist(num_train=200, num_test=100)
  evaluator = evaluator_lib.Evaluator(mnist,
                                      classifier_lib.build_classifier(TINY))
  same = evaluator.evaluate_images(mnist.x_test.astype(np.float32) / 255.0)
  assert same["fcd"] == pytest.approx(0.0, abs=1e-6)
  assert same["num_samples"] == 100 and sum(same["class_histogram"]) == 100
  assert 1.0 <= same["classifier_score"] <= 10.0
  blank = evaluator.evaluate_images(np.zeros([100, 28, 28], np.float32),
                                    labels=np.arange(100) % 10)
  assert blank["coverage"] == 1  # one image, one predicted class
  assert blank["fcd"] > 0.0
  assert blank["conditional_accuracy"] == pytest.approx(0.1)
  assert len(blank["per_class_fcd_by_digit"]) == 10
  assert blank["per_class_fcd"] == pytest.approx(
      np.mean(blank["per_class_fcd_by_digit"]))
  floor = evaluator.floor(100, per_class=True)
  assert floor["floor_fcd"] > 0.0 and floor["per_class_floor_fcd"] > 0.0


@pytest.mark.parametrize("name", ["cgan", "ssgan"])
def test_evaluate_variant_keys(name):
  mnist = make_fake_mnist(num_train=100, num_test=40)
  evaluator = evaluator_lib.Evaluator(mnist,
                                      classifier_lib.build_classifier(TINY))
  result = evaluator.evaluate_variant(variants.build(name), 40)
  assert result["num_samples"] == 40
  assert 0.0 <= result["test_accuracy"] <= 1.0
  if name == "cgan":
    assert 0.0 <= result["conditional_accuracy"] <= 1.0
    assert "per_class_fcd" in result
  else:
    assert "conditional_accuracy" not in result


def test_generate_samples_asks_for_each_digit_equally():
  images, labels = evaluator_lib.generate_samples(variants.build("cgan"), 30,
                                                  batch_size=7)
  assert images.shape == (30, 28, 28)
  assert np.bincount(labels).tolist() == [3] * 10
  images, labels = evaluator_lib.generate_samples(variants.build("gan"), 5)
  assert images.shape == (5, 28, 28) and labels is None


def test_degeneration_warnings():
  fine = {"coverage": 10, "fcd": 5.0, "class_histogram": [1] * 10}
  assert evaluator_lib.degeneration_warnings(fine, None, 100) == []
  assert evaluator_lib.degeneration_warnings(fine, 3.0, 100) == []
  collapsed = {"coverage": 7, "fcd": 7.0, "class_histogram": [1] * 10}
  lines = evaluator_lib.degeneration_warnings(collapsed, 3.0, 200)
  assert len(lines) == 2
  assert "coverage dropped to 7/10" in lines[0]
  assert "FCD jumped" in lines[1] and lines[1].startswith("WARNING")
