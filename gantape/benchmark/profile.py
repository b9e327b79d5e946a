"""Where `gantape_k`'s time goes: op types by their share of op time."""

import collections
import glob
import os
import shutil
import tempfile
from typing import Any, Callable, Dict, List

import tensorflow as tf

from gantape import data as data_lib
from gantape.benchmark import runners
from gantape.benchmark.config import BenchmarkConfig

# Op types listed per variant in the log; the report keeps them all.
_LOGGED_OPS = 15


def op_profile(name: str, dataset: data_lib.Dataset, config: BenchmarkConfig,
               iterations: int) -> List[Dict[str, Any]]:
  """Profiles `iterations` iterations of `gantape_k` on variant `name`.

  Runs the step (K per call, no XLA) under the TensorFlow profiler after two
  warm-up calls and sums each op type's duration on the executor threads.
  Durations of ops that run side by side add up, so the shares, not the
  sums, are the point.

  Returns:
    [{"op", "ms_per_iteration", "share"}], largest first; empty when the
    profiler's trace format cannot be read in this TensorFlow.
  """
  try:
    from tensorflow.tsl.profiler.protobuf import xplane_pb2  # pylint: disable=g-import-not-at-top
  except ImportError:
    return []
  runner = runners.GantapeRunner(name, dataset, config,
                                 config.step.iterations_per_call, jit=False)
  runner.run(runner.unit)
  runner.run(runner.unit)
  n = runners.round_up(iterations, runner.unit)
  logdir = tempfile.mkdtemp(prefix="gantape_profile_")
  try:
    tf.profiler.experimental.start(logdir)
    runner.run(n)
    tf.profiler.experimental.stop()
    totals = _op_type_durations(logdir, xplane_pb2)
  finally:
    shutil.rmtree(logdir, ignore_errors=True)
  whole = sum(totals.values()) or 1
  return [{"op": op, "ms_per_iteration": ps / 1e9 / n, "share": ps / whole}
          for op, ps in totals.most_common()]


def _op_type_durations(logdir: str, xplane_pb2) -> collections.Counter:
  """Picoseconds per op type on the executor threads of a profiler trace."""
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
  return totals


def profile_variants(dataset: data_lib.Dataset, config: BenchmarkConfig,
                     log: Callable[[str], None]
                     ) -> Dict[str, List[Dict[str, Any]]]:
  """`op_profile` of every configured variant, logging the top op types.

  Returns:
    {variant: op_profile's list}.
  """
  profiles = {}
  for name in config.variants:
    k = config.step.iterations_per_call
    iterations = 2 if config.smoke else (10 * k if name == "gan" else k)
    profiles[name] = op_profile(name, dataset, config, iterations)
    log(f"{name} gantape_k op profile (share of op time, ms per iteration):")
    for entry in profiles[name][:_LOGGED_OPS]:
      log(f"  {entry['op']:40s} {100 * entry['share']:5.1f}%  "
          f"{entry['ms_per_iteration']:8.2f} ms")
  return profiles
