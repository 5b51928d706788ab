#!/usr/bin/env python3
"""Generate pooling.cases, softmax.cases, activations.cases, logistic.cases, tanh.cases and
hard_swish.cases (tests/data/tflm/, format in ../FORMAT.md) from the int8 cases of TensorFlow Lite
Micro's kernel unit tests.

Every number below is copied from the TFLM test named in the case; the integers the test
computes at run time are computed here as TFLM's helpers compute them, in float32:

  tflite::Quantize / FloatToQuantizedType (tensorflow/lite/micro/micro_utils.h):
      q = round(value / scale) + zero_point, clamped to the type's range, where value / scale is
      a float32 division and round() rounds half away from zero.
  tflite::testing::ScaleFromMinMax<int8_t> (tensorflow/lite/micro/test_helpers.h):
      (max - min) / static_cast<float>(127 * 1.0 - (-128))          (float32)
  tflite::testing::ZeroPointFromMinMax<int8_t>:
      -128 + static_cast<int>(-min / scale + 0.5f)                   (float32, truncation)
  tflite::Dequantize: (q - zero_point) * scale                         (float32)

float32 arithmetic is emulated exactly: each +, -, *, / is done on float32 operands in double
and rounded once to float32 (f32 below), which is the correctly rounded float32 result.

Run:  python3 tests/data/tflm/gen/pool_act.py   (writes the six files next to gen/)
      python3 tests/data/tflm/gen/pool_act.py --check   (compares instead of writing)
No third-party modules are needed.
"""
import math
import os
import struct
import sys

OUT_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

TFLM = "tensorflow/tflite-micro"
KDIR = "tensorflow/lite/micro/kernels/"
HELPERS = ("tensorflow/lite/micro/micro_utils.h @ 6add2715939e9266641eed93d42fe23016a7b46e "
           "(Quantize, FloatToQuantizedType, Dequantize); "
           "tensorflow/lite/micro/test_helpers.h @ 07b51c12092ba3ad48ad0b46d6a3e5111475bf26 "
           "(CreateQuantizedTensor, ScaleFromMinMax, ZeroPointFromMinMax)")

INT8_MIN, INT8_MAX = -128, 127


# ----------------------------------------------------------------------------------------------
# float32 helpers (mirror TFLM's C++ float arithmetic)

def f32(x):
    """Round a Python float (double) to the nearest float32 value."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def round_half_away(x):
    """C round(): halfway cases away from zero."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def quantize(values, scale, zero_point, qmin=INT8_MIN, qmax=INT8_MAX):
    """tflite::Quantize<int8_t>: FloatToQuantizedType for each value (float32 division)."""
    scale = f32(scale)
    out = []
    for v in values:
        r = int(round_half_away(f32(f32(v) / scale))) + zero_point
        out.append(max(qmin, min(qmax, r)))
    return out


def dequantize(q, scale, zero_point):
    """tflite::Dequantize: (values[i] - zero_point) * scale in float32."""
    return [f32(float(v - zero_point) * f32(scale)) for v in q]


def scale_from_minmax_int8(vmin, vmax):
    return f32(f32(f32(vmax) - f32(vmin)) / f32(127 * 1.0 - (-128)))


def zero_point_from_minmax_int8(vmin, vmax):
    s = scale_from_minmax_int8(vmin, vmax)
    t = f32(f32(f32(-f32(vmin)) / s) + f32(0.5))
    return -128 + int(math.trunc(t))


# ----------------------------------------------------------------------------------------------
# case-file writer

def fmt_scale(s):
    s = f32(s)
    text = "%.9g" % s
    assert f32(float(text)) == s, (s, text)
    return text


def shape_str(shape):
    return "scalar" if not shape else "x".join(str(d) for d in shape)


def count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


class Case:
    def __init__(self, name, op, comment=None):
        self.name, self.op, self.comment = name, op, comment
        self.opts, self.lines = [], []

    def opt(self, **kw):
        self.opts.append(" ".join("%s=%s" % (k, v) for k, v in kw.items()))

    def inp(self, name, shape, scale, zp, values):
        assert len(values) == count(shape), (self.name, len(values), shape)
        assert all(INT8_MIN <= v <= INT8_MAX for v in values)
        self.lines.append("in %s int8 %s q=%s:%d : %s" % (
            name, shape_str(shape), fmt_scale(scale), zp, " ".join(str(v) for v in values)))

    def out(self, name, shape, scale, zp, tol, values):
        assert len(values) == count(shape), (self.name, len(values), shape)
        assert all(INT8_MIN <= v <= INT8_MAX for v in values)
        self.lines.append("out %s int8 %s q=%s:%d tol=%d : %s" % (
            name, shape_str(shape), fmt_scale(scale), zp, tol, " ".join(str(v) for v in values)))

    def text(self):
        t = ""
        if self.comment:
            t += "".join("# %s\n" % l if l else "#\n" for l in self.comment.split("\n"))
        t += "case %s\nop %s\n" % (self.name, self.op)
        for o in self.opts:
            t += "opt %s\n" % o
        for l in self.lines:
            t += l + "\n"
        return t + "\n"


def file_text(test_file, commit, also_read, header, cases):
    t = "# Generated by tests/data/tflm/gen/pool_act.py -- do not edit by hand; edit the script.\n"
    t += "# Source: %s, %s%s @ %s\n" % (TFLM, KDIR, test_file, commit)
    for a in also_read:
        t += "#   also read: %s\n" % a
    t += "# Helpers mirrored: %s\n" % HELPERS
    t += "".join("# %s\n" % l if l else "#\n" for l in header.strip("\n").split("\n"))
    t += "\n"
    return t + "".join(c.text() for c in cases)


