"""Smoke test of the benchmark: it runs every part and reports in its format.

Never asserts a speed; only that every implementation ran and reported.
"""

import json
import os

from gantape import benchmark
from gantape.benchmark import seed_fit
from tests.conftest import REAL_MNIST as _MNIST


def test_smoke_run_reports_table_and_json(tmp_path):
  out = tmp_path / "bench.json"
  lines = []
  config = benchmark.BenchmarkConfig(
      variants=("gan",), smoke=True, output_json=str(out), profile=True,
      step=benchmark.step_config(
          iterations_per_call=2,
          data_path=_MNIST if os.path.exists(_MNIST) else None))
  report = benchmark.run(config, log=lines.append)
  text = "\n".join(lines)

  assert json.loads(out.read_text()) == json.loads(json.dumps(report))
  assert set(report) >= {"machine", "matmul_peak_gflops", "results"}
  assert set(report["machine"]) >= {"cpu_model", "cores", "tf_version",
                                    "device"}
  assert report["matmul_peak_gflops"] > 0
  assert report["flops_per_iteration"]["gan"] > 0
  profile = report["op_profile"]["gan"]
  if profile:  # empty only where the profiler's format cannot be read
    assert any("MatMul" in entry["op"] for entry in profile)
    assert abs(sum(entry["share"] for entry in profile) - 1.0) < 1e-6
  rows = {r["implementation"]: r for r in report["results"]}
  assert list(rows) == list(benchmark.IMPLEMENTATIONS)
  have_tf_keras = seed_fit.import_tf_keras() is not None
  for name, row in rows.items():
    assert row["variant"] == "gan"
    if name == "seed_fit" and not have_tf_keras:
      assert row["status"].startswith("skipped")
      assert "tf_keras is not installed" in text
      continue
    assert row["status"] == "ok", row
    assert row["iterations_per_s"] > 0
    assert isinstance(row["mb_per_1k_iterations"], float)
    assert 0 < row["fraction_of_matmul_peak"]
    # The table has one line per implementation, with its rate.
    assert f"| gan | {name} | {row['iterations_per_s']:.2f} |" in text
    assert f"gan {name}: warm-up (trace/compile)" in text


def test_seed_fit_not_applicable_to_wgan_gp():
  lines = []
  report = benchmark.run(
      benchmark.BenchmarkConfig(
          variants=("wgan_gp",), implementations=("seed_fit",), smoke=True),
      log=lines.append)
  (row,) = report["results"]
  assert row["status"] == "not applicable"
  assert row["iterations_per_s"] is None


def test_seed_schedule_for_gantape_runners():
  lines = []
  report = benchmark.run(
      benchmark.BenchmarkConfig(
          variants=("gan",), implementations=("gantape_k",), smoke=True,
          step=benchmark.step_config(iterations_per_call=2,
                                     updates_per_batch=2)),
      log=lines.append)
  (row,) = report["results"]
  assert row["status"] == "ok" and row["iterations_per_s"] > 0
  assert report["config"]["step"]["updates_per_batch"] == 2
  assert "gantape implementations: 2 update(s) of 32" in "\n".join(lines)


def test_variant_options_reach_the_step_and_rule_out_seed_fit():
  def smoke(**options):
    lines = []
    report = benchmark.run(
        benchmark.BenchmarkConfig(
            variants=("gan",), implementations=("gantape_k", "seed_fit"),
            smoke=True, step=benchmark.step_config(
                iterations_per_call=2, variant_options=options)),
        log=lines.append)
    return report, "\n".join(lines)

  plain, _ = smoke()
  with_r1, text = smoke(r1_gamma=1.0)
  # R1's gradient of D's logits with respect to the real images adds
  # matmuls to the traced step.
  assert (with_r1["flops_per_iteration"]["gan"]
          > plain["flops_per_iteration"]["gan"])
  rows = {r["implementation"]: r for r in with_r1["results"]}
  assert rows["gantape_k"]["status"] == "ok"
  assert rows["seed_fit"]["status"] == "not applicable"
  assert "variant options: r1_gamma=1.0" in text
  assert with_r1["config"]["step"]["variant_options"] == {"r1_gamma": 1.0}
