"""`gantape train` from a checkout: see gantape/cli/train.py or --help."""

from gantape.cli import train

if __name__ == "__main__":
  train.run()
