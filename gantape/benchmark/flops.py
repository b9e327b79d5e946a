"""FLOPs of one GAN iteration, counted from the step's traced graph.

Counts matmuls and convolutions (forward and backward, both networks, all
`n_critic` updates) that are actually executed, not element-wise ops: the
convention of peak-FLOP comparisons.
"""

from typing import Any, List

import numpy as np
import tensorflow as tf

from gantape import step as step_lib

_MATMULS = ("MatMul", "_FusedMatMul", "BatchMatMul", "BatchMatMulV2",
            "BatchMatMulV3")
_CONVS = ("Conv2D", "_FusedConv2D", "Conv2DBackpropInput",
          "Conv2DBackpropFilter")


def op_flops(op: tf.Operation) -> int:
  """Multiply-add FLOPs (2 per MAC) of a matmul or 2-D convolution op.

  Returns:
    The op's FLOPs; 0 for any other op type.
  """
  if op.type in _MATMULS:
    a = op.inputs[0].shape.as_list()
    transposed = (op.get_attr("transpose_a") if op.type in _MATMULS[:2]
                  else op.get_attr("adj_x"))
    inner = a[-2] if transposed else a[-1]
    return 2 * int(np.prod(op.outputs[0].shape.as_list())) * int(inner)
  if op.type in _CONVS[:2]:
    kh, kw, cin, _ = op.inputs[1].shape.as_list()
    return 2 * int(np.prod(op.outputs[0].shape.as_list())) * kh * kw * cin
  if op.type == "Conv2DBackpropInput":
    kh, kw, cin, _ = op.inputs[1].shape.as_list()
    return 2 * int(np.prod(op.inputs[2].shape.as_list())) * kh * kw * cin
  if op.type == "Conv2DBackpropFilter":
    kh, kw, cin, _ = op.outputs[0].shape.as_list()
    return 2 * int(np.prod(op.inputs[2].shape.as_list())) * kh * kw * cin
  return 0


def live_ops(graph: tf.Graph) -> List[tf.Operation]:
  """Ops that feed an output or a side effect: what actually runs.

  A gradient function builds the gradient of every input of an op (say a
  convolution's filter gradient in the generator step, where only the input
  gradient is wanted); the unused ones are pruned before running.
  """
  stack = [t.op for t in graph.outputs] + list(graph.control_outputs)
  seen = {}
  while stack:
    op = stack.pop()
    if op.name in seen:
      continue
    seen[op.name] = op
    stack.extend(t.op for t in op.inputs)
    stack.extend(op.control_inputs)
  return list(seen.values())


def iteration_flops(step: step_lib.TrainStep, batch_spec: Any,
                    batch_size: int) -> int:
  """FLOPs of one GAN iteration of `step`, counted from its traced graph.

  Args:
    step: the step; its iteration is traced (`TrainStep.trace_iteration`),
      not run.
    batch_spec: the spec of one real batch (the dataset's `element_spec`).
    batch_size: examples per batch, for the random inputs' spec.

  Returns:
    The FLOPs of the matmuls and convolutions that one iteration runs.
  """
  inputs = step.variant.sample_inputs(tf.random.Generator.from_seed(0),
                                      batch_size)
  inputs_spec = tf.nest.map_structure(
      lambda t: tf.TensorSpec(t.shape, t.dtype), inputs)
  graph = step.trace_iteration(batch_spec, inputs_spec).graph
  return sum(op_flops(op) for op in live_ops(graph))
