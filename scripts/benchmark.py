"""`gantape benchmark` from a checkout: see gantape/cli/benchmark.py or --help."""

from gantape.cli import benchmark

if __name__ == "__main__":
  benchmark.run()