# ----------------------------------------------------------------------------------------------
# pooling_test.cc: int8 values and goldens are literal in the test; TFLM compares with
# EXPECT_NEAR(golden, output, 1e-5f) on int8 -> exact (tol=0).

POOL_COMMIT = "8e9969fd8612e87132a56fb3b5ae8b694b6eda3b"


def pooling():
    cases = []
    shape_in = [1, 2, 4, 1]

    def pool(name, op, values, scale, fw, fh, sw, sh, padding, act, golden, out_shape,
             comment=None):
        c = Case("pooling_test.cc:" + name, op, comment)
        c.opt(padding=padding, stride_w=sw, stride_h=sh, filter_w=fw, filter_h=fh,
              activation=act)
        c.inp("input", shape_in, scale, 0, values)
        c.out("output", out_shape, scale, 0, 0, golden)
        cases.append(c)

    a = [0, -24, 8, 16, 12, 8, -40, 28]
    b = [12, -24, 32, 16, 12, 8, 40, 28]
    pool("SimpleAveragePoolTestInt8PaddingValidStride2ActNone", "AVERAGE_POOL_2D", a, 0.25,
         2, 2, 2, 2, "VALID", "NONE", [-1, 3], [1, 1, 2, 1])
    pool("SimpleAveragePoolTestInt8PaddingValidStride1Stride2Relu", "AVERAGE_POOL_2D", a, 0.25,
         2, 2, 1, 2, "VALID", "RELU", [0, 0, 3], [1, 1, 3, 1])
    pool("SimpleAveragePoolTestInt8PaddingValidStride2Stride1ReluN1To1", "AVERAGE_POOL_2D", a,
         0.25, 2, 2, 2, 1, "VALID", "RELU_N1_TO_1", [-1, 3], [1, 1, 2, 1])
    pool("SimpleAveragePoolTestInt8PaddingValidStride2Relu6", "AVERAGE_POOL_2D", b, 0.25,
         2, 2, 2, 2, "VALID", "RELU6", [2, 24], [1, 1, 2, 1])
    pool("SimpleAveragePoolTestInt8PaddingSameStride1ActNone", "AVERAGE_POOL_2D", b, 0.25,
         2, 2, 1, 1, "SAME", "NONE", [2, 14, 29, 22, 10, 24, 34, 28], [1, 2, 4, 1],
         comment=(
             "TFLM passes kTfLitePaddingValid here (despite the test's name) with a 1x2x4x1\n"
             "output tensor. TFLM's PoolingPrepare never checks the output shape against the\n"
             "padding: it computes VALID padding offsets (0, 0) and its reference AveragePool\n"
             "iterates over the 2x4 output tensor, clipping each window to the input. SAME\n"
             "padding gives the same 2x4 output and the same offsets (pad_h = pad_w = 0, the\n"
             "extra row/column falls after the input), so the computation is identical; edgeset\n"
             "refuses VALID with a 2x4 output (nn/kernels/pool.c checks the output size), so the\n"
             "case is written with padding=SAME as the name says."))
    pool("SimpleMaxPoolTestInt8ActNone", "MAX_POOL_2D", [0, 6, 2, 4, 3, 2, 10, 7], 1.0,
         2, 2, 2, 2, "VALID", "NONE", [6, 10], [1, 1, 2, 1])
    pool("MaxPoolTestInt8ActRelu", "MAX_POOL_2D", [-3, -12, 4, 8, -6, -4, 20, 14], 0.5,
         2, 2, 2, 2, "VALID", "RELU", [0, 20], [1, 1, 2, 1])
    pool("MaxPoolTestInt8ActReluN1To1", "MAX_POOL_2D", [-2, -6, -2, -4, -3, -2, 10, 7], 1.0,
         2, 2, 2, 2, "VALID", "RELU_N1_TO_1", [-1, 1], [1, 1, 2, 1])
    pool("MaxPoolTestInt8ActRelu6", "MAX_POOL_2D", [0, -6, 12, 4, -3, -2, 10, 7], 1.0,
         2, 2, 2, 2, "VALID", "RELU6", [0, 6], [1, 1, 2, 1])
    header = """
Int8 cases of pooling_test.cc: all 9 ported (5 AVERAGE_POOL_2D, 4 MAX_POOL_2D). Input values and
goldens are int8 literals in the test; TFLM checks EXPECT_NEAR(golden, output, 1e-5f), i.e.
exact, so tol=0. Input and output share scale and zero point (TFLM's PoolingPrepare requires it).
Skipped (not int8):
  SimpleAveragePoolTestFloat, SimpleMaxPoolTestFloat, SimpleMaxPoolTestFloatRelu,
  SimpleMaxPoolTestFloatReluN1To1, SimpleMaxPoolTestFloatRelu6,
  SimpleMaxPoolTestPaddingSameStride1, SimpleMaxPoolTestPaddingValidStride1   -- float32
  SimpleAveragePoolTestInt16PaddingValidStride2ActNone,
  SimpleAveragePoolTestInt16PaddingValidStride1Stride2Relu,
  SimpleAveragePoolTestInt16PaddingValidStride2Stride1ReluN1To1,
  SimpleAveragePoolTestInt16PaddingValidStride2Relu6,
  SimpleAveragePoolTestInt16PaddingSameStride1ActNone, SimpleMaxPoolTestInt16ActNone,
  MaxPoolTestInt16ActRelu, MaxPoolTestInt16ActReluN1To1, MaxPoolTestInt16ActRelu6
                                                     -- int16 (edgeset pools int8 only)
"""
    return file_text("pooling_test.cc", POOL_COMMIT,
                     ["same file @ 0cc6f983266d1bd6f5d66f485c546e8cc80ad6a2 (int8 tests identical)",
                      KDIR + "pooling_common.cc @ 13294d8b9d4e549bd085b9f58bd559d321b42adc "
                      "(Prepare: no output-shape check)"],
                     header, cases)


