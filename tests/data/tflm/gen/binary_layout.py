#!/usr/bin/env python3
"""Writes the TFLM-ported case files for the elementwise-binary, layout, (de)quantize and MEAN
operators (tests/data/tflm/FORMAT.md):

  add.cases sub.cases mul.cases pad.cases transpose.cases concatenation.cases reshape.cases
  quantize.cases dequantize.cases mean.cases

Each case is one int8 test of tensorflow/tflite-micro's tensorflow/lite/micro/kernels/<x>_test.cc
(the commit read is named in each file's header). Where the TFLM test quantizes float values at
run time, this script computes the integers exactly as TFLM's helpers do, in float32:

  tflite::Quantize / FloatToQuantizedType (tensorflow/lite/micro/micro_utils.h):
      int32_t result = round(value / scale) + zero_point;   // value / scale in float32,
      clamp to [numeric_limits<T>::min(), max()]             // round() half away from zero
  tflite::testing::CreateQuantizedTensor(const float* input, T* quantized, dims, scale, zp)
      (tensorflow/lite/micro/test_helpers.h) = Quantize(input, quantized, ElementCount, scale, zp)

Float literals of the tests are C++ `const float` (the double literal rounded to float32) and
are held here as numpy float32. Scales are written with %.9g, which strtof reads back exactly.

Usage: /usr/bin/python3 tests/data/tflm/gen/binary_layout.py (python3 with numpy)   (rewrites the files next to gen/)
"""
import math
import os
import sys

import numpy as np

F32 = np.float32
OUT_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

REPO = "tensorflow/tflite-micro"
KDIR = "tensorflow/lite/micro/kernels"
HELPERS = ("Quantize: tensorflow/lite/micro/micro_utils.h @ 6add2715939e9266641eed93d42fe23016a7b46e"
           " (FloatToQuantizedType);\n# CreateQuantizedTensor(float*, T*, ...):"
           " tensorflow/lite/micro/test_helpers.h (calls tflite::Quantize)")


# --------------------------------------------------------------------------------------------
# TFLM's helpers, in float32


def round_half_away(x):
    """C round() of a float32 value (exact: float32 values and their fractions are exact in
    double)."""
    ax = abs(float(x))
    r = math.floor(ax)
    if ax - r >= 0.5:
        r += 1
    return int(-r if x < 0 else r)


def float_to_quantized(value, scale, zero_point, qmin=-128, qmax=127):
    q = F32(value) / F32(scale)  # float32 division, as `value / scale` with float operands
    assert q.dtype == np.float32
    result = round_half_away(q) + int(zero_point)
    return max(qmin, min(qmax, result))


def quantize(values, scale, zero_point, qmin=-128, qmax=127):
    return [float_to_quantized(v, scale, zero_point, qmin, qmax) for v in values]


# --------------------------------------------------------------------------------------------
# case-file writing


def fmt_scale(s):
    f = F32(s)
    text = "%.9g" % float(f)
    assert F32(float(text)) == f, (s, text)
    return text


def fmt_float(v):
    f = F32(v)
    text = "%.9g" % float(f)
    assert F32(float(text)) == f
    return text


def shape_str(shape):
    if len(shape) == 0:
        return "scalar"
    return "x".join(str(int(d)) for d in shape)


def count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def q(scale, zp):
    return "q=%s:%d" % (fmt_scale(scale), zp)


class Case:
    def __init__(self, name, op, comment=None):
        self.lines = []
        if comment:
            for c in comment.strip().split("\n"):
                self.lines.append("# " + c if c else "#")
        self.lines += ["case " + name, "op " + op]

    def opt(self, *kv):
        self.lines.append("opt " + " ".join(kv))
        return self

    def _tensor(self, kind, name, typ, shape, quant, values, extra=""):
        assert len(values) == count(shape), (name, len(values), shape)
        if typ == "float32":
            vals = " ".join(fmt_float(v) for v in values)
        else:
            lim = {"int8": (-128, 127), "int32": (-2**31, 2**31 - 1)}[typ]
            assert all(lim[0] <= int(v) <= lim[1] for v in values), (name, values)
            vals = " ".join(str(int(v)) for v in values)
        line = "%s %s %s %s %s%s :" % (kind, name, typ, shape_str(shape), quant, extra)
        if vals:
            line += " " + vals
        self.lines.append(line)
        return self

    def inp(self, name, typ, shape, quant, values):
        return self._tensor("in", name, typ, shape, quant, values)

    def const(self, name, typ, shape, quant, values):
        return self._tensor("const", name, typ, shape, quant, values)

    def out(self, name, typ, shape, quant, values, tol=0, tolf=None):
        extra = " tol=%s" % tolf if tolf is not None else " tol=%d" % tol
        return self._tensor("out", name, typ, shape, quant, values, extra)

    def expect_load_error(self):
        self.lines.append("expect load-error")
        return self

    def text(self):
        return "\n".join(self.lines) + "\n"


def write_file(fname, header, cases):
    path = os.path.join(OUT_DIR, fname)
    if not cases:
        # the harness fails on a case file without cases: the skip list stays in this script
        if os.path.exists(path):
            os.remove(path)
        print("%s: no int8 case in the TFLM test, not written" % path)
        return 0
    with open(path, "w") as f:
        f.write(header.strip("\n") + "\n")
        for c in cases:
            f.write("\n" + c.text())
    print("%s: %d cases" % (path, len(cases)))
    return len(cases)


