"""`gantape benchmark`: gantape's train step beside the seed's compile/fit.

    gantape benchmark --variants=gan,dcgan \
        --data_path=/path/to/mnist.npz --output_json=/tmp/benchmark.json
    gantape benchmark --smoke   # every part, a few iterations
    gantape benchmark --variants=dcgan --r1_gamma=1 \
        --implementations=gantape_k   # the cost of an option
    gantape benchmark --variants=gan --input_pipeline=device \
        --implementations=input_only,gantape_k_xla   # the input alone
    gantape benchmark --suite=device --output_json=/tmp/device.json
    gantape benchmark --suite=device --smoke --batch_sizes=8,16  # CPU proof

    gantape benchmark --variant=dcgan --dataset=folder \
        --data_path=/path/to/images --image_size=32   # time what you train

The flags that shape the step are `gantape train`'s, with its names, help and
defaults, so `gantape benchmark` in place of `gantape train` times the run
you train: --variant, --preset, --dataset, --image_size, --channels or
--jit_compile selects that mode, timing the step `train` would run
(preset and networks as train resolves them; --implementations default
gantape_k, or gantape_k_xla with --jit_compile). Without them, the suite
compares --variants across --implementations with the seed's losses, one
update per batch and 50 iterations per call unless those flags are given.
The variant options are `gantape train`'s (--r1_gamma, --n_critic, ...); the
seed's compile/fit code has none, so with any of them seed_fit is not
applicable. Prints iterations/s and memory growth per implementation (see
`gantape.benchmark` for the method); seed_fit needs `pip install -e .[bench]`.
`--suite=device` runs the accelerator grid of `gantape.benchmark.device_suite`
instead; flags it does not take are ignored, and the ones it shares default
to its own values when not given.
"""

import dataclasses

from absl import flags

from gantape.cli import common
from gantape.cli import config_flags
from gantape.errors import UsageError

FLAGS = flags.FLAGS
_KNOWN = config_flags.CONSTANTS
flags.DEFINE_string("variants", "gan,dcgan", "Comma-separated variants: "
                    + ", ".join(_KNOWN["variants"]) + ".")
flags.DEFINE_enum("suite", "default", ["default", "device"], "default: "
                  "every implementation per variant, with memory and FLOPs; "
                  "device: the accelerator grid (batch sizes x "
                  "implementations x precisions x input pipelines) within "
                  "--budget_seconds.")
flags.DEFINE_string("implementations", ",".join(_KNOWN["implementations"]),
                    "Comma-separated subset of: "
                    + ", ".join(_KNOWN["all_implementations"]) + " (device "
                    "suite default: gantape_k,gantape_k_xla,keras_fit).")
flags.DEFINE_string("batch_sizes", "64,256,1024", "Device suite: "
                    "comma-separated batch sizes.")
flags.DEFINE_string("precisions", "float32,mixed_float16", "Device suite: "
                    "comma-separated subset of "
                    + ", ".join(_KNOWN["precisions"]) + ".")
flags.DEFINE_string("input_pipelines", ",".join(_KNOWN["input_pipelines"]),
                    "Device suite: comma-separated input pipelines.")
flags.DEFINE_float("budget_seconds", 400.0, "Device suite: cells that would "
                   "start after this many seconds are skipped.")
# `gantape train`'s flags that shape the step.
STEP_FIELDS = ("variant", "preset", "batch_size", "updates_per_batch", "seed",
               "dataset", "data_path", "image_size", "channels",
               "iterations_per_call", "precision", "jit_compile",
               "input_pipeline")
# Any of these given: time the step `gantape train` would run.
TRAIN_MODE_FLAGS = ("variant", "preset", "dataset", "image_size", "channels",
                    "jit_compile")
# The suite's own defaults where the train flag is not given.
SUITE_DEFAULTS = {"iterations_per_call": 50, "updates_per_batch": 1}
_EXCLUDE = [name for name in config_flags.config_fields()
            if name not in STEP_FIELDS]
config_flags.define_config_flags(exclude=_EXCLUDE)
config_flags.define_variant_option_flags()
flags.DEFINE_integer("timed_blocks", 5, "Timed blocks; the median counts.")
flags.DEFINE_float("block_seconds", 3.0, "Target seconds per timed block.")
flags.DEFINE_string("memory_iterations", None, "Iterations between the two "
                    "RSS readings: N, or per variant, e.g. gan=20000,dcgan=300 "
                    "(default: 20000 for gan, 1000 otherwise, capped at "
                    "--memory_seconds).")
flags.DEFINE_float("memory_seconds", 120.0, "Time cap of the default memory "
                   "run.")
flags.DEFINE_bool("smoke", False, "A handful of iterations per part.")
flags.DEFINE_string("output_json", None, "Also write the report here.")
flags.DEFINE_bool("profile", False, "Also profile gantape_k and list the op "
                  "types that take its time.")


def _suite_value(name: str):
  return FLAGS[name].value if FLAGS[name].present else SUITE_DEFAULTS[name]


