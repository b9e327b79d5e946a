"""The outer loop: runs `TrainStep` from boundary to boundary, then actions.

In the spirit of Orbit's `Controller` (TF Model Garden, `orbit/controller.py`)
and its actions: the step knows only how to run N iterations in one
`tf.function` call; the runner decides N, and everything a run does besides
training (progress lines, evaluation, sample grids, checkpoints, the NaN
guard) is an action it calls afterwards.

An action is any callable taking a `Progress`, with two optional
attributes:

  every:  an interval in iterations. The runner ends a call at each multiple
          of it, so the action runs at exactly those iterations. Without it
          (or None) the action runs after every call and sets no boundary.
  at_end: also run it when the run reaches its last iteration.

`Action` is a base class that spells these out; `action(fn, every=...)`
gives a plain function an interval.
"""

import dataclasses
from typing import Callable, Dict, Optional, Sequence

from gantape import step as step_lib


@dataclasses.dataclass(frozen=True)
class Progress:
  """Where a run stands after one call of the step.

  Attributes:
    iteration: GAN iterations done so far (the step's `global_step`).
    previous: iterations done before this call; `iteration - previous`
      iterations ran in it.
    total: the run's last iteration.
    metrics: the step's metrics of the call's last iteration, as floats;
      empty before any call.
  """
  iteration: int
  previous: int
  total: int
  metrics: Dict[str, float]


class Action:
  """Base class of an action: override `__call__`, set `every`, `at_end`."""
  every: Optional[int] = None
  at_end: bool = False

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


class Runner:
  """Advances a `TrainStep` to `total`, calling actions at their intervals.

  Each call of the step runs at most `iterations_per_call` iterations and
  ends at the nearest of: the next multiple of any action's `every`, and
  `total`. After the call, the actions due at the iteration reached run in
  the order given; an exception from one propagates at once, so the later
  ones do not run and the run stops.
  """

  def __init__(self, train_step: step_lib.TrainStep, iterator,
               actions: Sequence[Callable[[Progress], None]], *, total: int,
               iterations_per_call: int,
               should_stop: Optional[Callable[[], bool]] = None):
    """Sets up the runner; nothing runs until `run`.

    Args:
      train_step: the step; its `global_step` says where the run is.
      iterator: the step's data iterator (`TrainStep.make_iterator`).
      actions: callables taking a `Progress` (see the module docstring).
      total: the iteration to stop at.
      iterations_per_call: the most iterations one call runs.
      should_stop: asked before each call; True ends the run early (e.g. a
        stop signal arrived).

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

  def next_stop(self, done: int) -> int:
    """The iteration the call after `done` iterations ends at."""
    return min([self.total, done + self.iterations_per_call]
               + [_next_multiple(done, every) for every in self._intervals
                  if every is not None])

  def due(self, act: Callable[[Progress], None], every: Optional[int],
          iteration: int) -> bool:
    """Whether `act`, with interval `every`, runs at `iteration`."""
    if every is None or iteration % every == 0:
      return True
    return iteration == self.total and getattr(act, "at_end", False)

  def run(self) -> Progress:
    """Trains until `total` or until `should_stop`; returns the last progress.

    Raises:
      Whatever an action raises (e.g. `NonFiniteLossError`).
    """
    done = int(self._step.global_step.numpy())
    progress = Progress(done, done, self.total, {})
    while done < self.total and not self._should_stop():
      out = self._step(self._iterator, self.next_stop(done) - done)
      before = done
      done = int(self._step.global_step.numpy())
      progress = Progress(done, before, self.total,
                          {k: float(v) for k, v in out.items()})
      for act, every in zip(self._actions, self._intervals):
        if self.due(act, every, done):
          act(progress)
    return progress
