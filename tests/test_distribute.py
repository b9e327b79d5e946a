"""The step and the loop under tf.distribute, on this CPU-only machine.

Logical devices and TF_CONFIG must be set before TensorFlow initializes its
devices, which pytest's process did long ago, so the distributed runs happen
in subprocesses: one splits the CPU into two logical devices for
MirroredStrategy, and two play the workers of a MultiWorkerMirroredStrategy
cluster on localhost. Every subprocess has a hard timeout and is killed on
it, so a hung collective fails the test instead of hanging the suite.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from gantape import data as data_lib
from gantape import distribute
from gantape import evaluation
from gantape.errors import UsageError

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN_SCRIPT = os.path.join(REPO_ROOT, "scripts", "train.py")


def _environment(**extra):
  env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
  env.update(TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", **extra)
  return env


def _run_all(commands, timeout, cwd):
  """Runs the commands at once; returns [(returncode, output)].

  All are killed, with their children, when the first is still running after
  `timeout` seconds, and the test fails: a worker that hangs in a collective
  must not hang the suite.
  """
  procs = []
  for argv, env in commands:
    procs.append(subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True))
  results = []
  try:
    for proc in procs:
      out, _ = proc.communicate(timeout=timeout)
      results.append((proc.returncode, out))
  except subprocess.TimeoutExpired:
    for proc in procs:
      if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    outputs = [p.communicate()[0][-3000:] for p in procs]
    pytest.fail(f"a process still ran after {timeout}s (hung?) and was "
                f"killed; outputs:\n" + "\n----\n".join(outputs))
  return results


# ---- library pieces, in this process (no devices needed) --------------------


def test_make_strategy_refuses_bad_names_and_stray_tpu():
  with pytest.raises(UsageError, match="unknown strategy 'gpu'"):
    distribute.make_strategy("gpu")
  with pytest.raises(UsageError, match="needs --strategy=tpu"):
    distribute.make_strategy("mirrored", tpu="local")


def test_default_strategy_is_chief_and_writes_into_the_workdir(tmp_path):
  strategy = distribute.make_strategy("default")
  assert strategy is tf.distribute.get_strategy()
  assert distribute.is_chief(strategy)
  assert distribute.task_id(strategy) == 0
  assert distribute.num_workers(strategy) == 1
  assert distribute.same_on_all_workers(0.1 + 0.2, strategy) == 0.1 + 0.2
  assert distribute.worker_workdir(str(tmp_path), strategy) == str(tmp_path)
  distribute.cleanup_worker_workdir(str(tmp_path), strategy)
  assert tmp_path.exists()  # the chief's workdir is never deleted


# ---- MirroredStrategy over two logical CPUs ----------------------------------

_MIRRORED_SCRIPT = textwrap.dedent("""
    import json
    import sys

    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    import keras
    from gantape import data as data_lib
    from gantape import optimizers as optimizers_lib
    from gantape import step as step_lib
    from gantape import variants
    from gantape.errors import UsageError

    # One MirroredStrategy for the whole process: a second one would reuse
    # the first one's collective keys.
    MIRRORED = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, [256, 28, 28]).astype(np.uint8)
    Y = (np.arange(256) % 10).astype(np.uint8)

    def one_iteration(strategy, name, options):
      keras.utils.set_random_seed(0)  # same initial weights on both sides
      with strategy.scope():
        variant = variants.build(name, **options)
        # Plain SGD: the update is linear in the averaged gradient, so the
        # weights compare the gradients at float precision. (Adam's first
        # step is about lr * sign(g), which turns float noise in a tiny
        # gradient into a difference of up to lr.)
        step = step_lib.TrainStep(variant, keras.optimizers.SGD(0.01),
                                  keras.optimizers.SGD(0.01), seed=0,
                                  strategy=strategy)
      dataset = variant.make_dataset(
          data_lib.Dataset(X, Y, X[:10], Y[:10]), batch_size=64, seed=0)
      metrics = step(step.make_iterator(dataset), 1)
      weights = [w.numpy() for w in variant.generator.weights
                 + variant.discriminator.weights]
      return (weights, {k: float(v) for k, v in metrics.items()},
              int(step.global_step.numpy()))

    def compare(name, options, reference=None):
      one = reference or one_iteration(tf.distribute.get_strategy(), name,
                                       options)
      two = one_iteration(MIRRORED, name, options)
      return one, {
          "weights": max(float(np.max(np.abs(a - b)))
                         for a, b in zip(one[0], two[0])),
          # Gradient norms are per replica (of each replica's partial
          # gradient, see TrainStep.discriminator_step): not comparable.
          "metrics": max(abs(one[1][k] - two[1][k]) for k in one[1]
                         if not k.endswith("_grad_norm")),
          "steps": [one[2], two[2]],
          "metric_names": sorted(two[1])}

    result = {}
    _, result["gan"] = compare("gan", {})
    wgan = {"n_critic": 2, "sync_batch_norm": True}
    reference, result["wgan_gp_sync_bn"] = compare("wgan_gp", wgan)
    # Control: the same with per-replica BatchNorm (the default) in the
    # generator must NOT match one device.
    _, result["wgan_gp_per_replica_bn"] = compare(
        "wgan_gp", dict(wgan, sync_batch_norm=False), reference)

    with MIRRORED.scope():
      variant = variants.build("gan")
      step = step_lib.TrainStep(variant, *optimizers_lib.make_optimizers(variant),
                                strategy=MIRRORED)
    try:
      step.make_iterator(data_lib.batches(X, Y, batch_size=63, seed=0,
                                          flat=True))
      result["odd_batch"] = "accepted"
    except UsageError as e:
      result["odd_batch"] = str(e)

    # The loop: two iterations on two replicas, then resumed on one device.
    from gantape import train as train_lib
    lines = []
    config = train_lib.TrainConfig(
        workdir=sys.argv[1], variant="gan", steps=2, batch_size=16,
        iterations_per_call=2, log_every=2, sample_every=2,
        checkpoint_every=2)
    mnist = data_lib.Dataset(X, Y, X[:20], Y[:20])
    result["mirrored_run"] = train_lib.train(
        config, strategy=MIRRORED, log=lines.append, dataset=mnist).iterations
    result["resumed_run"] = train_lib.train(
        train_lib.TrainConfig(**dict(vars(config), steps=4)),
        log=lines.append, dataset=mnist).iterations
    result["log"] = lines
    print("RESULT " + json.dumps(result))
