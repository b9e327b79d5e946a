"""The benchmark run: each implementation built, warmed up, timed and measured.

`run` goes over every configured variant and implementation, reads the
machine's matmul peak beside each, counts each variant's FLOPs per iteration
and returns (and prints, and writes) the report; `measure` is the timing and
memory procedure of one implementation. The package docstring describes the
method.
"""

import dataclasses
import json
import statistics
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from gantape import data as data_lib
from gantape import files
from gantape.benchmark import flops as flops_lib
from gantape.benchmark import keras_fit
from gantape.benchmark import machine
from gantape.benchmark import profile
from gantape.benchmark import runners
from gantape.benchmark import seed_fit
from gantape.benchmark.config import (DEFAULT_MEMORY_ITERATIONS,
                                      DEFAULT_MEMORY_ITERATIONS_CONV,
                                      INPUT_ONLY, BenchmarkConfig)
from gantape.benchmark.table import format_table
from gantape.errors import DataError
from gantape.training import run_data

Log = Callable[[str], None]
Row = Dict[str, Any]


def _timed(fn: Callable[[], None]) -> float:
  start = time.perf_counter()
  fn()
  return time.perf_counter() - start


def measure(runner: runners.Runner, config: BenchmarkConfig, variant: str
            ) -> Row:
  """Warm-up, timed blocks and the memory run of one implementation.

  Returns:
    "iterations_per_s" (the median block rate), "block_rates",
    "block_iterations", "warmup_s", the RSS readings around the memory run
    ("rss_after_warmup_mb", "rss_after_memory_run_mb"), its length
    "memory_iterations" and "mb_per_1k_iterations".
  """
  unit = runner.unit
  warmup_s = _timed(lambda: runner.run(unit))
  # A second call: some runtimes finish optimising on the second run.
  second_s = _timed(lambda: runner.run(unit))
  block = _block_iterations(runner, config, second_s)
  blocks = 2 if config.smoke else config.timed_blocks
  rates = [block / _timed(lambda: runner.run(block)) for _ in range(blocks)]
  rate = statistics.median(rates)
  memory_iterations = _memory_iterations(config, variant, rate, unit)
  rss_before = machine.rss_mb()
  runner.run(memory_iterations)
  rss_after = machine.rss_mb()
  return {"iterations_per_s": rate,
          "block_rates": rates,
          "block_iterations": block,
          "warmup_s": warmup_s,
          "rss_after_warmup_mb": rss_before,
          "rss_after_memory_run_mb": rss_after,
          "memory_iterations": memory_iterations,
          "mb_per_1k_iterations":
              (rss_after - rss_before) / memory_iterations * 1000}


def _block_iterations(runner: runners.Runner, config: BenchmarkConfig,
                      second_s: float) -> int:
  """Iterations of one timed block, from a calibration run of about 0.5 s."""
  unit = runner.unit
  if config.smoke:
    return unit
  calib = runners.round_up(max(1.0, 0.5 / max(second_s / unit, 1e-6)), unit)
  rate = calib / _timed(lambda: runner.run(calib))
  return runners.round_up(rate * config.block_seconds, unit)


def _memory_iterations(config: BenchmarkConfig, variant: str, rate: float,
                       unit: int) -> int:
  """The memory run's length: as configured, else the default within the cap."""
  fixed = config.memory_iterations_for(variant)
  if fixed is not None:
    return runners.round_up(fixed, unit)
  if config.smoke:
    return runners.round_up(4, unit)
  wanted = DEFAULT_MEMORY_ITERATIONS.get(variant,
                                         DEFAULT_MEMORY_ITERATIONS_CONV)
  return runners.round_up(min(wanted, rate * config.memory_seconds), unit)


def make_runner(implementation: str, name: str, dataset: data_lib.Dataset,
                config: BenchmarkConfig) -> runners.Runner:
  """The runner of `implementation` (one of `IMPLEMENTATIONS`) on `name`."""
  k = config.step.iterations_per_call
  if implementation == "gantape":
    return runners.GantapeRunner(name, dataset, config, 1, jit=False)
  if implementation == "gantape_k":
    return runners.GantapeRunner(name, dataset, config, k, jit=False)
  if implementation == "gantape_xla":
    return runners.GantapeRunner(name, dataset, config, 1, jit=True)
  if implementation == "gantape_k_xla":
    return runners.GantapeRunner(name, dataset, config, k, jit=True)
  if implementation == "keras_fit":
    return keras_fit.KerasFitRunner(name, dataset, config, k)
  if implementation == INPUT_ONLY:
    return runners.InputRunner(name, dataset, config, k)
  return runners.SeedFitRunner(name, dataset, config)


