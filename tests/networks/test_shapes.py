"""Networks of any image shape; at 28x28x1 exactly the seed's models.

`SEED_VARIABLES` is each network's (variable path, shape) list as the code
of commit f96b48f (before networks took an image shape) builds it, and
`SEED_VARIANT_VARIABLES` each variant's, recorded once from that commit and
written out here: the default builds must match them, name for name and
shape for shape, in order, so checkpoints load.
"""

import keras
import numpy as np
import pytest

from gantape.networks import dcgan as dcgan_networks
from gantape.networks import salimans as salimans_networks
from gantape.networks import seed
from gantape import variants
from gantape.errors import UsageError

SEED_VARIABLES = {
    'mlp_generator': [
        ('mlp_generator/dense/kernel', (100, 128)),
        ('mlp_generator/dense/bias', (128,)),
        ('mlp_generator/dense_1/kernel', (128, 784)),
        ('mlp_generator/dense_1/bias', (784,)),
    ],
    'mlp_discriminator': [
        ('mlp_discriminator/dense/kernel', (784, 128)),
        ('mlp_discriminator/dense/bias', (128,)),
        ('mlp_discriminator/dense_1/kernel', (128, 1)),
        ('mlp_discriminator/dense_1/bias', (1,)),
    ],
    'conv_generator': [
        ('conv_generator/dense/kernel', (100, 3136)),
        ('conv_generator/dense/bias', (3136,)),
        ('conv_generator/batch_normalization/gamma', (3136,)),
        ('conv_generator/batch_normalization/beta', (3136,)),
        ('conv_generator/batch_normalization/moving_mean', (3136,)),
        ('conv_generator/batch_normalization/moving_variance', (3136,)),
        ('conv_generator/conv2d_transpose/kernel', (3, 3, 64, 64)),
        ('conv_generator/conv2d_transpose/bias', (64,)),
        ('conv_generator/batch_normalization_1/gamma', (64,)),
        ('conv_generator/batch_normalization_1/beta', (64,)),
        ('conv_generator/batch_normalization_1/moving_mean', (64,)),
        ('conv_generator/batch_normalization_1/moving_variance', (64,)),
        ('conv_generator/conv2d_transpose_1/kernel', (3, 3, 1, 64)),
        ('conv_generator/conv2d_transpose_1/bias', (1,)),
    ],
    'conv_discriminator_1': [
        ('conv_discriminator/conv2d/kernel', (3, 3, 1, 64)),
        ('conv_discriminator/conv2d/bias', (64,)),
        ('conv_discriminator/batch_normalization/gamma', (64,)),
        ('conv_discriminator/batch_normalization/beta', (64,)),
        ('conv_discriminator/batch_normalization/moving_mean', (64,)),
        ('conv_discriminator/batch_normalization/moving_variance', (64,)),
        ('conv_discriminator/conv2d_1/kernel', (3, 3, 64, 64)),
        ('conv_discriminator/conv2d_1/bias', (64,)),
        ('conv_discriminator/batch_normalization_1/gamma', (64,)),
        ('conv_discriminator/batch_normalization_1/beta', (64,)),
        ('conv_discriminator/batch_normalization_1/moving_mean', (64,)),
        ('conv_discriminator/batch_normalization_1/moving_variance', (64,)),
        ('conv_discriminator/dense/kernel', (3136, 128)),
        ('conv_discriminator/dense/bias', (128,)),
        ('conv_discriminator/batch_normalization_2/gamma', (128,)),
        ('conv_discriminator/batch_normalization_2/beta', (128,)),
        ('conv_discriminator/batch_normalization_2/moving_mean', (128,)),
        ('conv_discriminator/batch_normalization_2/moving_variance', (128,)),
        ('conv_discriminator/dense_1/kernel', (128, 1)),
        ('conv_discriminator/dense_1/bias', (1,)),
    ],
    'conv_discriminator_11': [
        ('conv_discriminator/conv2d/kernel', (3, 3, 1, 64)),
        ('conv_discriminator/conv2d/bias', (64,)),
        ('conv_discriminator/batch_normalization/gamma', (64,)),
        ('conv_discriminator/batch_normalization/beta', (64,)),
        ('conv_discriminator/batch_normalization/moving_mean', (64,)),
        ('conv_discriminator/batch_normalization/moving_variance', (64,)),
        ('conv_discriminator/conv2d_1/kernel', (3, 3, 64, 64)),
        ('conv_discriminator/conv2d_1/bias', (64,)),
        ('conv_discriminator/batch_normalization_1/gamma', (64,)),
        ('conv_discriminator/batch_normalization_1/beta', (64,)),
        ('conv_discriminator/batch_normalization_1/moving_mean', (64,)),
        ('conv_discriminator/batch_normalization_1/moving_variance', (64,)),
        ('conv_discriminator/dense/kernel', (3136, 128)),
        ('conv_discriminator/dense/bias', (128,)),
        ('conv_discriminator/batch_normalization_2/gamma', (128,)),
        ('conv_discriminator/batch_normalization_2/beta', (128,)),
        ('conv_discriminator/batch_normalization_2/moving_mean', (128,)),
        ('conv_discriminator/batch_normalization_2/moving_variance', (128,)),
        ('conv_discriminator/dense_1/kernel', (128, 11)),
        ('conv_discriminator/dense_1/bias', (11,)),
    ],
    'critic': [
        ('critic/conv2d/kernel', (3, 3, 1, 64)),
        ('critic/conv2d/bias', (64,)),
        ('critic/conv2d_1/kernel', (3, 3, 64, 64)),
        ('critic/conv2d_1/bias', (64,)),
        ('critic/dense/kernel', (3136, 128)),
        ('critic/dense/bias', (128,)),
        ('critic/dense_1/kernel', (128, 1)),
        ('critic/dense_1/bias', (1,)),
    ],
    'conditional_generator': [
        ('conv_generator_body/dense/kernel', (110, 3136)),
        ('conv_generator_body/dense/bias', (3136,)),
        ('conv_generator_body/batch_normalization/gamma', (3136,)),
        ('conv_generator_body/batch_normalization/beta', (3136,)),
        ('conv_generator_body/batch_normalization/moving_mean', (3136,)),
        ('conv_generator_body/batch_normalization/moving_variance', (3136,)),
        ('conv_generator_body/conv2d_transpose/kernel', (3, 3, 64, 64)),
        ('conv_generator_body/conv2d_transpose/bias', (64,)),
        ('conv_generator_body/batch_normalization_1/gamma', (64,)),
        ('conv_generator_body/batch_normalization_1/beta', (64,)),
        ('conv_generator_body/batch_normalization_1/moving_mean', (64,)),
        ('conv_generator_body/batch_normalization_1/moving_variance', (64,)),
        ('conv_generator_body/conv2d_transpose_1/kernel', (3, 3, 1, 64)),
        ('conv_generator_body/conv2d_transpose_1/bias', (1,)),
    ],
    'salimans_generator': [
        ('salimans_generator/dense/kernel', (100, 500)),
        ('salimans_generator/batch_normalization/beta', (500,)),
        ('salimans_generator/batch_normalization/moving_mean', (500,)),
        ('salimans_generator/batch_normalization/moving_variance', (500,)),
        ('salimans_generator/dense_1/kernel', (500, 500)),
        ('salimans_generator/batch_normalization_1/beta', (500,)),
        ('salimans_generator/batch_normalization_1/moving_mean', (500,)),
        ('salimans_generator/batch_normalization_1/moving_variance', (500,)),
        ('salimans_generator/weight_norm_dense/v', (500, 784)),
        ('salimans_generator/weight_norm_dense/g', (784,)),
        ('salimans_generator/weight_norm_dense/b', (784,)),
        ('salimans_generator/weight_norm_dense/initialized', ()),
    ],
    'salimans_discriminator': [
        ('seed_generator/seed_generator_state', (2,)),
        ('salimans_discriminator/weight_norm_dense/v', (784, 1000)),
        ('salimans_discriminator/weight_norm_dense/b', (1000,)),
        ('salimans_discriminator/weight_norm_dense/g', (1000,)),
        ('salimans_discriminator/weight_norm_dense/initialized', ()),
        ('seed_generator_1/seed_generator_state', (2,)),
        ('salimans_discriminator/weight_norm_dense_1/v', (1000, 500)),
        ('salimans_discriminator/weight_norm_dense_1/b', (500,)),
        ('salimans_discriminator/weight_norm_dense_1/g', (500,)),
        ('salimans_discriminator/weight_norm_dense_1/initialized', ()),
        ('seed_generator_2/seed_generator_state', (2,)),
        ('salimans_discriminator/weight_norm_dense_2/v', (500, 250)),
        ('salimans_discriminator/weight_norm_dense_2/b', (250,)),
        ('salimans_discriminator/weight_norm_dense_2/g', (250,)),
        ('salimans_discriminator/weight_norm_dense_2/initialized', ()),
        ('seed_generator_3/seed_generator_state', (2,)),
        ('salimans_discriminator/weight_norm_dense_3/v', (250, 250)),
        ('salimans_discriminator/weight_norm_dense_3/b', (250,)),
        ('salimans_discriminator/weight_norm_dense_3/g', (250,)),
        ('salimans_discriminator/weight_norm_dense_3/initialized', ()),
        ('seed_generator_4/seed_generator_state', (2,)),
        ('salimans_discriminator/weight_norm_dense_4/v', (250, 250)),
        ('salimans_discriminator/weight_norm_dense_4/b', (250,)),
        ('salimans_discriminator/weight_norm_dense_4/g', (250,)),
        ('salimans_discriminator/weight_norm_dense_4/initialized', ()),
        ('seed_generator_5/seed_generator_state', (2,)),
        ('salimans_discriminator/weight_norm_dense_5/v', (250, 10)),
        ('salimans_discriminator/weight_norm_dense_5/g', (10,)),
        ('salimans_discriminator/weight_norm_dense_5/b', (10,)),
        ('salimans_discriminator/weight_norm_dense_5/initialized', ()),
    ],
}

