"""A folder of images as a `Dataset`: class labels from its subfolders.

``photos/`` holding images directly is unlabelled; ``photos/cat/``,
``photos/dog/`` ... (two or more, nested folders inside each allowed) give
labels 0, 1, ... in the sorted order of the subfolder names. Every image is
decoded by TensorFlow (PNG, JPEG, BMP), converted to the requested number of
channels, cropped to its central square and resized to `image_size`, so
images of any size and aspect ratio share one shape. Files with other
extensions and hidden files (``.name``) are ignored.

The last 10% of each class (of all images when unlabelled), in an order
fixed by `SPLIT_SEED`, at most `MAX_TEST` in all, is held out as the test
split.
"""

import math
import os
from typing import List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from gantape.data.dataset import Dataset
from gantape.errors import DataError, UsageError
from gantape.training import memory

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
DEFAULT_CHANNELS = 3
TEST_PERCENT = 10
MAX_TEST = 10_000
SPLIT_SEED = 0
_DECODE_BATCH = 256
# At most this many bytes of decoded images per batch of the decoding.
_DECODE_BYTES = 64 * 2**20
_LAYOUT = ("pass --data_path=<a folder of PNG/JPEG images, directly in it for "
           "unlabelled data or in two or more class subfolders for labels>")


def load_folder(path: str, image_size: Optional[int],
                channels: Optional[int] = None) -> Dataset:
  """Loads every image under `path`, resized to `image_size` squared.

  Args:
    path: the folder.
    image_size: the side in pixels of the square images produced; None:
      the images' own (the shorter side), which must be the same for all.
    channels: 1 (grayscale) or 3 (RGB, the default); images are converted.

  Returns:
    The dataset named "folder:<path>", labelled when `path` has class
    subfolders; one-channel images are [N, S, S], colour [N, S, S, 3].

  Raises:
    UsageError: `image_size` or `channels` is invalid, or `image_size` is
      None and the images differ in size.
    DataError: the folder is missing or empty, has one class only, or holds
      an image that does not decode (named).
  """
  channels = DEFAULT_CHANNELS if channels is None else channels
  if image_size is not None and image_size <= 0:
    raise UsageError(
        f"--image_size must be the positive side in pixels the images are "
        f"resized to (e.g. 64), got {image_size}.")
  if channels not in (1, 3):
    raise UsageError(
        f"--channels must be 1 (grayscale) or 3 (RGB), got {channels}.")
  path = os.path.normpath(os.path.expanduser(path))
  files, labels, class_names = list_images(path)
  if image_size is None:
    image_size = own_size(files)
  _check_memory(path, len(files), image_size, channels)
  images = decode_images(files, image_size, channels)
  if channels == 1:
    images = images[..., 0]
  train, test = split_indices(labels, len(files))

  def subset(a, idx):
    return None if a is None else a[idx]
  return Dataset(images[train], subset(labels, train), images[test],
                 subset(labels, test), name=f"folder:{path}",
                 num_classes=None if class_names is None else len(class_names),
                 class_names=class_names)


def own_size(files: Sequence[str]) -> int:
  """The shorter side of the images in `files`, read from their headers,
  when it is the same for all.

  Raises:
    UsageError: two images differ in size; the message names them.
  """
  from PIL import Image  # pylint: disable=g-import-not-at-top
  first = None
  for name in files:
    try:
      with Image.open(name) as image:
        size = image.size
    except Exception:  # pylint: disable=broad-except
      continue  # decoding it names it (`decode_images`)
    if first is None:
      first = (name, size)
    elif size != first[1]:
      raise UsageError(
          f"--dataset=folder without --image_size takes the images' own "
          f"size, but {first[0]} is {first[1][0]}x{first[1][1]} and {name} "
          f"is {size[0]}x{size[1]}; pass --image_size=N to resize them all "
          f"(e.g. 64).")
  return min(first[1]) if first else 1


def list_images(folder: str) -> Tuple[List[str], Optional[np.ndarray],
                                      Optional[Tuple[str, ...]]]:
  """The image files under `folder`, their labels and the class names.

  Returns:
    (files, labels or None, class names or None), files sorted by path.

  Raises:
    DataError: no such folder, no images, images beside class subfolders,
      an empty class subfolder, or a single class.
  """
  if not os.path.isdir(folder):
    raise DataError(f"{folder!r} is not a folder; {_LAYOUT}.")
  entries = sorted(e for e in os.listdir(folder) if not e.startswith("."))
  subfolders = [e for e in entries if os.path.isdir(os.path.join(folder, e))]
  for name in subfolders:
    _refuse_a_link_into_itself(folder, name)
  top = [os.path.join(folder, e) for e in entries if _is_image(folder, e)]
  if not subfolders:
    if not top:
      raise DataError(
          f"{folder} holds no images ({', '.join(IMAGE_EXTENSIONS)}); "
          f"{_LAYOUT}.")
    return top, None, None
  if top:
    raise DataError(
        f"{folder} holds images ({os.path.basename(top[0])}, ...) beside class "
        f"subfolders ({subfolders[0]}, ...); move every image into a class "
        f"subfolder for labels, or remove the subfolders for unlabelled data.")
  files, labels = [], []
  for label, name in enumerate(subfolders):
    found = _images_under(os.path.join(folder, name))
    if not found:
      raise DataError(
          f"class subfolder {os.path.join(folder, name)} holds no images; add "
          f"images to it or remove it.")
    files += found
    labels += [label] * len(found)
  if len(subfolders) == 1:
    raise DataError(
        f"{folder} has a single class subfolder ({subfolders[0]}); labels need "
        f"two or more classes: add class subfolders, or move the images up "
        f"into {folder} to train without labels.")
  return files, np.asarray(labels, np.int64), tuple(subfolders)


