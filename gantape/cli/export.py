"""`gantape export`: a run's generator as a SavedModel.

    gantape export --workdir=/tmp/gantape/dcgan \
        --export_dir=/tmp/gantape/dcgan_saved_model [--checkpoint=best]

Signature `serving_default`: `noise` float32 [batch, noise_dim] (and `labels`
int32 [batch] for conditional variants) -> `images` float32
[batch, H, W, C] in [0, 1], the training images' shape. Loading it needs TensorFlow only:
`tf.saved_model.load(export_dir).signatures["serving_default"]`.
"""

from absl import flags

from gantape.cli import common

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Training run folder (gantape train's "
                    "--workdir) whose generator is exported.")
flags.DEFINE_string("export_dir", None, "SavedModel folder to write; an older "
                    "export there is replaced.")
common.define_checkpoint_flag()
common.define_trusted_variant_flag()
flags.mark_flags_as_required(["workdir", "export_dir"])


def main(argv):
  """Exports per the flags; returns the exit code."""
  del argv

  def export_generator():
    from gantape.training import export  # pylint: disable=g-import-not-at-top
    out = export.export_generator(FLAGS.workdir, FLAGS.export_dir,
                                  checkpoint=FLAGS.checkpoint,
                                  trusted_variant=FLAGS.variant)
    inputs = ("noise [batch, {0}], labels [batch]" if out["conditional"]
              else "noise [batch, {0}]").format(out["noise_dim"])
    print(f"Exported {out['checkpoint']} (iteration {out['step']}) to "
          f"{out['export_dir']}: serving_default({inputs}) -> images "
          f"[batch, {', '.join(map(str, out['image_shape']))}].")
  return common.run(export_generator)


def run(argv=None) -> None:
  """Parses `argv` (default `sys.argv`) and exports; exits the process."""
  common.app_run(main, argv)
