"""Step throughput and memory: gantape's step beside the seed's compile/fit.

    python scripts/benchmark.py --variants=gan,dcgan --output_json=/tmp/b.json

For each variant and implementation it reports GAN iterations per second (one
iteration = `n_critic` discriminator updates plus one generator update, on a
batch of `batch_size`) and resident-memory growth in MB per 1,000 iterations.
The implementations:

- `gantape`: `TrainStep`, one iteration per call.
- `gantape_k`: `TrainStep`, `iterations_per_call` iterations per call.
- `gantape_xla`, `gantape_k_xla`: the same with `jit_compile=True`.
- `seed_fit`: the post's own code (`gantape.seed_fit`, Keras 2 via `tf_keras`):
  two `fit()` calls per iteration on 64 samples, each split by fit's default
  batch of 32. Not applicable to WGAN-GP, which the post never coded.
- `keras_fit`: what a Keras 3 user would write instead: a `keras.Model`
  subclass overriding `train_step` (the variant's networks and losses),
  trained with `fit(steps_per_execution=iterations_per_call)`.

Method: each implementation is built, warmed up (tracing and compilation,
reported on its own line), calibrated so one timed block lasts about
`block_seconds`, then timed over `timed_blocks` blocks; the figure is the
median block rate. gantape and keras_fit read the real input pipeline
(`variant.make_dataset`); seed_fit draws its batches as the post does (NumPy
indexing). Memory: resident set size (RSS) after warm-up and timing, and after
`memory_iterations` more iterations.

The run also measures this machine's fp32 matmul peak (a chain of square
matmuls; sampled at the start and before every implementation, the best
sample counts, since other processes may be busy at any one time) and counts
the FLOPs of one iteration from the step's own graph
(matmuls and convolutions that are actually executed), so each
implementation's share of the peak is iterations/s x FLOPs / peak.
"""

import dataclasses
import json
import os
import platform
import statistics
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from gantape import data as data_lib
from gantape.benchmark import seed_fit
from gantape import step as step_lib
from gantape import variants
from gantape.errors import DataError, UsageError

IMPLEMENTATIONS = ("gantape", "gantape_k", "gantape_xla", "gantape_k_xla",
                   "seed_fit", "keras_fit")
# Iterations for the memory measurement when not set: the 20,000 for
# the MLP GAN, fewer for the convolutional variants (seconds per iteration).
DEFAULT_MEMORY_ITERATIONS = {"gan": 20_000}
DEFAULT_MEMORY_ITERATIONS_CONV = 1_000


@dataclasses.dataclass(frozen=True)
class BenchmarkConfig:
  """What to benchmark and how long.

  Attributes:
    variants: registered variant names.
    variant_options: keyword options for every variant, as `TrainConfig`'s
      (e.g. {"r1_gamma": 1.0}); each variant must take them. Without them
      every implementation runs the seed's losses, whatever a training
      preset adds (DCGAN's default R1: pass it here to time it). seed_fit
      runs the seed's losses only, so with options its rows are "not
      applicable".
    implementations: a subset of `IMPLEMENTATIONS`.
    batch_size: examples per batch (the seed's 64).
    iterations_per_call: K of `gantape_k` and keras_fit's steps_per_execution.
    updates_per_batch: `TrainStep`'s updates per network per iteration, for
      the gantape implementations: 1 is one update of the whole batch, 2 the
      seed's two updates of half a batch (what seed_fit runs, and the
      default preset's schedule).
    timed_blocks: timed blocks per figure; the median is reported.
    block_seconds: target length of one timed block.
    memory_iterations: iterations between the two RSS readings, by variant
      name ("*" for any other); a variant not named takes 20,000 for gan and
      1,000 otherwise, cut to what fits in `memory_seconds` at the measured
      rate.
    memory_seconds: time cap of the default memory run (ignored when
      `memory_iterations` is set).
    data_path: MNIST; when it cannot be loaded, random arrays of MNIST's
      shape are used and a note is printed.
    seed: seeds data order, noise and weights.
    smoke: a handful of iterations per part, to check that everything runs.
    output_json: where to write the JSON report; None writes none.
    profile: also profile `gantape_k` per variant and report the op types
      that take its time.
  """
  variants: Tuple[str, ...] = ("gan", "dcgan")
  variant_options: Dict[str, Any] = dataclasses.field(default_factory=dict)
  implementations: Tuple[str, ...] = IMPLEMENTATIONS
  batch_size: int = 64
  iterations_per_call: int = 50
  updates_per_batch: int = 1
  timed_blocks: int = 5
  block_seconds: float = 3.0
  memory_iterations: Optional[Dict[str, int]] = None
  memory_seconds: float = 120.0
  data_path: Optional[str] = None
  seed: int = 0
  smoke: bool = False
  output_json: Optional[str] = None
  profile: bool = False

  def validate(self) -> None:
    """Raises UsageError naming the first bad field."""
    if not self.variants:
      raise UsageError("--variants is empty; name at least one variant.")
    for name in self.variants:
      variants.check_options(name, self.variant_options)
    unknown = [i for i in self.implementations if i not in IMPLEMENTATIONS]
    if unknown or not self.implementations:
      raise UsageError(
          f"unknown implementation(s) {unknown}; choose from "
          f"{', '.join(IMPLEMENTATIONS)}.")
    for field in ("batch_size", "iterations_per_call", "updates_per_batch",
                  "timed_blocks"):
      if getattr(self, field) < 1:
        raise UsageError(f"{field} must be at least 1, got "
                         f"{getattr(self, field)}.")
    if self.batch_size % self.updates_per_batch:
      raise UsageError(f"batch_size {self.batch_size} does not split into "
                       f"updates_per_batch={self.updates_per_batch} equal "
                       f"updates; pick a divisor of the batch size.")
    for name, n in (self.memory_iterations or {}).items():
      if n < 1:
        raise UsageError(f"memory_iterations for {name} must be at least 1, "
                         f"got {n}.")