def _refuse_a_link_into_itself(folder: str, name: str) -> None:
  """Refuses a subfolder link to the dataset, into it, or to a folder
  holding it (`self -> .`): its images would be read twice, as a class."""
  path = os.path.join(folder, name)
  if not os.path.islink(path):
    return
  target, home = os.path.realpath(path), os.path.realpath(folder)
  if os.path.commonpath([target, home]) in (target, home):
    raise DataError(
        f"{path} is a symbolic link to {target}, which holds the dataset or "
        f"is inside it: its images would be read again as a class of "
        f"duplicates; remove the link.")


def _check_memory(folder: str, num: int, image_size: int,
                  channels: int) -> None:
  """Refuses an `image_size` whose decoded images cannot fit in memory.

  The estimate: the uint8 images, plus the float32 image each parallel
  decode holds while it resizes.
  """
  per_image = image_size * image_size * channels
  in_flight = 4 * per_image * _parallel_decodes()
  too_big = memory.shortfall(num * per_image + in_flight)
  if too_big:
    available = memory.available_bytes()
    largest = int(math.sqrt(available / channels
                            / (num + 4 * _parallel_decodes())))
    raise UsageError(
        f"--image_size={image_size} makes the {num} images of {folder} "
        f"{too_big}; pass an --image_size of at most {largest}.")


def _parallel_decodes() -> int:
  return os.cpu_count() or 1


def _is_image(folder: str, name: str) -> bool:
  return (not name.startswith(".")
          and name.lower().endswith(IMAGE_EXTENSIONS)
          and os.path.isfile(os.path.join(folder, name)))


def _images_under(folder: str) -> List[str]:
  found = []
  for root, dirs, names in os.walk(folder):
    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    found += [os.path.join(root, n) for n in sorted(names)
              if _is_image(root, n)]
  return found


def decode_images(files: Sequence[str], image_size: int, channels: int
                  ) -> np.ndarray:
  """Decodes, crops and resizes `files` in parallel to uint8 [N, S, S, C].

  Raises:
    DataError: naming the first file that does not decode.
  """
  def decode(path):
    image = tf.io.decode_image(tf.io.read_file(path), channels=channels,
                               expand_animations=False)
    image.set_shape([None, None, channels])
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    side = tf.minimum(height, width)
    image = tf.image.crop_to_bounding_box(
        image, (height - side) // 2, (width - side) // 2, side, side)
    image = tf.image.resize(image, [image_size, image_size], antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)

  per_image = image_size * image_size * channels
  batch = max(1, min(_DECODE_BATCH, _DECODE_BYTES // per_image))
  decoded = (tf.data.Dataset.from_tensor_slices(list(files))
             .map(decode, num_parallel_calls=_parallel_decodes(),
                  deterministic=True)
             .batch(batch))
  images = np.empty([len(files), image_size, image_size, channels], np.uint8)
  try:
    for start, part in zip(range(0, len(files), batch), decoded):
      images[start:start + batch] = part.numpy()
    return images
  except tf.errors.OpError as e:
    # The pipeline's error does not say which file; find it one by one.
    for path in files:
      try:
        decode(tf.constant(path))
      except tf.errors.OpError as file_error:
        raise DataError(
            f"{path} does not decode as a {channels}-channel image "
            f"({_first_line(file_error.message)}); convert or remove it."
        ) from None
    raise DataError(
        f"the images in {os.path.dirname(files[0])} do not decode "
        f"({_first_line(e.message)}).") from None


def _first_line(message: str) -> str:
  return message.strip().splitlines()[0] if message.strip() else "unreadable"


def split_indices(labels: Optional[np.ndarray], n: int
                  ) -> Tuple[np.ndarray, np.ndarray]:
  """Train and test indices: the last `TEST_PERCENT`% of each class.

  The order within each class is fixed by `SPLIT_SEED`, so the same folder
  always splits the same way; the test split holds at most `MAX_TEST`.

  Args:
    labels: integer labels [n], or None to split all examples as one class.
    n: the number of examples.

  Returns:
    (train indices, test indices), each sorted.
  """
  if labels is None:
    groups = [np.arange(n)]
  else:
    groups = [np.flatnonzero(labels == c) for c in np.unique(labels)]
  held = [len(g) * TEST_PERCENT // 100 for g in groups]
  total = sum(held)
  if total > MAX_TEST:
    held = [h * MAX_TEST // total for h in held]
  rng = np.random.RandomState(SPLIT_SEED)
  test = [rng.permutation(g)[len(g) - h:] for g, h in zip(groups, held)]
  test = np.sort(np.concatenate(test)).astype(np.int64)
  train = np.setdiff1d(np.arange(n), test)
  return train, test
