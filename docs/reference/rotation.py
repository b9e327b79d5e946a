"""Settings of one step timed in rotation: one block of K iterations per
setting per round, so a machine whose load moves slows every setting alike,
where one benchmark run per setting would compare different loads. The
rotation figures of docs/performance.md come from it.

    python docs/reference/rotation.py COMPARISON K ROUNDS [DATA_PATH]

COMPARISON is one of:
  r1         DCGAN, batch 64 in 2 x 32: R1 off, on every update, lazy (r1_every=16)
  r1_folder  the same on the DCGAN networks (--networks=dcgan) and DATA_PATH, a
             folder of images of one size (e.g. 32x32 colour)
  spectral_norm  DCGAN, hinge loss, batch 64 in one update: the discriminator
             as built (BatchNorm) and spectrally normalized (no BatchNorm)
  spectral_norm_colour  the same on colour_mnist's 32x32x3 with the DCGAN
             networks (DATA_PATH: MNIST's file)
  precision  the MLP GAN, batch 64: float32, mixed_bfloat16, mixed_float16
  input      the MLP GAN with XLA, batch 64: host and device-resident input
  ssgan_input  --preset=salimans's SSGAN with XLA, 100 labels, batch 100:
             host and device-resident input

It prints each round's iterations/s and, per setting, the median and the time
per iteration relative to the first setting.
"""
import dataclasses
import sys
import time

import keras
import numpy as np

from gantape import data as data_lib
from gantape import variants
from gantape.benchmark import config as config_lib
from gantape.benchmark import runners

# Each setting is the step's settings (`gantape train`'s), as the benchmark
# takes them (`BenchmarkConfig.step`).
_R1 = config_lib.step_config(updates_per_batch=2)
_GAN = config_lib.step_config()
_HINGE = config_lib.step_config(updates_per_batch=1)
_SALIMANS = config_lib.step_config(batch_size=100, variant_options={
    **variants.get_class("ssgan").presets["salimans"].variant_options,
    "num_labeled": 100})
# name -> (variant, jit_compile, {setting: step settings})
COMPARISONS = {
    "r1": ("dcgan", False, {
        "none": _R1,
        "r1": dataclasses.replace(_R1, variant_options={"r1_gamma": 1.0}),
        "lazy16": dataclasses.replace(
            _R1, variant_options={"r1_gamma": 1.0, "r1_every": 16})}),
    "r1_folder": ("dcgan", False, {
        name: dataclasses.replace(
            _R1, dataset="folder",
            variant_options={"networks": "dcgan", **options})
        for name, options in (("none", {}), ("r1", {"r1_gamma": 1.0}),
                              ("lazy16", {"r1_gamma": 1.0, "r1_every": 16}))}),
    "spectral_norm": ("dcgan", False, {
        name: dataclasses.replace(_HINGE, variant_options={
            "loss": "hinge", "spectral_norm": sn})
        for name, sn in (("plain", False), ("spectral_norm", True))}),
    "spectral_norm_colour": ("dcgan", False, {
        name: dataclasses.replace(_HINGE, dataset="colour_mnist",
                                  variant_options={
                                      "networks": "dcgan", "loss": "hinge",
                                      "spectral_norm": sn})
        for name, sn in (("plain", False), ("spectral_norm", True))}),
    "precision": ("gan", False, {
        p: dataclasses.replace(_GAN, precision=p)
        for p in ("float32", "mixed_bfloat16", "mixed_float16")}),
    "input": ("gan", True, {
        p: dataclasses.replace(_GAN, input_pipeline=p)
        for p in data_lib.INPUT_PIPELINES}),
    "ssgan_input": ("ssgan", True, {
        p: dataclasses.replace(_SALIMANS, input_pipeline=p)
        for p in data_lib.INPUT_PIPELINES}),
}


def main(comparison, k, rounds, data_path=None):
  variant, jit, settings = COMPARISONS[comparison]
  first = next(iter(settings.values()))
  if first.dataset == "mnist":
    mnist = data_lib.load_mnist(data_path)
  else:
    mnist = data_lib.load_dataset(first.dataset, data_path)
  steps = {}
  for name, step in settings.items():
    keras.utils.set_random_seed(0)
    steps[name] = runners.GantapeRunner(
        variant, mnist, config_lib.BenchmarkConfig(step=step), k, jit)
    start = time.time()
    steps[name].run(k)
    print(name, "warm-up", round(time.time() - start, 1), flush=True)
  rates = {name: [] for name in settings}
  for r in range(rounds):
    for name, runner in steps.items():
      start = time.time()
      runner.run(k)
      rates[name].append(k / (time.time() - start))
    print(r, {n: round(v[-1], 2) for n, v in rates.items()}, flush=True)
  first = np.median(next(iter(rates.values())))
  for name, v in rates.items():
    print(f"{name}: median {np.median(v):.2f} it/s, "
          f"time x{first / np.median(v):.2f}")


if __name__ == "__main__":
  main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
       sys.argv[4] if len(sys.argv) > 4 else None)
