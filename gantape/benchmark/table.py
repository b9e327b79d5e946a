"""The benchmark's report as the Markdown table the script prints."""

from typing import Any, Dict, List


def format_table(report: Dict[str, Any]) -> str:
  """The results as a Markdown table (also what the script prints).

  Args:
    report: what `gantape.benchmark.run` returns.

  Returns:
    One row per variant and implementation, then lines naming the matmul
    peak, the FLOPs per iteration, the variant options and the update
    schedule of each implementation.
  """
  lines = [
      "| variant | implementation | iterations/s | vs seed_fit | "
      "% of matmul peak | % of matmul sampled before | "
      "MB per 1k iterations | warm-up s |",
      "|---|---|---:|---:|---:|---:|---:|---:|"]
  lines += [_row(r) for r in report["results"]]
  lines.append(f"matmul peak: {report['matmul_peak_gflops']:.1f} GFLOP/s "
               "fp32; FLOPs per iteration: "
               + ", ".join(f"{k} {v / 1e9:.3f} G"
                           for k, v in report["flops_per_iteration"].items()))
  lines += _config_lines(report["config"])
  return "\n".join(lines)


def _row(r: Dict[str, Any]) -> str:
  """One result's table row; a row that did not run shows its status."""
  if r.get("status", "ok") != "ok":
    return (f"| {r['variant']} | {r['implementation']} | {r['status']} "
            "| | | | | |")
  speedup = r.get("speedup_vs_seed_fit")
  fraction = r.get("fraction_of_matmul_peak")
  nearby = r.get("fraction_of_matmul_before")
  return (f"| {r['variant']} | {r['implementation']} | "
          f"{r['iterations_per_s']:.2f} | "
          f"{'' if speedup is None else f'{speedup:.1f}x'} | "
          f"{'' if fraction is None else f'{100 * fraction:.1f}'} | "
          f"{'' if nearby is None else f'{100 * nearby:.1f}'} | "
          f"{r['mb_per_1k_iterations']:+.3f} | {r['warmup_s']:.1f} |")


def _config_lines(config: Dict[str, Any]) -> List[str]:
  """The variant options and each implementation's update schedule."""
  lines = []
  step = config["step"]
  if step["variant_options"]:
    lines.append("variant options: " + ", ".join(
        f"{k}={v}" for k, v in sorted(step["variant_options"].items())))
  if step["input_pipeline"] != "host" or step["precision"] != "float32":
    lines.append(f"gantape implementations: {step['input_pipeline']} "
                 f"input, {step['precision']}.")
  updates = step["updates_per_batch"]
  lines.append(f"gantape implementations: {updates} update(s) of "
               f"{step['batch_size'] // updates} per network per iteration "
               f"(seed_fit: 2 of {step['batch_size'] // 2}; keras_fit: 1 "
               f"of {step['batch_size']}).")
  return lines
