"""`gantape benchmark --suite=device`: the accelerator grid, in bounded time.

    gantape benchmark --suite=device --data_path=mnist.npz \
        --output_json=/tmp/device.json      # also writes /tmp/device.md

One row per cell of variants x batch sizes x implementations x precisions x
input pipelines (by default the MLP GAN and DCGAN at batch 64, 256 and 1024;
`gantape_k`, `gantape_k_xla` and `keras_fit`; float32 and mixed_float16;
host and device input). A cell that cannot run says why in its status
(`suite.skip_reason`: keras_fit reads its own host input in float32). Each
cell is built, warmed up (tracing and compilation, its own column), then
timed over `timed_blocks` blocks of about `block_seconds`: no memory run and
no FLOP count, so the grid fits in minutes. Cells run smallest batch first; once
`budget_seconds` have passed, the rest are reported as skipped, so the
command ends within the budget plus one cell.
"""

import dataclasses
import gc
import itertools
import statistics
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import keras

from gantape import files
from gantape.benchmark import machine
from gantape.benchmark import runners
from gantape.benchmark import suite
from gantape.benchmark.config import DEFAULT_STEP, BenchmarkConfig
from gantape.training.config import TrainConfig
from gantape.errors import UsageError

Log = Callable[[str], None]
Row = Dict[str, Any]


@dataclasses.dataclass(frozen=True)
class DeviceSuiteConfig:
  """The device grid and how long each cell is timed.

  Attributes:
    variants: registered variant names.
    batch_sizes: global batch sizes.
    implementations: of `config.ALL_IMPLEMENTATIONS`.
    precisions: of `config.PRECISIONS`.
    input_pipelines: of `data.INPUT_PIPELINES`.
    step: the step's other settings, as `BenchmarkConfig.step`
      (`iterations_per_call`: K of the `_k` implementations and keras_fit;
      `data_path`: MNIST, else random arrays of its shape; `seed`); each
      cell sets its batch size, precision and input pipeline.
    timed_blocks: timed blocks per cell; the median counts.
    block_seconds: target length of one timed block.
    budget_seconds: cells that would start after this many seconds are
      skipped.
    smoke: one call per block, small random data: proves the command.
    output_json: where to write the report; the Markdown table goes beside
      it, with the extension .md. None writes nothing.
  """
  variants: Tuple[str, ...] = ("gan", "dcgan")
  batch_sizes: Tuple[int, ...] = (64, 256, 1024)
  implementations: Tuple[str, ...] = ("gantape_k", "gantape_k_xla",
                                      "keras_fit")
  precisions: Tuple[str, ...] = ("float32", "mixed_float16")
  input_pipelines: Tuple[str, ...] = ("host", "device")
  step: TrainConfig = DEFAULT_STEP
  timed_blocks: int = 2
  block_seconds: float = 1.0
  budget_seconds: float = 400.0
  smoke: bool = False
  output_json: Optional[str] = None

  def cells(self) -> List[BenchmarkConfig]:
    """One `BenchmarkConfig` per cell, smallest batch first; each names one
    variant and one implementation. Validated.

    Raises:
      UsageError: an empty axis or a bad value in one.
    """
    for axis in ("variants", "batch_sizes", "implementations", "precisions",
                 "input_pipelines"):
      if not getattr(self, axis):
        raise UsageError(f"the device suite's {axis} is empty.")
    if self.budget_seconds <= 0:
      raise UsageError(f"budget_seconds must be positive, got "
                       f"{self.budget_seconds}.")
    cells = []
    for batch, name, pipeline, precision, implementation in itertools.product(
        self.batch_sizes, self.variants, self.input_pipelines,
        self.precisions, self.implementations):
      cell = BenchmarkConfig(
          variants=(name,), implementations=(implementation,),
          step=dataclasses.replace(self.step, batch_size=batch,
                                   input_pipeline=pipeline,
                                   precision=precision),
          timed_blocks=self.timed_blocks, block_seconds=self.block_seconds,
          smoke=self.smoke)
      cell.validate()
      cells.append(cell)
    return cells


def _timed(fn: Callable[[], None]) -> float:
  start = time.perf_counter()
  fn()
  return time.perf_counter() - start


