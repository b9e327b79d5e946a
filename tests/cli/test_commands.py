"""The `gantape` commands as a user runs them.

A TensorFlow start costs seconds, so the flag and bad-input cases share one
subprocess (a harness that calls each command's `main` as `app.run` would,
with fresh flags per case), and only the signal tests, the installed-wheel
test and the "SavedModel without gantape" test start processes of their own.
"""

import json
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from gantape import checkpoints
from tests.conftest import REPO_ROOT, make_fake_mnist

TINY = ["--batch_size=16", "--iterations_per_call=1", "--log_every=1",
        "--sample_every=1000"]

# Runs cases [command, argv] in one process; writes [{rc, out, err}] as JSON,
# and each command's flags once, as {"command", "flags": {name: [help, default]}}.
HARNESS = textwrap.dedent("""
    import contextlib, importlib, io, json, sys, traceback
    from absl import app, flags
    from gantape import cli
    from gantape.cli import common
    cases_path, results_path = sys.argv[1:]
    with open(cases_path) as f:
      cases = json.load(f)
    app.define_help_flags()
    FLAGS = flags.FLAGS
    loaded, results = {}, []

    def load(command):
      name = "gantape.cli." + cli.COMMANDS[command][0]
      for other in [m for m in loaded if m != name]:
        # Commands define the same flags: one command's flags at a time.
        for flag in list(FLAGS):
          if FLAGS.find_module_defining_flag(flag) == other:
            delattr(FLAGS, flag)
        del loaded[other], sys.modules[other]
      if name not in loaded:
        loaded[name] = importlib.import_module(name)
        results.append({"command": command, "flags": {
            f.name: [f.help, f.default]
            for f in FLAGS.get_flags_for_module(name)}})
      return loaded[name]

    def call(command, argv):
      if command == "gantape":  # the dispatcher itself
        return cli.main(["gantape"] + argv)
      module = load(command)
      FLAGS.unparse_flags()
      return module.main(common.parse_flags(["gantape " + command] + argv))

    for command, argv in cases:
      out, err = io.StringIO(), io.StringIO()
      with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
          rc = call(command, argv)
        except SystemExit as e:
          rc = e.code
        except BaseException:
          traceback.print_exc()
          rc = "exception"
      results.append({"rc": rc, "out": out.getvalue(), "err": err.getvalue()})
    with open(results_path, "w") as f:
      json.dump(results, f)
""")


