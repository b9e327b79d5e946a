"""`gantape sample`: draws samples from a run's checkpoint into an .npz.

    gantape sample --workdir=/tmp/gantape/cgan --num=1000 \
        --output=/tmp/cgan_samples.npz [--label=7] [--checkpoint=best]

Writes `x` (float32 [num, H, W] in [0, 1] for grayscale images, as MNIST's,
[num, H, W, 3] for colour) and, for conditional variants, `y` (the classes
asked for: --label, or 0..K-1 cycling), plus a PNG grid of the first 100
samples beside the .npz. A run of your own variant needs its name again,
--variant=package.module:Class: a workdir alone never makes gantape import
code. Exit code 2 on bad flags or workdir, or more samples than memory holds
(the line names the largest --num that fits).
"""

from absl import flags

from gantape.cli import common

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Training run folder (gantape train's "
                    "--workdir) to sample.")
flags.DEFINE_integer("num", 100, "How many samples.")
flags.DEFINE_integer("label", None, "Conditional variants (cgan): the class "
                     "to draw (a digit for MNIST); default: every class "
                     "cycling.")
flags.DEFINE_string("output", None, "The .npz to write; the PNG grid goes "
                    "beside it with the same name.")
flags.DEFINE_integer("seed", 0, "Seeds the noise.")
common.define_checkpoint_flag()
common.define_trusted_variant_flag()
flags.mark_flags_as_required(["workdir", "output"])


def main(argv):
  """Samples per the flags; returns the exit code."""
  del argv

  def sample():
    from gantape.training import export  # pylint: disable=g-import-not-at-top
    out = export.write_samples(FLAGS.workdir, FLAGS.output, FLAGS.num,
                               label=FLAGS.label, seed=FLAGS.seed,
                               checkpoint=FLAGS.checkpoint,
                               trusted_variant=FLAGS.variant)
    print(f"Wrote {out['num']} samples of {out['checkpoint']} (iteration "
          f"{out['step']}) to {out['npz']} and {out['png']}.")
  return common.run(sample)


def run(argv=None) -> None:
  """Parses `argv` (default `sys.argv`) and samples; exits the process."""
  common.app_run(main, argv)
