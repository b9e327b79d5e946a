"""model_summary: the networks' parameter counts in a line, or in full."""

from gantape import variants
from gantape.training import model_summary


def test_counts_and_full_summary_of_the_mlp_gan():
  variant = variants.build("gan")
  # 100 -> 128 -> 784 and 784 -> 128 -> 1, weights and biases.
  assert model_summary.parameters(variant.generator) == 114_064
  assert model_summary.parameters(variant.discriminator) == 100_609
  assert model_summary.counts(variant) == (
      "generator 114K parameters, discriminator 101K")
  full = model_summary.full(variant)
  assert full.count("Total params:") == 2
  assert "114,064" in full and "100,609" in full
