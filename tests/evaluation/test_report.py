"""The quality table and the FCD and test-error figures, from hand-made
workdirs."""

import json

import pytest

from gantape.evaluation import report
from gantape.errors import UsageError


def make_run(path, *, run, evaluation=None, fcd_curve=(), live_fcd_curve=()):
  path.mkdir()
  (path / "run.json").write_text(json.dumps(run))
  if evaluation is not None:
    (path / "evaluation.json").write_text(json.dumps(evaluation))
  with open(path / "metrics.jsonl", "w") as f:
    f.write(json.dumps({"step": 500, "d_loss": 1.0}) + "\n")
    for step, fcd in fcd_curve:
      record = {"step": step, "eval/fcd": fcd, "eval/floor_fcd": 0.35}
      record.update({"eval/live_fcd": live for live_step, live in
                     live_fcd_curve if live_step == step})
      f.write(json.dumps(record) + "\n")
    f.write('{"step": 3000, "eval/f')  # a torn last line is skipped
  return str(path)


SEED_RUN = {"variant": "cgan", "variant_options": {"sync_batch_norm": None},
            "seed": 0, "preset": "seed", "learning_rate": 1e-3, "beta_1": 0.9,
            "batch_size": 64, "updates_per_batch": 2, "ema_decay": 0.0}
CGAN_EVALUATION = {"step": 2000, "fcd": 3.0, "floor_fcd": 0.15,
                   "fcd_over_floor": 20.0, "classifier_score": 9.5,
                   "coverage": 10, "conditional_accuracy": 0.996,
                   "per_class_fcd": 1.5, "per_class_floor_fcd": 0.5,
                   "num_samples": 10000, "sampling": "ema",
                   "test_error": 0.3,  # CGAN's D: not an SSGAN test error
                   "raw_generator": {"fcd": 3.5}}


def test_table_row_reports_settings_and_scores(tmp_path):
  workdir = make_run(tmp_path / "cgan_seed", run=SEED_RUN,
                     evaluation=CGAN_EVALUATION)
  table = report.markdown_table([report.quality_row(workdir)])
  header, rule, row = table.splitlines()
  assert header.count("|") == rule.count("|") == row.count("|")
  cells = [c.strip() for c in row.strip("|").split("|")]
  assert cells == ["cgan_seed", "Adam(0.001, 0.9) 2x32", "2000",
                   "3.00 (20.0x)", "3.50", "9.50", "10/10",
                   "99.60% / 1.50 (3.0x)", "n/a"]


def test_rows_of_a_runs_best_and_named_checkpoints(tmp_path):
  workdir = make_run(tmp_path / "cgan", run=SEED_RUN,
                     evaluation=CGAN_EVALUATION)
  for name, step in (("evaluation_best.json", 1000),
                     ("evaluation_ckpt-1500.json", 1500)):
    (tmp_path / "cgan" / name).write_text(
        json.dumps({**CGAN_EVALUATION, "step": step}))
  rows = report.quality_rows([("cgan", workdir), ("cgan/best", workdir),
                              ("cgan@ckpt-1500", workdir)])
  assert [(r["name"], r["iterations"]) for r in rows] == [
      ("cgan", 2000), ("cgan/best", 1000), ("cgan@ckpt-1500", 1500)]
  with pytest.raises(UsageError, match="--checkpoint=.*ckpt-900"):
    report.quality_rows([("cgan@ckpt-900", workdir)])


def test_missing_evaluation_names_the_fix(tmp_path):
  workdir = make_run(tmp_path / "run", run=SEED_RUN)
  with pytest.raises(UsageError, match="gantape evaluate --workdir="):
    report.quality_row(workdir)


def test_fcd_figure(tmp_path):
  a = make_run(tmp_path / "a", run=SEED_RUN,
               fcd_curve=[(1000, 20.0), (2000, 5.0)])
  assert report.fcd_curve(a) == ([1000, 2000], [20.0, 5.0], 0.35)
  png = tmp_path / "fcd.png"
  report.plot_fcd([("seed", a)], str(png), title="t")
  assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  empty = make_run(tmp_path / "empty", run=SEED_RUN)
  with pytest.raises(UsageError, match="--eval_every"):
    report.plot_fcd([("seed", a), ("empty", empty)], str(png))


def test_test_error_figure(tmp_path):
  path = tmp_path / "ssgan"
  path.mkdir()
  (path / "run.json").write_text(json.dumps({**SEED_RUN, "variant": "ssgan"}))
  records = [{"step": 500, "d_loss": 1.0},
             {"step": 1000, "eval/test_accuracy": 0.75,
              "eval/live_test_accuracy": 0.5},
             {"step": 2000, "eval/test_accuracy": 0.99}]
  (path / "metrics.jsonl").write_text(
      "".join(json.dumps(r) + "\n" for r in records))
  steps, errors = report.test_error_curve(str(path))
  assert steps == [1000, 2000]
  assert errors == pytest.approx([0.25, 0.01])
  assert report.test_error_curve(str(path), live=True) == ([1000], [0.5])
  png = tmp_path / "error.png"
  report.plot_test_error([("s0", str(path)), ("s0/live", str(path))],
                         str(png))
  assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  no_eval = make_run(tmp_path / "no_eval", run=SEED_RUN,
                     fcd_curve=[(1000, 20.0)])
  with pytest.raises(UsageError, match="has no test-accuracy records"):
    report.plot_test_error([("cgan", no_eval)], str(png))


