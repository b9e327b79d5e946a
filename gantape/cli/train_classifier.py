"""`gantape train-classifier`: trains (once) and caches the evaluation's
classifier for a dataset.

    gantape train-classifier --dataset=cifar10 --data_path=/path/to/cifar-10-batches-py

The weights go to $GANTAPE_CACHE/<dataset>_classifier/<hash>.weights.h5
(default ~/.cache/gantape), or to --output; a cached classifier is reused,
not retrained. Prints its path and its test accuracy (also recorded in the
.json beside it). --dataset, --data_path, --image_size and --channels are
`gantape train`'s. See `gantape.evaluation`.
"""

from absl import flags

from gantape.cli import common
from gantape.cli import config_flags

FLAGS = flags.FLAGS
# The data flags of `gantape train`, with the same names, help and defaults.
_DATA_FIELDS = ("dataset", "data_path", "image_size", "channels")
_EXCLUDE = [name for name in config_flags.config_fields()
            if name not in _DATA_FIELDS]
config_flags.define_config_flags(exclude=_EXCLUDE)
flags.DEFINE_string("output", None, "Weights file (.weights.h5); default: the "
                    "cache.")
flags.DEFINE_integer("epochs", config_flags.CONSTANTS["classifier_epochs"],
                     "Training epochs.")
flags.DEFINE_integer("seed", config_flags.CONSTANTS["classifier_seed"],
                     "Seeds the classifier's initial weights and data order.")


def main(argv):
  """Trains or loads the classifier per the flags; returns the exit code."""
  del argv

  def train_classifier():
    from gantape import evaluation  # pylint: disable=g-import-not-at-top
    dataset = evaluation.load_run_dataset(
        config_flags.config_values(exclude=_EXCLUDE))
    config = evaluation.ClassifierConfig(epochs=FLAGS.epochs, seed=FLAGS.seed)
    path = FLAGS.output or evaluation.classifier_path(dataset, config)
    model = evaluation.load_or_train_classifier(dataset, config, path=path)
    sidecar = evaluation.read_sidecar(path) or {}
    split = sidecar.get("accuracy_split", "test")
    accuracy = sidecar.get("test_accuracy")
    if accuracy is None:  # weights without the sidecar gantape writes
      accuracy = evaluation.classifier_accuracy(model, dataset.x_test,
                                                dataset.y_test)
    print(f"classifier: {path}\n{split} accuracy: {accuracy:.4f}")
  return common.run(train_classifier)


def run(argv=None) -> None:
  """Parses `argv` (default `sys.argv`) and trains; exits the process."""
  common.app_run(main, argv)