# ----------------------------------------------------------------------------------------------
# softmax_test.cc

SOFTMAX_COMMIT = "84b72b6b73d556618c51822f7e2bf2cd4561f478"

SM_IN_1D = [1.0, 2.0, 3.0, 4.0, 5.0]
SM_GOLDEN_1D = [0.011656231, 0.031684921, 0.086128544, 0.234121657, 0.636408647]
SM_IN_2D = [1.0, 2.0, 3.0, 4.0, 5.0, -1.0, -2.0, -3.0, -4.0, -5.0]
SM_GOLDEN_2D = [0.011656231, 0.031684921, 0.086128544, 0.234121657, 0.636408647,
                0.636408647, 0.234121657, 0.086128544, 0.031684921, 0.011656231]
SM_IN_3D = [
    3.00, 6.00, -5.00, 4.00, -9.00,
    -10.00, -10.00, -8.00, 2.00, 2.00,
    8.00, -5.00, -8.00, 5.00, -6.00,
    -8.00, 6.00, 1.00, -10.00, -8.00,
    7.00, 6.00, -10.00, -4.00, -5.00,
    2.00, 7.00, 9.00, -9.00, 7.00,
    -4.00, -2.00, 8.00, 2.00, 2.00,
    3.00, 6.00, 6.00, 2.00, 4.00,
    9.00, 7.00, -7.00, 0.00, 4.00,
    -3.00, 8.00, 8.00, -3.00, -4.00,
    -9.00, -9.00, 4.00, -8.00, -1.00,
    -10.00, -2.00, 6.00, -7.00, 0.00]
SM_GOLDEN_3D = [
    0.042009463, 0.843782625, 0.000014093, 0.114193561, 0.000000258,
    0.000003072, 0.000003072, 0.000022699, 0.499985578, 0.499985578,
    0.952571219, 0.000002153, 0.000000107, 0.047425728, 0.000000792,
    0.000000826, 0.993305397, 0.006692839, 0.000000112, 0.000000826,
    0.731046347, 0.268936922, 0.000000030, 0.000012210, 0.000004492,
    0.000717124, 0.106430599, 0.786421666, 0.000000012, 0.106430599,
    0.000006114, 0.000045174, 0.995015917, 0.002466398, 0.002466398,
    0.022595176, 0.453836234, 0.453836234, 0.008312301, 0.061420055,
    0.875505904, 0.118486839, 0.000000099, 0.000108046, 0.005899112,
    0.000008351, 0.499990113, 0.499990113, 0.000008351, 0.000003072,
    0.000002245, 0.000002245, 0.993296627, 0.000006103, 0.006692780,
    0.000000112, 0.000334520, 0.997191323, 0.000002254, 0.002471790]
SM_IN_4D = SM_IN_3D + [
    -9.00, -8.00, 6.00, -1.00, -5.00,
    -10.00, -5.00, -10.00, 7.00, -2.00,
    -5.00, -4.00, 1.00, 2.00, 2.00,
    -2.00, -2.00, 1.00, 1.00, -4.00,
    -8.00, -3.00, 1.00, 1.00, -1.00,
    -2.00, 6.00, -1.00, -5.00, 6.00,
    -7.00, 8.00, 9.00, 0.00, 9.00,
    -9.00, -5.00, -2.00, 0.00, 8.00,
    4.00, 2.00, -3.00, 5.00, 8.00,
    -1.00, 1.00, -4.00, -9.00, 7.00,
    3.00, -8.00, 0.00, 9.00, -4.00,
    8.00, -1.00, 9.00, -9.00, 1.00]
SM_GOLDEN_4D = SM_GOLDEN_3D + [
    0.000000306, 0.000000831, 0.999071142, 0.000911035, 0.000016686,
    0.000000041, 0.000006143, 0.000000041, 0.999870380, 0.000123394,
    0.000384554, 0.001045327, 0.155140254, 0.421714933, 0.421714933,
    0.023637081, 0.023637081, 0.474763454, 0.474763454, 0.003198931,
    0.000057299, 0.008503973, 0.464301197, 0.464301197, 0.062836334,
    0.000167625, 0.499684188, 0.000455653, 0.000008346, 0.499684188,
    0.000000048, 0.155354299, 0.422296769, 0.000052116, 0.422296769,
    0.000000041, 0.000002259, 0.000045383, 0.000335334, 0.999616982,
    0.017107856, 0.002315297, 0.000015600, 0.046503973, 0.934057274,
    0.000334516, 0.002471755, 0.000016655, 0.000000112, 0.997176963,
    0.002472313, 0.000000041, 0.000123089, 0.997402302, 0.000002254,
    0.268866557, 0.000033181, 0.730855076, 0.000000011, 0.000245175]


