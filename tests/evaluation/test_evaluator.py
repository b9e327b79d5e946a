"""Tests of gantape.evaluation: statistics vs hand-computed values, the
classifier and FCD pipeline on fake data, evaluation during training, and
scripts/evaluate.py on a tiny workdir."""

import dataclasses
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from gantape import checkpoints
from gantape import ema as ema_lib
from gantape import evaluation
from gantape import report
from gantape import train as train_lib
from gantape import variants
from gantape.errors import UsageError

from tests.conftest import make_fake_mnist

TINY = evaluation.ClassifierConfig(width=4, feature_dim=8, epochs=1,
                                   batch_size=50)


# ---- statistics ------------------------------------------------------------


def test_gaussian_stats_matches_hand_computed():
  mu, sigma = evaluation.gaussian_stats([[1.0, 2.0], [3.0, 6.0]])
  np.testing.assert_allclose(mu, [2.0, 4.0])
  # Unbiased: deviations (+-1, +-2) over N - 1 = 1.
  np.testing.assert_allclose(sigma, [[2.0, 4.0], [4.0, 8.0]])


def test_sqrtm_psd_squares_back():
  a = np.random.default_rng(0).normal(size=[5, 5])
  psd = a @ a.T
  root = evaluation.sqrtm_psd(psd)
  np.testing.assert_allclose(root @ root, psd, atol=1e-9)
  np.testing.assert_allclose(root, root.T, atol=1e-12)


def test_frechet_distance_of_identical_gaussians_is_zero():
  a = np.random.default_rng(1).normal(size=[6, 6])
  sigma = a @ a.T + np.eye(6)
  mu = np.arange(6.0)
  assert evaluation.frechet_distance(mu, sigma, mu, sigma) == pytest.approx(
      0.0, abs=1e-8)


def test_frechet_distance_1d_closed_form():
  # N(m1, s1^2) vs N(m2, s2^2): (m1 - m2)^2 + (s1 - s2)^2.
  got = evaluation.frechet_distance(np.array([1.0]), np.array([[4.0]]),
                                    np.array([-2.0]), np.array([[9.0]]))
  assert got == pytest.approx(3.0**2 + (2.0 - 3.0)**2)


def test_frechet_distance_diagonal_closed_form():
  v1, v2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 1.0])
  mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
  expected = np.sum((mu1 - mu2)**2) + np.sum((np.sqrt(v1) - np.sqrt(v2))**2)
  got = evaluation.frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2))
  assert got == pytest.approx(expected)
  assert expected == pytest.approx((1 + 0 + 4) + (4 + 1 + 0.25))


def test_frechet_distance_non_commuting_covariances():
  rng = np.random.default_rng(2)
  a, b = rng.normal(size=[4, 4]), rng.normal(size=[4, 4])
  s1, s2 = a @ a.T + 0.1 * np.eye(4), b @ b.T + 0.1 * np.eye(4)
  mu1, mu2 = rng.normal(size=4), rng.normal(size=4)
  # Reference: S1 S2 has real positive eigenvalues; tr sqrt = sum sqrt(eig).
  trace_sqrt = np.sum(np.sqrt(np.linalg.eigvals(s1 @ s2).real))
  expected = (np.sum((mu1 - mu2)**2) + np.trace(s1) + np.trace(s2)
              - 2 * trace_sqrt)
  assert evaluation.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(
      expected, rel=1e-9)
  # Symmetric in its arguments.
  assert evaluation.frechet_distance(mu2, s2, mu1, s1) == pytest.approx(
      expected, rel=1e-9)


def test_feature_distance_of_shifted_samples():
  x = np.random.default_rng(3).normal(size=[500, 3])
  assert evaluation.feature_distance(x, x) == pytest.approx(0.0, abs=1e-8)
  # Shifting by a constant moves only the mean: distance = |shift|^2.
  assert evaluation.feature_distance(x, x + [1.0, 2.0, 0.0]) == pytest.approx(
      5.0)


