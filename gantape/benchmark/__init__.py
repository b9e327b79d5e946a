"""Step throughput and memory: gantape's step beside the seed's compile/fit.

    gantape benchmark --variants=gan,dcgan --output_json=/tmp/b.json

    from gantape import benchmark
    report = benchmark.run(benchmark.BenchmarkConfig(variants=("gan",)))

For each variant and implementation it reports GAN iterations per second (one
iteration = `n_critic` discriminator updates plus one generator update, on a
batch of `batch_size`) and resident-memory growth in MB per 1,000 iterations.
The implementations:

- `gantape`: `TrainStep`, one iteration per call.
- `gantape_k`: `TrainStep`, `iterations_per_call` iterations per call.
- `gantape_xla`, `gantape_k_xla`: the same with `jit_compile=True`.
- `seed_fit`: the post's own code (`seed_fit`, Keras 2 via `tf_keras`):
  two `fit()` calls per iteration on 64 samples, each split by fit's default
  batch of 32. Not applicable to WGAN-GP, which the post never coded.
- `keras_fit`: what a Keras 3 user would write instead (`keras_fit`): a
  `keras.Model` subclass overriding `train_step` (the variant's networks and
  losses), trained with `fit(steps_per_execution=iterations_per_call)`.
- `input_only` (asked for by name): the input pipeline alone, the batches
  of `iterations_per_call` iterations per call and nothing trained.

`input_pipeline` picks the gantape implementations' input (host `tf.data`
or device-resident, `TrainStep.make_input`) and `precision` their dtype
policy. `device_suite` is the accelerator grid (`--suite=device`).

Method (`suite`): each implementation is built, warmed up (tracing and
compilation, reported on its own line), calibrated so one timed block lasts
about `block_seconds`, then timed over `timed_blocks` blocks; the figure is
the median block rate. gantape and keras_fit read the real input pipeline
(`variant.make_dataset`); seed_fit draws its batches as the post does (NumPy
indexing). Memory: resident set size (RSS) after warm-up and timing, and
after `memory_iterations` more iterations.

The run also measures this machine's fp32 matmul peak (`machine`: a chain of
square matmuls; sampled at the start and before every implementation, the
best sample counts, since other processes may be busy at any one time) and
counts the FLOPs of one iteration from the step's own graph (`flops`:
matmuls and convolutions that are actually executed), so each
implementation's share of the peak is iterations/s x FLOPs / peak.

Modules: `config` (what to run), `machine`, `flops`, `runners` (the runner
interface and gantape's and the seed's runners), `keras_fit`, `seed_fit` (the
post's code), `suite` (measure and run), `device_suite`, `profile` (op-type profile of
`gantape_k`), `table` (the printed table).
"""

from gantape.benchmark.config import (ALL_IMPLEMENTATIONS, DEFAULT_STEP,
                                      IMPLEMENTATIONS, INPUT_ONLY, PRECISIONS,
                                      BenchmarkConfig, parse_list,
                                      parse_memory_iterations, step_config)
from gantape.benchmark.suite import measure, run
from gantape.benchmark.table import format_table
