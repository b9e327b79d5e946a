"""The device suite's grid, skips, budget and files, with stand-in runners.

Nothing here times a real step: `suite.make_runner` is replaced by a runner
that returns at once, so the tests check the suite's configuration only.
"""

import json

import pytest

from gantape import benchmark
from gantape.benchmark import device_suite
from gantape.benchmark import runners
from gantape.benchmark import suite
from gantape.errors import UsageError


class _Instant(runners.Runner):
  unit = 2

  def run(self, n):
    del n


@pytest.fixture
def instant_runners(monkeypatch):
  built = []

  def make_runner(implementation, name, dataset, config):
    del dataset
    built.append((implementation, name, config.step.batch_size,
                  config.step.precision, config.step.input_pipeline))
    return _Instant()
  monkeypatch.setattr(suite, "make_runner", make_runner)
  monkeypatch.setattr(suite, "load_data", lambda config, log: None)
  return built


def test_the_default_grid_is_the_issues():
  config = device_suite.DeviceSuiteConfig()
  cells = config.cells()
  assert len(cells) == 2 * 3 * 3 * 2 * 2
  assert {c.variants[0] for c in cells} == {"gan", "dcgan"}
  assert {c.step.batch_size for c in cells} == {64, 256, 1024}
  assert {c.implementations[0] for c in cells} == {
      "gantape_k", "gantape_k_xla", "keras_fit"}
  assert {c.step.precision for c in cells} == {"float32", "mixed_float16"}
  assert {c.step.input_pipeline for c in cells} == {"host", "device"}
  # Smallest batch first, so a spent budget cuts the largest.
  batches = [c.step.batch_size for c in cells]
  assert batches == sorted(batches)
  assert config.budget_seconds < 8 * 60


@pytest.mark.parametrize("field,value,message", [
    ("batch_sizes", (), "batch_sizes is empty"),
    ("precisions", ("float64",), "unknown precision"),
    ("input_pipelines", ("gpu",), "unknown input_pipeline"),
    ("implementations", ("fast",), "unknown implementation"),
    ("budget_seconds", 0, "budget_seconds must be positive")])
def test_bad_axes_are_refused(field, value, message):
  config = device_suite.DeviceSuiteConfig(**{field: value})
  with pytest.raises(UsageError, match=message):
    config.cells()


def test_skip_reasons():
  def reason(implementation, **fields):
    return suite.skip_reason(implementation,
                             benchmark.BenchmarkConfig(
                                 step=benchmark.step_config(**fields)))
  assert reason("gantape_k") is None
  assert reason("gantape_k_xla", input_pipeline="device") is None
  assert reason("input_only", input_pipeline="device") is None
  assert "float32 only" in reason("keras_fit", precision="mixed_float16")
  assert "own input" in reason("keras_fit", input_pipeline="device")
  assert "own input" in reason("seed_fit", input_pipeline="device")
  assert reason("gantape_k", precision="mixed_float16") is None


def test_a_run_writes_json_and_markdown(tmp_path, instant_runners):
  out = tmp_path / "device.json"
  lines = []
  config = device_suite.DeviceSuiteConfig(
      batch_sizes=(8,), precisions=("float32",), smoke=True,
      output_json=str(out))
  report = device_suite.run(config, log=lines.append)
  assert json.loads(out.read_text()) == json.loads(json.dumps(report))
  table = (tmp_path / "device.md").read_text()
  rows = report["results"]
  assert len(rows) == 2 * 3 * 2
  ran = [r for r in rows if r["status"] == "ok"]
  # keras_fit on device input is the only cell that does not run.
  assert len(ran) == len(instant_runners) == 10
  assert all(r["iterations_per_s"] > 0 for r in ran)
  assert "| gan | 8 | keras_fit | float32 | device | not applicable" in table
  assert table.splitlines()[0].startswith("| variant | batch |")


def test_a_spent_budget_skips_the_remaining_cells(instant_runners,
                                                  monkeypatch):
  clock = iter(range(0, 10_000, 100))  # every reading 100 s later
  monkeypatch.setattr(device_suite.time, "perf_counter", lambda: next(clock))
  config = device_suite.DeviceSuiteConfig(
      variants=("gan",), batch_sizes=(8, 16), precisions=("float32",),
      input_pipelines=("device",), implementations=("gantape_k", "keras_fit"),
      budget_seconds=150, smoke=True)
  report = device_suite.run(config, log=lambda line: None)
  statuses = [r["status"] for r in report["results"]]
  assert statuses[0] == "ok"
  assert statuses[2].startswith("skipped: the 150 s budget")
  # A cell that could not run anyway says so, budget or not.
  assert statuses[1].startswith("not applicable")
  assert statuses[3].startswith("not applicable")


def test_the_default_suite_times_the_input_alone_and_device_input():
  lines = []
  report = benchmark.run(
      benchmark.BenchmarkConfig(
          variants=("gan",), smoke=True,
          implementations=(benchmark.INPUT_ONLY, "gantape_k", "keras_fit"),
          step=benchmark.step_config(iterations_per_call=2,
                                     input_pipeline="device")),
      log=lines.append)
  rows = {r["implementation"]: r for r in report["results"]}
  assert rows["input_only"]["status"] == "ok"
  assert rows["input_only"]["iterations_per_s"] > 0
  assert rows["input_only"]["fraction_of_matmul_peak"] is None
  assert rows["gantape_k"]["status"] == "ok"
  assert rows["keras_fit"]["status"].startswith("not applicable")
  assert "gantape implementations: device input, float32." in "\n".join(
      lines)


def test_a_gantape_cell_runs_in_mixed_precision():
  report = benchmark.run(
      benchmark.BenchmarkConfig(
          variants=("gan",), smoke=True, implementations=("gantape_k",),
          step=benchmark.step_config(iterations_per_call=2,
                                     precision="mixed_bfloat16")),
      log=lambda line: None)
  (row,) = report["results"]
  assert row["status"] == "ok" and row["iterations_per_s"] > 0