def softmax():
    in_scale = f32(0.1)            # const float input_scale = 0.1f
    out_scale = f32(1.0 / 256.0)   # output_scale_int8 = 1.0f / 256.0f
    out_zp = -128                  # output_zero_point_int8
    cases = []
    for name, shape, x, g in [
            ("Softmax1DQuantizedInt8ShouldMatchGolden", [5], SM_IN_1D, SM_GOLDEN_1D),
            ("Softmax2DQuantizedInt8ShouldMatchGolden", [2, 5], SM_IN_2D, SM_GOLDEN_2D),
            ("Softmax3DQuantizedInt8ShouldMatchGolden", [3, 4, 5], SM_IN_3D, SM_GOLDEN_3D),
            ("Softmax4DQuantizedInt8ShouldMatchGolden", [2, 3, 4, 5], SM_IN_4D, SM_GOLDEN_4D)]:
        assert len(x) == count(shape) and len(g) == count(shape)
        c = Case("softmax_test.cc:" + name, "SOFTMAX")
        c.opt(beta="1")
        c.inp("input", shape, in_scale, 0, quantize(x, in_scale, 0))
        c.out("output", shape, out_scale, out_zp, 1, quantize(g, out_scale, out_zp))
        cases.append(c)
    header = """
Int8-in/int8-out cases of softmax_test.cc: all 4 ported (1D, 2D, 3D, 4D). beta = 1.0
(TfLiteSoftmaxParams builtin_data = {1.0f}). Input: Quantize(float input, 0.1f, 0). Expected:
Quantize(float golden, 1.0f/256.0f, -128); TFLM checks EXPECT_NEAR(golden_quantized, output, 1.0)
with the default tolerance 1.0 of TestSoftmaxQuantized, so tol=1. The 1D shape is {1, 5} in TFLM's
IntArray notation (rank 1, five elements).
Skipped:
  Softmax1DFloatShouldMatchGolden, Softmax2DFloatShouldMatchGolden,
  Softmax3DFloatShouldMatchGolden, Softmax4DFloatShouldMatchGolden          -- float32
  Softmax1DQuantizedInt16ShouldMatchGolden, Softmax2DQuantizedInt16ShouldMatchGolden,
  Softmax3DQuantizedInt16ShouldMatchGolden, Softmax4DQuantizedInt16ShouldMatchGolden
                                                  -- int16 in/out (edgeset has no int16 softmax)
  Softmax2DQuantizedInt8InputInt16OutputShouldMatchGolden  -- int16 output (not supported)
"""
    return file_text("softmax_test.cc", SOFTMAX_COMMIT,
                     ["same file @ 2da570f66c6be8a22d67a00a48725f8b6b542b6b (same data and int8 tests)"],
                     header, cases)


# ----------------------------------------------------------------------------------------------
# activations_test.cc (RELU, RELU6)

ACT_COMMIT = "adecd0996f043b4c27db5152a11a440e49397d94"


def activations():
    cases = []
    # SimpleReluTestInt8: input_shape {2, 1, 5} (1x5, five elements) although the arrays hold ten
    # values; TFLM quantizes/compares ElementCount = 5 elements only.
    n = 5
    x = [1, 2, 3, 4, 5, -1, -2, -3, -4, -5][:n]
    g = [1, 2, 3, 4, 5, 0, 0, 0, 0, 0][:n]
    c = Case("activations_test.cc:SimpleReluTestInt8", "RELU")
    c.inp("input", [1, 5], 0.5, 0, quantize(x, 0.5, 0))
    c.out("output", [1, 5], 0.5, 0, 0, quantize(g, 0.5, 0))
    cases.append(c)
    x = [4, 5, 6, 7, 8, -1, -2, -3, -4, -5][:n]
    g = [4, 5, 6, 6, 6, 0, 0, 0, 0, 0][:n]
    c = Case("activations_test.cc:SimpleRelu6TestInt8", "RELU6", comment=(
        "zero point 127, scale 0.5: every one of the five used inputs (4..8) quantizes to\n"
        "4/0.5+127 = 135 or more, clamped to 127, and so does every golden; TFLM's case is\n"
        "ported as is (it only checks that saturated inputs stay 127)."))
    c.inp("input", [1, 5], 0.5, 127, quantize(x, 0.5, 127))
    c.out("output", [1, 5], 0.5, 127, 0, quantize(g, 0.5, 127))
    cases.append(c)
    header = """
Int8 cases of activations_test.cc: both ported (SimpleReluTestInt8, SimpleRelu6TestInt8).
Input: Quantize(float input, scale, zp); expected: Quantize(float golden, scale, zp); TFLM
checks TF_LITE_MICRO_EXPECT_EQ(golden_quantized, output), so tol=0.
Both tests declare input_shape {2, 1, 5}, i.e. a 1x5 tensor, while their data arrays hold ten
values (the last five negative): TFLM quantizes and compares only ElementCount = 5 elements, so
only the first five values are ported (the negative half is never exercised by TFLM).
Skipped:
  SimpleReluTestFloat, SimpleRelu6TestFloat                    -- float32
  SimpleReluTestInt16, SimpleRelu6TestInt16                    -- int16
"""
    return file_text("activations_test.cc", ACT_COMMIT,
                     ["same file @ 1b0a8e28a5fa16140cde203353bebbe70e9567cd (older; int8 tests identical, "
                      "no SimpleReluTestInt16)"],
                     header, cases)