# ---- machine ---------------------------------------------------------------


def rss_mb() -> float:
  """This process's resident set size in MB (Linux /proc; else peak RSS)."""
  try:
    with open("/proc/self/statm") as f:
      pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
  except (OSError, ValueError, IndexError):
    import resource  # pylint: disable=g-import-not-at-top
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_model() -> str:
  """The CPU's model name from /proc/cpuinfo, or the platform's guess."""
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or platform.machine()


def onednn_enabled() -> Optional[bool]:
  """Whether TensorFlow's oneDNN (MKL) kernels are on, None if unknown."""
  try:
    from tensorflow.python.util import _pywrap_util_port  # pylint: disable=g-import-not-at-top
    return bool(_pywrap_util_port.IsMklEnabled())
  except (ImportError, AttributeError):
    return None


def machine_info() -> Dict[str, Any]:
  """CPU model, cores, TF/Keras versions and the device the step runs on."""
  import keras  # pylint: disable=g-import-not-at-top
  threading = tf.config.threading
  gpus = tf.config.list_physical_devices("GPU")
  device = "CPU"
  if gpus:
    details = tf.config.experimental.get_device_details(gpus[0])
    device = f"GPU: {details.get('device_name', gpus[0].name)}"
  return {"cpu_model": cpu_model(), "cores": os.cpu_count(),
          "tf_version": tf.__version__, "keras_version": keras.__version__,
          "device": device, "onednn": onednn_enabled(),
          "intra_op_threads": threading.get_intra_op_parallelism_threads(),
          "inter_op_threads": threading.get_inter_op_parallelism_threads()}


def matmul_peak_gflops(n: int = 2048, chain: int = 8,
                       repeats: int = 5) -> float:
  """The best fp32 GFLOP/s of `chain` dependent n x n matmuls in one call.

  The matmuls depend on each other so no graph pass can merge them; the
  best of `repeats` runs is the machine's practical peak.
  """
  a = tf.random.stateless_normal([n, n], seed=[1, 2])
  b = tf.random.stateless_normal([n, n], seed=[3, 4]) / n**0.5

  @tf.function
  def chained(x, w):
    for _ in range(chain):
      x = tf.matmul(x, w)
    return x

  chained(a, b).numpy()
  best = 0.0
  for _ in range(repeats):
    start = time.perf_counter()
    chained(a, b).numpy()
    best = max(best, 2 * n**3 * chain / (time.perf_counter() - start) / 1e9)
  return best


# ---- FLOPs -----------------------------------------------------------------

_MATMULS = ("MatMul", "_FusedMatMul", "BatchMatMul", "BatchMatMulV2",
            "BatchMatMulV3")