def header(test_file, commit, body):
    return ("# Ported from %s: %s/%s @ %s\n"
            "# (int8 cases only; generated by tests/data/tflm/gen/binary_layout.py, do not edit by"
            " hand)\n# TFLM helpers mirrored: %s\n%s"
            % (REPO, KDIR, test_file, commit, HELPERS, body))


def dims(shape_with_count):
    """TFLM's IntArrayFromInts form {n, d0, ..., dn-1} -> shape tuple."""
    n = shape_with_count[0]
    assert len(shape_with_count) == n + 1
    return tuple(shape_with_count[1:])


def broadcast_ref(a, sa, b, sb, so, fn):
    """float32 elementwise reference with TFLite broadcasting (used only to check the
    transcribed goldens)."""
    x = np.array(a, dtype=np.float32).reshape(sa) if sa else np.float32(a[0])
    y = np.array(b, dtype=np.float32).reshape(sb) if sb else np.float32(b[0])
    r = fn(x, y)
    assert tuple(np.shape(r)) == tuple(so), (np.shape(r), so)
    return np.ravel(r)


ACT = {"none": "NONE", "relu_n1_to_1": "RELU_N1_TO_1", "relu": "RELU"}


def act_range(act, scale, zp):
    """float clamp of the fused activation (only to check goldens)."""
    return {"none": (-1e30, 1e30), "relu_n1_to_1": (-1.0, 1.0), "relu": (0.0, 1e30)}[act]


# --------------------------------------------------------------------------------------------
# ADD / SUB (add_test.cc, sub_test.cc): TestAddQuantized / TestSubQuantized


VARIOUS_SHAPES = [(6,), (2, 3), (2, 1, 3), (1, 3, 1, 2)]
BCAST_IN1_SHAPE = (2, 3, 1, 2)
BCAST_IN1 = [-0.3, 2.3, 0.9, 0.5, 0.8, -1.1, 1.2, 2.8, -1.6, 0.0, 0.7, -2.2]
BCAST_IN2_SHAPES = [(1, 1, 3, 2), (1, 3, 1, 2), (2, 1, 3, 1), (2, 3, 1, 1)]
BCAST_OUT_SHAPES = [(2, 3, 3, 2), (2, 3, 1, 2), (2, 3, 3, 2), (2, 3, 1, 2)]
BCAST_GOLDENS = [
    [-0.1, 2.6, -0.7, 2.8, 0.7, 3.2, 1.1, 0.8, 0.5, 1.0, 1.9, 1.4,
     1.0, -0.8, 0.4, -0.6, 1.8, -0.2, 1.4, 3.1, 0.8, 3.3, 2.2, 3.7,
     -1.4, 0.3, -2.0, 0.5, -0.6, 0.9, 0.9, -1.9, 0.3, -1.7, 1.7, -1.3],
    [-0.1, 2.6, 0.5, 1.0, 1.8, -0.2, 1.4, 3.1, -2.0, 0.5, 1.7, -1.3],
    [-0.1, 2.5, 0.0, 2.6, -0.7, 1.9, 1.1, 0.7, 1.2, 0.8, 0.5, 0.1,
     1.0, -0.9, 1.1, -0.8, 0.4, -1.5, 1.7, 3.3, 2.2, 3.8, 2.1, 3.7,
     -1.1, 0.5, -0.6, 1.0, -0.7, 0.9, 1.2, -1.7, 1.7, -1.2, 1.6, -1.3],
    [-0.1, 2.5, 1.2, 0.8, 0.4, -1.5, 1.7, 3.3, -0.6, 1.0, 1.6, -1.3],
]


def binary_case(test_file, test, op, s1, v1, sc1, zp1, s2, v2, sc2, zp2, so, golden, sco, zpo,
                act, tol, fn, comment=None, check_tol=0.051):
    # check the transcription: the goldens are the float result within rounding of the test data
    ref = broadcast_ref(v1, s1, v2, s2, so, fn)
    lo, hi = act_range(act, sco, zpo)
    ref = np.clip(ref, lo, hi)
    assert np.all(np.abs(ref - np.array(golden[:count(so)], dtype=np.float32)) < check_tol), \
        (test, ref, golden)
    c = Case("%s:%s" % (test_file, test), op, comment)
    c.opt("activation=" + ACT[act])
    c.inp("input1", "int8", s1, q(sc1, zp1), quantize(v1[:count(s1)], sc1, zp1))
    c.inp("input2", "int8", s2, q(sc2, zp2), quantize(v2[:count(s2)], sc2, zp2))
    c.out("output", "int8", so, q(sco, zpo), quantize(golden[:count(so)], sco, zpo), tol=tol)
    return c


