"""The printed table, from a hand-made report."""

from gantape import benchmark


def test_format_table_rows_and_footer():
  ok = {"variant": "gan", "implementation": "gantape_k", "status": "ok",
        "iterations_per_s": 123.456, "speedup_vs_seed_fit": 41.0,
        "fraction_of_matmul_peak": 0.1234, "fraction_of_matmul_before": None,
        "mb_per_1k_iterations": -0.01, "warmup_s": 2.34}
  skipped = {"variant": "wgan_gp", "implementation": "seed_fit",
             "status": "not applicable"}
  report = {"matmul_peak_gflops": 100.0,
            "flops_per_iteration": {"gan": 1.5e8},
            "config": {"step": {"variant_options": {"r1_gamma": 1.0},
                                "updates_per_batch": 2, "batch_size": 64,
                                "input_pipeline": "host",
                                "precision": "float32"}},
            "results": [ok, skipped]}
  lines = benchmark.format_table(report).splitlines()
  assert lines[0].startswith("| variant | implementation | iterations/s |")
  assert lines[2] == ("| gan | gantape_k | 123.46 | 41.0x | 12.3 |  | "
                      "-0.010 | 2.3 |")
  assert lines[3] == "| wgan_gp | seed_fit | not applicable | | | | | |"
  assert lines[4] == ("matmul peak: 100.0 GFLOP/s fp32; FLOPs per iteration: "
                      "gan 0.150 G")
  assert lines[5] == "variant options: r1_gamma=1.0"
  assert lines[6] == ("gantape implementations: 2 update(s) of 32 per network "
                      "per iteration (seed_fit: 2 of 32; keras_fit: 1 of 64).")
