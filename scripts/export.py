"""Exports a training run's generator as a SavedModel.

    python scripts/export.py --workdir=/tmp/gantape/dcgan \
        --export_dir=/tmp/gantape/dcgan_saved_model [--checkpoint=best]

Signature `serving_default`: `noise` float32 [batch, noise_dim] (and `labels`
int32 [batch] for conditional variants) -> `images` float32
[batch, 28, 28, 1] in [0, 1]. Loading it needs TensorFlow only:
`tf.saved_model.load(export_dir).signatures["serving_default"]`.
"""

from absl import app
from absl import flags

from gantape import cli
from gantape import export

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Training run folder (scripts/train.py's "
                    "--workdir) whose generator is exported.")
flags.DEFINE_string("export_dir", None, "SavedModel folder to write; an older "
                    "export there is replaced.")
flags.DEFINE_string("checkpoint", cli.CHECKPOINT_DEFAULT, cli.CHECKPOINT_HELP)
flags.mark_flags_as_required(["workdir", "export_dir"])


def main(argv):
  del argv
  def export_generator():
    out = export.export_generator(FLAGS.workdir, FLAGS.export_dir,
                                  checkpoint=FLAGS.checkpoint)
    inputs = ("noise [batch, {0}], labels [batch]" if out["conditional"]
              else "noise [batch, {0}]").format(out["noise_dim"])
    print(f"Exported {out['checkpoint']} (iteration {out['step']}) to "
          f"{out['export_dir']}: serving_default({inputs}) -> images "
          f"[batch, 28, 28, 1].")
  return cli.run(export_generator)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
