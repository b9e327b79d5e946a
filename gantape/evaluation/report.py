"""The README's quality table and FCD figure, from evaluated training runs.

A run is a `gantape.train` workdir that `gantape evaluate` has scored
(`evaluation.json`, or `evaluation_best.json` for its best checkpoint).
`quality_row` reads one; `markdown_table` formats rows;
`plot_fcd` draws the `--eval_every` FCD curves of several runs (their
`eval/fcd` records in metrics.jsonl) on one log-scale axis, with the real-data
floor as a line, so that seed settings and gantape's defaults are compared on
the same figure; `curve_table` lists such records at chosen iterations, with
their mean and spread over runs (seeds).
"""

import json
import os
import statistics
from typing import Any, Dict, List, Optional, Sequence, Tuple

# Agg renders to files only: reports are made on machines without a display.
import matplotlib
matplotlib.use("Agg")
from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position

from gantape import data as data_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from gantape import files  # pylint: disable=g-import-not-at-top,wrong-import-position
from gantape.errors import UsageError  # pylint: disable=g-import-not-at-top,wrong-import-position
from gantape.evaluation import workdir as workdir_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from gantape.training import checkpoints  # pylint: disable=g-import-not-at-top,wrong-import-position
from gantape.training import curves  # pylint: disable=g-import-not-at-top,wrong-import-position

# Marks a figure label as the live generator of a run that sampled an EMA.
LIVE_SUFFIX = "/live"
# Marks a table label as a run's best checkpoint (`evaluation_best.json`).
BEST_SUFFIX = "/best"
# LABEL@ckpt-N in a table label: that checkpoint's evaluation
# (`evaluation_ckpt-N.json`, from `evaluate.py --checkpoint=<prefix>`).
CHECKPOINT_MARK = "@"

# `curve_table`'s metrics: name -> (metrics.jsonl key, the live network's
# key, the cell's value from a record, a run's decimals, unit). Means and
# standard deviations have two decimals.
CURVE_METRICS = {
    "test_error": ("eval/test_accuracy", "eval/live_test_accuracy",
                   lambda accuracy: 100.0 * (1.0 - accuracy), 2, "%"),
    "fcd": ("eval/fcd", "eval/live_fcd", float, 2, ""),
    "coverage": ("eval/coverage", "eval/live_coverage", float, 0, ""),
}

# What the table shows of a run's config, beside the variant.
_SETTINGS = ("preset", "learning_rate", "beta_1", "batch_size",
             "updates_per_batch", "ema_decay")


def _read_evaluation(workdir: str, checkpoint: str) -> Dict[str, Any]:
  path = os.path.join(workdir, workdir_lib.result_file(checkpoint))
  flag = ("" if checkpoint == checkpoints.LATEST
          else f" --checkpoint={checkpoint}")
  fix = f"run `gantape evaluate --workdir={workdir}{flag}` first."
  try:
    with open(path) as f:
      result = json.load(f)
  except FileNotFoundError:
    raise UsageError(f"{path} does not exist: {fix}") from None
  except (OSError, ValueError) as e:
    raise UsageError(f"evaluation {path} is unreadable ({e}): {fix}") from None
  if not isinstance(result, dict):
    raise UsageError(f"evaluation {path} holds a JSON {type(result).__name__}"
                     f", not an object of scores: {fix}")
  return result


def quality_row(workdir: str, name: Optional[str] = None,
                checkpoint: str = checkpoints.LATEST) -> Dict[str, Any]:
  """One table row: a run's config and its `evaluation.json` scores.

  Args:
    workdir: a workdir that `gantape evaluate` has scored.
    name: the row's label; default: the workdir's base name.
    checkpoint: which evaluation: "latest" (`evaluation.json`), "best"
      (`evaluation_best.json`, from `--checkpoint=best`), or a checkpoint
      prefix (`evaluation_<name>.json`, from `--checkpoint=<prefix>`).

  Raises:
    UsageError: the run or its evaluation is missing or unreadable.
  """
  run = checkpoints.read_run(workdir)
  result = _read_evaluation(workdir, checkpoint)
  row = {"name": name or os.path.basename(os.path.normpath(workdir)),
         "variant": run.get("variant"),
         "variant_options": {k: v for k, v in
                             run.get("variant_options", {}).items()
                             if v is not None},
         "iterations": result.get("step"), "seed": run.get("seed"),
         "num_samples": result.get("num_samples")}
  row.update({k: run.get(k) for k in _SETTINGS})
  row["num_classes"] = len(result.get("class_histogram") or ()) or None
  for key in ("fcd", "floor_fcd", "fcd_over_floor", "classifier_score",
              "coverage", "conditional_accuracy", "per_class_fcd",
              "per_class_floor_fcd", "test_error", "sampling"):
    row[key] = result.get(key)
  raw = result.get("raw_generator") or {}
  row["live_fcd"] = raw.get("fcd")
  return row


