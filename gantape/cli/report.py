"""`gantape report`: the quality table of evaluated runs, and their FCD curves.

    gantape report --runs=seed=/tmp/q/dcgan_seed,gantape=/tmp/q/dcgan \
        [--figure=docs/fcd_vs_iterations.png] [--figure_runs=seed,gantape]
    gantape report --table=test_error --iterations=1000,5000,10000 \
        --runs=s0=/tmp/q/ssgan_s0,s1=/tmp/q/ssgan_s1,s0/live=/tmp/q/ssgan_s0

Each run is LABEL=WORKDIR, a training workdir scored by `gantape evaluate`;
LABEL/best=WORKDIR is its best checkpoint (scored with --checkpoint=best), and
LABEL@ckpt-N=WORKDIR its checkpoints/ckpt-N (scored with --checkpoint=<prefix>).
The table (markdown, one row per run) goes to stdout. `--table=quality` (the
default) reads each run's `gantape evaluate` result; `--table=test_error`,
`fcd` or `coverage` lists the run's `--eval_every` records at --iterations,
with the mean +- standard deviation over the runs (LABEL/live: the live
network of a run that averaged its weights). The figure plots the
`--eval_every` FCD (or, with --figure_metric=test_error, SSGAN's test error)
of --figure_runs (default: all runs) against iterations; LABEL/live there
plots the live network of a run that averaged its weights.
"""

from absl import flags

from gantape.cli import common
from gantape.cli.flag_table import TABLE
from gantape.errors import UsageError

FLAGS = flags.FLAGS
flags.DEFINE_list("runs", None, "LABEL=WORKDIR pairs, comma-separated; "
                  "LABEL/best or LABEL@ckpt-N selects that checkpoint's "
                  "evaluation.")
flags.DEFINE_string("figure", None, "PNG path for --figure_metric against "
                    "iterations; default: no figure.")
flags.DEFINE_enum("figure_metric", "fcd", ["fcd", "test_error"],
                  "What the figure plots: FCD, or the test error of a "
                  "classifying discriminator (ssgan).")
flags.DEFINE_list("figure_runs", None, "Labels of the runs to plot "
                  "(default: all); LABEL/live: that run's live generator.")
flags.DEFINE_string("title", "", "The figure's title.")
flags.DEFINE_enum("table", "quality",
                  ["quality"] + TABLE["constants"]["curve_metrics"],
                  "quality: the runs' `gantape evaluate` scores; otherwise "
                  "that --eval_every record at --iterations, and its mean "
                  "+- standard deviation over the runs.")
flags.DEFINE_list("iterations", None, "The iterations (columns) of a "
                  "--table other than quality.")
flags.mark_flags_as_required(["runs"])


def _runs():
  runs = []
  for item in FLAGS.runs:
    label, sep, workdir = item.partition("=")
    if not sep or not label or not workdir:
      raise UsageError(f"--runs entry {item!r} is not LABEL=WORKDIR.")
    runs.append((label, workdir))
  return runs


def _iterations():
  try:
    iterations = [int(i) for i in FLAGS.iterations or ()]
  except ValueError:
    raise UsageError(f"--iterations={','.join(FLAGS.iterations)} is not a "
                     f"list of integers, e.g. --iterations=1000,5000.") from None
  if not iterations:
    raise UsageError(f"--table={FLAGS.table} needs --iterations, e.g. "
                     f"--iterations=1000,5000.")
  return iterations


def main(argv):
  """Prints the table (and draws the figure) per the flags; returns the
  exit code."""
  del argv

  def write_report():
    from gantape.evaluation import report  # pylint: disable=g-import-not-at-top
    runs = _runs()
    if FLAGS.table == "quality":
      print(report.markdown_table(report.quality_rows(runs)))
    else:
      print(report.curve_table(runs, _iterations(), FLAGS.table))
    if FLAGS.figure:
      labels = FLAGS.figure_runs or [label for label, _ in runs]
      plot = (report.plot_fcd if FLAGS.figure_metric == "fcd"
              else report.plot_test_error)
      plot(report.figure_runs(labels, runs), FLAGS.figure, title=FLAGS.title)
  return common.run(write_report)


def run(argv=None) -> None:
  """Parses `argv` (default `sys.argv`) and reports; exits the process."""
  common.app_run(main, argv)
