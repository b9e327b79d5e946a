"""runner.Runner: calls end at every action's boundary; actions run there."""

import time

import keras
import pytest

from gantape import optimizers as optimizers_lib
from gantape import step as step_lib
from gantape import variants
from gantape.training import runner as runner_lib
from tests.conftest import make_fake_mnist


@pytest.fixture(scope="module")
def gan_step():
  """The MLP GAN's step on fake digits, traced once for the module."""
  keras.utils.set_random_seed(0)
  variant = variants.build("gan")
  d_opt, g_opt = optimizers_lib.make_optimizers(variant)
  step = step_lib.TrainStep(variant, d_opt, g_opt, seed=0)
  iterator = step.make_iterator(
      variant.make_dataset(make_fake_mnist(), batch_size=16, seed=0))
  return step, iterator


class Recorder(runner_lib.Action):
  """Records the progress of each call it gets."""

  def __init__(self, every=None, at_end=False, calls=None):
    self.every = every
    self.at_end = at_end
    self.seen = []
    self._calls = calls

  def __call__(self, progress):
    self.seen.append(progress)
    if self._calls is not None:
      self._calls.append(self)

  @property
  def iterations(self):
    return [p.iteration for p in self.seen]


def run_from_zero(gan_step, actions, *, total, per_call, should_stop=None):
  step, iterator = gan_step
  step.global_step.assign(0)
  runner = runner_lib.Runner(step, iterator, actions, total=total,
                             iterations_per_call=per_call,
                             should_stop=should_stop)
  return runner.run()


def test_calls_end_exactly_at_every_boundary(gan_step):
  every_call = Recorder()
  threes, fives = Recorder(every=3), Recorder(every=5)
  fives_and_end = Recorder(every=5, at_end=True)
  final = run_from_zero(gan_step, [every_call, threes, fives, fives_and_end],
                        total=17, per_call=4)
  # The boundaries: the multiples of 3, 5 and 4 (the iterations per call),
  # and the end.
  assert [(p.previous, p.iteration) for p in every_call.seen] == [
      (0, 3), (3, 4), (4, 5), (5, 6), (6, 8), (8, 9), (9, 10), (10, 12),
      (12, 15), (15, 16), (16, 17)]
  assert threes.iterations == [3, 6, 9, 12, 15]
  assert fives.iterations == [5, 10, 15]
  assert fives_and_end.iterations == [5, 10, 15, 17]
  assert final.iteration == 17 == int(gan_step[0].global_step.numpy())
  assert final.total == 17
  assert {"d_loss", "g_loss"} <= set(final.metrics)
  assert all(isinstance(v, float) for v in final.metrics.values())


def test_iterations_per_call_caps_calls_between_far_boundaries(gan_step):
  every_call = Recorder()
  tens = Recorder(every=10)
  run_from_zero(gan_step, [every_call, tens], total=12, per_call=4)
  assert every_call.iterations == [4, 8, 10, 12]
  assert tens.iterations == [10]


def test_actions_run_in_order_and_functions_take_an_interval(gan_step):
  calls = []
  first, second = Recorder(every=2, calls=calls), Recorder(calls=calls)
  seen = []
  by_function = runner_lib.action(lambda p: seen.append(p.iteration), every=3)
  run_from_zero(gan_step, [first, second, by_function], total=6, per_call=6)
  assert calls == [first, second, second, first, second, first, second]
  assert seen == [3, 6]


def test_a_failing_action_stops_the_run(gan_step):
  class Boom(Exception):
    pass

  def fail_at_4(progress):
    if progress.iteration == 4:
      raise Boom(progress.iteration)

  after = Recorder()
  with pytest.raises(Boom):
    run_from_zero(gan_step, [runner_lib.action(fail_at_4, every=2), after],
                  total=10, per_call=2)
  # The actions after the failing one did not run, and no call followed.
  assert after.iterations == [2]
  assert int(gan_step[0].global_step.numpy()) == 4