def addsub_cases(kind):
    """kind 'add' or 'sub'. The int8 tests of both files share the structure; the data differ."""
    tf = "%s_test.cc" % kind
    op = kind.upper()
    T = "Add" if kind == "add" else "Sub"
    fn = (lambda x, y: x + y) if kind == "add" else (lambda x, y: x - y)
    cases = []
    inout = dims([4, 1, 2, 2, 1])
    # ValidateAddGoldens/ValidateSubGoldens: TF_LITE_MICRO_EXPECT_NEAR(golden_q, out, 1e-5) on
    # int8 values: exact.
    tol = 0
    in1 = [-2.01, -1.01, -0.01, 0.98]
    in2 = [1.01, 1.99, 2.99, 4.02] if kind == "add" else [-1.01, -1.99, -2.99, -4.02]
    for test, golden, act in (("Quantized%sNoActivationInt8" % T, [-1, 1, 3, 5], "none"),
                              ("Quantized%sActivationRelu1Int8" % T, [-1, 1, 1, 1],
                               "relu_n1_to_1")):
        cases.append(binary_case(tf, test, op, inout, in1, 0.25, -10, inout, in2, 0.5, 4, inout,
                                 golden, 1.0, 13, act, tol, fn))
    # Various input shapes
    v1 = [-2.0, 0.2, 0.7, 0.8, 1.1, 2.0]
    v2 = [0.1, 0.2, 0.3, 0.5, 1.1, 0.1] if kind == "add" else [-0.1, -0.2, -0.3, -0.5, -1.1, -0.1]
    g = [-1.9, 0.4, 1.0, 1.3, 2.2, 2.1]
    for s in VARIOUS_SHAPES:
        cases.append(binary_case(tf, "Quantized%sVariousInputShapesInt8[%s]" % (T, shape_str(s)),
                                 op, s, v1, 0.1, -9, s, v2, 0.05, 5, s, g, 0.1, 14, "none", tol,
                                 fn))
    # Scalar broadcast: input2_shape = {0}, i.e. a rank-0 tensor
    v2s = [0.1] if kind == "add" else [-0.1]
    gs = [-1.9, 0.3, 0.8, 0.9, 1.2, 2.1]
    for s in VARIOUS_SHAPES:
        cases.append(binary_case(tf, "Quantized%sWithScalarBroadcastInt8[%s]" % (T, shape_str(s)),
                                 op, s, v1, 0.1, -8, (), v2s, 0.05, 4, s, gs, 0.05, 12, "none",
                                 tol, fn))
    # Mixed broadcast
    b2 = [0.2, 0.3, -0.4, 0.5, 1.0, 0.9] if kind == "add" else [-0.2, -0.3, 0.4, -0.5, -1.0, -0.9]
    for i in range(4):
        cases.append(binary_case(
            tf, "Quantized%sWithMixedBroadcastInt8[%d:%s]" % (T, i, shape_str(BCAST_IN2_SHAPES[i])),
            op, BCAST_IN1_SHAPE, BCAST_IN1, 0.1, -10, BCAST_IN2_SHAPES[i], b2, 0.05, -5,
            BCAST_OUT_SHAPES[i], BCAST_GOLDENS[i], 0.1, 7, "none", tol, fn))
    return cases


ADD_HEADER_BODY = """#
# Case names: TFLM test name, with [shape] or [i:input2 shape] for each iteration of the tests
# that loop over shapes. All tensors are model inputs, as in TFLM (input2 of the scalar
# broadcast tests has TFLM's shape {0}: rank 0). The inputs are tflite::Quantize of the test's
# floats; the expected output is Quantize(golden, output scale, output zero point).
# Tolerance: ValidateAddGoldens compares the int8 output with the quantized golden with
# TF_LITE_MICRO_EXPECT_NEAR(..., 1e-5), i.e. exactly: tol=0.
#
# Skipped (not int8):
#   FloatAddNoActivation, FloatAddActivationRelu1, FloatAddVariousInputShapes,
#   FloatAddWithScalarBroadcast, QuantizedAddWithScalarBroadcastFloat (float, despite its name;
#   it runs the mixed-broadcast data in float32)              - float32 only
#   Int32AddNoActivation                                      - int32 only
#   QuantizedAddNoActivationInt16, QuantizedAddActivationRelu1Int16,
#   QuantizedAddVariousInputShapesInt16, QuantizedAddWithScalarBroadcastInt16,
#   QuantizedAddWithMixedBroadcastInt16                       - int16 only
"""

SUB_HEADER_BODY = ADD_HEADER_BODY.replace("ValidateAddGoldens", "ValidateSubGoldens").split(
    "# Skipped")[0] + """# Skipped (not int8):
#   FloatSubNoActivation, FloatSubActivationRelu1, FloatSubVariousInputShapes,
#   FloatSubWithScalarBroadcast, QuantizedSubWithScalarBroadcastFloat (float, despite its name)
#                                                             - float32 only
#   QuantizedSubActivationRelu1Int16, QuantizedSubVariousInputShapesInt16,
#   QuantizedSubWithScalarBroadcastInt16, QuantizedSubWithMixedBroadcastInt16 - int16 only
# (this version of sub_test.cc has no QuantizedSubNoActivationInt16 and no int32 test)
"""


# --------------------------------------------------------------------------------------------
# MUL (mul_test.cc): TestMulQuantized, tolerance 1.0


def mul_cases():
    tf = "mul_test.cc"
    fn = lambda x, y: x * y
    cases = []
    s = dims([4, 1, 2, 2, 1])
    cases.append(binary_case(tf, "SimpleInt8NoActivationShouldMatchGolden", "MUL",
                             s, [-0.8, 0.2, 0.9, 0.7], 0.01, 0, s, [0.6, 0.4, 0.9, 0.8], 0.01, 0,
                             s, [-0.48, 0.08, 0.81, 0.56], 0.01, 0, "none", 1, fn,
                             check_tol=1e-4))
    sb = dims([4, 1, 3, 1, 2])
    ss = dims([1, 1])  # dims_scalar_broadcast = {1, 1}: rank 1, one element
    cases.append(binary_case(tf, "BroadcastInt8NoActivationShouldMatchGolden", "MUL",
                             sb, [-2.0, 0.2, 0.7, 0.8, 1.1, 2.0], 0.05, 0, ss, [0.1], 0.05, 0,
                             sb, [-0.2, 0.02, 0.07, 0.08, 0.11, 0.2], 0.01, 0, "none", 1, fn,
                             check_tol=1e-4))
    return cases