def test_classifier_score_hand_computed():
  probs = np.array([[1.0, 0.0], [0.5, 0.5]])
  # p(y) = (0.75, 0.25); KL = log(4/3) and 0.5 log(2/3) + 0.5 log 2.
  kl = [math.log(4 / 3), 0.5 * math.log(2 / 3) + 0.5 * math.log(2)]
  assert evaluation.classifier_score(probs) == pytest.approx(
      math.exp(np.mean(kl)), rel=1e-9)
  assert evaluation.classifier_score(np.eye(10)) == pytest.approx(10.0)
  assert evaluation.classifier_score(np.full([7, 10], 0.1)) == pytest.approx(
      1.0)


def test_class_histogram_and_coverage_threshold():
  hist = evaluation.class_histogram(np.array([0] * 95 + [1] * 5))
  assert hist.tolist() == [95, 5] + [0] * 8
  assert evaluation.coverage(hist) == 2  # 5% counts
  assert evaluation.coverage(
      evaluation.class_histogram(np.array([0] * 96 + [1] * 4))) == 1
  assert evaluation.coverage(np.zeros(10)) == 0
  assert evaluation.coverage(
      evaluation.class_histogram(np.arange(100) % 10)) == 10


def test_degeneration_warnings():
  fine = {"coverage": 10, "fcd": 5.0, "class_histogram": [1] * 10}
  assert evaluation.degeneration_warnings(fine, None, 100) == []
  assert evaluation.degeneration_warnings(fine, 3.0, 100) == []
  collapsed = {"coverage": 7, "fcd": 7.0, "class_histogram": [1] * 10}
  lines = evaluation.degeneration_warnings(collapsed, 3.0, 200)
  assert len(lines) == 2
  assert "coverage dropped to 7/10" in lines[0]
  assert "FCD jumped" in lines[1] and lines[1].startswith("WARNING")


# ---- classifier and pipeline ------------------------------------------------


def test_classifier_shapes_and_feature_model_shares_weights():
  model = evaluation.build_classifier(TINY)
  both = evaluation.features_and_probs_model(model)
  x = np.random.default_rng(0).uniform(size=[3, 28, 28, 1]).astype(np.float32)
  features, probs = both(x, training=False)
  assert features.shape == (3, 8) and probs.shape == (3, 10)
  np.testing.assert_allclose(np.sum(probs, axis=1), 1.0, rtol=1e-5)
  np.testing.assert_allclose(probs, model(x, training=False), rtol=1e-5)


def test_classifier_cache_trains_once(tmp_path, monkeypatch):
  monkeypatch.setenv(evaluation.CACHE_ENV, str(tmp_path))
  mnist = make_fake_mnist(num_train=100, num_test=20)
  path = evaluation.classifier_path(mnist, TINY)
  assert path.startswith(str(tmp_path / "mnist_classifier"))
  with pytest.raises(UsageError, match="train_classifier.py"):
    evaluation.load_or_train_classifier(mnist, TINY, train_if_missing=False)
  trained = evaluation.load_or_train_classifier(mnist, TINY, log=lambda s: None)
  assert os.path.exists(path)
  with open(path.replace(".weights.h5", ".json")) as f:
    assert 0.0 <= json.load(f)["test_accuracy"] <= 1.0
  loaded = evaluation.load_or_train_classifier(mnist, TINY,
                                               train_if_missing=False)
  for a, b in zip(trained.weights, loaded.weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy())
  # Another config or other data gets another file.
  other = evaluation.ClassifierConfig(width=4, feature_dim=8, epochs=2)
  assert evaluation.classifier_path(mnist, other) != path
  assert evaluation.classifier_path(make_fake_mnist(seed=1), TINY) != path