def quality_rows(runs: Sequence[Tuple[str, str]]) -> List[Dict[str, Any]]:
  """`quality_row` of each (label, workdir).

  A label ending in `BEST_SUFFIX` (LABEL/best) reads the run's best
  checkpoint's evaluation; LABEL@ckpt-N reads that of the workdir's
  checkpoints/ckpt-N.
  """
  rows = []
  for label, workdir in runs:
    checkpoint = checkpoints.LATEST
    if label.endswith(BEST_SUFFIX):
      checkpoint = checkpoints.BEST
    elif CHECKPOINT_MARK in label:
      checkpoint = os.path.join(workdir, checkpoints.CHECKPOINT_DIR,
                                label.rsplit(CHECKPOINT_MARK, 1)[1])
    rows.append(quality_row(workdir, label, checkpoint))
  return rows


def _settings_text(row: Dict[str, Any]) -> str:
  # The resolved values, not the preset's name: a preset's contents may
  # change between releases, a run's settings do not.
  parts = [f"Adam({row['learning_rate']:g}, {row['beta_1']:g})"]
  if row.get("updates_per_batch") and row.get("batch_size"):
    # Updates per network per iteration x examples per update.
    updates = row["updates_per_batch"]
    parts.append(f"{updates}x{row['batch_size'] // updates}")
  if row.get("ema_decay"):
    parts.append(f"EMA {row['ema_decay']:g}")
  parts += [f"{k}={v}" for k, v in row["variant_options"].items()
            if k not in ("label_seed", "sync_batch_norm")]
  return " ".join(parts)


def _number(value, fmt: str) -> str:
  return "n/a" if value is None else format(value, fmt)


def markdown_table(rows: Sequence[Dict[str, Any]]) -> str:
  """The rows as a GitHub-markdown table (one line per run)."""
  lines = ["| run | settings | iterations | FCD (x floor) | live-G FCD | "
           "classifier score | coverage | CGAN cond. acc. / per-class FCD "
           "(x floor) | SSGAN test error |",
           "|---|---|---:|---|---:|---:|---:|---|---:|"]
  for r in rows:
    fcd = f"{_number(r['fcd'], '.2f')} ({_number(r['fcd_over_floor'], '.1f')}x)"
    cond = "n/a"
    if r.get("conditional_accuracy") is not None:
      ratio = (r["per_class_fcd"] / r["per_class_floor_fcd"]
               if r.get("per_class_floor_fcd")
               and r.get("per_class_fcd") is not None else None)
      cond = (f"{r['conditional_accuracy']:.2%} / "
              f"{_number(r['per_class_fcd'], '.2f')} "
              f"({_number(ratio, '.1f')}x)")
    # CGAN's discriminator also has a test error, but it is not the
    # semi-supervised classifier the column is about.
    error = (f"{r['test_error']:.2%}" if r["variant"] == "ssgan"
             and r.get("test_error") is not None else "n/a")
    classes = r.get("num_classes") or data_lib.NUM_CLASSES
    coverage = (f"{r['coverage']}/{classes}"
                if r.get("coverage") is not None else "n/a")
    lines.append(
        f"| {r['name']} | {_settings_text(r)} | {r['iterations']} | {fcd} | "
        f"{_number(r.get('live_fcd'), '.2f')} | "
        f"{_number(r['classifier_score'], '.2f')} | {coverage} | "
        f"{cond} | {error} |")
  return "\n".join(lines)


def _records(workdir: str) -> List[Dict[str, Any]]:
  """The records of a run's metrics.jsonl.

  Raises:
    UsageError: the workdir has no metrics.jsonl.
  """
  path = os.path.join(workdir, curves.METRICS_FILE)
  try:
    return curves.read_metrics(path)
  except FileNotFoundError:
    raise UsageError(f"{path} does not exist: name a workdir that "
                     f"`gantape train` wrote.") from None


