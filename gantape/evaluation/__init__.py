"""Sample quality: a classifier per dataset, and the statistics on it.

The classifier is a compact convnet sized to the dataset's images and
classes, trained here, seeded, by `train_classifier` (or `gantape
train-classifier`); nothing is downloaded. `load_or_train_classifier` caches
its weights under $GANTAPE_CACHE (default ~/.cache/gantape), keyed by the
dataset's name, its `ClassifierConfig` and the dataset's arrays;
$GANTAPE_CLASSIFIER names a weights file to use instead (see `classifier`).
Any Keras model or SavedModel can stand in for it, by the name of its
feature layer (`features.load_feature_model`). Unlabelled data has no
gantape classifier: without one of your own nothing is scored, and the
class-based scores below are skipped either way; each result says what it
skipped and why.

On top of the classifier (all statistics are pure numpy functions):

- FCD, the Frechet Classifier Distance: the Frechet (2-Wasserstein) distance
  between Gaussians fitted to the classifier's penultimate features of
  generated images and of the dataset's test set. It is FID with the
  dataset's own classifier instead of Inception; numbers are not comparable
  with FID. Like FID it is biased upwards for small sample counts: compare
  FCDs computed from the same number of samples, e.g. against `floor_fcd`
  (as many training images against the test set).
- KID, the unbiased kernel distance in the same feature space, which has no
  such bias,
- the classifier score, the Inception-score analogue
  exp(E_x KL(p(y|x) || p(y))), between 1 and the number of classes,
- class coverage: the histogram of predicted classes and the number of
  classes holding at least 5% of the samples (mode collapse drops it below
  the number of classes),
- for conditional variants (CGAN), conditional accuracy (the classifier sees
  the class that was asked for) and the per-class FCD (samples asked for
  class c against test images of class c, averaged over c),
- for variants whose discriminator classifies (SSGAN), the discriminator's
  own test accuracy over the real classes.

Modules:
  metrics     the statistics above, on arrays.
  classifier  build, train and cache the classifier.
  features    any classifier (Keras model, SavedModel) as features + classes.
  evaluator   generate samples from a variant and score them (`Evaluator`).
  workdir     score a training run's checkpoint into `evaluation.json`.
  training    `TrainingEvaluator`, the cheap evaluation during training.
  report      the quality table and FCD figure over evaluated runs (import
              it as `gantape.evaluation.report`; it needs matplotlib).
"""

from gantape.evaluation.classifier import CACHE_ENV
from gantape.evaluation.classifier import CLASSIFIER_ENV
from gantape.evaluation.classifier import ClassifierConfig
from gantape.evaluation.classifier import FEATURE_LAYER
from gantape.evaluation.classifier import build_classifier
from gantape.evaluation.classifier import cache_dir
from gantape.evaluation.classifier import classifier_accuracy
from gantape.evaluation.classifier import classifier_path
from gantape.evaluation.classifier import data_fingerprint
from gantape.evaluation.classifier import features_and_probs_model
from gantape.evaluation.classifier import load_or_train_classifier
from gantape.evaluation.classifier import read_sidecar
from gantape.evaluation.classifier import train_classifier
from gantape.evaluation.evaluator import Evaluator
from gantape.evaluation.evaluator import FCD_JUMP_FACTOR
from gantape.evaluation.evaluator import degeneration_warnings
from gantape.evaluation.evaluator import discriminator_test_accuracy
from gantape.evaluation.evaluator import generate_samples
from gantape.evaluation.features import FeatureModel
from gantape.evaluation.features import evaluation_classifier
from gantape.evaluation.features import load_feature_model
from gantape.evaluation.metrics import COVERAGE_THRESHOLD
from gantape.evaluation.metrics import accuracy
from gantape.evaluation.metrics import class_histogram
from gantape.evaluation.metrics import classifier_score
from gantape.evaluation.metrics import coverage
from gantape.evaluation.metrics import feature_distance
from gantape.evaluation.metrics import frechet_distance
from gantape.evaluation.metrics import gaussian_stats
from gantape.evaluation.metrics import sqrtm_psd
from gantape.evaluation.training import TrainingEvaluator
from gantape.evaluation.workdir import RESULT_FILE
from gantape.evaluation.workdir import evaluate_workdir
from gantape.evaluation.workdir import load_run_dataset
from gantape.evaluation.workdir import result_file