MUL_HEADER_BODY = """#
# Both inputs share one scale and zero point (TestMulQuantized's input_scale/input_zero_point);
# inputs are tflite::Quantize of the test's floats, the expected output Quantize(golden).
# Tolerance: ValidateMulGoldens(..., 1.0f, ...) compares the int8 output with the quantized
# golden with TF_LITE_MICRO_EXPECT_NEAR(golden, output, 1.0): tol=1.
#
# Note: this version of mul_test.cc has no int8 case with a fused activation (the RELU cases,
# SimpleFloatReluShouldMatchGolden and BroadcastFloatReluShouldMatchGolden, are float32 only);
# the older stored version (07fd905c) has the same int8 cases.
#
# Skipped (not int8):
#   SimpleFloatNoActivationShouldMatchGolden, SimpleFloatReluShouldMatchGolden,
#   BroadcastFloatNoActivationShouldMatchGolden, BroadcastFloatReluShouldMatchGolden - float32
#   SimpleInt16NoActivationShouldMatchGolden, BroadcastInt16NoActivationShouldMatchGolden - int16
#   SimpleInt32NoActivationShouldMatchGolden                                    - int32
"""


# --------------------------------------------------------------------------------------------
# PAD / PADV2 (pad_test.cc)


def pad_cases():
    tf = "pad_test.cc"
    cases = []
    in_shape = dims([4, 1, 2, 2, 1])
    pad_shape = dims([2, 4, 2])
    pads = [1, 1, 0, 0, 1, 1, 0, 0]
    out_shape = dims([4, 3, 2, 4, 1])
    vals = [1, 2, 3, 4]
    g0 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    g42 = [42, 42, 42, 42, 42, 42, 42, 42, 42, 1, 2, 42, 42, 3, 4, 42, 42, 42, 42, 42, 42, 42,
           42, 42]
    # check the goldens: numpy pad of the input
    a = np.array(vals, dtype=np.float32).reshape(in_shape)
    pw = np.array(pads).reshape(4, 2)
    assert list(np.pad(a, pw, constant_values=0).ravel()) == g0
    assert list(np.pad(a, pw, constant_values=42).ravel()) == g42

    c = Case(tf + ":Test2DInt8", "PAD")
    c.inp("input", "int8", in_shape, q(1.0, 0), quantize(vals, 1.0, 0))
    c.const("paddings", "int32", pad_shape, "-", pads)
    c.out("output", "int8", out_shape, q(1.0, 0), quantize(g0, 1.0, 0), tol=0)
    cases.append(c)

    c = Case(tf + ":Test2DInt8V2", "PADV2")
    c.inp("input", "int8", in_shape, q(1.0, 0), quantize(vals, 1.0, 0))
    c.const("paddings", "int32", pad_shape, "-", pads)
    c.const("constant_values", "int8", (1,), q(1.0, 0), quantize([42], 1.0, 0))
    c.out("output", "int8", out_shape, q(1.0, 0), quantize(g42, 1.0, 0), tol=0)
    cases.append(c)

    c = Case(tf + ":Test2DInt8V2ExpectFailurePadValueQuantizationMismatch", "PADV2", comment="""
TFLM: PadPrepare fails with TF_LITE_ENSURE_EQ(output->params.scale, constant_values->params.scale)
(pad value scale 0.5, output scale 1.0). pad_test.cc defines this test twice, identically; it is
ported once. The output values are TFLM's golden_quantized (all 0); they are not compared.""")
    c.inp("input", "int8", in_shape, q(1.0, 0), quantize(vals, 1.0, 0))
    c.const("paddings", "int32", pad_shape, "-", pads)
    c.const("constant_values", "int8", (1,), q(0.5, 0), quantize([42], 0.5, 0))
    c.out("output", "int8", out_shape, q(1.0, 0), quantize([0] * 24, 1.0, 0), tol=0)
    c.expect_load_error()
    cases.append(c)

    c = Case(tf + ":Test2DInt8ExpectFailureQuantizationRangeExcludesZero", "PAD", comment="""
TFLM: PadPrepare fails with TF_LITE_ENSURE(output->params.zero_point <= 127): the int8 output has
zero point 129. The output values are TFLM's golden_quantized (Quantize(golden, 1.0, 129),
clamped to 127); they are not compared.""")
    c.inp("input", "int8", in_shape, q(1.0, 0), quantize(vals, 1.0, 0))
    c.const("paddings", "int32", pad_shape, "-", pads)
    c.out("output", "int8", out_shape, q(1.0, 129), quantize(g42, 1.0, 129), tol=0)
    c.expect_load_error()
    cases.append(c)
    return cases


PAD_HEADER_BODY = """#
# The input is a model input; the paddings (int32, shape 4x2) are const, as TFLM's test marks
# them (kTfLiteMmapRo). PADV2's constant value (int8, shape 1, TFLM's pad_value_dims {1, 1}) is
# const here: in TFLM's test it is a plain tensor, in a converted model it is a constant.
# Inputs and goldens are tflite::Quantize of the test's floats (scale 1.0, zero point 0).
# Tolerance: ValidatePadGoldens / ValidatePadV2Goldens use TF_LITE_MICRO_EXPECT_EQ: tol=0.
# The two ExpectFailure tests expect kTfLiteError from TFLM's Prepare: expect load-error.
#
# Skipped (not int8):
#   Test2DFloat, Test4DFloat, Test2DFloatV2 - float32 only
#   Test2DInt16, Test2DInt16V2              - int16 only
#   Test2DInt32, Test2DInt32V2              - int32 only
"""


