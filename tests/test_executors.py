"""The executors: which one options choose, and that the compiled device
loop trains exactly as the host loop does.

Small arrays and batches, so each test costs a trace or two.
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from gantape import data as data_lib
from gantape import executors
from gantape import networks
from gantape import optimizers as optimizers_lib
from gantape import step as step_lib
from gantape import variants
from gantape.errors import UsageError
from gantape.variants import gan as gan_lib

from tests.test_device_input import _assert_same


def _step(variant=None, **options):
  variant = variant or variants.build("gan")
  d_opt, g_opt = optimizers_lib.make_optimizers(variant)
  return step_lib.TrainStep(variant, d_opt, g_opt, seed=0,
                            options=step_lib.StepOptions(**options))


@pytest.mark.parametrize("jit_compile,input_pipeline,executor", [
    (False, "host", executors.HostLoop),
    (True, "host", executors.HostLoop),
    (False, "device", executors.HostLoop),
    (True, "device", executors.CompiledDeviceLoop)])
def test_options_choose_the_executor(jit_compile, input_pipeline, executor):
  step = _step(jit_compile=jit_compile, input_pipeline=input_pipeline)
  assert type(step.executor) is executor


def test_the_compiled_device_loop_refuses_host_input(fake_mnist):
  step = _step(jit_compile=True, input_pipeline="device")
  host = step.make_iterator(
      step.variant.make_dataset(fake_mnist, batch_size=16, seed=0))
  with pytest.raises(UsageError, match=r"StepOptions\(input_pipeline='host'"):
    step(host, 1)
  assert int(step.global_step) == 0


def test_xla_on_device_input_is_the_per_iteration_run(fake_mnist):
  # XLA on device input compiles runs of up to 64 iterations between refills
  # of the queue; 108 iterations of 16 on 200 examples (a refill every 75
  # batches) take five runs and cross a refill.
  finals, steps = [], []
  for pipeline in data_lib.INPUT_PIPELINES:
    tf.keras.utils.set_random_seed(0)
    step = _step(jit_compile=True, input_pipeline=pipeline)
    iterator = step.make_input(fake_mnist, batch_size=16, seed=0)
    for k in (7, 1, 100):
      step(iterator, k)
    finals.append([v.numpy() for v in step.variant.generator.weights
                   + step.variant.discriminator.weights])
    steps.append((step, iterator))
  for host, device in zip(*finals):
    np.testing.assert_array_equal(host, device)
  (_, host), (step, device) = steps
  assert int(step.global_step) == 108
  _assert_same(next(host), next(device))


# Runs of 5, 7, 30, 64, 3 and 100 iterations of 16 on 200 examples (a refill
# every 75 batches); XLA_FLAGS only takes effect before TensorFlow starts.
_RUNS_OF_EVERY_LENGTH = """
from gantape import optimizers, step as step_lib, variants
from tests.conftest import make_fake_mnist
variant = variants.build("gan")
step = step_lib.TrainStep(
    variant, *optimizers.make_optimizers(variant),
    options=step_lib.StepOptions(jit_compile=True, input_pipeline="device"))
iterator = step.make_input(make_fake_mnist(), batch_size=16, seed=0)
for k in (5, 7, 30, 64, 3, 100):
  step(iterator, k)
print(int(step.global_step))
"""


def test_xla_compiles_the_queued_loop_once_for_every_run_length(tmp_path):
  # A run of another length must not compile another program (its inputs
  # are one fixed-size block, its loop has no maximum_iterations): counted
  # from XLA's dump, one module per compilation.
  env = dict(os.environ, XLA_FLAGS=f"--xla_dump_to={tmp_path}")
  repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  done = subprocess.run([sys.executable, "-c", _RUNS_OF_EVERY_LENGTH],
                        cwd=repo_root, env=env, capture_output=True,
                        text=True, timeout=600, check=True)
  assert done.stdout.split()[-1] == "209"
  modules = {name.split(".")[0] for name in os.listdir(tmp_path)
             if "queued_loop" in name}
  assert len(modules) == 1, sorted(modules)


def _tiny_wgan_gp():
  """WGAN-GP with 3 critic updates per iteration, on one-layer networks."""
  generator = keras.Sequential([
      keras.Input((networks.NOISE_DIM,)),
      keras.layers.Dense(28 * 28, activation="sigmoid"),
      keras.layers.Reshape((28, 28, 1))])
  critic = keras.Sequential([keras.Input((28, 28, 1)),
                             keras.layers.Flatten(), keras.layers.Dense(1)])
  return variants.build("wgan_gp", n_critic=3, generator=generator,
                        discriminator=critic)


class _TwoStreamGAN(gan_lib.GAN):
  """The GAN, fed a second stream of 20 examples as SSGAN's labelled ones."""
  name = "two_stream_gan"

  def input_streams(self, dataset, *, seed):
    streams = super().input_streams(dataset, seed=seed)
    streams["labeled_"] = data_lib.Stream(
        dataset.x_train[:20], dataset.y_train[:20], seed + 1, False)
    return streams


@pytest.mark.parametrize("build", [_tiny_wgan_gp, _TwoStreamGAN])
def test_xla_on_device_input_takes_each_iterations_batches(build,
                                                           fake_mnist):
  # n_critic batches per iteration, or two streams of other lengths: after
  # runs that cross refills, both pipelines are at the same batch.
  variant = build()
  host = iter(variant.make_dataset(fake_mnist, batch_size=16, seed=0))
  step = _step(variant, jit_compile=True, input_pipeline="device")
  device = step.make_input(fake_mnist, batch_size=16, seed=0)
  metrics = step(device, 80)
  for _ in range(80 * variant.n_critic):
    next(host)
  _assert_same(next(host), next(device))
  assert int(step.global_step) == 80
  assert all(np.isfinite(v.numpy()) for v in metrics.values())
