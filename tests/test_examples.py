"""examples/quickstart.py runs as written, on fake digits and a tiny
classifier, offline."""

import os
import runpy

import numpy as np

from gantape import data as data_lib
from gantape.evaluation import classifier as classifier_lib
from tests.conftest import REPO_ROOT, make_fake_mnist
from tests.evaluation.conftest import TINY as TINY_CLASSIFIER


def test_quickstart_runs_every_cell(tmp_path, monkeypatch, capsys):
  mnist = make_fake_mnist(num_train=256)
  np.savez(tmp_path / "mnist.npz", x_train=mnist.x_train,
           y_train=mnist.y_train, x_test=mnist.x_test, y_test=mnist.y_test)
  classifier = str(tmp_path / "tiny.weights.h5")
  classifier_lib.load_or_train_classifier(
      data_lib.load_mnist(str(tmp_path / "mnist.npz")), TINY_CLASSIFIER,
      path=classifier, log=lambda line: None)
  workdir = tmp_path / "run"
  for name, value in {"GANTAPE_DATA": tmp_path, "MPLBACKEND": "Agg",
                      "QUICKSTART_WORKDIR": workdir, "QUICKSTART_STEPS": 4,
                      "QUICKSTART_SAMPLES": 100,
                      "QUICKSTART_CLASSIFIER": classifier}.items():
    monkeypatch.setenv(name, str(value))
  namespace = runpy.run_path(
      os.path.join(REPO_ROOT, "examples", "quickstart.py"))
  assert namespace["result"].iterations == 4
  with np.load(namespace["samples"]["npz"]) as f:
    assert f["x"].shape == (16, 28, 28)
  assert np.isfinite(namespace["scores"]["fcd"])
  out = capsys.readouterr().out
  assert "16 samples in" in out and "'fcd':" in out
