"""`gantape report`: the quality table of evaluated runs, and their FCD curves.

    gantape report --runs=seed=/tmp/q/dcgan_seed,gantape=/tmp/q/dcgan \
        [--figure=docs/fcd_vs_iterations.png] [--figure_runs=seed,gantape]

Each run is LABEL=WORKDIR, a training workdir scored by `gantape evaluate`;
LABEL/best=WORKDIR is its best checkpoint (scored with --checkpoint=best), and
LABEL@ckpt-N=WORKDIR its checkpoints/ckpt-N (scored with --checkpoint=<prefix>).
The table (markdown, one row per run) goes to stdout; the figure plots the
`--eval_every` FCD (or, with --figure_metric=test_error, SSGAN's test error)
of --figure_runs (default: all runs) against iterations; LABEL/live there
plots the live network of a run that averaged its weights.
"""

from absl import flags

from gantape.cli import common
from gantape.errors import UsageError
from gantape.evaluation import report

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
flags.mark_flags_as_required(["runs"])


def _runs():
  runs = []
  for item in FLAGS.runs:
    label, sep, workdir = item.partition("=")
    if not sep or not label or not workdir:
      raise UsageError(f"--runs entry {item!r} is not LABEL=WORKDIR.")
    runs.append((label, workdir))
  return runs


def main(argv):
  """Prints the table (and draws the figure) per the flags; returns the
  exit code."""
  del argv

  def write_report():
    runs = _runs()
    print(report.markdown_table(report.quality_rows(runs)))
    if FLAGS.figure:
      labels = FLAGS.figure_runs or [label for label, _ in runs]
      plot = (report.plot_fcd if FLAGS.figure_metric == "fcd"
              else report.plot_test_error)
      plot(report.figure_runs(labels, runs), FLAGS.figure, title=FLAGS.title)
  return common.run(write_report)


def run(argv=None) -> None:
  """Parses `argv` (default `sys.argv`) and reports; exits the process."""
  common.app_run(main, argv)