def _ssgan_run(path, accuracies, live_accuracies=()):
  """A workdir whose metrics.jsonl holds these (step, accuracy) records."""
  path.mkdir()
  with open(path / "metrics.jsonl", "w") as f:
    for step, accuracy in accuracies:
      record = {"step": step, "eval/test_accuracy": accuracy}
      record.update({"eval/live_test_accuracy": live for live_step, live
                     in live_accuracies if live_step == step})
      f.write(json.dumps(record) + "\n")
  return str(path)


def test_curve_table_lists_each_run_and_the_mean_over_runs(tmp_path):
  # Errors 2, 3 and 4% at 1000: mean 3.00, sample sd 1.00. The third run
  # has no 2000, so that column has no mean; a re-evaluated 1000 (after a
  # resume) counts once, the later record.
  s0 = _ssgan_run(tmp_path / "s0", [(1000, 0.5), (1000, 0.98), (2000, 0.99)],
                  live_accuracies=[(1000, 0.9)])
  s1 = _ssgan_run(tmp_path / "s1", [(1000, 0.97), (2000, 0.985)])
  s2 = _ssgan_run(tmp_path / "s2", [(1000, 0.96)])
  table = report.curve_table(
      [("s0", s0), ("s1", s1), ("s2", s2), ("s0/live", s0)], [2000, 1000])
  assert table.splitlines() == [
      "| run | 1,000 | 2,000 |",
      "|---|---:|---:|",
      "| s0 | 2.00% | 1.00% |",
      "| s1 | 3.00% | 1.50% |",
      "| s2 | 4.00% |  |",
      "| s0/live | 10.00% |  |",
      "| mean +- sd (3 runs) | 3.00% +- 1.00 |  |"]
  assert "mean" not in report.curve_table([("s0", s0)], [1000])  # no spread
  with pytest.raises(UsageError, match="has no eval/coverage records"):
    report.curve_table([("s0", s0)], [1000], "coverage")
  with pytest.raises(UsageError, match="unknown curve metric 'kid'"):
    report.curve_table([("s0", s0)], [1000], "kid")
  with pytest.raises(UsageError, match="at least one iteration"):
    report.curve_table([("s0", s0)], [])
  with pytest.raises(UsageError, match="name a workdir that `gantape train`"):
    report.curve_table([("none", str(tmp_path / "none"))], [1000])


def test_fcd_axis_names_the_sample_count(tmp_path):
  runs = [make_run(tmp_path / f"r{n}_{i}", run={**SEED_RUN, "eval_samples": n})
          for i, n in enumerate((2000, 2000, 500))]
  assert report.fcd_axis_label(runs[:2]) == "FCD (2000 samples)"
  assert report.fcd_axis_label(runs) == "FCD (mixed sample counts)"


def test_live_generator_curve(tmp_path):
  ema = make_run(tmp_path / "ema", run=SEED_RUN,
                 fcd_curve=[(1000, 20.0), (2000, 5.0)],
                 live_fcd_curve=[(1000, 18.0), (2000, 6.0)])
  assert report.fcd_curve(ema, live=True) == ([1000, 2000], [18.0, 6.0], 0.35)
  png = tmp_path / "fcd.png"
  report.plot_fcd([("gantape", ema), ("gantape/live", ema)], str(png))
  assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  assert report.figure_runs(["gantape/live"], [("gantape", ema)]) == [
      ("gantape/live", ema)]
  with pytest.raises(UsageError, match="not in --runs"):
    report.figure_runs(["other/live"], [("gantape", ema)])
  no_ema = make_run(tmp_path / "no_ema", run=SEED_RUN,
                    fcd_curve=[(1000, 20.0)])
  with pytest.raises(UsageError, match="--ema_decay"):
    report.plot_fcd([("seed/live", no_ema)], str(png))


def test_settings_show_the_runs_own_batch(tmp_path):
  run = {**SEED_RUN, "batch_size": 100, "updates_per_batch": 1,
         "learning_rate": 1e-3, "beta_1": 0.5}
  workdir = make_run(tmp_path / "cgan_100", run=run,
                     evaluation=CGAN_EVALUATION)
  table = report.markdown_table([report.quality_row(workdir)])
  assert "| Adam(0.001, 0.5) 1x100 |" in table


@pytest.mark.parametrize("evaluation, kind", [([1, 2], "list"), (3.5, "float"),
                                              ("fcd", "str")])
def test_an_evaluation_that_is_not_an_object_is_one_line(tmp_path, evaluation,
                                                         kind):
  workdir = make_run(tmp_path / "run", run=SEED_RUN, evaluation=evaluation)
  with pytest.raises(UsageError) as refused:
    report.quality_row(workdir)
  assert str(refused.value) == (
      f"evaluation {workdir}/evaluation.json holds a JSON {kind}, not an "
      f"object of scores: run `gantape evaluate --workdir={workdir}` first.")
