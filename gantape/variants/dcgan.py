"""DCGAN: the GAN losses on the seed's convolutional networks.

L_D = -log D(x) - log(1 - D(G(z))),  L_G = -log D(G(z)),  log = log_clip(1e-6).
"""

from typing import Optional

import keras

from gantape import networks
from gantape.variants import gan


class DCGAN(gan.GAN):
  """The seed's DCGAN: conv generator, conv discriminator with one sigmoid."""

  name = "dcgan"
  flat_images = False
  default_iterations = 10_000

  def __init__(self, *, generator: Optional[keras.Model] = None,
               discriminator: Optional[keras.Model] = None):
    super().__init__(
        generator=generator or networks.conv_generator(),
        discriminator=discriminator or networks.conv_discriminator(1))