def test_evaluator_on_fake_data():
  mnist = make_fake_mnist(num_train=200, num_test=100)
  evaluator = evaluation.Evaluator(mnist, evaluation.build_classifier(TINY))
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
  evaluator = evaluation.Evaluator(mnist, evaluation.build_classifier(TINY))
  result = evaluator.evaluate_variant(variants.build(name), 40)
  assert result["num_samples"] == 40
  assert 0.0 <= result["test_accuracy"] <= 1.0
  if name == "cgan":
    assert 0.0 <= result["conditional_accuracy"] <= 1.0
    assert "per_class_fcd" in result
  else:
    assert "conditional_accuracy" not in result


def test_generate_samples_asks_for_each_digit_equally():
  images, labels = evaluation.generate_samples(variants.build("cgan"), 30,
                                               batch_size=7)
  assert images.shape == (30, 28, 28)
  assert np.bincount(labels).tolist() == [3] * 10
  images, labels = evaluation.generate_samples(variants.build("gan"), 5)
  assert images.shape == (5, 28, 28) and labels is None


def test_generator_ema_update():
  source = variants.build("gan").generator
  average = variants.build("gan").generator
  ema = ema_lib.GeneratorEma(source, average, decay=0.5)
  start = [w.numpy().copy() for w in source.weights]
  for w in source.weights:
    w.assign(w + 1.0)
  ema.update(1)
  for a, s in zip(average.weights, start):
    np.testing.assert_allclose(a.numpy(), s + 0.5, rtol=1e-6, atol=1e-6)
  ema.update(2)  # decay**2 = 0.25 of the old average stays
  for a, s in zip(average.weights, start):
    np.testing.assert_allclose(a.numpy(), s + 0.875, rtol=1e-6, atol=1e-6)
  with pytest.raises(UsageError):
    ema_lib.GeneratorEma(source, average, decay=1.0)


def test_generator_ema_warm_up():
  source = variants.build("gan").generator
  average = variants.build("gan").generator
  ema = ema_lib.GeneratorEma(source, average, decay=0.999)
  assert ema.decay_at(1) == pytest.approx(2 / 11)
  assert ema.decay_at(100_000) == 0.999
  start = [w.numpy().copy() for w in average.weights]
  for w in source.weights:
    w.assign(w + 1.0)
  ema.update(2, step=2)  # decays 2/11 and 3/12: the average moves 1 - 1/22
  for a, s in zip(average.weights, start):
    np.testing.assert_allclose(a.numpy(), s + 1 - (2 / 11) * (3 / 12),
                               rtol=1e-5, atol=1e-5)


# ---- during training and scripts/evaluate.py --------------------------------