# ----------------------------------------------------------------------------------------------
# logistic_test.cc

LOGISTIC_COMMIT = "105e830a7cef1cd8f1cd082269a544b6418e853d"


def logistic():
    out_scale = f32(1.0 / 255.0)   # quantized_output_scale_int8 = 1.0 / 255.0 (double -> float)
    out_zp = -128
    cases = []
    x = [1, 2, 3, 4, 5, -1, -2, -3, -4, -5]
    g = [0.73105858, 0.88079708, 0.95257413, 0.98201379, 0.99330715, 0.26894142, 0.11920292,
         0.04742587, 0.01798621, 0.00669285]
    c = Case("logistic_test.cc:LogisticQuantizedInt8BasicShouldMatchGolden", "LOGISTIC")
    in_scale = f32(0.1)
    c.inp("input", [2, 5], in_scale, 0, quantize(x, in_scale, 0))
    c.out("output", [2, 5], out_scale, out_zp, 1, quantize(g, out_scale, out_zp))
    cases.append(c)
    # shape_wide_range {2, 1, 5}: five elements of the ten-value arrays are used.
    x = [1.0, 2.0, 3.0, 4.0, 93.0, -1.0, -2.0, -3.0, -4.0, -93.0][:5]
    g = [0.73105858, 0.88079708, 0.95257413, 0.98201379, 1.0,
         0.26894142, 0.11920292, 0.04742587, 0.01798621, 0.0][:5]
    c = Case("logistic_test.cc:LogisticQuantizedInt8WideRangeShouldMatchGolden", "LOGISTIC",
             comment=("shape_wide_range is {2, 1, 5} (1x5) while the arrays hold ten values: TFLM\n"
                      "uses the first five only (inputs 1, 2, 3, 4, 93)."))
    in_scale = f32(1.0)
    c.inp("input", [1, 5], in_scale, 0, quantize(x, in_scale, 0))
    c.out("output", [1, 5], out_scale, out_zp, 1, quantize(g, out_scale, out_zp))
    cases.append(c)
    header = """
Int8 cases of logistic_test.cc: both ported. Input: Quantize(float input, input_scale, 0);
expected: Quantize(float golden, 1.0/255.0, -128) -- the test's output scale is 1/255, not the
1/256 the integer kernel's output represents; TFLM's Prepare only checks the zero point -128 and
its tolerance of 1 absorbs the difference. TFLM checks EXPECT_NEAR(golden_quantized, output,
1.0f), so tol=1.
Skipped:
  LogisticFloatBasicShouldMatchGolden, LogisticFloatWideRangeShouldMatchGolden  -- float32
  LogisticQuantizedInt16ShouldMatchGolden                                       -- int16
"""
    return file_text("logistic_test.cc", LOGISTIC_COMMIT,
                     ["same file @ 0389008cd7a5ebdb503cbfbf58dfb8303510eb8e (same data and int8 tests)",
                      KDIR + "logistic_common.cc @ 1a3dcaf6dbf47ac1c005846140f6e84abb62ef61 "
                      "(int8 Prepare: output zero point must be -128, no scale check)"],
                     header, cases)


# ----------------------------------------------------------------------------------------------
# tanh_test.cc

TANH_COMMIT = "ee3a98640d83f620679700ccc710f62e49b1a8d6"

TANH_IN = [
    -8.0000000000, -7.8181818182, -7.6363636364, -7.4545454545, -7.2727272727,
    -7.0909090909, -6.9090909091, -6.7272727273, -6.5454545455, -6.3636363636,
    -6.1818181818, -6.0000000000, -5.8181818182, -5.6363636364, -5.4545454545,
    -5.2727272727, -5.0909090909, -4.9090909091, -4.7272727273, -4.5454545455,
    -4.3636363636, -4.1818181818, -4.0000000000, -3.8181818182, -3.6363636364,
    -3.4545454545, -3.2727272727, -3.0909090909, -2.9090909091, -2.7272727273,
    -2.5454545455, -2.3636363636, -2.1818181818, -2.0000000000, -1.8181818182,
    -1.6363636364, -1.4545454545, -1.2727272727, -1.0909090909, -0.9090909091,
    -0.7272727273, -0.5454545455, -0.3636363636, -0.1818181818, 0.0000000000,
    0.1818181818, 0.3636363636, 0.5454545455, 0.7272727273, 0.9090909091,
    1.0909090909, 1.2727272727, 1.4545454545, 1.6363636364, 1.8181818182,
    2.0000000000, 2.1818181818, 2.3636363636, 2.5454545455, 2.7272727273,
    2.9090909091, 3.0909090909, 3.2727272727, 3.4545454545, 3.6363636364,
    3.8181818182, 4.0000000000, 4.1818181818, 4.3636363636, 4.5454545455,
    4.7272727273, 4.9090909091, 5.0909090909, 5.2727272727, 5.4545454545,
    5.6363636364, 5.8181818182, 6.0000000000, 6.1818181818, 6.3636363636,
    6.5454545455, 6.7272727273, 6.9090909091, 7.0909090909, 7.2727272727,
    7.4545454545, 7.6363636364, 7.8181818182, 8.0000000000]