def _points(records: Sequence[Dict[str, Any]], key: str) -> Dict[int, float]:
  """{iteration: value} of the records holding `key`; the last one wins
  where a resumed run evaluated an iteration again."""
  return {r["step"]: r[key] for r in records if key in r}


def fcd_curve(workdir: str, live: bool = False
              ) -> Tuple[List[int], List[float], Optional[float]]:
  """(iterations, FCD, floor FCD) of a run's `--eval_every` evaluations.

  Args:
    workdir: a run trained with `--eval_every`.
    live: the live generator's FCD (`eval/live_fcd`) of a run that sampled an
      EMA, instead of the sampled generator's (`eval/fcd`).
  """
  records = _records(workdir)
  points = _points(records, "eval/live_fcd" if live else "eval/fcd")
  floors = list(_points(records, "eval/floor_fcd").values())
  return list(points), list(points.values()), floors[-1] if floors else None


def figure_runs(labels: Sequence[str], runs: Sequence[Tuple[str, str]]
                ) -> List[Tuple[str, str]]:
  """(label, workdir) pairs for `plot_fcd`, from labels of `runs`.

  Args:
    labels: labels of `runs`; LABEL/live names that run's live generator.
    runs: (label, workdir) pairs.

  Raises:
    UsageError: a label names no run.
  """
  known = dict(runs)
  missing = [label for label in labels
             if label.removesuffix(LIVE_SUFFIX) not in known]
  if missing:
    raise UsageError(f"--figure_runs names {missing}, which are not in "
                     f"--runs.")
  return [(label, known[label.removesuffix(LIVE_SUFFIX)]) for label in labels]


def fcd_axis_label(workdirs: Sequence[str]) -> str:
  """The FCD axis label, with the runs' `--eval_samples`.

  The FCD of few samples is biased upwards, so curves of different sample
  counts (and their floors) are not comparable; the label says which.
  """
  counts = {checkpoints.read_run(w).get("eval_samples") for w in workdirs}
  if len(counts) == 1 and None not in counts:
    return f"FCD ({counts.pop()} samples)"
  return "FCD (mixed sample counts)"


def test_error_curve(workdir: str, live: bool = False
                     ) -> Tuple[List[int], List[float]]:
  """(iterations, test error) of a classifying discriminator's `--eval_every`
  evaluations (SSGAN's): 1 - `eval/test_accuracy`.

  Args:
    workdir: a run trained with `--eval_every`.
    live: the live discriminator's error (`eval/live_test_accuracy`) of a run
      that averaged its weights, instead of the average's.
  """
  points = _points(_records(workdir), "eval/live_test_accuracy" if live
                   else "eval/test_accuracy")
  return list(points), [1.0 - a for a in points.values()]


def _table_line(label: str, cells: Sequence[str]) -> str:
  return f"| {label} | " + " | ".join(cells) + " |"


def curve_table(runs: Sequence[Tuple[str, str]], iterations: Sequence[int],
                metric: str = "test_error") -> str:
  """A markdown table of `--eval_every` records at `iterations`.

  One row per run, then per group of runs (the "/live" ones and the others)
  with two or more members a row "mean +- sd": the mean and the sample
  standard deviation over the group, at each iteration every member reached.

  Args:
    runs: (label, workdir) pairs; a label ending in "/live" reads the run's
      live network (`eval/live_*`), recorded when it averaged its weights.
    iterations: the columns; a run without a record there has an empty cell.
    metric: a key of `CURVE_METRICS`; "test_error" is in percent.

  Raises:
    UsageError: an unknown metric, no iterations, or a run without records.
  """
  if metric not in CURVE_METRICS:
    raise UsageError(f"unknown curve metric {metric!r}; one of "
                     f"{sorted(CURVE_METRICS)}.")
  if not iterations:
    raise UsageError("curve_table needs at least one iteration.")
  key, live_key, value_of, decimals, unit = CURVE_METRICS[metric]
  columns = sorted(set(iterations))
  lines = [_table_line("run", [f"{i:,}" for i in columns]),
           "|---|" + "---:|" * len(columns)]
  groups: Dict[bool, List[List[Optional[float]]]] = {}
  for label, workdir in runs:
    live = label.endswith(LIVE_SUFFIX)
    points = _points(_records(workdir), live_key if live else key)
    if not points:
      raise UsageError(f"{workdir} has no {live_key if live else key} "
                       f"records; train it with --eval_every=N.")
    values = [value_of(points[i]) if i in points else None for i in columns]
    groups.setdefault(live, []).append(values)
    lines.append(_table_line(label, ["" if v is None
                                     else f"{v:.{decimals}f}{unit}"
                                     for v in values]))
  for live, rows in groups.items():
    if len(rows) > 1:
      cells = [f"{statistics.mean(col):.2f}{unit} +- "
               f"{statistics.stdev(col):.2f}" if None not in col else ""
               for col in zip(*rows)]
      lines.append(_table_line(
          f"mean +- sd{', live' if live else ''} ({len(rows)} runs)", cells))
  return "\n".join(lines)