# --------------------------------------------------------------------------------------------
# TRANSPOSE (transpose_test.cc): TestTranspose with int8 data = 0, 1, 2, ...


def transpose_cases():
    tf = "transpose_test.cc"
    cases = []
    tests = [
        ("1D", (3,), [0], [0, 1, 2]),
        ("2DPerm1", (3, 2), [1, 0], [0, 2, 4, 1, 3, 5]),
        ("2D4x4KernelLeftOverRightSide", (4, 6), [1, 0],
         [0, 6, 12, 18, 1, 7, 13, 19, 2, 8, 14, 20, 3, 9, 15, 21, 4, 10, 16, 22, 5, 11, 17, 23]),
        ("2D4x4KernelLeftOverBottomSide", (6, 4), [1, 0],
         [0, 4, 8, 12, 16, 20, 1, 5, 9, 13, 17, 21, 2, 6, 10, 14, 18, 22, 3, 7, 11, 15, 19, 23]),
        ("3D", (2, 3, 4), [2, 0, 1],
         [0, 4, 8, 12, 16, 20, 1, 5, 9, 13, 17, 21, 2, 6, 10, 14, 18, 22, 3, 7, 11, 15, 19, 23]),
    ]
    for name, in_shape, perm, expected in tests:
        n = count(in_shape)
        data = list(range(n))  # TestTranspose: input_data[i] = i
        ref = np.transpose(np.arange(n).reshape(in_shape), perm).ravel().tolist()
        assert ref == expected, name
        # TestTranspose overwrites the output dims with input_dims[perm[i]]
        out_shape = tuple(in_shape[p] for p in perm)
        c = Case("%s:%s" % (tf, name), "TRANSPOSE")
        c.inp("input", "int8", in_shape, "-", data)
        c.const("perm", "int32", (len(perm),), "-", perm)
        c.out("output", "int8", out_shape, "-", expected, tol=0)
        cases.append(c)
    return cases


TRANSPOSE_HEADER_BODY = """#
# TestTranspose fills the input with 0, 1, 2, ... and sets the output dims to input_dims[perm[i]]
# (whatever output_dims_data says). TFLM creates these int8 tensors with CreateTensor, without
# quantization parameters: QUANT is '-' here too. The permutation (int32, shape {perm_count}) is
# const (a TFLite model holds it as a constant).
# Tolerance: ValidateTranspose uses TF_LITE_MICRO_EXPECT_EQ: tol=0.
#
# Skipped (not int8):
#   1DInt16, 2DPerm1Int16, 2D4x4KernelLeftOverRightSideInt16, 2D4x4KernelLeftOverBottomSideInt16,
#   3DInt16                                                              - int16 only
#   1DNotShrinked, 2DShrinkedOneTime, 2DShrinkedTwoTimes, 3DShrinkedOneTime, 3DShrinkedTwoTimes,
#   3DShrinkedAll, 4DShrinkedOneTimes, 4DShrinkedTwoTimes, 4DShrinkedThreeTimes,
#   4DShrinkedFourTimes, 3DFlatten, 4DFlatten, 4DFlattenTwo, 3DDividedIntoTwo2DsOne,
#   3DDividedIntoTwo2DsTwo, 4DDividedIntoTwo2DsOne, 4DDividedIntoTwo2DsTwo,
#   4DDividedIntoTwo2DsThree, 5DDividedIntoTwo2DsOne, 5DDividedIntoTwo2DsTwo,
#   5DDividedIntoTwo2DsThree, SimpleTestNoReorder, SimpleTestWithReorder, ComplexTestWithReorder,
#   Complex5DTestWithReorder                                             - float32 only
"""


# --------------------------------------------------------------------------------------------
# CONCATENATION (concatenation_test.cc): TestConcatenateQuantizedTwoInputs (int8 data given)


def concat_cases():
    tf = "concatenation_test.cc"
    cases = []
    tests = [
        ("TwoInputsQuantizedInt8", 2, dims([3, 2, 1, 2]), [1, 2, 3, 4], [5, 6, 7, 8],
         dims([3, 2, 1, 4]), [1, 2, 5, 6, 3, 4, 7, 8]),
        ("TwoInputsQuantizedInt8FiveDimensions", 2, dims([5, 2, 1, 2, 1, 3]),
         list(range(1, 13)), list(range(13, 25)), dims([5, 2, 1, 4, 1, 3]),
         [1, 2, 3, 4, 5, 6, 13, 14, 15, 16, 17, 18, 7, 8, 9, 10, 11, 12, 19, 20, 21, 22, 23, 24]),
    ]
    for name, axis, in_shape, v1, v2, out_shape, expected in tests:
        ref = np.concatenate([np.array(v1).reshape(in_shape), np.array(v2).reshape(in_shape)],
                             axis=axis).ravel().tolist()
        assert ref == expected and np.shape(np.zeros(out_shape)) == \
            np.concatenate([np.zeros(in_shape)] * 2, axis=axis).shape, name
        c = Case("%s:%s" % (tf, name), "CONCATENATION")
        c.opt("axis=%d" % axis, "activation=NONE")
        c.inp("input1", "int8", in_shape, q(0.1, 0), v1)
        c.inp("input2", "int8", in_shape, q(0.1, 0), v2)
        c.out("output", "int8", out_shape, q(0.1, 0), expected, tol=0)
        cases.append(c)
    return cases


