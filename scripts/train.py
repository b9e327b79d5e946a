"""Trains a gantape variant on MNIST.

    python scripts/train.py --variant=dcgan --workdir=/tmp/gantape/dcgan

Rerunning the same command (or `--flagfile=WORKDIR/flags.txt`) resumes from
the workdir's latest checkpoint; `--resume_from=OTHER/checkpoints/ckpt-N`
starts a new workdir from another run's checkpoint. Ctrl-C or SIGTERM saves a
checkpoint first.
Exit codes: 0 done, 1 NaN/Inf loss, 2 bad flags or data, 128 + signal number
when stopped by a signal.

Several GPUs: --strategy=mirrored. Several machines: --strategy=multiworker
on every machine, each with its TF_CONFIG. TPU: --strategy=tpu --tpu=NAME.
--batch_size stays the global batch. See README "Scaling out".
"""

import os
import sys

from absl import app
from absl import flags

from gantape import cli
from gantape import distribute
from gantape import train as train_lib
from gantape import variants

FLAGS = flags.FLAGS
flags.DEFINE_enum("variant", "dcgan", variants.names(), "GAN variant to train.")
flags.DEFINE_string("workdir", None, "Run folder: checkpoints, samples, logs. "
                    "Default: /tmp/gantape/<variant>.")
flags.DEFINE_integer("steps", None, "GAN iterations in all (default: the "
                     "seed's: 20000 for gan, 10000 otherwise).")
flags.DEFINE_integer("batch_size", 64, "Global batch size.")
flags.DEFINE_enum("preset", "gantape", ["gantape", "seed"],
                  "Named settings for every flag below left unset "
                  "(learning rate, betas, --updates_per_batch, --ema_decay): "
                  "gantape's defaults, or the seed's (README 'Sample "
                  "quality'). wgan_gp has only 'gantape'.")
flags.DEFINE_float("learning_rate", None, "Adam learning rate (default: the "
                   "preset's: 1e-3, or 1e-4 for wgan_gp).")
flags.DEFINE_float("beta_1", None, "Adam beta_1 (default: the preset's).")
flags.DEFINE_float("beta_2", None, "Adam beta_2 (default: the preset's).")
flags.DEFINE_integer("updates_per_batch", None, "Updates per network per "
                     "batch, one per equal slice; the seed's fit() makes 2 "
                     "(default: the preset's).")
flags.DEFINE_integer("seed", 0, "Seeds data order, noise and initial weights.")
flags.DEFINE_string("data_path", None, "MNIST .npz (Keras layout) or a folder "
                    "of IDX files; default: Keras's downloader.")
cli.define_variant_flags()
flags.DEFINE_enum("strategy", "default", list(distribute.STRATEGIES),
                  "tf.distribute strategy: default (one device), mirrored "
                  "(all local GPUs), multiworker (TF_CONFIG cluster), tpu.")
flags.DEFINE_string("tpu", None, "--strategy=tpu: TPU name or "
                    "grpc://host:port; 'local' on a TPU VM.")
flags.DEFINE_integer("iterations_per_call", 100, "Iterations per tf.function "
                     "call.")
flags.DEFINE_integer("log_every", 100, "Iterations between progress lines.")
flags.DEFINE_integer("sample_every", 1000, "Iterations between sample grids.")
flags.DEFINE_integer("checkpoint_every", 1000, "Iterations between "
                     "checkpoints.")
flags.DEFINE_integer("keep_checkpoints", 3, "How many checkpoints to keep "
                     "(older ones are deleted).")
flags.DEFINE_bool("jit_compile", False, "Compile the step with XLA.")
flags.DEFINE_float("ema_decay", None, "Sample and evaluate with an "
                   "exponential moving average of the generator's weights "
                   "at this decay (e.g. 0.999); 0 samples the live generator, "
                   "as the seed (default: the preset's).")
flags.DEFINE_integer("eval_every", None, "Iterations between sample-quality "
                     "evaluations (FCD, coverage; warns on degeneration; "
                     "keeps the lowest-FCD networks in <workdir>/best/); "
                     "default: none.")
flags.DEFINE_string("resume_from", None, "Start this new workdir from another "
                    "run's checkpoint prefix (e.g. OTHER/checkpoints/"
                    "ckpt-12000): weights, optimizers, iteration and data "
                    "order continue from it under this command's flags, "
                    "e.g. a lower --learning_rate. Ignored once the workdir "
                    "has checkpoints of its own.")
flags.DEFINE_integer("eval_samples", 2000, "Images per --eval_every "
                     "evaluation.")


def main(argv):
  del argv
  # Absolute paths, so that flags.txt works from any directory.
  workdir = os.path.abspath(FLAGS.workdir or f"/tmp/gantape/{FLAGS.variant}")
  data_path = FLAGS.data_path and os.path.abspath(FLAGS.data_path)
  config = train_lib.TrainConfig(
      workdir=workdir,
      variant=FLAGS.variant, steps=FLAGS.steps, batch_size=FLAGS.batch_size,
      preset=FLAGS.preset, learning_rate=FLAGS.learning_rate,
      beta_1=FLAGS.beta_1, beta_2=FLAGS.beta_2,
      updates_per_batch=FLAGS.updates_per_batch, seed=FLAGS.seed, data_path=data_path,
      variant_options=cli.variant_options(),
      iterations_per_call=FLAGS.iterations_per_call,
      log_every=FLAGS.log_every, sample_every=FLAGS.sample_every,
      checkpoint_every=FLAGS.checkpoint_every,
      keep_checkpoints=FLAGS.keep_checkpoints, jit_compile=FLAGS.jit_compile,
      ema_decay=FLAGS.ema_decay, eval_every=FLAGS.eval_every,
      eval_samples=FLAGS.eval_samples,
      resume_from=FLAGS.resume_from and os.path.abspath(FLAGS.resume_from))
  overrides = {"workdir": workdir}
  if data_path:
    overrides["data_path"] = data_path
  flags_text = cli.flagfile_text(sys.modules[__name__], **overrides)

  def run():
    # First TensorFlow work of the process: multi-worker and TPU need that.
    strategy = distribute.make_strategy(FLAGS.strategy, tpu=FLAGS.tpu)
    return train_lib.train(config, strategy=strategy, flags_text=flags_text)
  return cli.run(run)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