_CONVS = ("Conv2D", "_FusedConv2D", "Conv2DBackpropInput",
          "Conv2DBackpropFilter")


def _op_flops(op) -> int:
  """Multiply-add FLOPs (2 per MAC) of a matmul or 2-D convolution op."""
  if op.type in _MATMULS:
    a = op.inputs[0].shape.as_list()
    transposed = (op.get_attr("transpose_a") if op.type in _MATMULS[:2]
                  else op.get_attr("adj_x"))
    inner = a[-2] if transposed else a[-1]
    return 2 * int(np.prod(op.outputs[0].shape.as_list())) * int(inner)
  if op.type in ("Conv2D", "_FusedConv2D"):
    kh, kw, cin, _ = op.inputs[1].shape.as_list()
    return 2 * int(np.prod(op.outputs[0].shape.as_list())) * kh * kw * cin
  if op.type == "Conv2DBackpropInput":
    kh, kw, cin, _ = op.inputs[1].shape.as_list()
    return 2 * int(np.prod(op.inputs[2].shape.as_list())) * kh * kw * cin
  if op.type == "Conv2DBackpropFilter":
    kh, kw, cin, _ = op.outputs[0].shape.as_list()
    return 2 * int(np.prod(op.inputs[2].shape.as_list())) * kh * kw * cin
  return 0


def _live_ops(graph) -> List[Any]:
  """Ops that feed an output or a side effect: what actually runs.

  A gradient function builds the gradient of every input of an op (say a
  convolution's filter gradient in the generator step, where only the input
  gradient is wanted); the unused ones are pruned before running.
  """
  stack = [t.op for t in graph.outputs] + list(graph.control_outputs)
  seen = {}
  while stack:
    op = stack.pop()
    if op.name in seen:
      continue
    seen[op.name] = op
    stack.extend(t.op for t in op.inputs)
    stack.extend(op.control_inputs)
  return list(seen.values())


def iteration_flops(variant: variants.Variant, step: step_lib.TrainStep,
                    element_spec: Any, batch_size: int) -> int:
  """FLOPs of one GAN iteration of `step`, counted from its traced graph.

  Counts matmuls and convolutions (forward and backward, both networks, all
  `n_critic` updates), not element-wise ops, the convention of peak-FLOP
  comparisons.
  """
  inputs = variant.sample_inputs(tf.random.Generator.from_seed(0), batch_size)
  input_spec = tf.nest.map_structure(
      lambda t: tf.TensorSpec(t.shape, t.dtype), inputs)
  n = variant.n_critic
  # pylint: disable=protected-access
  fn = tf.function(step._replica_iteration).get_concrete_function(
      tuple([element_spec] * n), tuple([input_spec] * n))
  # pylint: enable=protected-access
  return sum(_op_flops(op) for op in _live_ops(fn.graph))


# ---- implementations -------------------------------------------------------


class _Runner:
  """One implementation on one variant: `run(n)` trains n iterations.

  `n` is always a multiple of `unit` (iterations per call).
  """
  unit = 1

  def run(self, n: int) -> None:
    raise NotImplementedError


