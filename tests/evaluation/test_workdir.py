"""Tests of gantape.evaluation.workdir's result file names.

`evaluate_workdir` itself runs in test_training.py, on a workdir that a tiny
training run made.
"""

from gantape.evaluation import workdir as workdir_lib
from gantape.training import checkpoints


def test_result_file_names():
  assert workdir_lib.result_file(checkpoints.LATEST) == workdir_lib.RESULT_FILE
  assert workdir_lib.result_file(checkpoints.BEST) == "evaluation_best.json"
  assert workdir_lib.result_file("/w/checkpoints/ckpt-9") == (
      "evaluation_ckpt-9.json")