SEED_BUILDS = {
    "mlp_generator": seed.mlp_generator,
    "mlp_discriminator": seed.mlp_discriminator,
    "conv_generator": seed.conv_generator,
    "conv_discriminator_1": lambda: seed.conv_discriminator(1),
    "conv_discriminator_11": lambda: seed.conv_discriminator(
        11, output_activation="softmax"),
    "critic": lambda: seed.conv_discriminator(
        1, output_activation=None, batch_norm=False, name="critic"),
    "conditional_generator": seed.conditional_generator,
    "salimans_generator": salimans_networks.salimans_generator,
    "salimans_discriminator": salimans_networks.salimans_discriminator,
}

# Each variant's default networks, built as `variants.build(name)` builds
# them (generator first) at f96b48f.
SEED_VARIANT_VARIABLES = {
    ('gan', 'generator'): [
        ('mlp_generator/dense/kernel', (100, 128)),
        ('mlp_generator/dense/bias', (128,)),
        ('mlp_generator/dense_1/kernel', (128, 784)),
        ('mlp_generator/dense_1/bias', (784,)),
    ],
    ('gan', 'discriminator'): [
        ('mlp_discriminator/dense_2/kernel', (784, 128)),
        ('mlp_discriminator/dense_2/bias', (128,)),
        ('mlp_discriminator/dense_3/kernel', (128, 1)),
        ('mlp_discriminator/dense_3/bias', (1,)),
    ],
    ('dcgan', 'generator'): [
        ('conv_generator/dense/kernel', (100, 3136)),
        ('conv_generator/dense/bias', (3136,)),
        ('conv_generator/batch_normalization/gamma', (3136,)),
        ('conv_generator/batch_normalization/beta', (3136,)),
        ('conv_generator/batch_normalization/moving_mean', (3136,)),
        ('conv_generator/batch_normalization/moving_variance', (3136,)),
        ('conv_generator/conv2d_transpose/kernel', (3, 3, 64, 64)),
        ('conv_generator/conv2d_transpose/bias', (64,)),
        ('conv_generator/batch_normalization_1/gamma', (64,)),
        ('conv_generator/batch_normalization_1/beta', (64,)),
        ('conv_generator/batch_normalization_1/moving_mean', (64,)),
        ('conv_generator/batch_normalization_1/moving_variance', (64,)),
        ('conv_generator/conv2d_transpose_1/kernel', (3, 3, 1, 64)),
        ('conv_generator/conv2d_transpose_1/bias', (1,)),
    ],
    ('dcgan', 'discriminator'): [
        ('conv_discriminator/conv2d/kernel', (3, 3, 1, 64)),
        ('conv_discriminator/conv2d/bias', (64,)),
        ('conv_discriminator/batch_normalization_2/gamma', (64,)),
        ('conv_discriminator/batch_normalization_2/beta', (64,)),
        ('conv_discriminator/batch_normalization_2/moving_mean', (64,)),
        ('conv_discriminator/batch_normalization_2/moving_variance', (64,)),
        ('conv_discriminator/conv2d_1/kernel', (3, 3, 64, 64)),
        ('conv_discriminator/conv2d_1/bias', (64,)),
        ('conv_discriminator/batch_normalization_3/gamma', (64,)),
        ('conv_discriminator/batch_normalization_3/beta', (64,)),
        ('conv_discriminator/batch_normalization_3/moving_mean', (64,)),
        ('conv_discriminator/batch_normalization_3/moving_variance', (64,)),
        ('conv_discriminator/dense_1/kernel', (3136, 128)),
        ('conv_discriminator/dense_1/bias', (128,)),
        ('conv_discriminator/batch_normalization_4/gamma', (128,)),
        ('conv_discriminator/batch_normalization_4/beta', (128,)),
        ('conv_discriminator/batch_normalization_4/moving_mean', (128,)),
        ('conv_discriminator/batch_normalization_4/moving_variance', (128,)),
        ('conv_discriminator/dense_2/kernel', (128, 1)),
        ('conv_discriminator/dense_2/bias', (1,)),
    ],
    ('cgan', 'generator'): [
        ('conv_generator_body/dense/kernel', (110, 3136)),
        ('conv_generator_body/dense/bias', (3136,)),
        ('conv_generator_body/batch_normalization/gamma', (3136,)),
        ('conv_generator_body/batch_normalization/beta', (3136,)),
        ('conv_generator_body/batch_normalization/moving_mean', (3136,)),
        ('conv_generator_body/batch_normalization/moving_variance', (3136,)),
        ('conv_generator_body/conv2d_transpose/kernel', (3, 3, 64, 64)),
        ('conv_generator_body/conv2d_transpose/bias', (64,)),
        ('conv_generator_body/batch_normalization_1/gamma', (64,)),
        ('conv_generator_body/batch_normalization_1/beta', (64,)),
        ('conv_generator_body/batch_normalization_1/moving_mean', (64,)),
        ('conv_generator_body/batch_normalization_1/moving_variance', (64,)),
        ('conv_generator_body/conv2d_transpose_1/kernel', (3, 3, 1, 64)),
        ('conv_generator_body/conv2d_transpose_1/bias', (1,)),
    ],
    ('cgan', 'discriminator'): [
        ('conv_discriminator/conv2d/kernel', (3, 3, 1, 64)),
        ('conv_discriminator/conv2d/bias', (64,)),
        ('conv_discriminator/batch_normalization_2/gamma', (64,)),
        ('conv_discriminator/batch_normalization_2/beta', (64,)),
        ('conv_discriminator/batch_normalization_2/moving_mean', (64,)),
        ('conv_discriminator/batch_normalization_2/moving_variance', (64,)),
        ('conv_discriminator/conv2d_1/kernel', (3, 3, 64, 64)),
        ('conv_discriminator/conv2d_1/bias', (64,)),
        ('conv_discriminator/batch_normalization_3/gamma', (64,)),
        ('conv_discriminator/batch_normalization_3/beta', (64,)),
        ('conv_discriminator/batch_normalization_3/moving_mean', (64,)),
        ('conv_discriminator/batch_normalization_3/moving_variance', (64,)),
        ('conv_discriminator/dense_1/kernel', (3136, 128)),
        ('conv_discriminator/dense_1/bias', (128,)),
        ('conv_discriminator/batch_normalization_4/gamma', (128,)),
        ('conv_discriminator/batch_normalization_4/beta', (128,)),
        ('conv_discriminator/batch_normalization_4/moving_mean', (128,)),
        ('conv_discriminator/batch_normalization_4/moving_variance', (128,)),
        ('conv_discriminator/dense_2/kernel', (128, 11)),
        ('conv_discriminator/dense_2/bias', (11,)),
    ],
    ('wgan_gp', 'generator'): [
        ('conv_generator/dense/kernel', (100, 3136)),
        ('conv_generator/dense/bias', (3136,)),
        ('conv_generator/batch_normalization/gamma', (3136,)),
        ('conv_generator/batch_normalization/beta', (3136,)),
        ('conv_generator/batch_normalization/moving_mean', (3136,)),
        ('conv_generator/batch_normalization/moving_variance', (3136,)),
        ('conv_generator/conv2d_transpose/kernel', (3, 3, 64, 64)),
        ('conv_generator/conv2d_transpose/bias', (64,)),
        ('conv_generator/batch_normalization_1/gamma', (64,)),
        ('conv_generator/batch_normalization_1/beta', (64,)),
        ('conv_generator/batch_normalization_1/moving_mean', (64,)),
        ('conv_generator/batch_normalization_1/moving_variance', (64,)),
        ('conv_generator/conv2d_transpose_1/kernel', (3, 3, 1, 64)),
        ('conv_generator/conv2d_transpose_1/bias', (1,)),
    ],
    ('wgan_gp', 'discriminator'): [
        ('critic/conv2d/kernel', (3, 3, 1, 64)),
        ('critic/conv2d/bias', (64,)),
        ('critic/conv2d_1/kernel', (3, 3, 64, 64)),
        ('critic/conv2d_1/bias', (64,)),
        ('critic/dense_1/kernel', (3136, 128)),
        ('critic/dense_1/bias', (128,)),
        ('critic/dense_2/kernel', (128, 1)),
        ('critic/dense_2/bias', (1,)),
    ],
    ('ssgan', 'generator'): [
        ('conv_generator/dense/kernel', (100, 3136)),
        ('conv_generator/dense/bias', (3136,)),
        ('conv_generator/batch_normalization/gamma', (3136,)),
        ('conv_generator/batch_normalization/beta', (3136,)),
        ('conv_generator/batch_normalization/moving_mean', (3136,)),
        ('conv_generator/batch_normalization/moving_variance', (3136,)),
        ('conv_generator/conv2d_transpose/kernel', (3, 3, 64, 64)),
        ('conv_generator/conv2d_transpose/bias', (64,)),
        ('conv_generator/batch_normalization_1/gamma', (64,)),
        ('conv_generator/batch_normalization_1/beta', (64,)),
        ('conv_generator/batch_normalization_1/moving_mean', (64,)),
        ('conv_generator/batch_normalization_1/moving_variance', (64,)),
        ('conv_generator/conv2d_transpose_1/kernel', (3, 3, 1, 64)),
        ('conv_generator/conv2d_transpose_1/bias', (1,)),
    ],
    ('ssgan', 'discriminator'): [
        ('conv_discriminator/conv2d/kernel', (3, 3, 1, 64)),
        ('conv_discriminator/conv2d/bias', (64,)),
        ('conv_discriminator/batch_normalization_2/gamma', (64,)),
        ('conv_discriminator/batch_normalization_2/beta', (64,)),
        ('conv_discriminator/batch_normalization_2/moving_mean', (64,)),
        ('conv_discriminator/batch_normalization_2/moving_variance', (64,)),
        ('conv_discriminator/conv2d_1/kernel', (3, 3, 64, 64)),
        ('conv_discriminator/conv2d_1/bias', (64,)),
        ('conv_discriminator/batch_normalization_3/gamma', (64,)),
        ('conv_discriminator/batch_normalization_3/beta', (64,)),
        ('conv_discriminator/batch_normalization_3/moving_mean', (64,)),
        ('conv_discriminator/batch_normalization_3/moving_variance', (64,)),
        ('conv_discriminator/dense_1/kernel', (3136, 128)),
        ('conv_discriminator/dense_1/bias', (128,)),
        ('conv_discriminator/batch_normalization_4/gamma', (128,)),
        ('conv_discriminator/batch_normalization_4/beta', (128,)),
        ('conv_discriminator/batch_normalization_4/moving_mean', (128,)),
        ('conv_discriminator/batch_normalization_4/moving_variance', (128,)),
        ('conv_discriminator/dense_2/kernel', (128, 11)),
        ('conv_discriminator/dense_2/bias', (11,)),
    ],
}