class _GantapeRunner(_Runner):
  """`TrainStep`, `k` iterations per call, with or without XLA."""

  def __init__(self, name, mnist, config, k, jit):
    self.variant = variants.build(name, **config.variant_options)
    d_opt, g_opt = step_lib.make_optimizers(self.variant)
    self.step = step_lib.TrainStep(self.variant, d_opt, g_opt,
                                   seed=config.seed, jit_compile=jit,
                                   updates_per_batch=config.updates_per_batch)
    dataset = self.variant.make_dataset(mnist, batch_size=config.batch_size,
                                        seed=config.seed)
    self.element_spec = dataset.element_spec
    self.iterator = self.step.make_iterator(dataset)
    self.unit = k
    self._k = tf.constant(k, tf.int32)

  def run(self, n):
    for _ in range(n // self.unit):
      metrics = self.step(self.iterator, self._k)
    metrics["d_loss"].numpy()  # waits for the last call


def _make_keras_fit_model(variant: variants.Variant, seed: int):
  """A Keras 3 `Model` whose `train_step` is one GAN iteration."""
  import keras  # pylint: disable=g-import-not-at-top

  class GANModel(keras.Model):
    """The Keras-guide pattern: fit() drives a custom train_step."""

    def __init__(self):
      super().__init__()
      self.generator = variant.generator
      self.discriminator = variant.discriminator
      self._rng = [tf.random.Generator.from_seed(seed)]

    def compile(self, d_optimizer, g_optimizer, steps_per_execution):  # pylint: disable=arguments-differ
      super().compile(steps_per_execution=steps_per_execution,
                      jit_compile=False)
      self.d_optimizer = d_optimizer
      self.g_optimizer = g_optimizer

    def train_step(self, data):
      n = variant.n_critic
      batches = ([data] if n == 1 else
                 [tf.nest.map_structure(lambda t, i=i: t[i], data)
                  for i in range(n)])
      d_vars = variant.discriminator_variables
      g_vars = variant.generator_variables
      for batch in batches:
        inputs = variant.sample_inputs(
            self._rng[0], tf.shape(batch["image"])[0])
        with tf.GradientTape() as tape:
          d_loss = tf.reduce_mean(
              variant.discriminator_loss(batch, inputs).per_example)
        self.d_optimizer.apply_gradients(
            zip(tape.gradient(d_loss, d_vars), d_vars))
      with tf.GradientTape() as tape:
        g_loss = tf.reduce_mean(
            variant.generator_loss(batches[-1], inputs).per_example)
      self.g_optimizer.apply_gradients(
          zip(tape.gradient(g_loss, g_vars), g_vars))
      return {"d_loss": d_loss, "g_loss": g_loss}

  return GANModel()


class _KerasFitRunner(_Runner):
  """Keras 3 `fit` over a train_step override, steps_per_execution=k."""

  def __init__(self, name, mnist, config, k):
    variant = variants.build(name, **config.variant_options)
    d_opt, g_opt = step_lib.make_optimizers(variant)
    d_opt.build(variant.discriminator_variables)
    g_opt.build(variant.generator_variables)
    self.model = _make_keras_fit_model(variant, config.seed)
    self.model.compile(d_opt, g_opt, steps_per_execution=k)
    dataset = variant.make_dataset(mnist, batch_size=config.batch_size,
                                   seed=config.seed)
    if variant.n_critic > 1:
      dataset = dataset.batch(variant.n_critic, drop_remainder=True)
    self.dataset = dataset
    self.unit = k

  def run(self, n):
    self.model.fit(self.dataset, steps_per_epoch=n, epochs=1, verbose=0,
                   shuffle=False)  # the dataset shuffles itself


class _SeedFitRunner(_Runner):
  """The post's loop body: two `fit()` calls per iteration."""

  def __init__(self, name, mnist, config):
    self.trainer = seed_fit.SeedTrainer(name, mnist,
                                        batch_size=config.batch_size,
                                        seed=config.seed)

  def run(self, n):
    for _ in range(n):
      self.trainer.iteration()


# ---- measuring -------------------------------------------------------------


def _timed(fn: Callable[[], None]) -> float:
  start = time.perf_counter()
  fn()
  return time.perf_counter() - start


def _round_up(n: int, unit: int) -> int:
  return max(unit, -(-int(n) // unit) * unit)


def measure(runner: _Runner, config: BenchmarkConfig, variant: str
            ) -> Dict[str, Any]:
  """Warm-up, timed blocks and the memory run of one implementation."""
  unit = runner.unit
  warmup_s = _timed(lambda: runner.run(unit))
  # A second call: some runtimes finish optimising on the second run.
  second_s = _timed(lambda: runner.run(unit))
  if config.smoke:
    block = unit
  else:
    calib = _round_up(max(1.0, 0.5 / max(second_s / unit, 1e-6)), unit)
    rate = calib / _timed(lambda: runner.run(calib))
    block = _round_up(rate * config.block_seconds, unit)
  blocks = 2 if config.smoke else config.timed_blocks
  rates = [block / _timed(lambda: runner.run(block)) for _ in range(blocks)]
  rate = statistics.median(rates)

  fixed = config.memory_iterations or {}
  fixed = fixed.get(variant, fixed.get("*"))
  if fixed is not None:
    memory_iterations = _round_up(fixed, unit)
  elif config.smoke:
    memory_iterations = _round_up(4, unit)
  else:
    wanted = DEFAULT_MEMORY_ITERATIONS.get(variant,
                                           DEFAULT_MEMORY_ITERATIONS_CONV)
    memory_iterations = _round_up(min(wanted, rate * config.memory_seconds),
                                  unit)
  rss_before = rss_mb()
  runner.run(memory_iterations)
  rss_after = rss_mb()
  return {"iterations_per_s": rate,
          "block_rates": rates,
          "block_iterations": block,
          "warmup_s": warmup_s,
          "rss_after_warmup_mb": rss_before,
          "rss_after_memory_run_mb": rss_after,
          "memory_iterations": memory_iterations,
          "mb_per_1k_iterations":
              (rss_after - rss_before) / memory_iterations * 1000}


def _make_runner(implementation, name, mnist, config):
  k = config.iterations_per_call
  if implementation == "gantape":
    return _GantapeRunner(name, mnist, config, 1, jit=False)
  if implementation == "gantape_k":
    return _GantapeRunner(name, mnist, config, k, jit=False)
  if implementation == "gantape_xla":
    return _GantapeRunner(name, mnist, config, 1, jit=True)
  if implementation == "gantape_k_xla":
    return _GantapeRunner(name, mnist, config, k, jit=True)
  if implementation == "keras_fit":
    return _KerasFitRunner(name, mnist, config, k)
  return _SeedFitRunner(name, mnist, config)


def op_profile(name: str, mnist: data_lib.Mnist, config: BenchmarkConfig,
               iterations: int) -> List[Dict[str, Any]]:
  """Where `gantape_k`'s time goes: op types by their share of op time.

  Runs `iterations` iterations of the step (K per call, no XLA) under the
  TensorFlow profiler and sums each op type's duration on the executor
  threads. Durations of ops that run side by side add up, so the shares, not
  the sums, are the point.

  Returns:
    [{"op", "ms_per_iteration", "share"}], largest first; empty when the
    profiler's trace format cannot be read in this TensorFlow.
  """
  import collections  # pylint: disable=g-import-not-at-top
  import glob  # pylint: disable=g-import-not-at-top
  import shutil  # pylint: disable=g-import-not-at-top
  import tempfile  # pylint: disable=g-import-not-at-top
  try:
    from tensorflow.tsl.profiler.protobuf import xplane_pb2  # pylint: disable=g-import-not-at-top
  except ImportError:
    return []
  runner = _GantapeRunner(name, mnist, config, config.iterations_per_call,
                          jit=False)
  runner.run(runner.unit)
  runner.run(runner.unit)
  n = _round_up(iterations, runner.unit)
  logdir = tempfile.mkdtemp(prefix="gantape_profile_")
  try:
    tf.profiler.experimental.start(logdir)
    runner.run(n)
    tf.profiler.experimental.stop()
    totals = collections.Counter()
    for path in glob.glob(os.path.join(logdir, "**", "*.xplane.pb"),
                          recursive=True):
      space = xplane_pb2.XSpace()
      with open(path, "rb") as f:
        space.ParseFromString(f.read())
      for plane in space.planes:
        for line in plane.lines:
          if not line.name.startswith("tf_Compute"):
            continue
          for event in line.events:
            op = plane.event_metadata[event.metadata_id].name
            # Ops are "<op name>:<op type>"; "Executor::..." spans enclose them.
            if ":" in op and "::" not in op:
              totals[op.rsplit(":", 1)[1]] += event.duration_ps
  finally:
    shutil.rmtree(logdir, ignore_errors=True)
  whole = sum(totals.values()) or 1
  return [{"op": op, "ms_per_iteration": ps / 1e9 / n, "share": ps / whole}
          for op, ps in totals.most_common()]


def load_data(config: BenchmarkConfig, log: Callable[[str], None]
              ) -> data_lib.Mnist:
  """MNIST from `data_path`, or random arrays of its shape with a note."""
  if config.data_path is not None:
    try:
      return data_lib.load_mnist(config.data_path)
    except DataError as e:
      log(f"note: {e}")
  log("note: no MNIST loaded; using random uint8 arrays of MNIST's shape "
      "(speed does not depend on pixel values).")
  rng = np.random.RandomState(0)
  n_train, n_test = (6_000, 1_000) if config.smoke else (60_000, 10_000)
  return data_lib.Mnist(
      x_train=rng.randint(0, 256, (n_train, 28, 28)).astype(np.uint8),
      y_train=rng.randint(0, 10, n_train).astype(np.uint8),
      x_test=rng.randint(0, 256, (n_test, 28, 28)).astype(np.uint8),
      y_test=rng.randint(0, 10, n_test).astype(np.uint8))


def format_table(report: Dict[str, Any]) -> str:
  """The results as a Markdown table (also what the script prints)."""
  peak = report["matmul_peak_gflops"]
  lines = [
      "| variant | implementation | iterations/s | vs seed_fit | "
      "% of matmul peak | % of matmul sampled before | "
      "MB per 1k iterations | warm-up s |",
      "|---|---|---:|---:|---:|---:|---:|---:|"]
  for r in report["results"]:
    if r.get("status", "ok") != "ok":
      lines.append(f"| {r['variant']} | {r['implementation']} | "
                   f"{r['status']} | | | | | |")
      continue
    speedup = r.get("speedup_vs_seed_fit")
    fraction = r.get("fraction_of_matmul_peak")
    nearby = r.get("fraction_of_matmul_before")
    lines.append(
        f"| {r['variant']} | {r['implementation']} | "
        f"{r['iterations_per_s']:.2f} | "
        f"{'' if speedup is None else f'{speedup:.1f}x'} | "
        f"{'' if fraction is None else f'{100 * fraction:.1f}'} | "
        f"{'' if nearby is None else f'{100 * nearby:.1f}'} | "
        f"{r['mb_per_1k_iterations']:+.3f} | {r['warmup_s']:.1f} |")
  lines.append(f"matmul peak: {peak:.1f} GFLOP/s fp32; FLOPs per iteration: "
               + ", ".join(f"{k} {v / 1e9:.3f} G"
                           for k, v in report["flops_per_iteration"].items()))
  config = report["config"]
  if config["variant_options"]:
    lines.append("variant options: " + ", ".join(
        f"{k}={v}" for k, v in sorted(config["variant_options"].items())))
  updates = config["updates_per_batch"]
  lines.append(f"gantape implementations: {updates} update(s) of "
               f"{config['batch_size'] // updates} per network per iteration "
               f"(seed_fit: 2 of {config['batch_size'] // 2}; keras_fit: 1 "
               f"of {config['batch_size']}).")
  return "\n".join(lines)


def run(config: BenchmarkConfig, log: Callable[[str], None] = print
        ) -> Dict[str, Any]:
  """Runs the benchmark, prints progress and the table, writes the JSON.

  Returns:
    The report: {"machine", "matmul_peak_gflops", "config",
    "flops_per_iteration", "results": [...]}, one result per variant and
    implementation with "variant", "implementation", "status" ("ok", "not
    applicable", "skipped: ..."), "iterations_per_s", "mb_per_1k_iterations",
    "fraction_of_matmul_peak", "speedup_vs_seed_fit" and the raw readings.

  Raises:
    UsageError: a bad config field.
  """
  config.validate()
  machine = machine_info()
  log(f"machine: {json.dumps(machine)}")
  # The peak is sampled again beside every implementation and the best
  # sample kept: on a shared machine a single reading may land in a busy
  # moment, and each row also records the reading taken right before it.
  def sample_peak():
    return (matmul_peak_gflops(n=512, repeats=2) if config.smoke
            else matmul_peak_gflops(n=1024, repeats=3))
  peak_samples = [sample_peak() if config.smoke else matmul_peak_gflops()]
  log(f"fp32 matmul peak: {peak_samples[0]:.1f} GFLOP/s")
  mnist = load_data(config, log)
  tf_keras = None
  if "seed_fit" in config.implementations:
    tf_keras = seed_fit.import_tf_keras()
    if tf_keras is None:
      log("note: tf_keras is not installed, so seed_fit is skipped; "
          "pip install -e .[bench] to include it.")

  results, flops = [], {}
  for name in config.variants:
    seed_fit_applies = (name in seed_fit.VARIANTS
                        and not config.variant_options)
    runs_something = any(
        i != "seed_fit" or (seed_fit_applies and tf_keras is not None)
        for i in config.implementations)
    if runs_something:
      counter = _GantapeRunner(name, mnist, config, 1, jit=False)
      flops[name] = iteration_flops(counter.variant, counter.step,
                                    counter.element_spec, config.batch_size)
      log(f"{name}: {flops[name] / 1e9:.3f} GFLOP per iteration (matmuls "
          f"and convolutions of the traced step)")
      del counter
    for implementation in config.implementations:
      row = {"variant": name, "implementation": implementation,
             "iterations_per_s": None, "mb_per_1k_iterations": None}
      if implementation == "seed_fit" and not seed_fit_applies:
        row["status"] = "not applicable"
        log(f"{name} seed_fit: not applicable (the seed has no {name} code"
            + (f" with {config.variant_options})" if config.variant_options
               else ")"))
        results.append(row)
        continue
      if implementation == "seed_fit" and tf_keras is None:
        row["status"] = "skipped: tf_keras not installed"
        results.append(row)
        continue
      row["matmul_gflops_before"] = sample_peak()
      peak_samples.append(row["matmul_gflops_before"])
      runner = _make_runner(implementation, name, mnist, config)
      row.update(status="ok", **measure(runner, config, name))
      row["iterations_per_call"] = runner.unit
      log(f"{name} {implementation}: warm-up (trace/compile) "
          f"{row['warmup_s']:.1f} s")
      log(f"{name} {implementation}: {row['iterations_per_s']:.2f} it/s "
          f"(median of {len(row['block_rates'])} blocks of "
          f"{row['block_iterations']}), RSS {row['rss_after_warmup_mb']:.0f} "
          f"-> {row['rss_after_memory_run_mb']:.0f} MB over "
          f"{row['memory_iterations']} iterations")
      results.append(row)
      del runner

  peak = max(peak_samples)
  for row in results:
    if row["status"] != "ok":
      continue
    seed_row = [r for r in results if r["variant"] == row["variant"]
                and r["implementation"] == "seed_fit" and r["status"] == "ok"]
    row["speedup_vs_seed_fit"] = (
        row["iterations_per_s"] / seed_row[0]["iterations_per_s"]
        if seed_row else None)
    f = flops.get(row["variant"])
    row["flops_per_iteration"] = f
    row["fraction_of_matmul_peak"] = (
        row["iterations_per_s"] * f / (peak * 1e9) if f else None)
    row["fraction_of_matmul_before"] = (
        row["iterations_per_s"] * f / (row["matmul_gflops_before"] * 1e9)
        if f else None)

  profiles = {}
  if config.profile:
    for name in config.variants:
      k = config.iterations_per_call
      iterations = 2 if config.smoke else (10 * k if name == "gan" else k)
      profiles[name] = op_profile(name, mnist, config, iterations)
      log(f"{name} gantape_k op profile (share of op time, ms per iteration):")
      for entry in profiles[name][:15]:
        log(f"  {entry['op']:40s} {100 * entry['share']:5.1f}%  "
            f"{entry['ms_per_iteration']:8.2f} ms")
  report = {"machine": machine, "matmul_peak_gflops": peak,
            "op_profile": profiles,
            "matmul_gflops_samples": peak_samples,
            "config": dataclasses.asdict(config),
            "flops_per_iteration": flops, "results": results}
  log(format_table(report))
  if config.output_json:
    with open(config.output_json, "w") as f:
      json.dump(report, f, indent=2)
    log(f"wrote {config.output_json}")
  return report


def parse_memory_iterations(text: Optional[str]
                            ) -> Optional[Dict[str, int]]:
  """"2000" (every variant) or "gan=20000,dcgan=300" -> {name: iterations}.

  Raises:
    UsageError: not of either form.
  """
  if not text:
    return None
  try:
    if "=" not in text:
      return {"*": int(text)}
    return {k.strip(): int(v) for k, v in
            (item.split("=") for item in text.split(",") if item.strip())}
  except ValueError:
    raise UsageError(f"--memory_iterations={text!r}: give a number or "
                     f"variant=number pairs, e.g. gan=20000,dcgan=300."
                     ) from None


def parse_list(text: str, allowed: Sequence[str], what: str) -> Tuple[str, ...]:
  """Splits a comma list and checks each item is in `allowed`.

  Raises:
    UsageError: an unknown item; the message lists the allowed ones.
  """
  items = tuple(s.strip() for s in text.split(",") if s.strip())
  bad = [s for s in items if s not in allowed]
  if bad:
    raise UsageError(f"unknown {what} {', '.join(bad)}; choose from "
                     f"{', '.join(allowed)}.")
  return items
