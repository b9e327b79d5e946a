"""Tests of gantape.ema's weight averages, which evaluation reads."""

import numpy as np
import pytest

from gantape import ema as ema_lib
from gantape import variants
from gantape.errors import UsageError


def _shift_by_one(model):
  """Adds 1 to every weight of `model`; returns the weights before."""
  before = [w.numpy().copy() for w in model.weights]
  for w in model.weights:
    w.assign(w + 1.0)
  return before


def _assert_moved(average, start, by, tolerance=1e-6):
  for a, s in zip(average.weights, start):
    np.testing.assert_allclose(a.numpy(), s + by, rtol=tolerance,
                               atol=tolerance)


def test_generator_ema_update():
  source = variants.build("gan").generator
  average = variants.build("gan").generator
  ema = ema_lib.ModelEma(source, average, decay=0.5)
  start = _shift_by_one(source)
  ema.update(1)
  _assert_moved(average, start, 0.5)
  ema.update(2)  # decay**2 = 0.25 of the old average stays
  _assert_moved(average, start, 0.875)
  with pytest.raises(UsageError):
    ema_lib.ModelEma(source, average, decay=1.0)


def test_generator_ema_warm_up():
  source = variants.build("gan").generator
  average = variants.build("gan").generator
  ema = ema_lib.ModelEma(source, average, decay=0.999)
  assert ema.decay_at(1) == pytest.approx(2 / 11)
  assert ema.decay_at(100_000) == 0.999
  start = [w.numpy().copy() for w in average.weights]
  _shift_by_one(source)
  ema.update(2, step=2)  # decays 2/11 and 3/12: the average moves 1 - 1/22
  _assert_moved(average, start, 1 - (2 / 11) * (3 / 12), tolerance=1e-5)


def test_discriminator_average_serves_the_evaluation_view():
  variant = variants.build("ssgan", networks="salimans")
  average = variants.build("ssgan", networks="salimans").discriminator
  source = variant.discriminator
  ema = ema_lib.ModelEma(source, average, decay=0.5)
  start = _shift_by_one(source)
  ema.update(1)
  _assert_moved(average, start, 0.5)

  view = ema_lib.sampling_view(variant, discriminator=average)
  assert view.discriminator is average and view.generator is variant.generator
  assert variant.discriminator is source
  np.testing.assert_allclose(view.discriminator.weights[0].numpy(),
                             source.weights[0].numpy() - 0.5, rtol=1e-6)