def measure_cell(runner: runners.Runner, cell: BenchmarkConfig) -> Row:
  """Warm-up, then the median rate of `cell.timed_blocks` timed blocks."""
  unit = runner.unit
  warmup_s = _timed(lambda: runner.run(unit))
  second_s = _timed(lambda: runner.run(unit))
  block = unit
  if not cell.smoke:
    block = runners.round_up(cell.block_seconds * unit / max(second_s, 1e-6),
                             unit)
  rates = [block / _timed(lambda: runner.run(block))
           for _ in range(cell.timed_blocks)]
  rate = statistics.median(rates)
  return {"iterations_per_s": rate,
          "examples_per_s": rate * cell.step.batch_size,
          "block_rates": rates, "block_iterations": block,
          "warmup_s": warmup_s}


def _row_fields(cell: BenchmarkConfig) -> Row:
  """The fields that name a cell's row."""
  return {"variant": cell.variants[0], "batch_size": cell.step.batch_size,
          "implementation": cell.implementations[0],
          "precision": cell.step.precision,
          "input_pipeline": cell.step.input_pipeline,
          "iterations_per_s": None}


def _run_cell(cell: BenchmarkConfig, dataset, log: Log,
              budget_spent: Optional[float]) -> Row:
  """Measures one cell, or records why it does not run: it cannot, or the
  budget of `budget_spent` seconds (None while some is left) is spent."""
  (name,), (implementation,) = cell.variants, cell.implementations
  row = _row_fields(cell)
  step = cell.step
  label = (f"{name} b{step.batch_size} {implementation} {step.precision} "
           f"{step.input_pipeline}")
  reason = suite.skip_reason(implementation, cell)
  if reason is None and budget_spent is not None:
    reason = f"skipped: the {budget_spent:.0f} s budget was spent"
  if reason is not None:
    log(f"{label}: {reason}")
    return {**row, "status": reason}
  runner = suite.make_runner(implementation, name, dataset, cell)
  row.update(status="ok", **measure_cell(runner, cell))
  log(f"{label}: {row['iterations_per_s']:.2f} it/s, "
      f"{row['examples_per_s']:.0f} examples/s (warm-up "
      f"{row['warmup_s']:.1f} s)")
  return row


def run(config: DeviceSuiteConfig, log: Log = print) -> Dict[str, Any]:
  """Runs the grid within the budget, prints the table, writes the files.

  Returns:
    {"machine", "config", "results": one row per cell with "variant",
    "batch_size", "implementation", "precision", "input_pipeline",
    "status" and, when it ran, "iterations_per_s", "examples_per_s",
    "warmup_s" and the block readings}.

  Raises:
    UsageError: a bad axis or value.
  """
  cells = config.cells()
  machine_info = machine.machine_info()
  log(f"machine: {machine_info}")
  log(f"device suite: {len(cells)} cells, budget {config.budget_seconds:.0f} s")
  dataset = suite.load_data(cells[0], log)
  started = time.perf_counter()
  results = []
  for cell in cells:
    spent = time.perf_counter() - started > config.budget_seconds
    results.append(_run_cell(cell, dataset, log,
                             config.budget_seconds if spent else None))
    keras.backend.clear_session()  # one cell's graphs do not pile up
    gc.collect()
  report = {"machine": machine_info, "config": dataclasses.asdict(config),
            "seconds": time.perf_counter() - started, "results": results}
  table = format_table(report)
  log(table)
  if config.output_json:
    files.write_json(config.output_json, report)
    markdown = config.output_json.rsplit(".", 1)[0] + ".md"
    with open(markdown, "w") as f:
      f.write(table + "\n")
    log(f"wrote {config.output_json} and {markdown}")
  return report


def format_table(report: Dict[str, Any]) -> str:
  """The device suite's rows as a Markdown table, then the machine."""
  lines = ["| variant | batch | implementation | precision | input | "
           "iterations/s | examples/s | warm-up s |",
           "|---|---:|---|---|---|---:|---:|---:|"]
  for r in report["results"]:
    head = (f"| {r['variant']} | {r['batch_size']} | {r['implementation']} "
            f"| {r['precision']} | {r['input_pipeline']} |")
    if r["status"] != "ok":
      lines.append(f"{head} {r['status']} | | |")
      continue
    lines.append(f"{head} {r['iterations_per_s']:.2f} | "
                 f"{r['examples_per_s']:.0f} | {r['warmup_s']:.1f} |")
  m = report["machine"]
  lines.append(f"machine: {m.get('device')}; {m.get('cpu_model')}, "
               f"{m.get('cores')} cores; TensorFlow {m.get('tf_version')}; "
               f"{report['seconds']:.0f} s in all.")
  return "\n".join(lines)