def skip_reason(implementation: str, config: BenchmarkConfig
                ) -> Optional[str]:
  """Why `implementation` cannot run under `config`, or None if it can."""
  gantape = implementation.startswith("gantape")
  if config.step.precision != "float32" and not gantape:
    return f"not applicable: {implementation} runs float32 only"
  if (config.step.input_pipeline != "host"
      and implementation in ("keras_fit", "seed_fit")):
    return f"not applicable: {implementation} reads its own input"
  return None


def load_data(config: BenchmarkConfig, log: Log) -> data_lib.Dataset:
  """MNIST from `data_path`, or random arrays of its shape with a note;
  another dataset (or MNIST resized) as `gantape train` loads it."""
  step = config.step
  if (step.dataset, step.image_size, step.channels) != ("mnist", None, None):
    return run_data.load(step)
  if config.step.data_path is not None:
    try:
      return data_lib.load_mnist(config.step.data_path)
    except DataError as e:
      log(f"note: {e}")
  log("note: no MNIST loaded; using random uint8 arrays of MNIST's shape "
      "(speed does not depend on pixel values).")
  rng = np.random.RandomState(0)
  n_train, n_test = (6_000, 1_000) if config.smoke else (60_000, 10_000)
  return data_lib.Dataset(
      x_train=rng.randint(0, 256, (n_train, 28, 28)).astype(np.uint8),
      y_train=rng.randint(0, 10, n_train).astype(np.uint8),
      x_test=rng.randint(0, 256, (n_test, 28, 28)).astype(np.uint8),
      y_test=rng.randint(0, 10, n_test).astype(np.uint8))


def _sample_peak(config: BenchmarkConfig, first: bool = False) -> float:
  """One reading of the matmul peak: the full size first, then a quicker one.

  The peak is sampled again beside every implementation and the best sample
  kept: on a shared machine a single reading may land in a busy moment, and
  each row also records the reading taken right before it.
  """
  if config.smoke:
    return machine.matmul_peak_gflops(n=512, repeats=2)
  if first:
    return machine.matmul_peak_gflops()
  return machine.matmul_peak_gflops(n=1024, repeats=3)


def _have_tf_keras(config: BenchmarkConfig, log: Log) -> bool:
  """Whether seed_fit can run; notes it when it was asked for and cannot."""
  if "seed_fit" not in config.implementations:
    return False
  if seed_fit.import_tf_keras() is None:
    log("note: tf_keras is not installed, so seed_fit is skipped; "
        "pip install -e .[bench] to include it.")
    return False
  return True


def _count_flops(name: str, dataset: data_lib.Dataset, config: BenchmarkConfig,
                 log: Log) -> int:
  """FLOPs of one iteration of `name`'s gantape step, logged."""
  # Float32: a dtype policy changes no matmul or convolution.
  counter = runners.GantapeRunner(
      name, dataset, dataclasses.replace(
          config, step=dataclasses.replace(config.step, precision="float32")),
      1, jit=False)
  count = flops_lib.iteration_flops(counter.step, counter.element_spec,
                                    config.step.batch_size)
  log(f"{name}: {count / 1e9:.3f} GFLOP per iteration (matmuls "
      f"and convolutions of the traced step)")
  return count


def _measure_implementation(implementation: str, name: str,
                            dataset: data_lib.Dataset, config: BenchmarkConfig,
                            log: Log) -> Row:
  """Builds and measures one implementation on `name`; logs its figures."""
  runner = make_runner(implementation, name, dataset, config)
  row = {"status": "ok", **measure(runner, config, name),
         "iterations_per_call": runner.unit}
  log(f"{name} {implementation}: warm-up (trace/compile) "
      f"{row['warmup_s']:.1f} s")
  log(f"{name} {implementation}: {row['iterations_per_s']:.2f} it/s "
      f"(median of {len(row['block_rates'])} blocks of "
      f"{row['block_iterations']}), RSS {row['rss_after_warmup_mb']:.0f} "
      f"-> {row['rss_after_memory_run_mb']:.0f} MB over "
      f"{row['memory_iterations']} iterations")
  return row