def write_data(folder):
  """A fake MNIST .npz, a truncated one and one of 32 x 32 images."""
  mnist = make_fake_mnist(num_train=256, num_test=32)
  arrays = dict(x_train=mnist.x_train, y_train=mnist.y_train,
                x_test=mnist.x_test, y_test=mnist.y_test)
  good = os.path.join(folder, "mnist.npz")
  np.savez(good, **arrays)
  with open(good, "rb") as f:
    head = f.read(3000)
  with open(os.path.join(folder, "corrupt.npz"), "wb") as f:
    f.write(head)
  arrays["x_train"] = np.zeros([256, 32, 32], np.uint8)
  np.savez(os.path.join(folder, "wrong_shape.npz"), **arrays)
  return good


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
  """Runs every in-process case once; returns (results by name, folder)."""
  root = str(tmp_path_factory.mktemp("scripts"))
  data = write_data(root)
  gan, cgan = os.path.join(root, "gan"), os.path.join(root, "cgan")
  train = "train"
  base = [f"--data_path={data}", f"--workdir={gan}"] + TINY
  named = {
      "unknown_variant": (train, base + ["--variant=nope"]),
      "zero_batch": (train, base + ["--batch_size=0"]),
      "zero_steps": (train, base + ["--steps=0"]),
      "negative_lr": (train, base + ["--learning_rate=-1"]),
      "steps_not_int": (train, base + ["--steps=many"]),
      "positional": (train, base + ["gan"]),
      "few_labeled": (train, base + ["--variant=ssgan", "--num_labeled=5"]),
      "many_labeled": (train, base + ["--variant=ssgan",
                                      "--num_labeled=100000"]),
      "negative_r1": (train, base + ["--variant=dcgan", "--r1_gamma=-1"]),
      "gp_on_cgan": (train, base + ["--variant=cgan", "--gp_weight=1"]),
      "missing_data": (train, base + [f"--data_path={root}/none.npz"]),
      "corrupt_data": (train, base + [f"--data_path={root}/corrupt.npz"]),
      "wrong_shape": (train, base + [f"--data_path={root}/wrong_shape.npz"]),
      "workdir_is_a_file": (train, base + [f"--workdir={data}"]),
      "train_gan": (train, base + ["--variant=gan", "--steps=2"]),
      "other_variant": (train, base + ["--variant=dcgan"]),
      "flagfile": (train, [f"--flagfile={gan}/flags.txt", "--steps=3"]),
      "helpfull": (train, ["--helpfull"]),
      "train_cgan": (train, [f"--data_path={data}", f"--workdir={cgan}",
                             "--variant=cgan", "--steps=1", "--summary"]
                     + TINY),
      "sample": ("sample", [f"--workdir={gan}", "--num=12",
                                       f"--output={root}/gan.npz"]),
      "sample_label_unconditional": (
          "sample", [f"--workdir={gan}", "--label=3",
                                f"--output={root}/bad.npz"]),
      "sample_no_output": ("sample", [f"--workdir={gan}"]),
      "sample_cgan": ("sample", [f"--workdir={cgan}", "--num=4",
                                            "--label=7",
                                            f"--output={root}/cgan.npz"]),
      "export": ("export", [f"--workdir={gan}",
                                       f"--export_dir={root}/gan_model"]),
      "export_cgan": ("export", [f"--workdir={cgan}",
                                            f"--export_dir={root}/cgan_model"]),
      "sample_no_best": ("sample", [f"--workdir={gan}",
                                               "--checkpoint=best",
                                               f"--output={root}/b.npz"]),
      "export_no_such_checkpoint": (
          "export", [f"--workdir={gan}", f"--export_dir={root}/m",
                                f"--checkpoint={gan}/checkpoints/ckpt-99"]),
      "export_no_run": ("export", [f"--workdir={root}/none",
                                              f"--export_dir={root}/m"]),
      "seed_preset_wgan_gp": (train, base + ["--variant=wgan_gp",
                                             "--preset=seed"]),
      "report_bad_runs": ("report", [f"--runs={gan}"]),
      "report_unevaluated": ("report", [f"--runs=gan={gan}"]),
      "report_table_no_iterations": ("report", [f"--runs=gan={gan}",
                                                "--table=test_error"]),
      "report_table_no_records": ("report", [
          f"--runs=gan={gan}", "--table=test_error", "--iterations=1,2"]),
      "infinite_lr": (train, base + ["--learning_rate=inf"]),
      "empty_workdir": (train, base + ["--workdir="]),
      "evaluate_bad_flag": ("evaluate", [f"--workdir={gan}",
                                         "--num_samples=lots"]),
      "classifier_bad_flag": ("train-classifier", ["--epochs=x"]),
      "benchmark_bad_option": ("benchmark", ["--variants=cgan",
                                             "--gp_weight=1", "--smoke"]),
      "benchmark_as_train": ("benchmark", ["--variant=dcgan",
                                           "--r1_every=0"]),
      "benchmark_folder_no_path": ("benchmark", ["--dataset=folder"]),
      "gantape_help": ("gantape", ["--help"]),
      "gantape_unknown": ("gantape", ["frob"]),
  }
  cases_path = os.path.join(root, "cases.json")
  with open(cases_path, "w") as f:
    json.dump(list(named.values()), f)
  results_path = os.path.join(root, "results.json")
  proc = subprocess.run(
      [sys.executable, "-c", HARNESS, cases_path, results_path],
      cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  with open(results_path) as f:
    results = json.load(f)
  command_flags = {}
  cases = []
  for r in results:
    if "flags" in r:
      command_flags.setdefault(r["command"], {}).update(r["flags"])
    else:
      cases.append(r)
  return dict(zip(named, cases)), command_flags, root


@pytest.mark.parametrize("case, message", [
    ("unknown_variant", "error: flag --variant=nope: value should be one of "
     "<gan|dcgan|ssgan|cgan|wgan_gp>; see gantape train --help."),
    ("zero_batch", "error: batch_size must be a positive integer, got 0; "
     "pass --batch_size=N with N >= 1 (default 64)."),
    ("zero_steps", "error: steps must be a positive integer, got 0;"),
    ("negative_lr", "error: learning_rate must be positive and finite, got "
     "-1.0;"),
    ("infinite_lr", "error: learning_rate must be positive and finite, got "
     "inf;"),
    ("empty_workdir", "error: --workdir is empty; pass a path, or leave the "
     "flag out for its default."),
    ("evaluate_bad_flag", "error: flag --num_samples=lots: invalid literal"),
    ("classifier_bad_flag", "error: flag --epochs=x: invalid literal"),
    ("benchmark_bad_option", "error: variant 'cgan' takes no option "
     "gp_weight"),
    ("benchmark_as_train", "error: r1_every=0 is not a positive integer"),
    ("benchmark_folder_no_path", "error: --dataset=folder needs "
     "--data_path="),
    ("steps_not_int", "error: flag --steps=many: invalid literal for int()"),
    ("positional", "error: unexpected arguments ['gan']; every option is a "
     "flag"),
    ("few_labeled", "error: num_labeled=5 is smaller than the 10 classes;"),
    ("many_labeled", "error: num_labeled=100000 is larger than the 256 "
     "training examples; use at most 256"),
    ("negative_r1", "error: r1_gamma=-1.0 is negative; it weighs a penalty, "
     "so use a value >= 0"),
    ("gp_on_cgan", "error: variant 'cgan' takes no option gp_weight; its "
     "options are"),
    ("missing_data", "none.npz' does not exist; pass --data_path="),
    ("corrupt_data", "corrupt.npz is not a valid .npz file"),
    ("wrong_shape", "x_train has shape (256, 32, 32), expected [N, 28, 28]"),
    ("workdir_is_a_file", "mnist.npz' (Not a directory); pass a writable "
     "--workdir."),
    ("other_variant", "holds a run with variant='gan', not 'dcgan'; use a new "
     "--workdir, or the same variant to resume it (--variant=gan)."),
    ("sample_label_unconditional", "error: --label works with conditional "
     "variants only;"),
    ("sample_no_output", "error: --output is required; see gantape sample "
     "--help."),
    ("export_no_run", "none' does not exist; pass the --workdir of a run"),
    ("sample_no_best", "holds no best checkpoint: it is written when "
     "training evaluates (--eval_every)"),
    ("export_no_such_checkpoint", "ckpt-99.index); pass latest, best, or a "
     "prefix"),
    ("seed_preset_wgan_gp", "error: variant 'wgan_gp' has no preset 'seed'; "
     "its presets are: gantape, general."),
    ("report_bad_runs", "is not LABEL=WORKDIR."),
    ("report_unevaluated", "evaluation.json does not exist: run `gantape "
     "evaluate --workdir="),
    ("report_table_no_iterations", "error: --table=test_error needs "
     "--iterations, e.g. --iterations=1000,5000."),
    ("report_table_no_records", "has no eval/test_accuracy records; train it "
     "with --eval_every=N."),
])
def test_bad_input_is_one_line_and_exit_code_2(harness, case, message):
  result = harness[0][case]
  assert result["rc"] == 2, result
  assert message in result["err"]
  assert result["err"].startswith("error: ")
  assert result["err"].count("\n") == 1, result["err"]


def test_train_writes_its_flags_and_resumes_from_a_flagfile(harness):
  results, _, root = harness
  assert results["train_gan"]["rc"] == 0, results["train_gan"]
  assert "[gan] 2/2 d_loss=" in results["train_gan"]["out"]
  with open(os.path.join(root, "gan", "flags.txt")) as f:
    flag_lines = f.read().splitlines()
  assert f"--workdir={root}/gan" in flag_lines
  assert f"--data_path={root}/mnist.npz" in flag_lines
  # The flags of the latest command: the --flagfile rerun's --steps=3.
  assert "--variant=gan" in flag_lines and "--steps=3" in flag_lines
  flagfile = results["flagfile"]
  assert flagfile["rc"] == 0, flagfile
  assert flagfile["out"].startswith(
      f"Resumed from {root}/gan/checkpoints/ckpt-2 at iteration 2.\n")
  assert "[gan] 3/3 " in flagfile["out"]
  for name in ("run.json", "metrics.jsonl", "loss_curves.png",
               "samples/final.png"):
    assert os.path.exists(os.path.join(root, "gan", name)), name


def test_every_flag_is_documented(harness):
  results, command_flags, _ = harness
  assert {"train", "sample", "export", "report", "evaluate",
          "train-classifier", "benchmark"} <= set(command_flags)
  assert {"variant", "workdir", "steps", "learning_rate"} <= set(
      command_flags["train"])
  assert {"num", "label", "output"} <= set(command_flags["sample"])
  undocumented = [(command, name)
                  for command, defined in command_flags.items()
                  for name, (text, _) in defined.items()
                  if not text or len(text) < 10]
  assert not undocumented
  helpfull = results["helpfull"]
  assert helpfull["rc"] == 0
  for name in ("variant", "workdir", "steps", "checkpoint_every",
               "iterations_per_call", "r1_gamma", "n_critic"):
    assert f"--{name}=" in helpfull["out"]


def test_train_flags_are_the_config_fields_and_variant_options(harness):
  """One flag per TrainConfig field (its default) and per declared variant
  option (None: unset, so the preset's or the variant's default applies),
  and no other flag but the strategy's, --allow_data_change and --summary
  (for one command, so not settings of the run)."""
  _, command_flags, _ = harness
  from gantape import variants
  from gantape.cli import config_flags
  expected = {}
  for name, field in config_flags.config_fields().items():
    expected[name] = field["default"]
  for name, (option, _) in variants.all_options().items():
    assert name not in expected, name
    expected[name] = None
    assert repr(option.default) in command_flags["train"][name][0]
    assert command_flags["benchmark"][name][1] is None
  train_flags = {name: default
                 for name, (_, default) in command_flags["train"].items()
                 if name not in ("strategy", "tpu", "allow_data_change",
                                 "summary")}
  assert train_flags == expected


def test_the_gantape_command_lists_and_refuses_commands(harness):
  results, _, _ = harness
  listed = results["gantape_help"]
  assert listed["rc"] == 0
  for name in ("train", "sample", "evaluate", "export", "benchmark", "report",
               "train-classifier"):
    assert f"  {name} " in listed["out"]
  unknown = results["gantape_unknown"]
  assert unknown["rc"] == 2
  assert unknown["err"] == (
      "error: unknown command 'frob'; choose one of train, sample, evaluate, "
      "export, benchmark, report, train-classifier (gantape --help).\n")


def test_sample_script_writes_npz_and_png(harness):
  results, _, root = harness
  assert results["sample"]["rc"] == 0, results["sample"]
  with np.load(os.path.join(root, "gan.npz")) as f:
    assert f["x"].shape == (12, 28, 28) and "y" not in f.files
  assert os.path.exists(os.path.join(root, "gan.png"))
  assert results["sample_cgan"]["rc"] == 0, results["sample_cgan"]
  with np.load(os.path.join(root, "cgan.npz")) as f:
    np.testing.assert_array_equal(f["y"], [7, 7, 7, 7])


def test_saved_model_loads_without_gantape(harness):
  results, _, root = harness
  assert results["export"]["rc"] == 0, results["export"]
  assert results["export_cgan"]["rc"] == 0, results["export_cgan"]
  code = textwrap.dedent(f"""
      import sys
      sys.modules["gantape"] = None  # `import gantape` now fails
      import tensorflow as tf
      for name, conditional in (("gan", False), ("cgan", True)):
        serve = tf.saved_model.load(
            "{root}/" + name + "_model").signatures["serving_default"]
        inputs = {{"noise": tf.random.uniform([3, 100], -1.0, 1.0)}}
        if conditional:
          inputs["labels"] = tf.constant([0, 5, 9], tf.int32)
        images = serve(**inputs)["images"]
        assert images.shape == (3, 28, 28, 1), images.shape
        assert images.dtype == tf.float32
        assert 0.0 <= float(tf.reduce_min(images))
        assert float(tf.reduce_max(images)) <= 1.0
      assert not [m for m in sys.modules if m.startswith("gantape") and
                  sys.modules[m] is not None]
      print("served")
  """)
  proc = subprocess.run([sys.executable, "-c", code], cwd="/",
                        capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert proc.stdout.strip().endswith("served")


class Run:
  """scripts/train.py, the checkout's wrapper of `gantape train`, in a
  subprocess; its stdout lines read as they come."""

  def __init__(self, args):
    self.proc = subprocess.Popen(
        [sys.executable, os.path.join(REPO_ROOT, "scripts", "train.py")]
        + args, cwd=REPO_ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    self.lines = queue.Queue()
    self.seen = []
    threading.Thread(target=self._read, daemon=True).start()

  def _read(self):
    for line in self.proc.stdout:
      self.lines.put(line.rstrip("\n"))
    self.lines.put(None)

  def wait_for(self, predicate, timeout=240):
    while True:
      try:
        line = self.lines.get(timeout=timeout)
      except queue.Empty:
        self.proc.kill()
        raise AssertionError(f"no such line in {timeout}s; saw {self.seen}")
      if line is None:
        raise AssertionError(f"exited first; saw {self.seen}; stderr: "
                             f"{self.proc.stderr.read()[-2000:]}")
      self.seen.append(line)
      if predicate(line):
        return line

  def finish(self, timeout=240):
    rc = self.proc.wait(timeout=timeout)
    return rc, self.proc.stderr.read()


def iteration_of(line):
  """The iteration of a progress line `[gan] 7/100000 ...`, else -1."""
  if not line.startswith("[gan] "):
    return -1
  return int(line.split()[1].split("/")[0])


def latest_checkpoint(workdir):
  with open(os.path.join(workdir, "checkpoints", "checkpoint")) as f:
    first = f.readline()  # model_checkpoint_path: "ckpt-N"
  return int(first.strip().rsplit("-", 1)[1].rstrip('"'))


def test_kill9_then_sigterm_then_resume(tmp_path):
  data = write_data(str(tmp_path))
  workdir = str(tmp_path / "run")
  # kill -9 mid-run, while iterations and checkpoints (every 3) go on.
  run = Run([f"--data_path={data}", f"--workdir={workdir}", "--variant=gan",
             "--steps=100000", "--checkpoint_every=3"] + TINY)
  run.wait_for(lambda line: iteration_of(line) >= 7)
  run.proc.send_signal(signal.SIGKILL)
  assert run.finish()[0] == -signal.SIGKILL
  killed_at = latest_checkpoint(workdir)
  assert killed_at >= 6 and killed_at % 3 == 0

  # Rerun (from the flags it wrote): it resumes from the latest complete
  # checkpoint. Then SIGTERM: it saves where it is and exits 128 + 15.
  run = Run([f"--flagfile={workdir}/flags.txt"])
  first = run.wait_for(lambda line: True)
  assert first == (f"Resumed from {workdir}/checkpoints/ckpt-{killed_at} at "
                   f"iteration {killed_at}.")
  run.wait_for(lambda line: iteration_of(line) >= killed_at + 2)
  run.proc.send_signal(signal.SIGTERM)
  rc, err = run.finish()
  assert rc == 128 + signal.SIGTERM, err
  message = err.strip().splitlines()[-1]
  stopped_at = int(message.split(" at iteration ")[1].split("/")[0])
  assert stopped_at >= killed_at + 2
  assert message == (
      f"stopped by SIGTERM at iteration {stopped_at}/100000; saved "
      f"{workdir}/checkpoints/ckpt-{stopped_at}. Rerun the same command to "
      f"resume.")
  assert latest_checkpoint(workdir) == stopped_at
  assert "Traceback" not in err

  # That checkpoint is complete: it restores (resuming from a signal's
  # checkpoint is in tests/test_train.py, without another TF start here).
  assert checkpoints.restore_from_workdir(workdir).step == stopped_at


def test_summary_prints_both_networks_before_the_start_line(harness):
  out = harness[0]["train_cgan"]["out"]
  assert out.count("Total params:") == 2
  start = out.index("Training cgan (preset gantape; generator ")
  assert out.index("Total params:") < start
