"""The outer loop: runs `TrainStep` from boundary to boundary, then actions.

In the spirit of Orbit's `Controller` (TF Model Garden, `orbit/controller.py`)
and its actions: the step knows only how to run N iterations in one
`tf.function` call; the runner decides N, and everything a run does besides
training (progress lines, evaluation, sample grids, checkpoints, the NaN
guard) is an action it calls afterwards.

The iterations between two boundaries (the next multiple of any action's
interval, of `iterations_per_call`, or the last iteration) run as one or more
calls, each ending after about `seconds_per_call` seconds: a count sized from
the seconds per iteration the calls so far took, passed as a tensor, so no
size retraces. The first call after tracing runs one iteration. The actions
run at boundaries only, so the run's numbers (weights, averages, records) do
not depend on how fast the machine is; a stop signal is seen within about
`seconds_per_call` seconds.

An action is any callable taking a `Progress`, with three optional
attributes:

  every:  an interval in iterations. The runner sets a boundary at each
          multiple of it, so the action runs at exactly those iterations.
          Without it (or None) the action runs at every boundary.
  at_end: also run it when the run reaches its last iteration.
  between_boundaries: also call it after each call that ends between
          boundaries, with `Progress.partial` True; it must not change the
          run's numbers (a console line, not a record).

`Action` is a base class that spells these out; `action(fn, every=...)`
gives a plain function an interval.
"""

import dataclasses
import math
import time
from typing import Callable, Dict, Optional, Sequence, Tuple

from gantape import step as step_lib


@dataclasses.dataclass(frozen=True)
class Progress:
  """Where a run stands after one call of the step.

  Attributes:
    iteration: GAN iterations done so far (the step's `global_step`).
    previous: the boundary the actions last ran at; `iteration - previous`
      iterations ran since.
    total: the run's last iteration.
    metrics: the step's metrics of the call's last iteration, as floats;
      empty before any call.
    traced: (iteration, `time.perf_counter()`) when the run's first call,
      which traces the step, returned; None before. Rates measured from it
      leave the tracing out.
    partial: the call ended between boundaries (see `between_boundaries`).
  """
  iteration: int
  previous: int
  total: int
  metrics: Dict[str, float]
  traced: Optional[Tuple[int, float]] = None
  partial: bool = False


class Action:
  """Base class of an action: override `__call__`, set `every`, `at_end`,
  `between_boundaries`."""
  every: Optional[int] = None
  at_end: bool = False
  between_boundaries: bool = False

  def __call__(self, progress: Progress) -> None:
    raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class _FunctionAction(Action):
  fn: Callable[[Progress], None]
  every: Optional[int] = None
  at_end: bool = False

  def __call__(self, progress: Progress) -> None:
    self.fn(progress)


def action(fn: Callable[[Progress], None], *, every: Optional[int] = None,
           at_end: bool = False) -> Action:
  """`fn` as an action run every `every` iterations (None: every call)."""
  if every is not None and every < 1:
    raise ValueError(f"every must be a positive interval, got {every}.")
  return _FunctionAction(fn, every, at_end)


