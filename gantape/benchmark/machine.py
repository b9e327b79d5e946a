"""The machine a benchmark runs on: its CPU, memory use and matmul peak."""

import os
import platform
import time
from typing import Any, Dict, Optional

import keras
import tensorflow as tf


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
