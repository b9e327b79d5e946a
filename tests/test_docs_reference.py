"""docs/reference/*.py run on fake digits, offline, for an iteration: the
transcription of Salimans et al.'s script (docs/semi_supervised.md) as its
command line, the rotation timer (docs/performance.md) through its main()
on one setting, and the sample strips (docs/quality_colour.md) on two fake
runs."""

import os
import re
import runpy
import sys

import numpy as np
from PIL import Image

from tests.conftest import REPO_ROOT, make_fake_mnist

REFERENCE = os.path.join(REPO_ROOT, "docs", "reference")


def _fake_mnist_npz(tmp_path):
  """Fake digits in Keras's mnist.npz layout, 20 of each class."""
  mnist = make_fake_mnist(num_train=200, num_test=50)
  path = str(tmp_path / "mnist.npz")
  np.savez(path, x_train=mnist.x_train, y_train=mnist.y_train,
           x_test=mnist.x_test, y_test=mnist.y_test)
  return path


def _run(script, args, monkeypatch):
  path = os.path.join(REFERENCE, script)
  monkeypatch.setattr(sys, "argv", [path] + [str(a) for a in args])
  runpy.run_path(path, run_name="__main__")


def test_improved_gan_mnist_runs(tmp_path, monkeypatch, capsys):
  # SEED ITERATIONS EVAL_EVERY MNIST_NPZ COUNT: 2 labels per class.
  _run("improved_gan_mnist.py", [0, 1, 1, _fake_mnist_npz(tmp_path), 2],
       monkeypatch)
  lines = [l for l in capsys.readouterr().out.splitlines()
           if l.startswith("it ")]
  assert [l.split()[1] for l in lines] == ["1"]
  for name in ("test_err", "test_err_avg"):
    error = float(lines[0].split(f" {name}=")[1].split()[0])
    assert 0.0 <= error <= 1.0


def test_rotation_runs(tmp_path, capsys):
  # main(COMPARISON, K, ROUNDS, DATA_PATH) on the first setting of one
  # comparison: one round of one iteration, so one step is traced.
  rotation = runpy.run_path(os.path.join(REFERENCE, "rotation.py"))
  comparisons = rotation["COMPARISONS"]  # the dict main() reads
  variant, jit, settings = comparisons["precision"]
  comparisons["precision"] = (variant, jit, {"float32": settings["float32"]})
  rotation["main"]("precision", 1, 1, _fake_mnist_npz(tmp_path))
  assert "float32: median " in capsys.readouterr().out


def test_rotation_comparisons_the_docs_name_exist():
  named = set()
  for doc in ("performance.md", "troubleshooting.md"):
    with open(os.path.join(REPO_ROOT, "docs", doc)) as f:
      named.update(re.findall(r"reference/rotation\.py (\w+) ", f.read()))
  comparisons = runpy.run_path(os.path.join(REFERENCE, "rotation.py"))[
      "COMPARISONS"]
  assert named and named <= set(comparisons)


def test_sample_strips_puts_each_runs_first_row_in_one_figure(tmp_path,
                                                              monkeypatch):
  runs = []
  for name, colour in (("a", (255, 0, 0)), ("b", (0, 0, 255))):
    (tmp_path / name / "samples").mkdir(parents=True)
    grid = np.zeros((64, 320, 3), np.uint8) + np.uint8(colour)
    Image.fromarray(grid).save(tmp_path / name / "samples" /
                               "step_0000500.png")
    runs.append(f"{name}={tmp_path / name}")
  out = tmp_path / "strips.png"
  _run("sample_strips.py", [out, 500, "title"] + runs, monkeypatch)
  pixels = np.asarray(Image.open(out).convert("RGB")).reshape(-1, 3)
  found = {tuple(p) for p in pixels}
  assert (255, 0, 0) in found and (0, 0, 255) in found