def _next_multiple(done: int, every: int) -> int:
  return (done // every + 1) * every


# The time a call of the step is sized to take.
SECONDS_PER_CALL = 2.0


class Runner:
  """Advances a `TrainStep` to `total`, calling actions at their intervals.

  The boundaries are the multiples of `iterations_per_call` and of every
  action's `every`, and `total`; the iterations up to the next one run in
  calls of about `seconds_per_call` seconds (module docstring). At a
  boundary the actions due there run in the order given; an exception from
  one propagates at once, so the later ones do not run and the run stops. A
  stop between boundaries runs the actions due there (those without
  `every`, e.g. the weight average) before `run` returns.
  """

  def __init__(self, train_step: step_lib.TrainStep, iterator,
               actions: Sequence[Callable[[Progress], None]], *, total: int,
               iterations_per_call: int,
               should_stop: Optional[Callable[[], bool]] = None,
               seconds_per_call: Optional[float] = SECONDS_PER_CALL,
               clock: Callable[[], float] = time.perf_counter):
    """Sets up the runner; nothing runs until `run`.

    Args:
      train_step: the step; its `global_step` says where the run is.
      iterator: the step's data iterator (`TrainStep.make_iterator`).
      actions: callables taking a `Progress` (see the module docstring).
      total: the iteration to stop at.
      iterations_per_call: the most iterations one call runs.
      should_stop: asked before each call; True ends the run early (e.g. a
        stop signal arrived).
      seconds_per_call: what a call is sized to take; None: every call runs
        to the next boundary.
      clock: seconds, for sizing the calls (a test's fake clock).

    Raises:
      ValueError: a non-positive `iterations_per_call` or interval.
    """
    if iterations_per_call < 1:
      raise ValueError(f"iterations_per_call must be positive, got "
                       f"{iterations_per_call}.")
    self._step = train_step
    self._iterator = iterator
    self._actions = list(actions)
    self._intervals = [getattr(a, "every", None) for a in self._actions]
    if any(every is not None and every < 1 for every in self._intervals):
      raise ValueError(f"action intervals must be positive, got "
                       f"{self._intervals}.")
    self.total = total
    self.iterations_per_call = iterations_per_call
    self._should_stop = should_stop or (lambda: False)
    self.seconds_per_call = seconds_per_call
    self._clock = clock
    # Seconds per iteration of the latest call that did not trace.
    self._seconds_per_iteration: Optional[float] = None
    self._traced: Optional[Tuple[int, float]] = None

  def next_boundary(self, done: int) -> int:
    """The boundary after `done` iterations, where actions run."""
    return min([self.total, _next_multiple(done, self.iterations_per_call)]
               + [_next_multiple(done, every) for every in self._intervals
                  if every is not None])

  def next_stop(self, done: int) -> int:
    """The iteration the call after `done` iterations ends at."""
    boundary = self.next_boundary(done)
    if self.seconds_per_call is None:
      return boundary
    if self._seconds_per_iteration is None:  # tracing, then one to time
      return done + 1
    fits = math.floor(self.seconds_per_call / self._seconds_per_iteration)
    return min(boundary, done + max(1, fits))

  def due(self, act: Callable[[Progress], None], every: Optional[int],
          iteration: int) -> bool:
    """Whether `act`, with interval `every`, runs at `iteration`."""
    if every is None or iteration % every == 0:
      return True
    return iteration == self.total and getattr(act, "at_end", False)

  def _call(self, done: int):
    """One call of the step from `done`; returns (iterations done, metrics)
    and times it."""
    count = self.next_stop(done) - done
    start = self._clock()
    out = self._step(self._iterator, count)
    now = self._clock()
    reached = int(self._step.global_step.numpy())
    if self._traced is None:
      self._traced = (reached, now)
    else:
      self._seconds_per_iteration = (now - start) / max(reached - done, 1)
    return reached, {k: float(v) for k, v in out.items()}

  def _run_actions(self, progress: Progress) -> None:
    for act, every in zip(self._actions, self._intervals):
      if progress.partial:
        if getattr(act, "between_boundaries", False):
          act(progress)
      elif self.due(act, every, progress.iteration):
        act(progress)

  def run(self) -> Progress:
    """Trains until `total` or until `should_stop`; returns the last progress.

    Raises:
      Whatever an action raises (e.g. `NonFiniteLossError`).
    """
    done = int(self._step.global_step.numpy())
    progress = Progress(done, done, self.total, {})
    start = done  # the boundary the actions last ran at
    while done < self.total:
      if self._should_stop():
        if progress.partial:  # what is due at any boundary, e.g. the average
          progress = dataclasses.replace(progress, partial=False)
          self._run_actions(progress)
        break
      boundary = self.next_boundary(done)
      done, metrics = self._call(done)
      progress = Progress(done, start, self.total, metrics, self._traced,
                          partial=done < boundary)
      self._run_actions(progress)
      if not progress.partial:
        start = done
    return dataclasses.replace(progress, partial=False)