TANH_OUT = [
    -0.9999997749, -0.9999996762, -0.9999995342, -0.9999993300, -0.9999990361,
    -0.9999986134, -0.9999980053, -0.9999971306, -0.9999958722, -0.9999940619,
    -0.9999914578, -0.9999877117, -0.9999823226, -0.9999745703, -0.9999634183,
    -0.9999473758, -0.9999242982, -0.9998911009, -0.9998433469, -0.9997746542,
    -0.9996758446, -0.9995337191, -0.9993292997, -0.9990353053, -0.9986125310,
    -0.9980046622, -0.9971308601, -0.9958751909, -0.9940716137, -0.9914827859,
    -0.9877703933, -0.9824541388, -0.9748561217, -0.9640275801, -0.9486568273,
    -0.9269625051, -0.8965880154, -0.8545351057, -0.7972097087, -0.7206956332,
    -0.6213939966, -0.4971057414, -0.3484130125, -0.1798408185, 0.0000000000,
    0.1798408185, 0.3484130125, 0.4971057414, 0.6213939966, 0.7206956332,
    0.7972097087, 0.8545351057, 0.8965880154, 0.9269625051, 0.9486568273,
    0.9640275801, 0.9748561217, 0.9824541388, 0.9877703933, 0.9914827859,
    0.9940716137, 0.9958751909, 0.9971308601, 0.9980046622, 0.9986125310,
    0.9990353053, 0.9993292997, 0.9995337191, 0.9996758446, 0.9997746542,
    0.9998433469, 0.9998911009, 0.9999242982, 0.9999473758, 0.9999634183,
    0.9999745703, 0.9999823226, 0.9999877117, 0.9999914578, 0.9999940619,
    0.9999958722, 0.9999971306, 0.9999980053, 0.9999986134, 0.9999990361,
    0.9999993300, 0.9999995342, 0.9999996762, 0.9999997749]


def tanh():
    # tanh_vec_size is 90 but both initialisers list 89 values (-8 .. 8 in steps of 16/88): C++
    # zero-fills the 90th element of each array, so TFLM's 90th input and golden are 0.0.
    assert len(TANH_IN) == 89 and len(TANH_OUT) == 89
    x, g = TANH_IN + [0.0], TANH_OUT + [0.0]
    in_scale = f32(f32(16.0) / f32(256.0))          # 16 / 256.f
    out_scale = f32(f32(1.99999955) / f32(256.0))   # 1.99999955f / 256.f
    c = Case("tanh_test.cc:SimpleTestTanhInt8", "TANH")
    c.inp("input", [1, 90], in_scale, 0, quantize(x, in_scale, 0))
    c.out("output", [1, 90], out_scale, 0, 2, quantize(g, out_scale, 0))
    header = """
Int8 case of tanh_test.cc: SimpleTestTanhInt8 ported (input scale 16/256.f, zero point 0;
output scale 1.99999955f/256.f, zero point 0; shape {2, 1, 90}). Input: Quantize(float input);
expected: Quantize(float golden); TFLM checks TF_LITE_MICRO_EXPECT_NEAR(expected_quantized,
output, 2), so tol=2.
tanh_vec_size is 90 but the test's two initialisers list 89 values each (-8 .. 8 in steps of
16/88); C++ zero-fills the rest, so the 90th input and golden are 0.0 (last value of each line).
Skipped:
  SimpleTestTanhFloat        -- float32
  TestTanhInt16WideRange     -- int16
(The older revision 1b718f4806ad4ae0057d888a8533b82e4932f513 names the same int8 test
SimpleTestTanhUInt8, twice, with identical data; it is the same case.)
"""
    return file_text("tanh_test.cc", TANH_COMMIT,
                     ["same file @ 1b718f4806ad4ae0057d888a8533b82e4932f513 (older; same int8 data)"],
                     header, [c])


# ----------------------------------------------------------------------------------------------
# hard_swish_test.cc

HS_COMMIT = "9e2d8289da54d781b0ffb7c58c048d496bf143cd"
MINSTD_A, MINSTD_M = 48271, 2147483647


class MinstdRand:
    """std::minstd_rand, default seed 1."""

    def __init__(self, seed=1):
        self.x = seed % MINSTD_M or 1

    def __call__(self):
        self.x = (self.x * MINSTD_A) % MINSTD_M
        return self.x


def generate_uniform_random_vector(size, vmin, vmax, rng):
    # float random_value_scaled_0_1 = (*random_engine)() *
    #     (1.0f / static_cast<float>(std::minstd_rand::modulus));
    # result[i] = min + (max - min) * random_value_scaled_0_1;
    inv = f32(1.0 / f32(float(MINSTD_M)))
    out = []
    for _ in range(size):
        r = f32(float(rng()))                 # unsigned -> float conversion
        v = f32(r * inv)
        out.append(f32(f32(vmin) + f32(f32(f32(vmax) - f32(vmin)) * v)))
    return out


def eval_reference_hard_swish(xs):
    # result[i] = in * std::min(6.0f, std::max(0.0f, in + 3)) * (1.0f / 6.0f);
    sixth = f32(1.0 / 6.0)
    out = []
    for x in xs:
        m = min(6.0, max(0.0, f32(x + 3.0)))
        out.append(f32(f32(x * m) * sixth))
    return out


# --- TFLM's reference_ops::HardSwish<int8_t> (tensorflow/lite/kernels/internal/reference/
# hard_swish.h) and HardSwishPrepare (tensorflow/lite/micro/kernels/hard_swish_common.cc), used
# only to check that TFLM's own kernel output lies inside every ported tolerance window.

