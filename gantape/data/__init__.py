"""Datasets (MNIST, Fashion-MNIST, CIFAR-10, image folders) and the pipelines
that feed the train step.

- `load_dataset(name, path, image_size=, channels=)` returns a `Dataset` of
  uint8 images and integer labels (or none), from files or `keras.datasets`
  (`load`, `sources` for the file formats, `folder` for image folders);
- `batches` turns images and labels into the seeded, endless `tf.data`
  stream a variant trains on, `stream_batches` a variant's `Stream`s
  (`pipeline`); `DeviceBatches` gathers the same batches on the device
  (`device`);
- `pixels` and `check_training_set` refuse data that would train on nothing
  useful (`dataset`);
- `iterators.make_input` and `iterators.make_iterator` make the iterator a
  train step reads, split over its replicas (`gantape.data.iterators`, not
  imported here: it reads the variants, which import this package).
"""

from gantape.data.dataset import NUM_CLASSES
from gantape.data.dataset import Dataset
from gantape.data.dataset import check_training_set
from gantape.data.dataset import pixels
from gantape.data.device import INPUT_PIPELINES
from gantape.data.device import DeviceBatches
from gantape.data.load import DATA_ENV
from gantape.data.load import DATASETS
from gantape.data.load import load_dataset
from gantape.data.load import load_mnist
from gantape.data.pipeline import Stream
from gantape.data.pipeline import balanced_subset
from gantape.data.pipeline import batches
from gantape.data.pipeline import check_num_labeled
from gantape.data.pipeline import stream_batches
from gantape.data.pipeline import to_float_images
