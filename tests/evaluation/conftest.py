"""Shared by the evaluation tests: a classifier that trains in seconds."""

from gantape.evaluation import classifier as classifier_lib

TINY = classifier_lib.ClassifierConfig(width=4, feature_dim=8, epochs=1,
                                       batch_size=50)