def variables(model):
  return [(v.path, tuple(v.shape)) for v in model.variables]


@pytest.mark.parametrize("name", sorted(SEED_BUILDS))
def test_default_builds_are_the_seed_networks(name):
  keras.backend.clear_session()  # layer names count from zero again
  assert variables(SEED_BUILDS[name]()) == SEED_VARIABLES[name]


@pytest.mark.parametrize(
    "name", sorted({name for name, _ in SEED_VARIANT_VARIABLES}))
def test_variants_build_the_seed_networks_by_default(name):
  keras.backend.clear_session()
  variant = variants.build(name)
  assert variables(variant.generator) == SEED_VARIANT_VARIABLES[
      name, "generator"]
  assert variables(variant.discriminator) == SEED_VARIANT_VARIABLES[
      name, "discriminator"]


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3), (64, 48, 3)])
def test_seed_networks_take_any_shape_divisible_by_4(shape):
  g = seed.conv_generator(image_shape=shape)
  assert g.output_shape == (None,) + shape
  assert g.layers[3].target_shape == (shape[0] // 4, shape[1] // 4, 64)
  d = seed.conv_discriminator(11, image_shape=shape)
  assert d(g(np.zeros((2, 100), np.float32))).shape == (2, 11)
  c = seed.conditional_generator(num_classes=5, image_shape=shape)
  assert c([np.zeros((2, 100), np.float32),
            np.array([0, 4], np.int32)]).shape == (2,) + shape
  assert seed.mlp_generator(image_shape=shape).output_shape == (
      None, int(np.prod(shape)))
  assert seed.mlp_discriminator(image_shape=shape).input_shape == (
      None, int(np.prod(shape)))
  generator = salimans_networks.salimans_generator(image_shape=shape)
  assert generator.output_shape == (None,) + shape
  discriminator = salimans_networks.salimans_discriminator(image_shape=shape)
  assert discriminator.input_shape == (None,) + shape


@pytest.mark.parametrize("shape", [(30, 28, 1), (28, 30, 3)])
def test_seed_conv_networks_refuse_a_shape_not_divisible_by_4(shape):
  with pytest.raises(UsageError, match="divisible by 4; got "):
    seed.conv_generator(image_shape=shape)
  with pytest.raises(UsageError, match="divisible by 4"):
    seed.conv_discriminator(image_shape=shape)


@pytest.mark.parametrize("shape", [(28, 28), (0, 28, 1)])
def test_a_shape_that_is_not_height_width_channels_is_refused(shape):
  with pytest.raises(UsageError, match="not \\[height, width, channels\\]"):
    seed.mlp_generator(image_shape=shape)


def test_dcgan_pair_at_32x32x3_is_miyato_et_al_standard_cnn():
  g = dcgan_networks.dcgan_generator((32, 32, 3))
  assert g.layers[0].units == 4 * 4 * 512
  deconvs = [l for l in g.layers if isinstance(l, keras.layers.Conv2DTranspose)]
  assert [(l.filters, l.kernel_size, l.strides) for l in deconvs] == [
      (256, (4, 4), (2, 2)), (128, (4, 4), (2, 2)), (64, (4, 4), (2, 2))]
  assert g.layers[-1].filters == 3
  assert g.layers[-1].activation.__name__ == "sigmoid"
  assert g.output_shape == (None, 32, 32, 3)
  images = g(np.random.default_rng(0).uniform(-1, 1, (2, 100)).astype(
      np.float32), training=False).numpy()
  assert ((images > 0) & (images < 1)).all()

  d = dcgan_networks.dcgan_discriminator((32, 32, 3))
  convs = [l for l in d.layers if isinstance(l, keras.layers.Conv2D)]
  assert [(l.filters, l.kernel_size[0], l.strides[0]) for l in convs] == [
      (64, 3, 1), (64, 4, 2), (128, 3, 1), (128, 4, 2), (256, 3, 1),
      (256, 4, 2), (512, 3, 1)]
  slopes = [l.negative_slope for l in d.layers
            if isinstance(l, keras.layers.LeakyReLU)]
  assert slopes == [pytest.approx(0.1)] * len(convs)
  kinds = [type(l).__name__ for l in d.layers]
  # Radford et al.: BatchNorm after every convolution but the first.
  assert kinds[:3] == ["Conv2D", "LeakyReLU", "Conv2D"]
  assert kinds.count("BatchNormalization") == len(convs) - 1
  assert d.output_shape == (None, 1)
  critic = dcgan_networks.dcgan_discriminator(
      (32, 32, 3), output_activation=None, batch_norm=False)
  assert "BatchNormalization" not in [type(l).__name__ for l in critic.layers]


def test_dcgan_pair_at_64x64_adds_a_stage():
  g = dcgan_networks.dcgan_generator((64, 64, 3))
  assert g.layers[0].units == 4 * 4 * 1024
  assert g.output_shape == (None, 64, 64, 3)
  d = dcgan_networks.dcgan_discriminator((64, 64, 3), 11,
                                         output_activation="softmax")
  convs = [l for l in d.layers if isinstance(l, keras.layers.Conv2D)]
  assert len(convs) == 9 and convs[-1].filters == 1024
  assert d(g(np.zeros((2, 100), np.float32))).shape == (2, 11)


def test_dcgan_conditional_generator():
  g = dcgan_networks.dcgan_generator((32, 32, 1), num_classes=10)
  images = g([np.zeros((3, 100), np.float32), np.array([0, 5, 9], np.int32)])
  assert images.shape == (3, 32, 32, 1)


def test_dcgan_refuses_mnist_shape():
  with pytest.raises(UsageError, match="dcgan networks need an image height "
                     "and width divisible by 8; got 28x28"):
    dcgan_networks.dcgan_generator((28, 28, 1))
  with pytest.raises(UsageError, match="divisible by 16; got 80x72"):
    dcgan_networks.dcgan_discriminator((80, 72, 3))
