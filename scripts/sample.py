"""`gantape sample` from a checkout: see gantape/cli/sample.py or --help."""

from gantape.cli import sample

if __name__ == "__main__":
  sample.run()
