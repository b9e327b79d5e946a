"""Step throughput and memory: gantape's step beside the seed's compile/fit."""

from gantape.benchmark.suite import (IMPLEMENTATIONS, BenchmarkConfig,
                                     format_table, parse_list,
                                     parse_memory_iterations, run)
