"""What `gantape train` tells its user, and bad inputs and Ctrl-C as it meets them.

One tiny run (module fixture) is the workdir the other cases start from:
its start and end lines, stderr without TensorFlow's start-up log, data
files the command refuses in one line, and Ctrl-C twice during a long
`tf.function` call. Each fault case checks that the checkpoints and
`metrics.jsonl` rows written before it are still there after it.
"""

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from gantape import tf_log
from gantape.evaluation import classifier as classifier_lib
from gantape.evaluation import workdir as evaluation_workdir
from tests.conftest import REPO_ROOT, make_fake_mnist
from tests.evaluation.conftest import TINY as TINY_CLASSIFIER

TRAIN = [sys.executable, os.path.join(REPO_ROOT, "scripts", "train.py")]
TINY = ["--variant=gan", "--batch_size=16", "--iterations_per_call=3",
        "--log_every=3", "--checkpoint_every=3", "--sample_every=1000"]
# Lines TensorFlow writes when it starts (tf_log.py holds them back).
TF_START_UP = ("absl::InitializeLog", "I0000 ", "W0000 ", "cuInit",
               "cpu_feature_guard", "cudart_stub")


def user_env(**extra):
  """The environment of a user who did not set TF_CPP_MIN_LOG_LEVEL."""
  env = {k: v for k, v in os.environ.items()
         if k != tf_log.LEVEL_VARIABLE}
  env.update(extra)
  return env


def train(args, timeout=300):
  return subprocess.run(TRAIN + args, cwd=REPO_ROOT, env=user_env(),
                        capture_output=True, text=True, timeout=timeout)


def save_npz(path, mnist, **replace):
  arrays = {k: getattr(mnist, k) for k in ("x_train", "y_train", "x_test",
                                           "y_test")}
  arrays.update(replace)
  np.savez(path, **arrays)
  return str(path)


def snapshot(workdir):
  """The checkpoint files and the metrics rows a fault must leave alone."""
  ckpt_dir = os.path.join(workdir, "checkpoints")
  files = sorted(f for f in os.listdir(ckpt_dir) if f.startswith("ckpt-"))
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return files, f.read()


def assert_kept(workdir, before):
  files, rows = snapshot(workdir)
  assert set(before[0]) <= set(files), (before[0], files)
  assert rows.startswith(before[1]) and before[1].count("\n") == 2


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """A finished 6-iteration run: (its process, data file, workdir)."""
  root = tmp_path_factory.mktemp("feedback")
  mnist = make_fake_mnist()
  data = save_npz(root / "mnist.npz", mnist)
  workdir = str(root / "run")
  proc = train([f"--data_path={data}", f"--workdir={workdir}", "--steps=6"]
               + TINY)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc, mnist, workdir


def test_a_run_opens_with_one_line_and_closes_with_one(trained):
  proc, _, workdir = trained
  assert proc.stderr == ""  # no TensorFlow start-up log
  lines = proc.stdout.strip().splitlines()
  assert re.fullmatch(
      rf"Training gan \(preset gantape; generator 114K parameters, "
      rf"discriminator 101K\) to iteration 6 on (CPU|GPU|TPU), "
      rf"workdir {re.escape(workdir)}; tracing the step first, which takes "
      rf"a while\.", lines[0]), lines
  assert [line for line in lines if line.startswith("[gan] ")][-1].startswith(
      "[gan] 6/6 ")
  end = re.fullmatch(
      rf"Done: iteration 6/6 in \d+m\d\ds; samples (\S+); latest checkpoint "
      rf"(\S+)\.", lines[-1])
  assert end, lines[-1]
  assert end[1] == os.path.join(workdir, "samples", "final.png")
  assert end[2] == os.path.join(workdir, "checkpoints", "ckpt-6")
  assert os.path.isfile(end[1]) and os.path.isfile(end[2] + ".index")


def test_tensorflow_start_up_log_comes_back_when_the_user_sets_its_level():
  # Without it (the other tests' runs) stderr holds none of it.
  loud = subprocess.run([sys.executable, "-c", "import gantape.step"],
                        env=user_env(TF_CPP_MIN_LOG_LEVEL="0"),
                        capture_output=True, text=True, timeout=120)
  assert loud.returncode == 0, loud.stderr
  # Whatever this TensorFlow build writes when it starts comes back.
  assert any(s in loud.stderr for s in TF_START_UP), loud.stderr


def test_start_up_filter_keeps_what_it_does_not_know():
  noise = [
      "WARNING: All log messages before absl::InitializeLog() is called are "
      "written to STDERR",
      "I0000 00:00:1796153801.033904   16984 port.cc:153] oneDNN custom "
      "operations are on.",
      "To enable the following instructions: AVX2 FMA, in other operations, "
      "rebuild TensorFlow with the appropriate compiler flags.",
      "E0000 00:00:1796153810.627326   16984 cuda_platform.cc:52] failed call "
      "to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR "
      "(303)"]
  kept = ["E0000 00:00:1796153810.627326   16984 gpu_device.cc:2] Could not "
          "load dynamic library 'libcudnn.so.9'",
          "UserWarning: something Python warned about"]
  assert [line for line in noise + kept
          if not tf_log._START_UP_NOISE.search(line)] == kept


