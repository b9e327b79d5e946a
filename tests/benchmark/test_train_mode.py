"""The benchmark times the step `gantape train` runs: the dataset's shape and
classes reach the variant, and a run's data loads as training loads it."""

import numpy as np
from PIL import Image

from gantape import benchmark
from gantape.benchmark import runners
from gantape.benchmark import suite


def test_a_folder_of_colour_images_builds_the_networks_for_it(tmp_path):
  rng = np.random.RandomState(0)
  for i in range(8):
    Image.fromarray(rng.randint(0, 256, [32, 32, 3]).astype(np.uint8)).save(
        tmp_path / f"{i}.png")
  config = benchmark.BenchmarkConfig(
      variants=("dcgan",), step=benchmark.step_config(
          dataset="folder", data_path=str(tmp_path),
          variant_options={"networks": "dcgan"}))
  data = suite.load_data(config, log=print)
  assert data.x_train.shape[1:] == (32, 32, 3)
  variant = runners.trainable("dcgan", data, config).variant
  assert tuple(variant.generator.output_shape[1:]) == (32, 32, 3)