def test_should_stop_ends_the_run_between_calls(gan_step):
  every_call = Recorder()
  final = run_from_zero(gan_step, [every_call], total=10, per_call=2,
                        should_stop=lambda: len(every_call.seen) == 2)
  assert every_call.iterations == [2, 4] and final.iteration == 4


def test_a_finished_run_calls_nothing(gan_step):
  step, iterator = gan_step
  step.global_step.assign(5)
  every_call = Recorder()
  final = runner_lib.Runner(step, iterator, [every_call], total=5,
                            iterations_per_call=2).run()
  assert every_call.seen == [] and final.metrics == {}
  assert (final.iteration, final.previous) == (5, 5)


@pytest.mark.parametrize("per_call, every", [(0, None), (2, 0)])
def test_bad_intervals_are_refused(gan_step, per_call, every):
  step, iterator = gan_step
  with pytest.raises(ValueError, match="positive"):
    runner_lib.Runner(step, iterator, [Recorder(every=every)], total=4,
                      iterations_per_call=per_call)
  with pytest.raises(ValueError, match="positive"):
    runner_lib.action(print, every=0)


class SlowStep:
  """`step` as a step whose every iteration takes `seconds` more: the calls'
  lengths and wall times are recorded."""

  def __init__(self, step, seconds):
    self.step, self.seconds = step, seconds
    self.global_step = step.global_step
    self.calls = []

  def __call__(self, iterator, count):
    start = time.perf_counter()
    out = self.step(iterator, count)
    time.sleep(self.seconds * count)
    self.calls.append((count, time.perf_counter() - start))
    return out


def test_calls_of_a_slow_step_end_near_their_time_budget(gan_step):
  step, iterator = gan_step
  step(iterator, 1)  # traced before, as a run's first call would be
  traces = step.executor.train.experimental_get_tracing_count()
  step.global_step.assign(0)
  slow = SlowStep(step, seconds=0.04)
  boundaries = Recorder()
  runner_lib.Runner(slow, iterator, [boundaries], total=60,
                    iterations_per_call=40, seconds_per_call=0.4).run()
  counts = [count for count, _ in slow.calls]
  # One iteration while tracing, one to time, then calls of about 0.4 s,
  # at most 10 iterations of 0.04 s (fewer when the machine is busy); one
  # ends at the boundary at 40.
  assert counts[:2] == [1, 1] and sum(counts) == 60
  assert all(1 <= count <= 10 for count in counts[2:]), counts
  timed = sorted(seconds for count, seconds in slow.calls[2:] if count > 5)
  assert timed and 0.25 < timed[len(timed) // 2] < 0.75, slow.calls
  assert boundaries.iterations == [40, 60]
  # The count is a tensor: none of the call lengths traced the step again.
  assert step.executor.train.experimental_get_tracing_count() == traces


def test_a_stop_between_boundaries_runs_what_every_boundary_runs(gan_step):
  step, iterator = gan_step
  step.global_step.assign(0)
  every_boundary, tens = Recorder(), Recorder(every=10)
  calls = []
  runner = runner_lib.Runner(
      step, iterator, [every_boundary, tens], total=20,
      iterations_per_call=10, seconds_per_call=1e-9,
      should_stop=lambda: len(calls) == 3)
  real_call = runner._call  # pylint: disable=protected-access

  def counted(done):
    calls.append(done)
    return real_call(done)
  runner._call = counted  # pylint: disable=protected-access
  final = runner.run()
  # Calls of one iteration (the budget is tiny); stopped after three.
  assert final.iteration == 3 and not final.partial
  assert [(p.previous, p.iteration) for p in every_boundary.seen] == [(0, 3)]
  assert tens.seen == []


def test_without_a_time_budget_calls_run_to_the_boundary(gan_step):
  step, iterator = gan_step
  step.global_step.assign(0)
  slow = SlowStep(step, seconds=0.0)
  runner_lib.Runner(slow, iterator, [Recorder(every=5)], total=12,
                    iterations_per_call=4, seconds_per_call=None).run()
  assert [count for count, _ in slow.calls] == [4, 1, 3, 2, 2]