""")


@pytest.fixture(scope="module")
def mirrored_result(tmp_path_factory):
  folder = tmp_path_factory.mktemp("mirrored")
  script = folder / "mirrored.py"
  script.write_text(_MIRRORED_SCRIPT)
  [(code, out)] = _run_all(
      [([sys.executable, str(script), str(folder / "run")], _environment())],
      timeout=300, cwd=REPO_ROOT)
  assert code == 0, out[-3000:]
  line = [l for l in out.splitlines() if l.startswith("RESULT ")][-1]
  return json.loads(line[len("RESULT "):])


@pytest.mark.parametrize("case", ["gan", "wgan_gp_sync_bn"])
def test_two_replicas_make_the_same_update_as_one_device(mirrored_result,
                                                         case):
  # Global batch 64: two replicas of 32 against one device of 64, same seed,
  # data and noise. wgan_gp's generator has BatchNorm, so it matches only
  # with synchronized BatchNorm (the critic has none); n_critic=2 makes one
  # iteration span two critic updates on two batches.
  result = mirrored_result[case]
  assert result["steps"] == [1, 1]
  assert result["weights"] < 1e-5, result
  assert result["metrics"] < 1e-4, result
  assert {"d_loss", "g_loss", "d_real", "d_fake"} <= set(
      result["metric_names"])


def test_per_replica_batch_norm_differs_from_one_device(mirrored_result):
  # The control that shows the equality above is not vacuous: with the
  # default per-replica BatchNorm each replica normalizes its half batch.
  assert mirrored_result["wgan_gp_per_replica_bn"]["weights"] > 1e-4


def test_global_batch_must_split_over_replicas(mirrored_result):
  assert "63 does not split evenly over 2 replicas" in (
      mirrored_result["odd_batch"])


def test_mirrored_run_resumes_on_one_device(mirrored_result):
  # train(strategy=Mirrored) runs; its checkpoint (which cannot hold the
  # distributed iterator) resumes without a strategy.
  assert mirrored_result["mirrored_run"] == 2
  assert mirrored_result["resumed_run"] == 4
  assert any(l.startswith("Resumed from ") and l.endswith(
      "ckpt-2 at iteration 2.") for l in mirrored_result["log"]), (
          mirrored_result["log"])


# ---- MultiWorkerMirroredStrategy: two worker processes ----------------------


def _free_ports(n):
  sockets = [socket.socket() for _ in range(n)]
  for s in sockets:
    s.bind(("localhost", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def _fake_npz(path):
  rng = np.random.RandomState(0)
  np.savez(path,
           x_train=rng.randint(0, 256, [256, 28, 28]).astype(np.uint8),
           y_train=(np.arange(256) % 10).astype(np.uint8),
           x_test=rng.randint(0, 256, [20, 28, 28]).astype(np.uint8),
           y_test=(np.arange(20) % 10).astype(np.uint8))


def _train_on_two_workers(workdir, data, steps, classifier):
  cluster = {"worker": [f"localhost:{p}" for p in _free_ports(2)]}
  commands = []
  for index in range(2):
    tf_config = json.dumps({"cluster": cluster,
                            "task": {"type": "worker", "index": index}})
    argv = [sys.executable, TRAIN_SCRIPT, "--strategy=multiworker",
            "--variant=gan", f"--workdir={workdir}", f"--data_path={data}",
            f"--steps={steps}", "--batch_size=16", "--iterations_per_call=2",
            "--log_every=2", "--sample_every=4", "--checkpoint_every=4",
            "--eval_every=2", "--eval_samples=20"]
    commands.append((argv, _environment(TF_CONFIG=tf_config,
                                        GANTAPE_CLASSIFIER=classifier)))
  return _run_all(commands, timeout=240, cwd=REPO_ROOT)


def _progress(output):
  return [l for l in output.splitlines() if l.startswith("[gan]")]


def _steps_logged(workdir, key):
  return [r["step"] for r in map(json.loads, (workdir / "metrics.jsonl")
                                 .read_text().splitlines()) if key in r]


def test_multi_worker_run_completes_and_resumes_from_the_chief(tmp_path):
  data = tmp_path / "mnist.npz"
  _fake_npz(data)
  classifier = str(tmp_path / "tiny.weights.h5")
  evaluation.load_or_train_classifier(
      data_lib.load_mnist(str(data)),
      evaluation.ClassifierConfig(width=4, feature_dim=8, epochs=1,
                                  batch_size=50),
      path=classifier, log=lambda line: None)
  workdir = tmp_path / "run"

  first = _train_on_two_workers(workdir, data, steps=4, classifier=classifier)
  for code, out in first:
    assert code == 0, out[-3000:]
  chief, other = (_progress(out) for _, out in first)
  assert chief[-1].startswith("[gan] 4/4 ")
  # The cross-replica reduced metrics are the same on both workers.
  assert [l.split(" | ")[0] for l in chief] == [
      l.split(" | ")[0] for l in other]
  assert sorted(os.listdir(workdir / "samples")) == ["final.png",
                                                      "step_0000004.png"]
  assert _steps_logged(workdir, "d_loss") == [2, 4]
  assert _steps_logged(workdir, "eval/fcd") == [2, 4]
  # Both workers took the same best-checkpoint decisions (a save is a
  # collective); the chief's copy is the one kept.
  chief_best, other_best = ([l for l in out.splitlines() if "lowest FCD" in l]
                            for _, out in first)
  assert len(chief_best) == len(other_best) >= 1
  assert tf.train.latest_checkpoint(str(workdir / "best")) is not None
  assert (workdir / "run.json").exists()
  assert tf.train.latest_checkpoint(str(workdir / "checkpoints")).endswith(
      "ckpt-4")
  # The other worker's checkpoints went to a private folder, now deleted.
  assert not (workdir / distribute.WORKER_TMP_DIR).exists()

  second = _train_on_two_workers(workdir, data, steps=6, classifier=classifier)
  for code, out in second:
    assert code == 0, out[-3000:]
    # Both workers resume the chief's checkpoint.
    assert f"Resumed from {workdir}/checkpoints/ckpt-4 at iteration 4." in out
    assert _progress(out)[-1].startswith("[gan] 6/6 ")
  assert tf.train.latest_checkpoint(str(workdir / "checkpoints")).endswith(
      "ckpt-6")
  assert _steps_logged(workdir, "d_loss") == [2, 4, 6]
  assert not (workdir / distribute.WORKER_TMP_DIR).exists()