def _quantize_multiplier(m):
    if m == 0.0:
        return 0, 0
    q, shift = math.frexp(m)
    q_fixed = int(round_half_away(q * (1 << 31)))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    return q_fixed, shift


def _downscale_16(m):
    rounding = 1 << 15
    if m >= 2147483647 - rounding:
        return 32767
    return (m + rounding) >> 16


def _wrap16(v):
    return ((v + 32768) & 0xFFFF) - 32768


def _tdiv(a, b):
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _srdhm16(a, b):
    if a == b == -32768:
        return 32767
    ab = a * b
    nudge = (1 << 14) if ab >= 0 else (1 - (1 << 14))
    return _wrap16(_tdiv(ab + nudge, 1 << 15))


def _sdhm16(a, b):
    if a == b == -32768:
        return 32767
    return _wrap16(_tdiv(a * b, 1 << 15))


def _sat_lshift16(v, amount):
    return max(-32768, min(32767, v * (1 << amount)))


def _rdbpot16(x, exponent):
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return _wrap16((x >> exponent) + (1 if remainder > threshold else 0))


def tflm_hard_swish_int8(q_in, in_scale, in_zp, out_scale, out_zp):
    hires_input_scale = f32(f32(1.0 / 128.0) * f32(in_scale))
    reluish_scale = f32(3.0 / 32768.0)
    om, oe = _quantize_multiplier(f32(hires_input_scale / f32(out_scale)))
    om16 = _downscale_16(om)
    assert oe <= 0
    rm, re = _quantize_multiplier(f32(hires_input_scale / reluish_scale))
    rm16 = _downscale_16(rm)
    out = []
    for x in q_in:
        iv = _wrap16(x - in_zp)
        hires = _wrap16(iv * (1 << 7))
        preshift_out = _srdhm16(hires, om16)
        rv = hires
        if re > 0:
            rv = _sat_lshift16(rv, re - 1)
        rv = _srdhm16(rv, rm16)
        if re > 0:
            rv = _sat_lshift16(rv, 1)
        if re < 0:
            rv = _rdbpot16(rv, -re)
        rv = (rv + (1 << 15)) >> 1
        pv = _sdhm16(rv, preshift_out)
        ov = _wrap16(_rdbpot16(pv, -oe) + out_zp)
        out.append(max(-128, min(127, ov)))
    return out


HS_PAIRS = [(0.0, 1.0), (-2.0, 1.0), (-5.0, 10.0), (-40.0, 60.0)]
HS_SIZE = 101


