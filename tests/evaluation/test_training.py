"""Evaluation during training, then scripts/evaluate.py and the report on it.

A tiny CGAN run with `eval_every` and an EMA exercises `TrainingEvaluator`
through `gantape.train`, the best checkpoint across a resume,
`evaluate_workdir` through the script, and `report.quality_row(s)` on the
result files.
"""

import dataclasses
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantape import ema
from gantape import train as train_lib
from gantape import variants
from gantape.errors import UsageError
from gantape.evaluation import classifier as classifier_lib
from gantape.evaluation import evaluator as evaluator_lib
from gantape.evaluation import report
from gantape.evaluation import training as training_lib
from gantape.evaluation import workdir as workdir_lib
from gantape.training import checkpoints
from gantape.training import samples as samples_lib

from tests.conftest import REPO_ROOT
from tests.conftest import make_fake_mnist
from tests.evaluation.conftest import TINY


def test_train_with_eval_and_ema_then_evaluate_script(tmp_path, monkeypatch):
  monkeypatch.setenv(classifier_lib.CACHE_ENV, str(tmp_path / "cache"))
  mnist = make_fake_mnist(num_train=200, num_test=60)
  data_path = str(tmp_path / "mnist.npz")
  np.savez(data_path, x_train=mnist.x_train, y_train=mnist.y_train,
           x_test=mnist.x_test, y_test=mnist.y_test)
  # A cheap classifier instead of the default one (GANTAPE_CLASSIFIER also
  # reaches the script's subprocess).
  path = str(tmp_path / "tiny.weights.h5")
  classifier_lib.load_or_train_classifier(mnist, TINY, path=path,
                                          log=lambda s: None)
  monkeypatch.setenv(classifier_lib.CLASSIFIER_ENV, path)
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

  out = subprocess.run(
      [sys.executable, os.path.join(REPO_ROOT, "scripts", "evaluate.py"),
       f"--workdir={workdir}", "--num_samples=40"],
      capture_output=True, text=True, env={**os.environ}, check=False)
  assert out.returncode == 0, out.stderr[-2000:]
  # A table on stdout; the result itself in the workdir.
  assert out.stdout.startswith("metric ")
  assert "evaluation.json" in out.stdout.strip().splitlines()[-1]
  with open(os.path.join(workdir, workdir_lib.RESULT_FILE)) as f:
    result = json.load(f)
  for key in ("fcd", "floor_fcd", "classifier_score", "coverage",
              "class_histogram", "conditional_accuracy", "per_class_fcd",
              "test_accuracy"):
    assert key in result, key
  assert result["step"] == 6 and result["sampling"] == "ema"
  assert "raw_generator" in result
  row = report.quality_row(workdir, "cgan")
  assert (row["fcd"], row["iterations"], row["ema_decay"]) == (
      result["fcd"], 6, 0.9)
  assert row["live_fcd"] == result["raw_generator"]["fcd"]

  out = subprocess.run(
      [sys.executable, os.path.join(REPO_ROOT, "scripts", "evaluate.py"),
       f"--workdir={workdir}", "--num_samples=40", "--checkpoint=best"],
      capture_output=True, text=True, env={**os.environ}, check=False)
  assert out.returncode == 0, out.stderr[-2000:]
  with open(os.path.join(workdir, workdir_lib.result_file("best"))) as f:
    best = json.load(f)
  assert (best["step"], best["checkpoint"]) == (lowest["step"], best_path)
  rows = report.quality_rows([("cgan", workdir), ("cgan/best", workdir)])
  assert [r["iterations"] for r in rows] == [6, lowest["step"]]
  with open(os.path.join(workdir, workdir_lib.RESULT_FILE)) as f:
    assert json.load(f)["step"] == 6  # the latest's file is left alone
  # A missing workdir is a usage error (exit 2), not a traceback.
  bad = subprocess.run(
      [sys.executable, os.path.join(REPO_ROOT, "scripts", "evaluate.py"),
       f"--workdir={tmp_path / 'none'}"], capture_output=True, text=True,
      check=False)
  assert bad.returncode == 2 and "workdir" in bad.stderr


@pytest.mark.parametrize(
    "field,value", [("ema_decay", 1.0), ("ema_decay", -0.1), ("eval_every", 0)])
def test_train_config_rejects_bad_quality_options(field, value):
  config = train_lib.TrainConfig(workdir="/tmp/x", **{field: value})
  with pytest.raises(UsageError, match=field):
    config.validate()
  with pytest.raises(UsageError, match="eval_samples"):
    train_lib.TrainConfig(workdir="/tmp/x", eval_every=10,
                          eval_samples=5).validate()


def test_an_averaged_discriminator_alone_samples_the_generator_once(
    tmp_path, monkeypatch):
  # With only D averaged the live generator is the sampled one: its FCD is
  # reused, and only the live discriminator's test accuracy is computed.
  mnist = make_fake_mnist(num_train=200, num_test=60)
  path = str(tmp_path / "tiny.weights.h5")
  classifier_lib.load_or_train_classifier(mnist, TINY, path=path,
                                          log=lambda s: None)
  evaluator = training_lib.TrainingEvaluator(mnist, num_samples=20,
                                             classifier=path, log=print)
  variant = variants.build("ssgan")
  average = keras.models.clone_model(variant.discriminator)
  average.set_weights([w * 0 for w in variant.discriminator.get_weights()])
  view = ema.sampling_view(variant, discriminator=average)
  sampled = []
  generate = samples_lib.generate
  monkeypatch.setattr(samples_lib, "generate",
                      lambda *a, **k: sampled.append(1) or generate(*a, **k))
  scores = evaluator(view, 1, live_variant=variant)
  assert len(sampled) == 1
  assert scores["eval/live_fcd"] == scores["eval/fcd"]
  assert scores["eval/live_coverage"] == scores["eval/coverage"]
  live = evaluator_lib.discriminator_test_accuracy(variant, mnist.x_test,
                                                   mnist.y_test)
  assert scores["eval/live_test_accuracy"] == pytest.approx(live)
  # All-zero weights score every class alike: chance, not the live accuracy.
  assert scores["eval/test_accuracy"] == pytest.approx(
      evaluator_lib.discriminator_test_accuracy(view, mnist.x_test,
                                                mnist.y_test))
