"""`gantape train-classifier` from a checkout: see gantape/cli/train_classifier.py or --help."""

from gantape.cli import train_classifier

if __name__ == "__main__":
  train_classifier.run()