CONCAT_HEADER_BODY = """#
# The int8 inputs are given as integers by the test (scale 0.1, zero point 0 for inputs and
# output). Tolerance: TestConcatenateQuantizedTwoInputs uses TF_LITE_MICRO_EXPECT_EQ: tol=0.
#
# Skipped:
#   BoolTypeOneInput, BoolTypeTwoInputs                                  - bool only
#   TwoInputsAllAxesCombinations, ThreeDimensionalTwoInputsDifferentShapes,
#   TwoInputsFiveDimensionsAllAxesCombinations                          - float32 only
#   TwoInputsQuantizedInt16                                              - int16 only
#   TwoInputsFloatCompressed, TwoInputsQuantizedInt8Compressed,
#   TwoInputsQuantizedInt16Compressed - built only with USE_TFLM_COMPRESSION (compressed
#     constant inputs, which the format cannot express); the int8 one decompresses to the data
#     of TwoInputsQuantizedInt8, which is ported
"""


# --------------------------------------------------------------------------------------------
# RESHAPE (reshape_test.cc): the int8 halves of TestReshapeQuantized calls (scale 1, zp 0)


def reshape_cases():
    tf = "reshape_test.cc"
    cases = []
    qq = q(1.0, 0)
    c = Case(tf + ":ReshapeWithRegularShapesShouldSucceed[int8]", "RESHAPE")
    c.inp("input", "int8", dims([4, 1, 2, 4, 1]), qq, [1, 2, 3, 4, 5, 6, 7, 8])
    c.const("shape", "int32", (3,), "-", [2, 2, 2])
    c.out("output", "int8", (2, 2, 2), qq, [1, 2, 3, 4, 5, 6, 7, 8], tol=0)
    cases.append(c)

    c = Case(tf + ":ReshapeWithStretchDimensionShouldSucceed[int8]", "RESHAPE", comment="""
TFLM's output tensor is declared {2, 1, -1}; its Prepare resolves the -1 and the test checks the
dims {2, 1, 4}, the shape a converted model declares: the output here is 2x1x4.""")
    c.inp("input", "int8", dims([4, 1, 2, 4, 1]), qq, [1, 2, 3, 4, 5, 6, 7, 8])
    c.const("shape", "int32", (3,), "-", [2, 1, -1])
    c.out("output", "int8", (2, 1, 4), qq, [1, 2, 3, 4, 5, 6, 7, 8], tol=0)
    cases.append(c)

    c = Case(tf + ":ReshapeWithScalarOutputShouldSucceed[int8]", "RESHAPE", comment="""
"Empty shape indicates scalar output": TFLM's shape tensor has dims {0} in its IntArrayFromInts
form (rank 0, so TFLM's Prepare falls back to the output dims) and no data (shape_int32[] = {});
here it is what a converted model holds for a reshape to a scalar: an int32 constant of shape
[0], no values (an empty buffer). Output: rank 0.
TFLM (like TFLite) gives such a tensor a 0-byte arena slot; its ReshapeOutput reads its 0
elements, finds output_shape_size 0 == output rank 0, and succeeds. edgeset refused it at load
("reads tensor 1 before any operator produces it") until nn/model.c let an operator read a
tensor with no elements that nothing produces.""")
    c.inp("input", "int8", dims([1, 1]), qq, [3])
    c.const("shape", "int32", (0,), "-", [])
    c.out("output", "int8", (), qq, [3], tol=0)
    cases.append(c)
    return cases


RESHAPE_HEADER_BODY = """#
# TestReshapeQuantized gives the int8 data as integers, with scale 1.0 and zero point 0 on input
# and output, and passes no builtin options (no opt line here). The shape input (int32) is a
# const: TFLM's test creates it with CreateTensor (data present at Prepare), and TFLM's
# ReshapeOutput reads a rank-1 shape tensor's data in Prepare, which in a model needs a constant.
# Tolerance: ValidateReshapeGoldens uses TF_LITE_MICRO_EXPECT_NEAR(..., 1e-5) on int8 values
# (exact): tol=0. (TFLM also checks the output dims, which the out line states.)
#
# Skipped:
#   ReshapeWithMismatchedDimensionsShouldFail, ReshapeWithManyDimensionsShouldSucceed (9-D),
#   ReshapeWithTooManySpecialDimensionsShouldFail, ReshapeWithInvalidShapeShouldFail,
#   ReshapeWithLegacyScalarOutputShouldSucceed                            - float32 only
#   the float32, uint8 and int16 calls of ReshapeWithRegularShapesShouldSucceed,
#   ReshapeWithStretchDimensionShouldSucceed and ReshapeWithScalarOutputShouldSucceed
"""


# SQUEEZE (squeeze_test.cc) has no int8 case, only int32 ones with plain integer data:
# squeeze.cases is written by hand, as int32 (edgeset's SQUEEZE takes int32 like RESHAPE).


# --------------------------------------------------------------------------------------------
# QUANTIZE (quantize_test.cc)


def quantize_cases():
    tf = "quantize_test.cc"
    cases = []
    shape = dims([2, 2, 5])
    # TestRequantize<int8_t, int8_t>: input = Quantize(values, in scale, in zp); expected =
    # Quantize(values, out scale, out zp), compared with TF_LITE_MICRO_EXPECT_EQ.
    for name, values, isc, izp, osc, ozp in (
            ("QuantizeOpTestInt8toInt8", [-64, -62, -60, -58, -56, 54, 56, 58, 60, 62],
             2.0, 0, 0.5, 32),
            ("QuantizeOpTestInt8toInt8NoZeroPoint",
             [-32, -31, -30, -29, -28, 27, 28, 29, 30, 31], 1.0, 0, 0.5, 0)):
        c = Case("%s:%s" % (tf, name), "QUANTIZE")
        c.inp("input", "int8", shape, q(isc, izp), quantize(values, isc, izp))
        c.out("output", "int8", shape, q(osc, ozp), quantize(values, osc, ozp), tol=0)
        cases.append(c)
    # TestQuantizeFloat<int8_t>: float32 input = values; expected = Quantize(values, scale, zp)
    values = [-32, -31, -30, -29, -28, 27, 28, 29, 30, 31]
    c = Case(tf + ":QuantizeOpTestInt8NoZeroPoint", "QUANTIZE")
    c.inp("input", "float32", shape, "-", values)
    c.out("output", "int8", shape, q(0.5, 0), quantize(values, 0.5, 0), tol=0)
    cases.append(c)
    return cases


