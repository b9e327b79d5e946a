"""Device-resident input: the host pipeline's batches, gathered in-graph.

Small arrays and batches, so each test costs a trace or two.
"""

from unittest import mock

import numpy as np
import pytest
import tensorflow as tf

from gantape import data as data_lib
from gantape import optimizers as optimizers_lib
from gantape import step as step_lib
from gantape import train as train_lib
from gantape import variants
from gantape.data import iterators
from gantape.errors import UsageError
from gantape.variants import gan as gan_lib

from tests.training.test_train import checkpoint_values


def _arrays(n=10, shape=(4, 4), labelled=True):
  rng = np.random.RandomState(n)
  images = rng.randint(0, 256, (n,) + shape).astype(np.uint8)
  return images, (np.arange(n) % 3 if labelled else None)


def _assert_same(host, device):
  assert host.keys() == device.keys()
  for key in host:
    np.testing.assert_array_equal(host[key].numpy(), device[key].numpy(),
                                  err_msg=key)


@pytest.mark.parametrize("batch_size", [3, 10, 25])
@pytest.mark.parametrize("flat,labelled", [(False, True), (True, False)])
def test_same_batches_as_the_host_pipeline_across_epochs(batch_size, flat,
                                                         labelled):
  # 3 divides no epoch of 10, so batches straddle epoch boundaries; 10 is one
  # epoch per batch; 25 spans three epochs.
  images, labels = _arrays(labelled=labelled)
  host = iter(data_lib.batches(images, labels, batch_size=batch_size, seed=5,
                               flat=flat))
  device = data_lib.DeviceBatches(
      {"": data_lib.Stream(images, labels, 5, flat)}, batch_size=batch_size)
  in_graph = tf.function(lambda: next(device))
  for i in range(12):  # eager and traced calls share the state
    _assert_same(next(host), in_graph() if i % 2 else next(device))
  spec = device.element_spec
  assert spec == {k: tf.TensorSpec(v.shape, v.dtype)
                  for k, v in next(host).items()}


def test_every_epoch_is_a_permutation():
  images, labels = _arrays(n=12)
  device = data_lib.DeviceBatches(
      {"": data_lib.Stream(images, np.arange(12), 1, False)}, batch_size=4)
  epochs = [np.concatenate([next(device)["label"].numpy() for _ in range(3)])
            for _ in range(4)]
  for epoch in epochs:
    assert sorted(epoch) == list(range(12))
  assert len({tuple(e) for e in epochs}) == 4  # reshuffled every epoch
  del labels


def test_checkpoint_round_trip_mid_epoch_resumes_exactly(tmp_path):
  images, labels = _arrays(n=10)
  streams = {"": data_lib.Stream(images, labels, 2, False)}
  device = data_lib.DeviceBatches(streams, batch_size=3)
  for _ in range(4):  # 12 of 10: one batch into the second epoch
    next(device)
  path = tf.train.Checkpoint(iterator=device).save(str(tmp_path / "ckpt"))
  expected = [next(device) for _ in range(8)]
  fresh = data_lib.DeviceBatches(streams, batch_size=3)
  next(fresh)  # state of its own, overwritten by the restore
  tf.train.Checkpoint(iterator=fresh).restore(path).assert_consumed()
  for want in expected:
    _assert_same(want, next(fresh))


