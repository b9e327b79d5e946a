"""DCGAN's step (2 x 32, batch 64) timed with R1 off, on every update and lazy
(r1_every=16), in rotation: one block of K iterations per setting per round,
so a machine whose load moves slows all three alike. The figures of
docs/performance.md's "The cost of an option: the R1 penalty" come from it.

    python docs/reference/r1_rotation.py K ROUNDS [MNIST_NPZ]
"""
import sys
import time

import keras
import numpy as np

from gantape import data as data_lib
from gantape import optimizers as optimizers_lib
from gantape import step as step_lib
from gantape import variants

mnist = data_lib.load_mnist(sys.argv[3] if len(sys.argv) > 3 else None)
SETTINGS = {"none": {"r1_gamma": 0.0}, "r1": {"r1_gamma": 1.0},
            "lazy16": {"r1_gamma": 1.0, "r1_every": 16}}
K, ROUNDS = int(sys.argv[1]), int(sys.argv[2])
steps = {}
for name, options in SETTINGS.items():
  keras.utils.set_random_seed(0)
  variant = variants.build("dcgan", **options)
  d, g = optimizers_lib.make_optimizers(variant)
  step = step_lib.TrainStep(variant, d, g, seed=0, updates_per_batch=2)
  it = step.make_iterator(variant.make_dataset(mnist, batch_size=64, seed=0))
  t = time.time()
  step(it, 16)["d_loss"].numpy()
  print(name, "warm-up", round(time.time() - t, 1), flush=True)
  steps[name] = (step, it)
times = {n: [] for n in SETTINGS}
for r in range(ROUNDS):
  for name, (step, it) in steps.items():
    t = time.time()
    step(it, K)["d_loss"].numpy()
    times[name].append(K / (time.time() - t))
  print(r, {n: round(v[-1], 2) for n, v in times.items()}, flush=True)
base = np.median(times["none"])
for name, v in times.items():
  print(f"{name}: median {np.median(v):.2f} it/s, time x{base / np.median(v):.2f}")