def test_evaluate_shows_progress_while_it_samples(trained, tmp_path):
  _, mnist, trained_workdir = trained
  workdir = str(tmp_path / "run")
  shutil.copytree(trained_workdir, workdir)
  classifier = str(tmp_path / "tiny.weights.h5")
  classifier_lib.load_or_train_classifier(mnist, TINY_CLASSIFIER,
                                          path=classifier, log=lambda s: None)
  lines = []
  evaluation_workdir.evaluate_workdir(
      workdir, num_samples=1000, data_path=save_npz(tmp_path / "m.npz", mnist),
      classifier=classifier, log=lines.append)
  # Generated 500 at a time: a line after each part, with the time so far.
  sampled = ["sampled 500/1000 images (Ns)", "sampled 1000/1000 images (Ns)"]
  assert [re.sub(r"\(\d+s\)", "(Ns)", line) for line in lines] == [
      f"Evaluating {workdir}/checkpoints/ckpt-6 (iteration 6): 1000 images "
      f"from the EMA generator.", *sampled,
      "Scoring training images for the real-data floor.",
      "1000 images from the plain generator, for comparison.", *sampled]


@pytest.mark.parametrize("case", ["random_bytes", "scaled_floats", "empty",
                                  "batch_too_large"])
def test_bad_data_is_one_line_and_leaves_the_workdir_alone(trained, tmp_path,
                                                           case):
  _, mnist, workdir = trained
  path = tmp_path / "bad.npz"
  if case == "random_bytes":
    path.write_bytes(np.random.RandomState(0).bytes(4096))
    expected = f"error: {path} is not a valid .npz file (not a zip archive"
  elif case == "scaled_floats":
    save_npz(path, mnist, x_train=(mnist.x_train / 255).astype(np.float32))
    expected = (f"error: MNIST from {path}: x_train is float32 with values "
                f"in [0, 1], already scaled to [0, 1]; ")
  elif case == "empty":
    save_npz(path, mnist, x_train=mnist.x_train[:0], y_train=mnist.y_train[:0])
    expected = f"error: MNIST from {path}: x_train holds no examples"
  else:
    save_npz(path, mnist, x_train=mnist.x_train[:10],
             y_train=mnist.y_train[:10])
    expected = ("error: batch_size=16 is larger than the 10 training "
                "examples; use --batch_size=10 or less, or more data.")
  # Other data than the run's is refused first unless allowed; the batch
  # check is about the data alone, so it holds with the change allowed.
  allow = ["--allow_data_change"] if case == "batch_too_large" else []
  before = snapshot(workdir)
  proc = train([f"--data_path={path}", f"--workdir={workdir}", "--steps=9"]
               + TINY + allow)
  assert proc.returncode == 2, proc.stderr[-3000:]
  assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
  assert proc.stderr.startswith(expected), proc.stderr
  assert "pickle" not in proc.stderr
  assert_kept(workdir, before)
  assert snapshot(workdir) == before


class Lines:
  """A stream's lines, read by a thread as they come."""

  def __init__(self, stream):
    self.queue = queue.Queue()
    self.seen = []
    threading.Thread(target=self._read, args=(stream,), daemon=True).start()

  def _read(self, stream):
    for line in stream:
      self.queue.put(line.rstrip("\n"))
    self.queue.put(None)

  def wait_for(self, predicate, timeout):
    deadline = time.monotonic() + timeout
    while True:
      try:
        line = self.queue.get(timeout=max(deadline - time.monotonic(), 0.01))
      except queue.Empty:
        raise AssertionError(f"no such line in {timeout}s; saw {self.seen}")
      if line is None:
        raise AssertionError(f"the stream ended; saw {self.seen}")
      self.seen.append(line)
      if predicate(line):
        return line


def test_ctrl_c_is_acknowledged_at_once_and_twice_quits_now(trained,
                                                            tmp_path):
  _, mnist, trained_workdir = trained
  workdir = str(tmp_path / "run")
  shutil.copytree(trained_workdir, workdir)
  data = save_npz(tmp_path / "mnist.npz", mnist)
  before = snapshot(workdir)
  # No boundary for minutes; the calls between are about 2 s each, and the
  # second Ctrl-C follows the first's acknowledgement within milliseconds.
  proc = subprocess.Popen(
      TRAIN + [f"--flagfile={workdir}/flags.txt", f"--data_path={data}",
               "--steps=1000000", "--iterations_per_call=1000000",
               "--log_every=500000", "--checkpoint_every=500000",
               "--sample_every=1000000"],
      cwd=REPO_ROOT, env=user_env(), stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, text=True)
  try:
    out, err = Lines(proc.stdout), Lines(proc.stderr)
    out.wait_for(lambda line: line.startswith("Training gan"), timeout=240)
    time.sleep(8)  # past the tracing: the call runs in TensorFlow
    proc.send_signal(signal.SIGINT)
    ack = err.wait_for(lambda line: True, timeout=5)
    assert re.fullmatch(r"SIGINT: stopping after this call, up to \d+ "
                        r"iterations, then saving a checkpoint; Ctrl-C again "
                        r"to quit now\.", ack), ack
    assert proc.poll() is None
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    rc = proc.wait(timeout=30)
    quit_after = time.monotonic() - sent
  finally:
    if proc.poll() is None:
      proc.kill()
  assert rc == 128 + signal.SIGINT
  assert quit_after < 5, quit_after
  last = err.wait_for(lambda line: True, timeout=5)
  assert last == ("SIGINT again: quitting now, without saving; the "
                  "checkpoints already written stay, and rerunning the same "
                  "command resumes from the latest.")
  assert not any("Traceback" in line for line in err.seen)
  assert_kept(workdir, before)