def test_train_with_eval_and_ema_then_evaluate_script(tmp_path, monkeypatch):
  monkeypatch.setenv(evaluation.CACHE_ENV, str(tmp_path / "cache"))
  mnist = make_fake_mnist(num_train=200, num_test=60)
  data_path = str(tmp_path / "mnist.npz")
  np.savez(data_path, x_train=mnist.x_train, y_train=mnist.y_train,
           x_test=mnist.x_test, y_test=mnist.y_test)
  # A cheap classifier instead of the default one (GANTAPE_CLASSIFIER also
  # reaches the script's subprocess).
  path = str(tmp_path / "tiny.weights.h5")
  evaluation.load_or_train_classifier(mnist, TINY, path=path,
                                      log=lambda s: None)
  monkeypatch.setenv(evaluation.CLASSIFIER_ENV, path)
  workdir = str(tmp_path / "run")
  lines = []
  config = train_lib.TrainConfig(
      workdir=workdir, variant="cgan", steps=4, batch_size=8,
      data_path=data_path, iterations_per_call=2, log_every=2,
      sample_every=4, checkpoint_every=4, eval_every=2, eval_samples=20,
      ema_decay=0.9)
  train_lib.train(config, log=lines.append)
  evals = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))
           if "eval/fcd" in l]
  assert [e["step"] for e in evals] == [2, 4]
  assert all(0 <= e["eval/coverage"] <= 10 for e in evals)
  assert "eval/conditional_accuracy" in evals[0]
  assert 0 <= evals[0]["eval/live_coverage"] <= 10  # the live G beside the EMA
  assert evals[0]["eval/live_fcd"] >= 0
  assert any(l.startswith("[eval] step 2") for l in lines)
  # Resumed, the run keeps the networks at its lowest FCD over both parts.
  train_lib.train(dataclasses.replace(config, steps=6), log=lines.append)
  evals = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))
           if "eval/fcd" in l]
  assert [e["step"] for e in evals] == [2, 4, 6]
  lowest = min(evals, key=lambda e: e["eval/fcd"])
  best_path = tf.train.latest_checkpoint(os.path.join(workdir, "best"))
  assert best_path.endswith(f"-{lowest['step']}")
  assert checkpoints.best_fcd(best_path) == pytest.approx(lowest["eval/fcd"])

  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  out = subprocess.run(
      [sys.executable, os.path.join(repo, "scripts", "evaluate.py"),
       f"--workdir={workdir}", "--num_samples=40"],
      capture_output=True, text=True, env={**os.environ}, check=False)
  assert out.returncode == 0, out.stderr[-2000:]
  result = json.loads(out.stdout.strip().splitlines()[-1])
  for key in ("fcd", "floor_fcd", "classifier_score", "coverage",
              "class_histogram", "conditional_accuracy", "per_class_fcd",
              "test_accuracy"):
    assert key in result, key
  assert result["step"] == 6 and result["sampling"] == "ema"
  assert "raw_generator" in result
  with open(os.path.join(workdir, evaluation.RESULT_FILE)) as f:
    assert json.load(f)["fcd"] == result["fcd"]
  row = report.quality_row(workdir, "cgan")
  assert (row["fcd"], row["iterations"], row["ema_decay"]) == (
      result["fcd"], 6, 0.9)
  assert row["live_fcd"] == result["raw_generator"]["fcd"]

  out = subprocess.run(
      [sys.executable, os.path.join(repo, "scripts", "evaluate.py"),
       f"--workdir={workdir}", "--num_samples=40", "--checkpoint=best"],
      capture_output=True, text=True, env={**os.environ}, check=False)
  assert out.returncode == 0, out.stderr[-2000:]
  best = json.loads(out.stdout.strip().splitlines()[-1])
  assert (best["step"], best["checkpoint"]) == (lowest["step"], best_path)
  rows = report.quality_rows([("cgan", workdir), ("cgan/best", workdir)])
  assert [r["iterations"] for r in rows] == [6, lowest["step"]]
  with open(os.path.join(workdir, evaluation.RESULT_FILE)) as f:
    assert json.load(f)["step"] == 6  # the latest's file is left alone
  # A missing workdir is a usage error (exit 2), not a traceback.
  bad = subprocess.run(
      [sys.executable, os.path.join(repo, "scripts", "evaluate.py"),
       f"--workdir={tmp_path / 'none'}"], capture_output=True, text=True,
      check=False)
  assert bad.returncode == 2 and "workdir" in bad.stderr


def test_result_file_names():
  assert evaluation.result_file(checkpoints.LATEST) == evaluation.RESULT_FILE
  assert evaluation.result_file(checkpoints.BEST) == "evaluation_best.json"
  assert evaluation.result_file("/w/checkpoints/ckpt-9") == (
      "evaluation_ckpt-9.json")


@pytest.mark.parametrize("field,value", [("ema_decay", 1.0), ("ema_decay", -0.1),
                                         ("eval_every", 0)])
def test_train_config_rejects_bad_quality_options(field, value):
  config = train_lib.TrainConfig(workdir="/tmp/x", **{field: value})
  with pytest.raises(UsageError, match=field):
    config.validate()
  with pytest.raises(UsageError, match="eval_samples"):
    train_lib.TrainConfig(workdir="/tmp/x", eval_every=10,
                          eval_samples=5).validate()
