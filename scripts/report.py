"""Prints the quality table of evaluated runs and draws their FCD curves.

    python scripts/report.py --runs=seed=/tmp/q/dcgan_seed,gantape=/tmp/q/dcgan \
        [--figure=docs/fcd_vs_iterations.png] [--figure_runs=seed,gantape]

Each run is LABEL=WORKDIR, a training workdir scored by scripts/evaluate.py;
LABEL/best=WORKDIR is its best checkpoint (scored with --checkpoint=best), and
LABEL@ckpt-N=WORKDIR its checkpoints/ckpt-N (scored with --checkpoint=<prefix>).
The table (markdown, one row per run) goes to stdout; the figure plots the
`--eval_every` FCD of --figure_runs (default: all runs) against iterations;
LABEL/live there plots the live generator of a run that sampled an EMA.
"""

from absl import app
from absl import flags

from gantape import cli
from gantape import report
from gantape.errors import UsageError

FLAGS = flags.FLAGS
flags.DEFINE_list("runs", None, "LABEL=WORKDIR pairs, comma-separated; "
                  "LABEL/best or LABEL@ckpt-N selects that checkpoint's "
                  "evaluation.",
                  required=True)
flags.DEFINE_string("figure", None, "PNG path for FCD against iterations; "
                    "default: no figure.")
flags.DEFINE_list("figure_runs", None, "Labels of the runs to plot "
                  "(default: all); LABEL/live: that run's live generator.")
flags.DEFINE_string("title", "", "The figure's title.")


def main(argv):
  del argv

  def run():
    runs = []
    for item in FLAGS.runs:
      label, sep, workdir = item.partition("=")
      if not sep or not label or not workdir:
        raise UsageError(f"--runs entry {item!r} is not LABEL=WORKDIR.")
      runs.append((label, workdir))
    print(report.markdown_table(report.quality_rows(runs)))
    if FLAGS.figure:
      labels = FLAGS.figure_runs or [label for label, _ in runs]
      report.plot_fcd(report.figure_runs(labels, runs), FLAGS.figure,
                      title=FLAGS.title)
  return cli.run(run)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
