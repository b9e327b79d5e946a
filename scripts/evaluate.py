"""Scores a training run's samples with gantape's MNIST classifier.

    python scripts/evaluate.py --workdir=/tmp/gantape/dcgan \
        [--num_samples=10000] [--checkpoint=best]

Prints one JSON object and writes it to <workdir>/evaluation.json
(evaluation_best.json for --checkpoint=best): fcd,
floor_fcd, classifier_score, coverage, class_histogram, and where they apply
conditional_accuracy and per_class_fcd (CGAN) and test_accuracy (SSGAN's
discriminator). The classifier is trained once and cached (see
gantape/evaluation.py).
"""

import json
import sys

from absl import app
from absl import flags

from gantape import cli
from gantape import evaluation

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "A gantape training run folder.",
                    required=True)
flags.DEFINE_integer("num_samples", 10_000, "Images to generate; the real "
                     "floor uses as many training images.")
flags.DEFINE_string("data_path", None, "MNIST .npz or IDX folder (default: "
                    "the run's).")
flags.DEFINE_integer("seed", 0, "Seeds the generated inputs.")
flags.DEFINE_string("classifier", None, "Classifier .weights.h5 (default: "
                    "the cache, trained there first if missing).")
flags.DEFINE_string("checkpoint", cli.CHECKPOINT_DEFAULT, cli.CHECKPOINT_HELP)


def main(argv):
  del argv

  def run():
    result = evaluation.evaluate_workdir(
        FLAGS.workdir, num_samples=FLAGS.num_samples,
        data_path=FLAGS.data_path, seed=FLAGS.seed,
        classifier=FLAGS.classifier, checkpoint=FLAGS.checkpoint,
        log=lambda line: print(line, file=sys.stderr))
    print(json.dumps(result, sort_keys=True))
  return cli.run(run)


if __name__ == "__main__":
  app.run(main)