def hard_swish(report):
    rng = MinstdRand()  # one engine for the whole TEST, shared by the 16 (x, y) runs
    cases = []
    total_elems = exact_elems = 0
    for xi, (in_min, in_max) in enumerate(HS_PAIRS):
        for yi, (out_min, out_max) in enumerate(HS_PAIRS):
            in_scale = scale_from_minmax_int8(in_min, in_max)
            in_zp = zero_point_from_minmax_int8(in_min, in_max)
            out_scale = scale_from_minmax_int8(out_min, out_max)
            out_zp = zero_point_from_minmax_int8(out_min, out_max)
            ktol = f32(max(f32(in_max - in_min), f32(out_max - out_min)) * f32(1.5 / 256.0))
            xs = generate_uniform_random_vector(HS_SIZE, in_min, in_max, rng)
            ref = [f32(min(f32(out_max), max(f32(out_min), v)))
                   for v in eval_reference_hard_swish(xs)]
            q_in = quantize(xs, in_scale, in_zp)
            golden_q = quantize(ref, out_scale, out_zp)
            tflm = tflm_hard_swish_int8(q_in, in_scale, in_zp, out_scale, out_zp)
            # TFLM's check, per element: |ref - Dequantize(q)| <= kTolerance (float32). The set
            # of int8 outputs it accepts is found by trying all 256 values.
            elems = []  # (T, expected, exact) per element
            for i, r in enumerate(ref):
                ok = [q for q in range(-128, 128)
                      if not (abs(f32(r - dequantize([q], out_scale, out_zp)[0])) > ktol)]
                assert ok and ok == list(range(ok[0], ok[-1] + 1)), "not an interval"
                lo, hi = ok[0], ok[-1]
                assert lo <= tflm[i] <= hi, "TFLM's own kernel would fail its test"
                # largest T with an e whose window [e-T, e+T] (clipped to int8) lies in [lo, hi]
                for T in range(255, -1, -1):
                    cand = [e for e in range(-128, 128)
                            if max(-128, e - T) >= lo and min(127, e + T) <= hi]
                    if cand:
                        break
                # prefer the window equal to TFLM's interval, then one holding TFLM's kernel
                # output, then the one nearest Quantize(reference)
                e = min(cand, key=lambda e: ((max(-128, e - T), min(127, e + T)) != (lo, hi),
                                             abs(e - tflm[i]) > T, abs(e - golden_q[i]), e))
                exact = (max(-128, e - T), min(127, e + T)) == (lo, hi)
                assert abs(e - tflm[i]) <= T, "ported window excludes TFLM's kernel output"
                elems.append((T, e, exact))
                total_elems += 1
                exact_elems += exact
            groups = {}
            for i, (T, e, exact) in enumerate(elems):
                groups.setdefault(T, []).append(i)
            order = sorted(groups, key=lambda T: (-len(groups[T]), -T))
            for T in order:
                idx = groups[T]
                name = "hard_swish_test.cc:SimpleHardSwishTestInt8/x%d_y%d" % (xi, yi)
                if len(groups) > 1:
                    name += "/tol%d" % T
                n_exact = sum(elems[i][2] for i in idx)
                comment = ("run x=%d y=%d: input [min, max] = [%g, %g], output [min, max] = "
                           "[%g, %g];\nkTolerance = %.9g = %.4g output steps."
                           % (xi, yi, in_min, in_max, out_min, out_max, ktol, ktol / out_scale))
                if len(idx) == HS_SIZE:
                    comment += " All %d elements of the run." % HS_SIZE
                elif len(idx) > HS_SIZE // 2:
                    rest = [i for i in range(HS_SIZE) if i not in idx]
                    comment += ("\nThe run's %d elements except %s (0-based; they fit "
                                "another tol, see the other /tolN cases)." % (HS_SIZE, ", ".join(map(str, rest))))
                else:
                    comment += ("\nElement%s %s (0-based) of the run's %d, whose accepted set "
                                "fits tol=%d." % ("s" if len(idx) > 1 else "",
                                                         ", ".join(map(str, idx)), HS_SIZE, T))
                if n_exact == len(idx):
                    comment += "\nEvery window equals the set TFLM's check accepts."
                else:
                    comment += ("\n%d of %d windows equal TFLM's accepted set; the other %d are "
                                "one value narrower\n(TFLM's set has an even number of values)."
                                % (n_exact, len(idx), len(idx) - n_exact))
                c = Case(name, "HARD_SWISH", comment=comment)
                c.inp("input", [1, len(idx)], in_scale, in_zp, [q_in[i] for i in idx])
                c.out("output", [1, len(idx)], out_scale, out_zp, T,
                      [elems[i][1] for i in idx])
                cases.append(c)
    report.append("hard_swish: %d of %d elements exact to TFLM's accepted set"
                  % (exact_elems, total_elems))
    header = """
Int8 case of hard_swish_test.cc: SimpleHardSwishTestInt8, 16 runs (x, y over the min/max pairs
{0,1}, {-2,1}, {-5,10}, {-40,60} for input and output), 101 elements each, shape {2, 1, 101}.
The inputs are "random" but deterministic: one std::minstd_rand with its default seed (1) per
TEST, shared by the 16 runs in order, value = min + (max - min) * (rand() * (1.0f / 2147483647.f))
in float32; reproduced exactly here (x = 48271 * x mod 2^31-1), then Quantize(input, scale, zp)
with scale = ScaleFromMinMax<int8_t>, zp = ZeroPointFromMinMax<int8_t>.
TFLM's criterion: the float reference x * min(6, max(0, x + 3)) * (1/6), clamped to
[output_min, output_max], must be within kTolerance = max(input range, output range) * 1.5/256
of Dequantize(output), in float32. For every element the script finds, by trying all 256 int8
outputs, the interval of outputs this accepts, and the largest tol T and expected value e whose
window [e - T, e + T] (clipped to int8) lies inside it. A case line holds one tol per output, so
each run's elements are grouped by their T: a run whose elements all share a T is one case of
101 elements; otherwise it becomes one case per T (suffix /tolT), each with that subset of the
run's elements, in order (the op is elementwise, so each element's result is unchanged). The
window equals TFLM's accepted interval except where that interval has an even number of values,
where it is one value narrower: the port never accepts an output TFLM's check rejects. There e
is chosen so the window holds the output of TFLM's own reference kernel
(reference_ops::HardSwish, simulated in the script, which also checks it passes TFLM's
criterion), then nearest Quantize(reference).
Here: %d of the %d elements have a window equal to TFLM's accepted set, %d one value narrower.
Skipped:
  SimpleHardSwishTestFloat                      -- float32
  (older revision 2147476cb12f0fbbf1ae3db0b24206807425b127 also has SimpleHardSwishTestUint8
  and SimpleHardSwishTestQuantizedBias, both uint8; the revision read has neither)
""" % (exact_elems, total_elems, total_elems - exact_elems)
    return file_text("hard_swish_test.cc", HS_COMMIT,
                     ["same file @ 2147476cb12f0fbbf1ae3db0b24206807425b127 (older; same int8 test)",
                      KDIR + "hard_swish_common.cc @ 0cc6f983266d1bd6f5d66f485c546e8cc80ad6a2 (Prepare)",
                      "tensorflow/lite/kernels/internal/reference/hard_swish.h @ "
                      "d138bfcf009f28b8c945137446d8bbf4c3d3b69e (kernel, simulated)"],
                     header, cases)


def main():
    check = "--check" in sys.argv[1:]
    report = []
    files = {
        "pooling.cases": pooling(),
        "softmax.cases": softmax(),
        "activations.cases": activations(),
        "logistic.cases": logistic(),
        "tanh.cases": tanh(),
        "hard_swish.cases": hard_swish(report),
    }
    bad = 0
    for name, text in files.items():
        path = os.path.join(OUT_DIR, name)
        if check:
            try:
                with open(path, encoding="utf-8") as f:
                    same = f.read() == text
            except FileNotFoundError:
                same = False
            print("%-18s %s" % (name, "ok" if same else "DIFFERS"))
            bad += not same
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            print("wrote %s (%d cases)" % (path, text.count("\ncase ")))
    for r in report:
        print(r)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