QUANTIZE_HEADER_BODY = """#
# Requantize cases (int8 -> int8): the input is tflite::Quantize(values, input scale, input zero
# point) and the expected output Quantize(values, output scale, output zero point) (TFLM's
# TestRequantize). float32 -> int8: the input is the test's floats, the expected output
# Quantize(values, scale, zero point) (TestQuantizeFloat). TFLM gives the output a
# one-element (per-tensor) TfLiteAffineQuantization.
# Tolerance: ValidateQuantizeGoldens uses TF_LITE_MICRO_EXPECT_EQ: tol=0.
#
# Skipped:
#   QuantizeOpTestInt8 - despite its name, this version declares int16_t output and golden
#     arrays (float32 -> int16; TestQuantizeFloat<int16_t>)            - int16 output
#   QuantizeOpTestInt16, QuantizeOpTestInt16NoScale (float32 -> int16), QuantizeOpTestInt16toInt16,
#   QuantizeOpTestInt16toInt16NoZeroPoint, QuantizeOpTestInt8toInt16   - int16 output
#   QuantizeOpTestInt16toInt8 (defined twice: 2.0 -> 0.5 and 0.4 -> 1.0) - int16 input
#   QuantizeOpTestInt32toInt16, QuantizeOpTestInt32toInt8              - int32 input
#   QuantizeOpTestInt8toInt32, QuantizeOpTestInt16toInt32              - int32 output
#   QuantizeOpTestInt8toUInt8Fast, QuantizeOpTestInt8toUInt8Normal     - uint8 output
#   QuantizeOpTestUInt8toInt8Fast, QuantizeOpTestUInt8toInt8Normal     - uint8 input
"""


# --------------------------------------------------------------------------------------------
# DEQUANTIZE (dequantize_test.cc)


def dequantize_cases():
    tf = "dequantize_test.cc"
    shape = dims([2, 5, 2])
    values = [-63.5, -63, -62.5, -62, -61.5, 62, 62.5, 63, 63.5, 64]
    c = Case(tf + ":DequantizeOpTestInt8", "DEQUANTIZE")
    c.inp("input", "int8", shape, q(0.5, -1), quantize(values, 0.5, -1))
    c.out("output", "float32", shape, "-", values, tolf="0.001")
    return [c]


DEQUANTIZE_HEADER_BODY = """#
# The input is tflite::Quantize(values, 0.5, -1); the expected float32 output is the test's
# values. Tolerance: ValidateDequantizeGoldens uses
# TF_LITE_MICRO_EXPECT_NEAR(expected, output, 0.001f) on float32 outputs (its `tolerance`
# parameter, default 1e-5, is unused): an absolute float tolerance, written tol=0.001.
#
# Skipped:
#   DequantizeOpTestInt16 - int16 input
#   DequantizeOpTestUint8 - uint8 input
"""


# --------------------------------------------------------------------------------------------
# MEAN (reduce_test.cc): TestReduceOpQuantized<int8_t> with Register_MEAN, tolerance 1.0


def mean_cases():
    tf = "reduce_test.cc"
    cases = []
    in2d = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    in4d = [float(i) for i in range(1, 25)]
    prec = [1.0, 24.0, 13.0, 3.0, 9.0, 17.0, 11.0, 36.0, 14.0, 19.0, 17.0, 22.0]
    tests = [
        # name, in shape, input, axis, keep, out shape (here), TFLM's declared out dims, golden
        ("MeanInt82DKeepDims", (2, 4), in2d, [1], True, (2, 1), (1, 2), [2.5, 6.5]),
        ("MeanInt83DKeepDims", (2, 2, 2), in2d, [1, 2], True, (2, 1, 1), (1, 2), [2.5, 6.5]),
        ("MeanInt84DKeepDims", (2, 2, 3, 2), in4d, [1, 2], True, (2, 1, 1, 2), (2, 1, 1, 2),
         [6, 7, 18, 19]),
        ("MeanInt84DWithoutKeepDims", (2, 2, 3, 2), in4d, [1, 2], False, (2, 2), (2, 2),
         [6, 7, 18, 19]),
        ("MeanInt84DWithoutKeepDimsWithPrecision", (2, 2, 3, 1), prec, [1, 2], False, (2, 1),
         (2, 1), [11.166667, 19.833334]),
    ]
    for name, ishape, vals, axis, keep, oshape, tflm_oshape, golden in tests:
        a = np.array(vals, dtype=np.float64).reshape(ishape)
        ref = a.mean(axis=tuple(axis), keepdims=keep)
        assert ref.shape == oshape and np.allclose(ref.ravel(), golden, atol=1e-5), name
        comment = None
        if oshape != tflm_oshape:
            comment = ("TFLM's test declares the output dims %s, which its MEAN never checks (it"
                       " reads\nthe output's element count only); with keep_dims the reduced"
                       " shape is %s,\nthe shape a converted model declares, used here. Same"
                       " values, same order."
                       % (shape_str(tflm_oshape), shape_str(oshape)))
        c = Case("%s:%s" % (tf, name), "MEAN", comment)
        c.opt("keep_dims=%d" % (1 if keep else 0))
        c.inp("input", "int8", ishape, q(0.5, 0), quantize(vals, 0.5, 0))
        c.const("axis", "int32", (len(axis),), "-", axis)
        c.out("output", "int8", oshape, q(0.5, 0), quantize(golden, 0.5, 0), tol=1)
        cases.append(c)
    return cases