def _variant_results(name: str, dataset: data_lib.Dataset,
                     config: BenchmarkConfig, have_tf_keras: bool,
                     peak_samples: List[float], log: Log
                     ) -> Tuple[Optional[int], List[Row]]:
  """FLOPs per iteration (None if nothing runs) and one row per implementation.

  Appends the matmul peak read before each measured implementation to
  `peak_samples`.
  """
  seed_fit_applies = (name in seed_fit.VARIANTS
                      and not config.step.variant_options
                      and (config.step.dataset, config.step.image_size,
                           config.step.channels) == ("mnist", None, None))
  runs_something = any(
      i != "seed_fit" or (seed_fit_applies and have_tf_keras)
      for i in config.implementations)
  count = _count_flops(name, dataset, config, log) if runs_something else None
  rows = []
  for implementation in config.implementations:
    row = {"variant": name, "implementation": implementation,
           "iterations_per_s": None, "mb_per_1k_iterations": None}
    reason = skip_reason(implementation, config)
    if reason is not None:
      row["status"] = reason
      log(f"{name} {implementation}: {reason}")
    elif implementation == "seed_fit" and not seed_fit_applies:
      row["status"] = "not applicable"
      log(f"{name} seed_fit: not applicable (the seed has no {name} code"
          + (f" with {config.step.variant_options})"
             if config.step.variant_options else ")"))
    elif implementation == "seed_fit" and not have_tf_keras:
      row["status"] = "skipped: tf_keras not installed"
    else:
      row["matmul_gflops_before"] = _sample_peak(config)
      peak_samples.append(row["matmul_gflops_before"])
      row.update(_measure_implementation(implementation, name, dataset, config,
                                         log))
    rows.append(row)
  return count, rows


def _add_ratios(results: List[Row], flops: Dict[str, int],
                peak: float) -> None:
  """Adds the speed-up over seed_fit and the shares of the matmul peak."""
  for row in results:
    if row["status"] != "ok":
      continue
    seed_row = [r for r in results if r["variant"] == row["variant"]
                and r["implementation"] == "seed_fit" and r["status"] == "ok"]
    row["speedup_vs_seed_fit"] = (
        row["iterations_per_s"] / seed_row[0]["iterations_per_s"]
        if seed_row else None)
    f = (None if row["implementation"] == INPUT_ONLY
         else flops.get(row["variant"]))
    row["flops_per_iteration"] = f
    row["fraction_of_matmul_peak"] = (
        row["iterations_per_s"] * f / (peak * 1e9) if f else None)
    row["fraction_of_matmul_before"] = (
        row["iterations_per_s"] * f / (row["matmul_gflops_before"] * 1e9)
        if f else None)


def run(config: BenchmarkConfig, log: Log = print,
        data: Optional[data_lib.Dataset] = None) -> Dict[str, Any]:
  """Runs the benchmark, prints progress and the table, writes the JSON.

  `data` is the dataset to time the step on, already loaded; None loads
  the config's (`load_data`).

  Returns:
    The report: {"machine", "matmul_peak_gflops", "matmul_gflops_samples",
    "op_profile", "config", "flops_per_iteration", "results": [...]}, one
    result per variant and implementation with "variant", "implementation",
    "status" ("ok", "not applicable", "skipped: ..."), "iterations_per_s",
    "mb_per_1k_iterations", "fraction_of_matmul_peak",
    "speedup_vs_seed_fit" and the raw readings.

  Raises:
    UsageError: a bad config field.
  """
  config.validate()
  machine_info = machine.machine_info()
  log(f"machine: {json.dumps(machine_info)}")
  peak_samples = [_sample_peak(config, first=True)]
  log(f"fp32 matmul peak: {peak_samples[0]:.1f} GFLOP/s")
  dataset = data if data is not None else load_data(config, log)
  have_tf_keras = _have_tf_keras(config, log)
  results, flops = [], {}
  for name in config.variants:
    count, rows = _variant_results(name, dataset, config, have_tf_keras,
                                   peak_samples, log)
    if count is not None:
      flops[name] = count
    results += rows
  peak = max(peak_samples)
  _add_ratios(results, flops, peak)
  profiles = (profile.profile_variants(dataset, config, log) if config.profile
              else {})
  report = {"machine": machine_info, "matmul_peak_gflops": peak,
            "op_profile": profiles,
            "matmul_gflops_samples": peak_samples,
            "config": dataclasses.asdict(config),
            "flops_per_iteration": flops, "results": results}
  log(format_table(report))
  if config.output_json:
    files.write_json(config.output_json, report)
    log(f"wrote {config.output_json}")
  return report
