"""Device-resident input: in-memory datasets batched inside the train step.

`DeviceBatches` holds a variant's streams (`pipeline.Stream`) on the device,
uint8 as loaded, and gathers each batch in the step's graph: no `tf.data`
element, no host-to-device copy per batch. The order is the host pipeline's
(`pipeline.batches`): each stream draws its per-epoch permutations from the
same seeded index stream (`pipeline.shuffled_indices`), one whole permutation
per epoch, so both pipelines give the same batches for the same seed.

The state is small and checkpointed with the run: per stream a queue of
indices not yet batched (the rest of the current epoch, and of the next ones
when a batch crosses a boundary), where it starts and how many it holds, and
the index stream's `tf.data` iterator (its epoch and shuffle seeds). The
queue is a ring of `R x batch_size + C` slots, R the batches an iteration
reserves (`batches_per_iteration`) and C whole epochs of at least
`MIN_CHUNK_BATCHES` batches: `next()` takes the first `batch_size` queued
indices, after appending the next C when fewer than a batch are queued.

`reserve` and `next_queued` split that in two for a loop compiled whole by
XLA (`executors.CompiledDeviceLoop`): the refill, which reads the `tf.data`
iterator and cannot be compiled, runs before the loop, and the loop then
gathers `queued_batches()` batches with no refill.
"""

from typing import Dict, Mapping, Optional

import tensorflow as tf

from gantape.data import pipeline
from gantape.data.dataset import pixels
from gantape.errors import UsageError

# Where a run's real batches are made: "host", the `tf.data` pipeline
# (`pipeline.stream_batches`), or "device", `DeviceBatches`.
INPUT_PIPELINES = ("host", "device")

# A chunk of the batch order holds whole epochs and at least this many
# batches, so an XLA-compiled loop over queued batches runs long between
# refills even on a stream of a few examples (e.g. SSGAN's labelled ones).
MIN_CHUNK_BATCHES = 64


def default_device() -> str:
  """The first GPU (or TPU) if there is one, else the CPU."""
  for kind in ("GPU", "TPU"):
    devices = tf.config.list_logical_devices(kind)
    if devices:
      return devices[0].name
  return "/CPU:0"