def _config():
  """The default suite's `BenchmarkConfig`, from the flags."""
  # pylint: disable=g-import-not-at-top
  from gantape import benchmark
  from gantape import variants
  return benchmark.BenchmarkConfig(
      variants=benchmark.parse_list(FLAGS.variants, variants.names(),
                                    "variant"),
      step=_step_config(**{name: _suite_value(name)
                           for name in SUITE_DEFAULTS}),
      implementations=benchmark.parse_list(
          FLAGS.implementations, benchmark.ALL_IMPLEMENTATIONS,
          "implementation"),
      **_run_fields())


def _step_config(**values):
  """The `TrainConfig` of the step flags (`STEP_FIELDS`), over `values`."""
  # pylint: disable=g-import-not-at-top
  from gantape.training.config import TrainConfig
  flagged = config_flags.config_values(exclude=_EXCLUDE)
  return TrainConfig(
      workdir="", variant_options=config_flags.variant_options(
          flagged["variant"]) if FLAGS["variant"].present
      else config_flags.option_values(), **{**flagged, **values})


def _run_fields():
  """The `BenchmarkConfig` fields that say how long and where to."""
  from gantape import benchmark  # pylint: disable=g-import-not-at-top
  return dict(
      timed_blocks=FLAGS.timed_blocks, block_seconds=FLAGS.block_seconds,
      memory_iterations=benchmark.parse_memory_iterations(
          FLAGS.memory_iterations),
      memory_seconds=FLAGS.memory_seconds, smoke=FLAGS.smoke,
      output_json=FLAGS.output_json, profile=FLAGS.profile)


def _train_config():
  """The `BenchmarkConfig` of the step `gantape train` would run with these
  flags, and its loaded dataset."""
  # pylint: disable=g-import-not-at-top
  from gantape import benchmark
  from gantape.training import run as run_lib
  from gantape.training import run_data
  config = _step_config()
  data = run_data.load(config)
  config = run_lib.Run.for_shape(config, run_data.DataShape.of(data)).config
  if FLAGS["implementations"].present:
    implementations = benchmark.parse_list(
        FLAGS.implementations, benchmark.ALL_IMPLEMENTATIONS,
        "implementation")
  else:
    implementations = (("gantape_k_xla",) if config.jit_compile
                       else ("gantape_k",))
  return benchmark.BenchmarkConfig(
      variants=(config.variant,), step=config,
      implementations=implementations, **_run_fields()), data


def _device_config():
  """The device suite's config; its defaults where a shared flag is unset."""
  # pylint: disable=g-import-not-at-top
  from gantape import benchmark
  from gantape import data as data_lib
  from gantape import variants
  from gantape.benchmark import device_suite
  given = {name: getattr(FLAGS, name) for name in (
      "timed_blocks", "block_seconds") if FLAGS[name].present}
  step = {"seed": FLAGS.seed, "data_path": FLAGS.data_path}
  if FLAGS["iterations_per_call"].present:
    step["iterations_per_call"] = FLAGS.iterations_per_call
  if FLAGS["implementations"].present:
    given["implementations"] = benchmark.parse_list(
        FLAGS.implementations, benchmark.ALL_IMPLEMENTATIONS,
        "implementation")
  if FLAGS.smoke and "iterations_per_call" not in step:
    step["iterations_per_call"] = 2
  try:
    batch_sizes = tuple(int(b) for b in FLAGS.batch_sizes.split(","))
  except ValueError:
    raise UsageError(f"--batch_sizes={FLAGS.batch_sizes!r}: give numbers, "
                     f"e.g. 64,256,1024.") from None
  return device_suite.DeviceSuiteConfig(
      variants=benchmark.parse_list(FLAGS.variants, variants.names(),
                                    "variant"),
      batch_sizes=batch_sizes,
      precisions=benchmark.parse_list(FLAGS.precisions, benchmark.PRECISIONS,
                                      "precision"),
      input_pipelines=benchmark.parse_list(
          FLAGS.input_pipelines, data_lib.INPUT_PIPELINES, "input pipeline"),
      step=dataclasses.replace(device_suite.DEFAULT_STEP, **step),
      budget_seconds=FLAGS.budget_seconds, smoke=FLAGS.smoke,
      output_json=FLAGS.output_json, **given)


def main(argv):
  """Benchmarks per the flags; returns the exit code."""
  del argv
  # pylint: disable=g-import-not-at-top
  if FLAGS.suite == "device":
    def run_device_suite():
      from gantape.benchmark import device_suite
      device_suite.run(_device_config())
    return common.run(run_device_suite)

  def run_default_suite():
    from gantape import benchmark
    if any(FLAGS[name].present for name in TRAIN_MODE_FLAGS):
      config, data = _train_config()
      benchmark.run(config, data=data)
    else:
      benchmark.run(_config())
  return common.run(run_default_suite)


def run(argv=None) -> None:
  """Parses `argv` (default `sys.argv`) and benchmarks; exits the process."""
  common.app_run(main, argv)
