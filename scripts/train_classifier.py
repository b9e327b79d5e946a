"""Trains (once) and caches the MNIST classifier that gantape's evaluation uses.

    python scripts/train_classifier.py --data_path=/path/to/mnist.npz

The weights go to $GANTAPE_CACHE/mnist_classifier/<hash>.weights.h5 (default
~/.cache/gantape), or to --output; a cached classifier is reused, not
retrained. See gantape/evaluation.py.
"""

from absl import app
from absl import flags

from gantape import cli
from gantape import data as data_lib
from gantape import evaluation

FLAGS = flags.FLAGS
flags.DEFINE_string("data_path", None, "MNIST .npz (Keras layout) or a folder "
                    "of IDX files; default: Keras's downloader.")
flags.DEFINE_string("output", None, "Weights file (.weights.h5); default: the "
                    "cache.")
flags.DEFINE_integer("epochs", evaluation.ClassifierConfig.epochs,
                     "Training epochs.")
flags.DEFINE_integer("seed", evaluation.ClassifierConfig.seed, "Seed.")


def main(argv):
  del argv

  def run():
    mnist = data_lib.load_mnist(FLAGS.data_path)
    config = evaluation.ClassifierConfig(epochs=FLAGS.epochs, seed=FLAGS.seed)
    path = FLAGS.output or evaluation.classifier_path(mnist, config)
    model = evaluation.load_or_train_classifier(mnist, config, path=path)
    test_accuracy = evaluation.classifier_accuracy(model, mnist.x_test,
                                                   mnist.y_test)
    print(f"classifier: {path}\ntest accuracy: {test_accuracy:.4f}")
  return cli.run(run)


if __name__ == "__main__":
  app.run(main)
