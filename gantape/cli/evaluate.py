"""`gantape evaluate`: scores a run's samples in a classifier's feature space.

    gantape evaluate --workdir=/tmp/gantape/dcgan [--num_samples=10000] \
        [--checkpoint=best] [--classifier=model.keras --feature_layer=NAME]

Prints a table and writes the result as JSON to <workdir>/evaluation.json
(evaluation_best.json for --checkpoint=best): fcd, kid, floor_fcd,
classifier_score, coverage, class_histogram, and where they apply
conditional_accuracy and per_class_fcd (CGAN) and test_accuracy (SSGAN's
discriminator). The classifier is gantape's for the run's dataset, trained
once and cached (see `gantape.evaluation`), or --classifier. On unlabelled
data only FCD and KID can be scored, and only with --classifier; the result's
`skipped` names what was not scored and why.
"""

import os
import sys

from absl import flags

from gantape.cli import common
from gantape.cli.flag_table import TABLE

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "A gantape training run folder.")
flags.DEFINE_integer("num_samples", 10_000, "Images to generate; the real "
                     "floor uses as many training images.")
flags.DEFINE_string("data_path", None, "The run's dataset from this file or "
                    "folder (default: the run's --data_path).")
flags.DEFINE_integer("seed", 0, "Seeds the generated inputs.")
flags.DEFINE_string("classifier", None, "A Keras model (.keras, .h5), a "
                    "SavedModel folder or gantape classifier weights "
                    "(.weights.h5); default: gantape's classifier for the "
                    "run's dataset, trained into the cache first if missing.")
flags.DEFINE_string("feature_layer", TABLE["constants"]["feature_layer"],
                    "The --classifier's layer (a SavedModel's output) whose "
                    "output FCD and KID compare.")
common.define_checkpoint_flag()
common.define_trusted_variant_flag()
flags.mark_flags_as_required(["workdir"])


def main(argv):
  """Evaluates per the flags; returns the exit code."""
  del argv

  def evaluate():
    from gantape import evaluation  # pylint: disable=g-import-not-at-top
    result = evaluation.evaluate_workdir(
        FLAGS.workdir, num_samples=FLAGS.num_samples,
        data_path=FLAGS.data_path, seed=FLAGS.seed,
        classifier=FLAGS.classifier, feature_layer=FLAGS.feature_layer,
        checkpoint=FLAGS.checkpoint, trusted_variant=FLAGS.variant,
        log=lambda line: print(line, file=sys.stderr))
    print(common.metric_table(result))
    path = os.path.join(FLAGS.workdir,
                        evaluation.result_file(FLAGS.checkpoint))
    print(f"Written to {path}.")
  return common.run(evaluate)


def run(argv=None) -> None:
  """Parses `argv` (default `sys.argv`) and evaluates; exits the process."""
  common.app_run(main, argv)
