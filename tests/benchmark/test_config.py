"""The benchmark's config checks and flag parsing."""

import pytest

from gantape import benchmark
from gantape.errors import UsageError


def test_bad_implementation_is_a_usage_error():
  with pytest.raises(UsageError, match="unknown implementation"):
    benchmark.parse_list("gantape,fast", benchmark.IMPLEMENTATIONS,
                         "implementation")
  with pytest.raises(UsageError, match="timed_blocks"):
    benchmark.BenchmarkConfig(timed_blocks=0).validate()
  with pytest.raises(UsageError, match="does not split"):
    benchmark.BenchmarkConfig(
        step=benchmark.step_config(updates_per_batch=3)).validate()
  with pytest.raises(UsageError, match="'cgan' takes no option gp_weight"):
    benchmark.BenchmarkConfig(
        variants=("dcgan", "cgan"),
        step=benchmark.step_config(
            variant_options={"gp_weight": 1.0})).validate()


def test_parse_memory_iterations():
  assert benchmark.parse_memory_iterations(None) is None
  assert benchmark.parse_memory_iterations("2000") == {"*": 2000}
  assert benchmark.parse_memory_iterations("gan=20000, dcgan=300") == {
      "gan": 20000, "dcgan": 300}
  with pytest.raises(UsageError, match="variant=number pairs"):
    benchmark.parse_memory_iterations("gan=many")
  config = benchmark.BenchmarkConfig(memory_iterations={"gan": 5, "*": 7})
  assert config.memory_iterations_for("gan") == 5
  assert config.memory_iterations_for("dcgan") == 7
  assert benchmark.BenchmarkConfig().memory_iterations_for("gan") is None
