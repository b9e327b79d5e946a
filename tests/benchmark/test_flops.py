"""FLOP counting: hand-computed matmuls and convolutions, pruned gradients."""

import tensorflow as tf

from gantape.benchmark import flops


def _graph_flops(fn, *specs):
  graph = tf.function(fn).get_concrete_function(*specs).graph
  return sum(flops.op_flops(op) for op in flops.live_ops(graph))


def test_matmul_and_transposed_matmul():
  spec_a = tf.TensorSpec([8, 5], tf.float32)
  spec_b = tf.TensorSpec([5, 3], tf.float32)
  assert _graph_flops(tf.matmul, spec_a, spec_b) == 2 * 8 * 3 * 5
  transposed = lambda a, b: tf.matmul(a, b, transpose_a=True)
  assert _graph_flops(transposed, tf.TensorSpec([5, 8], tf.float32),
                      spec_b) == 2 * 8 * 3 * 5


def test_convolution_and_its_input_gradient_only():
  images = tf.TensorSpec([2, 6, 6, 3], tf.float32)
  kernel = tf.TensorSpec([3, 3, 3, 4], tf.float32)
  conv = lambda x, k: tf.nn.conv2d(x, k, 1, "SAME")
  forward = 2 * (2 * 6 * 6 * 4) * 3 * 3 * 3
  assert _graph_flops(conv, images, kernel) == forward

  def input_gradient(x, k):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = tf.reduce_sum(conv(x, k))
    return y, tape.gradient(y, x)
  # Forward plus the input gradient; the filter gradient, built by the
  # convolution's gradient function but unused, is pruned.
  assert _graph_flops(input_gradient, images, kernel) == 2 * forward


def test_unused_ops_are_not_counted():
  def dead_branch(a, b):
    tf.matmul(a, b)  # feeds nothing
    return a + 1.0
  spec = tf.TensorSpec([4, 4], tf.float32)
  assert _graph_flops(dead_branch, spec, spec) == 0


def test_a_cond_counts_each_branch_by_how_often_it_runs():
  w = tf.ones([8, 8])

  def cond(x, pred):
    return tf.cond(pred, lambda: tf.matmul(tf.matmul(x, w), w),
                   lambda: tf.matmul(x, w))
  graph = tf.function(cond).get_concrete_function(
      tf.TensorSpec([2, 8], tf.float32), tf.TensorSpec([], tf.bool)).graph
  matmul = 2 * 2 * 8 * 8
  assert flops.graph_flops(graph, 0.25) == 0.25 * 2 * matmul + 0.75 * matmul


def test_lazy_r1_costs_between_no_r1_and_r1_on_every_update():
  # pylint: disable=g-import-not-at-top
  from gantape import optimizers
  from gantape import step as step_lib
  from gantape import variants
  from tests.conftest import make_fake_mnist

  def count(**options):
    variant = variants.build("gan", **options)
    d_opt, g_opt = optimizers.make_optimizers(variant)
    step = step_lib.TrainStep(variant, d_opt, g_opt)
    spec = variant.make_dataset(make_fake_mnist(num_train=32), batch_size=16,
                                seed=0).element_spec
    return flops.iteration_flops(step, spec, 16)
  none, every = count(), count(r1_gamma=1.0)
  lazy = count(r1_gamma=1.0, r1_every=4)
  assert none < lazy < every
  assert lazy == round(0.25 * every + 0.75 * none)
