"""`gantape train-classifier`: trains (once) and caches the evaluation's
MNIST classifier.

    gantape train-classifier --data_path=/path/to/mnist.npz

The weights go to $GANTAPE_CACHE/mnist_classifier/<hash>.weights.h5 (default
~/.cache/gantape), or to --output; a cached classifier is reused, not
retrained. See `gantape.evaluation`.
"""

from absl import flags

from gantape import data as data_lib
from gantape import evaluation
from gantape.cli import common

FLAGS = flags.FLAGS
flags.DEFINE_string("data_path", None, "MNIST .npz (Keras layout) or a folder "
                    "of IDX files; default: Keras's downloader.")
flags.DEFINE_string("output", None, "Weights file (.weights.h5); default: the "
                    "cache.")
flags.DEFINE_integer("epochs", evaluation.ClassifierConfig.epochs,
                     "Training epochs.")
flags.DEFINE_integer("seed", evaluation.ClassifierConfig.seed, "Seed.")


def main(argv):
  """Trains or loads the classifier per the flags; returns the exit code."""
  del argv

  def train_classifier():
    mnist = data_lib.load_mnist(FLAGS.data_path)
    config = evaluation.ClassifierConfig(epochs=FLAGS.epochs, seed=FLAGS.seed)
    path = FLAGS.output or evaluation.classifier_path(mnist, config)
    model = evaluation.load_or_train_classifier(mnist, config, path=path)
    test_accuracy = evaluation.classifier_accuracy(model, mnist.x_test,
                                                   mnist.y_test)
    print(f"classifier: {path}\ntest accuracy: {test_accuracy:.4f}")
  return common.run(train_classifier)


def run(argv=None) -> None:
  """Parses `argv` (default `sys.argv`) and trains; exits the process."""
  common.app_run(main, argv)
