"""`gantape evaluate` from a checkout: see gantape/cli/evaluate.py or --help."""

from gantape.cli import evaluate

if __name__ == "__main__":
  evaluate.run()