MEAN_HEADER_BODY = """#
# Read at a version from after TFLM's commit 79b493ae2 (Nov 2022, "Update MEAN to be compliant
# with TFL"): this reduce_test.cc uses TFLMRegistration (2023). All int8 MEAN tests use input and
# output scale 0.5, zero point 0; the input is tflite::Quantize of the test's floats, the
# expected output Quantize(golden, 0.5, 0). The axis (int32) is a const.
# Tolerance: TestReduceOpQuantized(..., 1.0) -> TF_LITE_MICRO_EXPECT_NEAR(expected_q, out, 1.0):
# tol=1.
# No int8 MEAN test of this file uses a negative axis (negative axes appear only in the float
# REDUCE_MAX test FloatMaxOpTestNotKeepDims).
#
# Skipped:
#   MeanFloat2DKeepDims, MeanFloat3DKeepDims, MeanFloat4DKeepDims, MeanFloat4DWithoutKeepDims,
#   MeanFloat4DWithoutKeepDimsWithPrecision                                  - float32 only
#   MeanInt162DKeepDims, MeanInt163DKeepDims, MeanInt164DKeepDims, MeanInt164DWithoutKeepDims,
#   MeanInt164DWithoutKeepDimsDifferentScaleAndZeroPoint                     - int16 only
#   FloatMaxOpTestNotKeepDims, FloatMaxOpTestKeepDims, Int8MaxOpTestKeepDims,
#   Int8MaxOpTestWithoutKeepDims                                  - REDUCE_MAX, not MEAN
#   SumFloatFlatten2ReduceDims, SumFloatFlatten2NonReduceDims, SumFloatFlatten2MiddleDims,
#   SumFloat2DKeepDims, SumInt82DKeepDims, SumInt162DKeepDims, SumFloat3DKeepDims,
#   SumInt83DKeepDims, SumInt163DKeepDims, SumFloat4DKeepDims, SumInt84DKeepDims,
#   SumInt164DKeepDims, SumFloat4DWithoutKeepDims, SumInt84DWithoutKeepDims,
#   SumInt164DWithoutKeepDims, SumInt164DWithoutKeepDimsDifferentScaleAndZeroPoint,
#   SumFloatSize1, SumFloat2DRedundantDims, SumFloatScalar                   - SUM, not MEAN
"""


def main():
    self_test()
    total = 0
    total += write_file("add.cases", header("add_test.cc",
                        "3b413221b4c9c8c16a09af528d95ad0c5c34356f", ADD_HEADER_BODY),
                        addsub_cases("add"))
    total += write_file("sub.cases", header("sub_test.cc",
                        "84b72b6b73d556618c51822f7e2bf2cd4561f478", SUB_HEADER_BODY),
                        addsub_cases("sub"))
    total += write_file("mul.cases", header("mul_test.cc",
                        "84b72b6b73d556618c51822f7e2bf2cd4561f478", MUL_HEADER_BODY), mul_cases())
    total += write_file("pad.cases", header("pad_test.cc",
                        "105e830a7cef1cd8f1cd082269a544b6418e853d", PAD_HEADER_BODY), pad_cases())
    total += write_file("transpose.cases", header("transpose_test.cc",
                        "8a1aae6c702c08e472b917a79ca18fedc122d63b", TRANSPOSE_HEADER_BODY),
                        transpose_cases())
    total += write_file("concatenation.cases", header("concatenation_test.cc",
                        "a2de605270e12aa91ca3573f339fcb4b77c9246b", CONCAT_HEADER_BODY),
                        concat_cases())
    total += write_file("reshape.cases", header("reshape_test.cc",
                        "b74bbff0eee247a7647899e545a9584d75d20560", RESHAPE_HEADER_BODY),
                        reshape_cases())
    total += write_file("quantize.cases", header("quantize_test.cc",
                        "46f3213e6fb16364d1eeb16e63296a8db74925e6", QUANTIZE_HEADER_BODY),
                        quantize_cases())
    total += write_file("dequantize.cases", header("dequantize_test.cc",
                        "105e830a7cef1cd8f1cd082269a544b6418e853d", DEQUANTIZE_HEADER_BODY),
                        dequantize_cases())
    total += write_file("mean.cases", header("reduce_test.cc",
                        "3b413221b4c9c8c16a09af528d95ad0c5c34356f", MEAN_HEADER_BODY),
                        mean_cases())
    print("total: %d cases" % total)


def self_test():
    assert round_half_away(F32(2.5)) == 3 and round_half_away(F32(-2.5)) == -3
    assert round_half_away(F32(-0.49999997)) == 0 and round_half_away(F32(0.5)) == 1
    # float32 division matters: -2.01f / 0.25f
    assert float_to_quantized(-2.01, 0.25, -10) == -18
    assert float_to_quantized(1000.0, 1.0, 0) == 127 and float_to_quantized(-1000, 1.0, 0) == -128


if __name__ == "__main__":
    sys.exit(main())