class _DeviceStream(tf.Module):
  """One stream's arrays on the device and its batch order."""

  def __init__(self, stream: pipeline.Stream, batch_size: int, device: str,
               batches_per_iteration: int):
    super().__init__(name=None)
    images, labels = pipeline.stream_arrays(stream)
    self._n = len(images)
    self._batch_size = batch_size
    self._flat = stream.flat
    self._reserve = batches_per_iteration * batch_size
    # Whole epochs at a time, at least a batch: one append refills the
    # queue whenever it holds less than a batch, and appends until it holds
    # `_reserve` indices never overflow it.
    self._chunk = self._n * -(-MIN_CHUNK_BATCHES * batch_size // self._n)
    self._capacity = self._reserve + self._chunk
    with tf.device("/CPU:0"):
      # Prefetched: the next chunk's shuffle runs in the background, off
      # the step's path, as the host pipeline's does.
      self.order = iter(pipeline.shuffled_indices(self._n, stream.seed)
                        .batch(self._chunk).prefetch(1))
    with tf.device(device):
      # Plain tensors, not variables: data, not state, so never saved.
      self._images = tf.identity(tf.constant(pixels(images), tf.uint8))
      self._labels = tf.identity(tf.constant(labels, tf.int32))
      self.queue = tf.Variable(tf.zeros([self._capacity], tf.int32),
                               trainable=False, name="queue")
      self.head = tf.Variable(0, trainable=False, name="head")
      self.count = tf.Variable(0, trainable=False, name="count")

  def _append_chunk(self):
    """Appends the next chunk of permutations behind the queued indices."""
    chunk = tf.cast(self.order.get_next(), tf.int32)
    slots = (self.head + self.count + tf.range(self._chunk)) % self._capacity
    self.queue.scatter_nd_update(slots[:, None], chunk)
    self.count.assign_add(self._chunk)
    return tf.constant(True)

  def reserve(self) -> None:
    """Appends chunks until an iteration's batches are queued."""
    appends = tf.maximum(0, -((self.count - self._reserve) // self._chunk))

    def append(i):
      with tf.control_dependencies([self._append_chunk()]):
        return (i + 1,)
    tf.while_loop(lambda i: i < appends, append, (tf.constant(0),))

  def queued_batches(self) -> tf.Tensor:
    """How many whole batches the queue holds, int32."""
    return self.count // self._batch_size

  def next_indices(self) -> tf.Tensor:
    """The next batch's example indices, int32 [batch_size]."""
    tf.cond(self.count < self._batch_size, self._append_chunk,
            lambda: tf.constant(False))
    return self.next_queued_indices()

  def next_queued_indices(self) -> tf.Tensor:
    """`next_indices` of a queue that holds a batch: no refill."""
    slots = (self.head + tf.range(self._batch_size)) % self._capacity
    indices = tf.gather(self.queue, slots)
    self.head.assign((self.head + self._batch_size) % self._capacity)
    self.count.assign_sub(self._batch_size)
    return indices

  def element_spec(self) -> Dict[str, tf.TensorSpec]:
    """The spec of `gather`'s result."""
    images = pipeline.to_float_images(self._images[:1], self._flat)
    return {"image": tf.TensorSpec([self._batch_size] + images.shape[1:],
                                   tf.float32),
            "label": tf.TensorSpec([self._batch_size], tf.int32)}

  def gather(self, indices: tf.Tensor) -> Dict[str, tf.Tensor]:
    """The examples at `indices`: `{"image": float32, "label": int32}`."""
    return {"image": pipeline.to_float_images(
                tf.gather(self._images, indices), self._flat),
            "label": tf.gather(self._labels, indices)}


class DeviceBatches(tf.Module):
  """An iterator of a variant's batches, gathered on the device.

  `next(batches)` gives what `next(iter(pipeline.stream_batches(streams,
  batch_size=...)))` gives, as tensors computed where it is called: inside
  the train step's `tf.function` it adds the gather to the step's graph. Save
  it in the run's checkpoint (it is trackable) and a restore continues the
  order exactly.
  """

  def __init__(self, streams: Mapping[str, pipeline.Stream], *,
               batch_size: int, device: Optional[str] = None,
               batches_per_iteration: int = 1):
    """Copies the streams' arrays to `device`.

    Args:
      streams: the variant's streams by key prefix
        (`Variant.input_streams`).
      batch_size: examples per batch, of every stream.
      device: where the arrays and the state live; default
        `default_device()`.
      batches_per_iteration: the batches `reserve` queues, at least; a
        variant's `n_critic`.

    Raises:
      UsageError: `batch_size` is not positive, or no streams.
      DataError: a stream without images, or images not pixels 0..255.
    """
    super().__init__(name="device_batches")
    if batch_size <= 0:
      raise UsageError(f"batch_size must be positive, got {batch_size}.")
    if not streams:
      raise UsageError("DeviceBatches needs at least one stream.")
    self.batch_size = batch_size
    self.device = device or default_device()
    self._prefixes = list(streams)
    self.streams = [_DeviceStream(streams[p], batch_size, self.device,
                                  batches_per_iteration)
                    for p in self._prefixes]

  def __iter__(self) -> "DeviceBatches":
    return self

  def __next__(self) -> Dict[str, tf.Tensor]:
    return self._gather(_DeviceStream.next_indices)

  def reserve(self) -> None:
    """Refills every stream's queue to hold `batches_per_iteration` batches
    or more. Not XLA-compilable: it reads the order's `tf.data` iterator."""
    for stream in self.streams:
      stream.reserve()

  def queued_batches(self) -> tf.Tensor:
    """The batches `next_queued` can give before the next `reserve`."""
    return tf.reduce_min([s.queued_batches() for s in self.streams])

  def next_queued(self) -> Dict[str, tf.Tensor]:
    """What `next()` gives, from the queues alone: XLA-compilable, and
    valid `queued_batches()` times after a `reserve`."""
    return self._gather(_DeviceStream.next_queued_indices)

  def _gather(self, next_indices) -> Dict[str, tf.Tensor]:
    """Every stream's batch at `next_indices(stream)`, keys prefixed."""
    batch = {}
    for prefix, stream in zip(self._prefixes, self.streams):
      batch.update({prefix + k: v for k, v
                    in stream.gather(next_indices(stream)).items()})
    return batch

  @property
  def element_spec(self) -> Dict[str, tf.TensorSpec]:
    """The spec of one batch, as a `tf.data.Dataset`'s `element_spec`."""
    spec = {}
    for prefix, stream in zip(self._prefixes, self.streams):
      spec.update({prefix + k: v for k, v in stream.element_spec().items()})
    return spec
