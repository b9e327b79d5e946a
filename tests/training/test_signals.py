"""SIGINT/SIGTERM: acknowledged at once, a second one quits at once.

The in-process tests send real signals while the main thread is inside a
long `tf.function` call, where Python cannot run its own handlers; the
command-level test (a long call of `scripts/train.py`, Ctrl-C twice) is in
tests/cli/test_feedback.py.
"""

import os
import signal
import threading
import time

import pytest
import tensorflow as tf

from gantape.training import signals


class Recorder:
  """`say` and `quit_now` stand-ins that record what and when."""

  def __init__(self):
    self.said, self.quit_codes, self.times = [], [], []

  def say(self, line):
    self.said.append(line)
    self.times.append(time.perf_counter())

  def quit_now(self, code):
    self.quit_codes.append(code)
    self.times.append(time.perf_counter())


def test_first_signal_is_acknowledged_second_quits():
  rec = Recorder()
  stop = signals.StopSignals(say=rec.say, quit_now=rec.quit_now)
  stop.call_length = 250
  stop.arrived(signal.SIGINT)
  assert stop.signum == signal.SIGINT and stop.name == "SIGINT"
  assert rec.said == [
      "SIGINT: stopping after this call, up to 250 iterations, then saving a "
      "checkpoint; Ctrl-C again to quit now."]
  assert rec.quit_codes == []
  stop.arrived(signal.SIGTERM)  # either kind counts as the second
  assert rec.quit_codes == [128 + signal.SIGTERM]  # as a shell reports it
  assert rec.said[1] == (
      "SIGTERM again: quitting now, without saving; the checkpoints already "
      "written stay, and rerunning the same command resumes from the "
      "latest.")
  assert stop.signum == signal.SIGINT  # the stop request names the first


def test_sigterm_and_no_call_yet():
  rec = Recorder()
  stop = signals.StopSignals(say=rec.say, quit_now=rec.quit_now)
  stop.arrived(signal.SIGTERM)
  assert rec.said == [
      "SIGTERM: stopping before the first call, then saving a checkpoint; "
      "SIGTERM or Ctrl-C again to quit now."]


@tf.function
def _busy(n):
  x = tf.random.stateless_normal([256, 256], seed=[1, 2])
  for _ in tf.range(n):
    x = tf.tanh(tf.matmul(x, x) / 256.0)
  return tf.reduce_sum(x)


def test_real_signals_are_answered_during_a_tf_function_call():
  _busy(tf.constant(1))  # traced outside the timed call
  rec = Recorder()
  sent = []

  def send_two():
    for _ in range(2):
      time.sleep(0.5)
      sent.append(time.perf_counter())
      os.kill(os.getpid(), signal.SIGINT)

  previous = signal.getsignal(signal.SIGINT)
  with signals.StopSignals(say=rec.say, quit_now=rec.quit_now) as stop:
    stop.call_length = 7
    sender = threading.Thread(target=send_two)
    start = time.perf_counter()
    sender.start()
    _busy(tf.constant(6000))  # seconds: longer than both sends
    returned = time.perf_counter()
    sender.join()
  if returned - start < 1.5:
    pytest.skip(f"the call took only {returned - start:.1f}s on this machine")
  # Both answered while the call still ran, each within a second of its
  # signal.
  assert rec.quit_codes == [128 + signal.SIGINT]
  assert rec.said[0].startswith("SIGINT: stopping after this call, up to 7 ")
  assert rec.said[1].startswith("SIGINT again: quitting now")
  assert len(rec.times) == 3 and max(rec.times) < returned
  assert rec.times[0] - sent[0] < 1.0 and rec.times[2] - sent[1] < 1.0
  assert stop.signum == signal.SIGINT
  assert signal.getsignal(signal.SIGINT) is previous  # restored on exit
  assert signal.set_wakeup_fd(-1) == -1  # and the wakeup fd with it


def test_outside_the_main_thread_nothing_is_installed():
  result = {}

  def enter():
    with signals.StopSignals() as stop:
      result["handler"] = signal.getsignal(signal.SIGINT)
      result["signum"] = stop.signum
  before = signal.getsignal(signal.SIGINT)
  thread = threading.Thread(target=enter)
  thread.start()
  thread.join()
  assert result == {"handler": before, "signum": None}


def test_a_second_signal_in_a_library_call_raises_keyboard_interrupt(
    monkeypatch):
  """`gantape.train.train()` in a notebook: the kernel must live on, and
  the caller's `except`/`finally` run; only the command exits at once."""
  monkeypatch.setattr(signals, "_exit_process", False)

  def no_exit(code):
    raise AssertionError(f"os._exit({code}) in a library call")
  monkeypatch.setattr(signals.os, "_exit", no_exit)
  rec = Recorder()
  previous = signal.getsignal(signal.SIGINT)
  cleaned_up = []
  with pytest.raises(KeyboardInterrupt):
    try:
      with signals.StopSignals(say=rec.say):
        for count in (1, 2):
          os.kill(os.getpid(), signal.SIGINT)
          deadline = time.perf_counter() + 5
          while len(rec.said) < count and time.perf_counter() < deadline:
            time.sleep(0.01)
        time.sleep(5)  # the KeyboardInterrupt comes first
    finally:
      cleaned_up.append(True)
  assert cleaned_up == [True]
  assert rec.said[1] == (
      "SIGINT again: raising KeyboardInterrupt when the running call "
      "returns, without saving; the checkpoints already written stay, and "
      "rerunning the same command resumes from the latest.")
  assert signal.getsignal(signal.SIGINT) is previous