def plot_fcd(runs: Sequence[Tuple[str, str]], png_path: str,
             title: str = "") -> None:
  """FCD against iterations for several runs, on one log-scale axis.

  Args:
    runs: (label, workdir) pairs; each workdir trained with `--eval_every`.
      A label ending in "/live" plots the run's live generator
      (`eval/live_fcd`, recorded when the run sampled an EMA).
    png_path: where the PNG goes (written atomically).
    title: the figure's title.

  Raises:
    UsageError: a run has no `eval/fcd` records.
  """
  series, floor = [], None
  for label, workdir in runs:
    live = label.endswith(LIVE_SUFFIX)
    steps, values, run_floor = fcd_curve(workdir, live=live)
    if not steps:
      raise UsageError(
          f"{workdir} has no {'eval/live_fcd' if live else 'eval/fcd'} "
          f"records; train it with --eval_every=N"
          f"{' and --ema_decay > 0' if live else ''}.")
    series.append((label, steps, values))
    floor = floor or run_floor
  lines = []
  if floor:
    lines = [(floor, ":", f"real-data floor ({floor:.2f})"),
             (3 * floor, "--", "3x floor (target)")]
  _plot(series, lines, fcd_axis_label([workdir for _, workdir in runs]),
        png_path, title)


def plot_test_error(runs: Sequence[Tuple[str, str]], png_path: str,
                    title: str = "") -> None:
  """Test error against iterations for several runs, on a log-scale axis.

  Args:
    runs: (label, workdir) pairs of runs with a classifying discriminator
      trained with `--eval_every`; a label ending in "/live" plots the live
      discriminator of a run that averaged its weights.
    png_path: where the PNG goes (written atomically).
    title: the figure's title.

  Raises:
    UsageError: a run has no test-accuracy records.
  """
  series = []
  for label, workdir in runs:
    live = label.endswith(LIVE_SUFFIX)
    steps, errors = test_error_curve(workdir, live=live)
    if not steps:
      raise UsageError(
          f"{workdir} has no test-accuracy records; train a variant whose "
          f"discriminator classifies (ssgan) with --eval_every=N"
          f"{' and --discriminator_ema_decay > 0' if live else ''}.")
    series.append((label, steps, [100 * e for e in errors]))
  _plot(series, [], "test error (%)", png_path, title)


def _plot(series: Sequence[Tuple[str, List[int], List[float]]],
          lines: Sequence[Tuple[float, str, str]], ylabel: str,
          png_path: str, title: str) -> None:
  """Curves (label, x, y) and horizontal (y, style, label) lines on one
  log-scale axis, saved atomically to `png_path`."""
  fig, ax = plt.subplots(figsize=(7, 3.6))
  for label, steps, values in series:
    ax.plot(steps, values, marker="o", markersize=3, linewidth=1.2,
            label=label)
  for y, style, label in lines:
    ax.axhline(y, color="gray", linestyle=style, linewidth=1, label=label)
  ax.set_yscale("log")
  ax.set_xlabel("iteration")
  ax.set_ylabel(ylabel)
  ax.grid(alpha=0.3, which="both")
  ax.legend(fontsize="small")
  if title:
    ax.set_title(title)
  fig.subplots_adjust(left=0.11, right=0.97, top=0.9 if title else 0.96,
                      bottom=0.14)
  try:
    with files.atomic_path(png_path) as tmp:
      fig.savefig(tmp, dpi=80)
  finally:
    plt.close(fig)
