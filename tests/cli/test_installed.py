"""The installed package: a wheel, installed non-editable, trains from any
folder through its `gantape` console command."""

import glob
import os
import subprocess
import sys

import numpy as np

from tests.conftest import REPO_ROOT, make_fake_mnist


def _run(args, **kwargs):
  proc = subprocess.run(args, capture_output=True, text=True, timeout=600,
                        **kwargs)
  assert proc.returncode == 0, (args, proc.stdout[-2000:], proc.stderr[-3000:])
  return proc


def test_installed_wheel_trains_from_outside_the_checkout(tmp_path):
  wheels, target = tmp_path / "wheels", tmp_path / "site"
  # No build isolation: the test environment's setuptools builds it, so the
  # test needs no download.
  _run([sys.executable, "-m", "pip", "wheel", "--no-deps",
        "--no-build-isolation", "--quiet", "-w", str(wheels), REPO_ROOT])
  [wheel] = glob.glob(str(wheels / "gantape-*.whl"))
  # TensorFlow and the rest come from the test environment.
  _run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet",
        "--target", str(target), wheel])
  mnist = make_fake_mnist(num_train=64, num_test=16)
  data = tmp_path / "mnist.npz"
  np.savez(data, x_train=mnist.x_train, y_train=mnist.y_train,
           x_test=mnist.x_test, y_test=mnist.y_test)
  outside = tmp_path / "elsewhere"
  outside.mkdir()
  env = {**os.environ, "PYTHONPATH": str(target)}
  where = _run([sys.executable, "-c", "import gantape; print(gantape.__file__)"],
               cwd=outside, env=env)
  assert where.stdout.strip().startswith(str(target)), where.stdout
  assert os.path.exists(target / "gantape" / "py.typed")

  workdir = tmp_path / "run"
  proc = _run([str(target / "bin" / "gantape"), "train", "--variant=gan",
               "--steps=3", f"--data_path={data}", f"--workdir={workdir}",
               "--batch_size=16", "--log_every=1", "--iterations_per_call=1"],
              cwd=outside, env=env)
  assert "[gan] 3/3 d_loss=" in proc.stdout, proc.stdout
  assert os.path.exists(workdir / "samples" / "final.png")
  assert os.path.exists(workdir / "checkpoints" / "ckpt-3.index")
