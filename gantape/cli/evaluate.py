"""`gantape evaluate`: scores a run's samples with gantape's MNIST classifier.

    gantape evaluate --workdir=/tmp/gantape/dcgan [--num_samples=10000] \
        [--checkpoint=best]

Prints one JSON object and writes it to <workdir>/evaluation.json
(evaluation_best.json for --checkpoint=best): fcd, floor_fcd,
classifier_score, coverage, class_histogram, and where they apply
conditional_accuracy and per_class_fcd (CGAN) and test_accuracy (SSGAN's
discriminator). The classifier is trained once and cached (see
`gantape.evaluation`).
"""

import json
import sys

from absl import flags

from gantape import evaluation
from gantape.cli import common

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "A gantape training run folder.")
flags.DEFINE_integer("num_samples", 10_000, "Images to generate; the real "
                     "floor uses as many training images.")
flags.DEFINE_string("data_path", None, "MNIST .npz or IDX folder (default: "
                    "the run's).")
flags.DEFINE_integer("seed", 0, "Seeds the generated inputs.")
flags.DEFINE_string("classifier", None, "Classifier .weights.h5 (default: "
                    "the cache, trained there first if missing).")
common.define_checkpoint_flag()
flags.mark_flags_as_required(["workdir"])


def main(argv):
  """Evaluates per the flags; returns the exit code."""
  del argv

  def evaluate():
    result = evaluation.evaluate_workdir(
        FLAGS.workdir, num_samples=FLAGS.num_samples,
        data_path=FLAGS.data_path, seed=FLAGS.seed,
        classifier=FLAGS.classifier, checkpoint=FLAGS.checkpoint,
        log=lambda line: print(line, file=sys.stderr))
    print(json.dumps(result, sort_keys=True))
  return common.run(evaluate)


def run(argv=None) -> None:
  """Parses `argv` (default `sys.argv`) and evaluates; exits the process."""
  common.app_run(main, argv)