def test_the_images_are_not_saved(tmp_path):
  images, labels = _arrays(n=10, shape=(16, 16))
  device = data_lib.DeviceBatches(
      {"": data_lib.Stream(images, labels, 2, False)}, batch_size=3)
  path = tf.train.Checkpoint(iterator=device).save(str(tmp_path / "ckpt"))
  sizes = [int(np.prod(shape)) for _, shape in tf.train.list_variables(path)]
  # The queue of indices: a batch, and whole epochs of at least
  # MIN_CHUNK_BATCHES batches.
  chunk = 10 * -(-data_lib.device.MIN_CHUNK_BATCHES * 3 // 10)
  assert 3 + chunk in sizes
  assert max(sizes) < images.size


@pytest.mark.parametrize("batches_per_iteration", [1, 4])
def test_reserved_batches_compile_with_xla_and_keep_the_order(
    batches_per_iteration):
  # 7 of 10 examples, so reserved runs end inside epochs and chunks.
  images, labels = _arrays(n=10)
  host = iter(data_lib.batches(images, labels, batch_size=7, seed=4,
                               flat=False))
  device = data_lib.DeviceBatches(
      {"": data_lib.Stream(images, labels, 4, False)}, batch_size=7,
      batches_per_iteration=batches_per_iteration)
  gather = tf.function(lambda: device.next_queued(), jit_compile=True)
  for _ in range(3):
    device.reserve()
    queued = int(device.queued_batches())
    assert queued >= batches_per_iteration
    for _ in range(queued):
      _assert_same(next(host), gather())
    assert int(device.queued_batches()) == 0
  _assert_same(next(host), next(device))  # next() refills by itself


@pytest.mark.parametrize("name,options", [
    ("ssgan", {"num_labeled": 20}), ("cgan", {}), ("gan", {})])
def test_a_variants_streams_give_its_host_batches(name, options, fake_mnist):
  variant = variants.build(name, **options)
  host = iter(variant.make_dataset(fake_mnist, batch_size=16, seed=3))
  device = data_lib.DeviceBatches(variant.input_streams(fake_mnist, seed=3),
                                  batch_size=16)
  for _ in range(15):  # past an epoch of the 20 labelled examples
    _assert_same(next(host), next(device))
  if name == "ssgan":
    assert {"labeled_image", "labeled_label"} <= set(device.element_spec)


def _step(name="gan", **options):
  variant = variants.build(name)
  d_opt, g_opt = optimizers_lib.make_optimizers(variant)
  return step_lib.TrainStep(variant, d_opt, g_opt, seed=0,
                            options=step_lib.StepOptions(**options))


def test_a_step_on_device_input_trains_as_on_host_input(fake_mnist):
  finals = []
  for pipeline in data_lib.INPUT_PIPELINES:
    tf.keras.utils.set_random_seed(0)
    step = _step(input_pipeline=pipeline)
    iterator = step.make_input(fake_mnist, batch_size=16, seed=0)
    step(iterator, 15)  # past the first epoch of 200 examples
    finals.append([v.numpy() for v in step.variant.generator.weights])
  for host, device in zip(*finals):
    np.testing.assert_array_equal(host, device)


def test_device_input_refusals(fake_mnist):
  variant = variants.build("gan")
  with pytest.raises(UsageError, match="choose one of host, device"):
    iterators.make_input(variant, fake_mnist, batch_size=16, seed=0,
                         input_pipeline="gpu")
  with pytest.raises(UsageError, match="choose one of host, device"):
    step_lib.StepOptions(input_pipeline="gpu")
  two_replicas = mock.Mock(num_replicas_in_sync=2)
  with pytest.raises(UsageError, match="input_pipeline='host'"):
    iterators.make_input(variant, fake_mnist, batch_size=16, seed=0,
                         input_pipeline="device", strategy=two_replicas)

  class OwnPipeline(gan_lib.GAN):
    name = "own_pipeline_gan"

    def make_dataset(self, mnist, *, batch_size, seed):
      return super().make_dataset(mnist, batch_size=batch_size, seed=seed)

  own = OwnPipeline()
  d_opt, g_opt = optimizers_lib.make_optimizers(own)
  own_step = step_lib.TrainStep(
      own, d_opt, g_opt,
      options=step_lib.StepOptions(input_pipeline="device"))
  with pytest.raises(UsageError, match="define input_streams"):
    own_step.make_input(fake_mnist, batch_size=16, seed=0)
  with pytest.raises(UsageError, match="unknown input_pipeline"):
    train_lib.TrainConfig(workdir="/tmp/x", input_pipeline="gpu").validate()


def test_training_resumes_exactly_on_device_input(tmp_path, fake_mnist):
  def run(workdir, steps):
    train_lib.train(train_lib.TrainConfig(
        workdir=str(workdir), variant="gan", steps=steps, batch_size=16,
        iterations_per_call=2, log_every=2, sample_every=3,
        checkpoint_every=3, input_pipeline="device"),
                    dataset=fake_mnist, log=lambda line: None)
  # 16 x 14 iterations cross the 200 examples' first epoch after the resume.
  run(tmp_path / "one_go", 14)
  run(tmp_path / "halves", 9)
  run(tmp_path / "halves", 14)
  a = checkpoint_values(str(tmp_path / "one_go" / "checkpoints" / "ckpt-14"))
  b = checkpoint_values(str(tmp_path / "halves" / "checkpoints" / "ckpt-14"))
  assert any(k.startswith("iterator/") for k in a)
  assert a.keys() == b.keys()
  assert not [k for k in a if not np.array_equal(a[k], b[k])]
