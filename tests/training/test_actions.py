"""actions.LogProgress: lines from the start of a slow run, an ETA without
the tracing, and records only at the interval."""

from gantape.training import actions
from gantape.training.runner import Progress


class Sink:
  def __init__(self):
    self.records = []

  def write(self, step, metrics, timing=None):
    self.records.append((step, dict(timing)))


def test_progress_lines_leave_tracing_out_and_show_early():
  now = [0.0]
  sink, lines = Sink(), []
  logger = actions.LogProgress(100, sink, lines.append, name="dcgan",
                               start=0, clock=lambda: now[0])
  traced = (1, 60.0)  # the first call returned after 60 s of tracing

  def call(iteration, seconds, partial=True):
    now[0] = seconds
    logger(Progress(iteration, 0, 1000, {"d_loss": 1.0}, traced, partial))

  call(1, 60.0)   # right after tracing: no line yet
  call(3, 62.0)
  assert lines == []
  call(11, 66.0)  # 5 s after tracing: the first line, no record; 989 left
  # at the 10 iterations in 6 s since tracing
  assert lines == ["[dcgan] 11/1000 d_loss=1.0000 | 1.67 it/s | ETA 0:09:53"]
  assert sink.records == []
  call(21, 72.0)  # 6 s after that line: quiet
  assert len(lines) == 1
  call(100, 120.0, partial=False)  # the interval: a line and a record
  # 99 iterations in the 60 s since tracing: 1.65 it/s, 900 left.
  assert lines[-1] == "[dcgan] 100/1000 d_loss=1.0000 | 1.65 it/s | ETA 0:09:05"
  assert sink.records == [(100, {"iterations_per_s": 89 / 54})]
