#!/usr/bin/env python3
"""Generate conv.cases, depthwise_conv.cases and fully_connected.cases (tests/data/tflm/, format in
../FORMAT.md) from the int8 cases of TensorFlow Lite Micro's conv_test.cc, depthwise_conv_test.cc
and fully_connected_test.cc.

Every number comes from the TFLM test named in the case (large arrays are copied verbatim into
conv_test_data.txt and depthwise_fc_test_data.txt beside this script). The integers the tests
compute at run time are computed here the way TFLM's helpers compute them, in float32:

  tflite::Quantize / FloatToQuantizedType<T> (tensorflow/lite/micro/micro_utils.h):
      q = round(value / scale) + zero_point, clamped to T's range
  tflite::SymmetricQuantize / FloatToSymmetricQuantizedType<T> (same file):
      q = round(value / scale), clamped to [T's min + 1, T's max]       (biases: T = int32_t)
  tflite::SignedSymmetricPerChannelQuantize (micro_utils.cc), used by
  CreateSymmetricPerChannelQuantizedTensor (test_helpers.cc), per channel c:
      min = fminf(0, values), max = fmaxf(0, values)
      scale[c] = fmaxf(fabs(min), fabs(max)) / 127
      q = roundf(value / scale[c]), clamped to [-127, 127]
  CreateSymmetricPerChannelQuantizedTensorWithoutScaleEstimation (test_helpers.cc): the given
      per-channel scales, q = SymmetricPerChannelQuantize<int8_t>: [-127, 127]
  CreatePerChannelQuantizedBiasTensor (test_helpers.h): scale[c] = input_scale * filter_scale[c]
      (float32 product), q = SymmetricPerChannelQuantize<int32_t>
  CreateQuantizedBiasTensor (test_helpers.h): scale = input_scale * weights_scale,
      q = SymmetricQuantize<int32_t>

value / scale and every product are float32 operations; round()/roundf() round halfway cases away
from zero. float32 arithmetic is emulated exactly: each operation is done on float32 operands in
double and rounded once to float32 (f32 below), which is the correctly rounded float32 result.

Run:  python3 tests/data/tflm/gen/conv_fc.py           writes the three files next to gen/
      python3 tests/data/tflm/gen/conv_fc.py --check   compares them with the files instead
      python3 tests/data/tflm/gen/conv_fc.py --verify  also runs every case through a Python port
          of TFLM's reference integer kernels (reference_integer_ops ConvPerChannel,
          DepthwiseConvPerChannel, FullyConnected[PerChannel], QuantizeMultiplier and
          MultiplyByQuantizedMultiplier) and checks its outputs meet each case's tolerance
No third-party modules are needed.
"""
import math
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.normpath(os.path.join(HERE, ".."))

TFLM = "tensorflow/tflite-micro"
K = "tensorflow/lite/micro/kernels/"
CONV_TEST = K + "conv_test.cc @ 0cc6f983266d1bd6f5d66f485c546e8cc80ad6a2"
DW_TEST = K + "depthwise_conv_test.cc @ 661e7cf971b1546c0786237f86935ca5d1672603"
FC_TEST = K + "fully_connected_test.cc @ 39209b412a0ebe85c1774b3822559e230e38a3c2"
HELPERS = [
    "tensorflow/lite/micro/micro_utils.h @ 6add2715939e9266641eed93d42fe23016a7b46e "
    "(Quantize, SymmetricQuantize, SymmetricPerChannelQuantize)",
    "tensorflow/lite/micro/micro_utils.cc @ 0cc6f983266d1bd6f5d66f485c546e8cc80ad6a2 "
    "(SignedSymmetricPerChannelQuantize)",
    "tensorflow/lite/micro/test_helpers.h @ 8a1aae6c702c08e472b917a79ca18fedc122d63b "
    "(CreateQuantizedTensor, CreateQuantizedBiasTensor, CreatePerChannelQuantizedBiasTensor)",
    "tensorflow/lite/micro/test_helpers.cc @ 00f6b50a15c3270e53be259d264046161eaee7cd "
    "(CreateSymmetricPerChannelQuantizedTensor[WithoutScaleEstimation])",
]

INT8_MIN, INT8_MAX = -128, 127
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


# ----------------------------------------------------------------------------------------------
# float32 helpers (mirror TFLM's C++ float arithmetic)

def f32(x):
    """Round a Python float (double) to the nearest float32 value."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def round_half_away(x):
    """C round()/roundf(): halfway cases away from zero."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def clamp(v, lo, hi):
    return max(lo, min(hi, v))


def quantize(values, scale, zero_point, qmin=INT8_MIN, qmax=INT8_MAX):
    """tflite::Quantize: FloatToQuantizedType for each value."""
    scale = f32(scale)
    return [clamp(int(round_half_away(f32(f32(v) / scale))) + zero_point, qmin, qmax)
            for v in values]


def symmetric_quantize(values, scale, qmin=INT32_MIN + 1, qmax=INT32_MAX):
    """tflite::SymmetricQuantize<T>: FloatToSymmetricQuantizedType for each value."""
    scale = f32(scale)
    return [clamp(int(round_half_away(f32(f32(v) / scale))), qmin, qmax) for v in values]


def channel_indices(shape, qdim, c):
    """Flat (row-major) indices of the elements of channel c along dimension qdim."""
    strides = [1] * len(shape)
    for i in range(len(shape) - 2, -1, -1):
        strides[i] = strides[i + 1] * shape[i + 1]
    out = []
    for flat in range(math.prod(shape)):
        if (flat // strides[qdim]) % shape[qdim] == c:
            out.append(flat)
    return out


def signed_symmetric_per_channel(values, shape, qdim):
    """SignedSymmetricPerChannelQuantize (int8): per-channel scales and the quantized values."""
    q = [0] * len(values)
    scales = []
    for c in range(shape[qdim]):
        idx = channel_indices(shape, qdim, c)
        lo = hi = 0.0
        for i in idx:
            lo = min(lo, f32(values[i]))
            hi = max(hi, f32(values[i]))
        scale = f32(max(abs(lo), abs(hi)) / 127)
        scales.append(scale)
        for i in idx:
            q[i] = clamp(int(round_half_away(f32(f32(values[i]) / scale))), -127, 127)
    return scales, q


def per_channel_quantize(values, scales, qmin, qmax):
    """SymmetricPerChannelQuantize<T> with quantized dimension 0: channel c is the c-th run of
    len(values) / len(scales) values."""
    per = len(values) // len(scales)
    q = []
    for c, s in enumerate(scales):
        q += symmetric_quantize(values[c * per:(c + 1) * per], s, qmin, qmax)
    return q


def per_channel_bias(values, input_scale, filter_scales):
    """CreatePerChannelQuantizedBiasTensor: scales input_scale * filter_scale[c] (float32)."""
    scales = [f32(f32(input_scale) * f32(s)) for s in filter_scales]
    return scales, per_channel_quantize(values, scales, INT32_MIN + 1, INT32_MAX)


# ----------------------------------------------------------------------------------------------
# the data files beside this script

def read_arrays(name, conv=float):
    arrays, cur = {}, None
    with open(os.path.join(HERE, name)) as f:
        for line in f:
            if line.startswith("#"):
                continue
            if line.startswith("="):
                cur = line[1:].strip()
                arrays[cur] = []
            elif cur:
                arrays[cur] += [conv(x) for x in re.split(r"[,\s]+", line.strip()) if x]
    return arrays


# ----------------------------------------------------------------------------------------------
# writing cases

def fmt_scale(s):
    s = f32(s)
    text = "%.9g" % s
    assert f32(float(text)) == s
    return text


def q_tensor(scale, zero_point):
    return "q=%s:%d" % (fmt_scale(scale), zero_point)


def q_channels(qdim, scales, zero_points=None):
    zero_points = zero_points or [0] * len(scales)
    return "pc=%d:%s:%s" % (qdim, ",".join(fmt_scale(s) for s in scales),
                            ",".join(str(z) for z in zero_points))


def shape_str(shape):
    return "x".join(str(d) for d in shape) if shape else "scalar"


class Tensor:
    def __init__(self, kind, name, type_, shape, quant, values, tol=None, qinfo=None):
        assert values is None or len(values) == math.prod(shape), (name, len(values), shape)
        self.kind, self.name, self.type, self.shape = kind, name, type_, list(shape)
        self.quant, self.values, self.tol = quant, values, tol
        self.qinfo = qinfo  # (scales, zero_points, qdim) for --verify

    def line(self):
        parts = [self.kind, self.name, self.type, shape_str(self.shape), self.quant]
        if self.kind == "out":
            parts.append("tol=%d" % self.tol)
        if self.values is not None:
            parts.append(":")
            parts += [str(v) for v in self.values]
        return " ".join(parts)


def t_in(name, shape, values, scale, zp):
    return Tensor("in", name, "int8", shape, q_tensor(scale, zp), values,
                  qinfo=([f32(scale)], [zp], 0))


def t_out(name, shape, values, scale, zp, tol):
    return Tensor("out", name, "int8", shape, q_tensor(scale, zp), values, tol,
                  qinfo=([f32(scale)], [zp], 0))


def t_filter(shape, values, scales, qdim, zero_points=None):
    zero_points = zero_points or [0] * len(scales)
    quant = (q_tensor(scales[0], zero_points[0]) if len(scales) == 1
             else q_channels(qdim, scales, zero_points))
    return Tensor("const", "filter", "int8", shape, quant, values,
                  qinfo=([f32(s) for s in scales], zero_points, qdim))


def t_bias(shape, values, scales, qdim):
    quant = q_tensor(scales[0], 0) if len(scales) == 1 else q_channels(qdim, scales)
    return Tensor("const", "bias", "int32", shape, quant, values,
                  qinfo=([f32(s) for s in scales], [0] * len(scales), qdim))


class Case:
    def __init__(self, name, op, opts, tensors, comment=(), load_error=False):
        self.name, self.op, self.opts, self.tensors = name, op, opts, tensors
        self.comment, self.load_error = list(comment), load_error

    def text(self):
        lines = ["# " + c if c else "#" for c in self.comment]
        lines += ["case " + self.name, "op " + self.op]
        if self.opts:
            lines.append("opt " + " ".join("%s=%s" % kv for kv in self.opts))
        lines += [t.line() if t else "none" for t in self.tensors]
        if self.load_error:
            lines.append("expect load-error")
        return "\n".join(lines) + "\n"


def render(header, cases):
    return "\n".join(["\n".join("# " + h if h else "#" for h in header) + "\n"] +
                     [c.text() for c in cases])


def common_header(script_note, sources):
    h = ["Generated by tests/data/tflm/gen/conv_fc.py -- do not edit by hand; edit the script.",
         "Source: %s, %s" % (TFLM, sources[0])]
    h += ["  also read: %s" % s for s in sources[1:]]
    h += ["Helpers mirrored (float32, as TFLM's tests run them):"]
    h += ["  %s" % s for s in HELPERS]
    return h + script_note


# ----------------------------------------------------------------------------------------------
# conv_test.cc

def conv_cases():
    data = read_arrays("conv_test_data.txt", int)
    cases = []

    # Common inputs and outputs of conv_test.cc.
    in_shape, in_data = [2, 2, 4, 1], [1, 1, 1, 1, 2, 2, 2, 2, 1, 2, 3, 4, 1, 2, 3, 4]
    f_shape, f_data = [3, 2, 2, 1], [1, 2, 3, 4, -1, 1, -1, 1, -1, -1, 1, 1]
    b_shape, b_data = [3], [1, 2, 3]
    out_shape = [2, 1, 2, 3]
    golden = [18, 2, 5, 18, 2, 5, 17, 4, 3, 37, 4, 3]
    common = [("padding", "VALID"), ("stride_w", 2), ("stride_h", 2), ("dilation_w", 1),
              ("dilation_h", 1), ("activation", "NONE")]

    def per_channel(name, in_shape, in_data, in_scale, in_zp, f_shape, f_data, b_shape, b_data,
                    out_shape, golden, out_scale, out_zp, opts, comment=()):
        """TestConvQuantizedPerChannel (conv_test_common.cc): per-channel filter (dimension 0),
        per-channel bias, goldens quantized with the output's parameters, tolerance 1.0."""
        f_scales, f_q = signed_symmetric_per_channel(f_data, f_shape, 0)
        b_scales, b_q = per_channel_bias(b_data, in_scale, f_scales)
        return Case("conv_test.cc:" + name, "CONV_2D", opts, [
            t_in("input", in_shape, quantize(in_data, in_scale, in_zp), in_scale, in_zp),
            t_filter(f_shape, f_q, f_scales, 0),
            t_bias(b_shape, b_q, b_scales, 0),
            t_out("output", out_shape, quantize(golden, out_scale, out_zp), out_scale, out_zp, 1),
        ], comment)

    cases.append(per_channel("SimpleTestQuantizedPerChannel", in_shape, in_data, 0.5, 0, f_shape,
                             f_data, b_shape, b_data, out_shape, golden, 1.0, 0, common))
    cases.append(per_channel(
        "SimpleTestQuantizedPerChannelRelu6", in_shape, in_data, 0.023529, -128, f_shape, f_data,
        b_shape, [1, 2, -3], out_shape, [6, 2, 0, 6, 2, 0, 6, 4, 0, 6, 4, 0], 0.023529, -128,
        common, ["TFLM passes common_conv_params here (activation None despite the name); the",
                 "output range [0, 6.0] of scale 0.023529 and zero point -128 does the clipping."]))
    k1x1 = [("padding", "VALID"), ("stride_w", 1), ("stride_h", 1), ("dilation_w", 1),
            ("dilation_h", 1)]
    k_in = [1, 1, 1, 1, 2, 2, 2, 2, 1, 2, 3, 4, 1, 2, 3, 4]
    k_f = [1, 2, 3, 4, -1, 1, -1, 1, -1, -1, 1, 1]
    cases.append(per_channel("Kernel1x1QuantizedPerChannel", [1, 2, 2, 4], k_in, 0.5, 0,
                             [3, 1, 1, 4], k_f, [3], [1, 2, 3], [1, 2, 2, 3],
                             [11, 2, 3, 21, 2, 3, 31, 4, 7, 31, 4, 7], 1.0, 0,
                             k1x1 + [("activation", "NONE")]))
    cases.append(per_channel("Kernel1x1QuantizedPerChannelRelu6", [1, 2, 2, 4], k_in, 0.023529,
                             -128, [3, 1, 1, 4], k_f, [3], [1, 2, -3], [1, 2, 2, 3],
                             [6, 2, 0, 6, 2, 0, 6, 4, 1, 6, 4, 1], 0.023529, -128,
                             k1x1 + [("activation", "RELU6")]))

    # BroadcastPerLayerQuantizationToPerChannelShouldMatchGolden: per-tensor scales 1.0; the bias
    # is SymmetricQuantize'd with input_scale * output_scale and labelled input_scale *
    # filter_scale (all 1.0); ValidateConvGoldens' default tolerance 1e-5: exact.
    cases.append(Case("conv_test.cc:BroadcastPerLayerQuantizationToPerChannelShouldMatchGolden",
                      "CONV_2D", common, [
                          t_in("input", in_shape, quantize(in_data, 1.0, 0), 1.0, 0),
                          t_filter(f_shape, quantize(f_data, 1.0, 0), [1.0], 0),
                          t_bias(b_shape, symmetric_quantize(b_data, f32(1.0 * 1.0)), [1.0], 0),
                          t_out("output", out_shape, quantize(golden, 1.0, 0), 1.0, 0, 0),
                      ]))

    # Int8Filter1x3x3x1ShouldMatchGolden{Even,Odd}InputPaddingSame: int8 data from
    # conv_test_data.cc, quantization given; one-scale "per-channel" filter and bias (quantized
    # dimension 0); common_conv_params with padding SAME; tolerance 1.0.
    same = [("padding", "SAME")] + common[1:]
    for parity, side, out_side in (("Even", 4, 2), ("Odd", 5, 3)):
        cases.append(Case(
            "conv_test.cc:Int8Filter1x3x3x1ShouldMatchGolden%sInputPaddingSame" % parity,
            "CONV_2D", same, [
                t_in("input", [1, side, side, 1], data["kConvInput1x%dx%dx1" % (side, side)],
                     0.00392120517, -128),
                t_filter([1, 3, 3, 1], data["kConvFilter1x3x3x1"], [0.00448552053], 0),
                t_bias([1], data["kConvZeroBias"], [0.00001758864], 0),
                t_out("output", [1, out_side, out_side, 1],
                      data["kConvGoldenOutput%dx%dInputPaddingSame%dx%d" % (side, side, out_side,
                                                                            out_side)],
                      0.00627814838, -7, 1),
            ]))

    # FilterDimsNotMatchingAffineQuantization, first check: the filter's scale array is cut to 2
    # entries (neither 1 nor its 3 output channels): Prepare fails.
    f_scales, f_q = signed_symmetric_per_channel(f_data, f_shape, 0)
    b_scales, b_q = per_channel_bias(b_data, 0.5, f_scales)
    cases.append(Case(
        "conv_test.cc:FilterDimsNotMatchingAffineQuantization", "CONV_2D", common, [
            t_in("input", in_shape, quantize(in_data, 0.5, 0), 0.5, 128),
            t_filter(f_shape, f_q, f_scales[:2], 0),
            t_bias(b_shape, b_q, b_scales, 0),
            t_out("output", out_shape, quantize(golden, 1.0, 0), 1.0, 0, 0),
        ], ["TFLM's filter keeps 2 of its 3 per-channel scales (scale->size = 2): Prepare fails.",
            "As in TFLM the input's zero point is 128 (its values were quantized with zero point",
            "0), which edgeset refuses for an int8 tensor as well."], load_error=True))

    # Int8Input32x1Filter32x32ShouldMatchGolden: everything 1.0 but the output scale (50); the bias
    # is SymmetricQuantize'd with input_scale * output_scale = 50 and labelled 1.0.
    n = 32
    filt = [(i * 25) % 256 - 128 for i in range(n * n)]
    expected = [5168, 3377, 306, -4045, -4556, -1227, 822, 1591, 5176, 3385, 314, -4037, -4548,
                -1219, 830, 1599, 5184, 3393, 322, -4029, -4540, -1211, 838, 1607, 5192, 3401,
                330, -4021, -4532, -1203, 846, 1615]
    cases.append(Case(
        "conv_test.cc:Int8Input32x1Filter32x32ShouldMatchGolden", "CONV_2D",
        k1x1 + [("activation", "NONE")], [
            t_in("input", [1, 1, 1, n], quantize([i - 16 for i in range(n)], 1.0, 0), 1.0, 0),
            t_filter([n, 1, 1, n], quantize(filt, 1.0, 0), [1.0], 0),
            t_bias([n], symmetric_quantize(list(range(n)), f32(1.0 * 50.0)), [1.0], 0),
            t_out("output", [1, 1, 1, n], quantize(expected, 50.0, 0), 50.0, 0, 1),
        ], ["Tolerance: kQuantizationTolerance = 1."]))

    # Int8Filter8x3x3x3PerChannelScaleRelu6ShouldMatchGolden (from TFLM issue 329).
    cases.append(Case(
        "conv_test.cc:Int8Filter8x3x3x3PerChannelScaleRelu6ShouldMatchGolden[padding=SAME]",
        "CONV_2D", same[:-1] + [("activation", "RELU6")], [
            t_in("input", [1, 32, 32, 3], data["kConvInput1x32x32x3"], 0.00784313772, -1),
            t_filter([8, 3, 3, 3], data["kConvFilter8x3x3x3"],
                     [2.18926089e-05, 0.00453596329, 0.000504297379, 0.00184638216,
                      0.00596635276, 0.000199135626, 0.0047677448, 0.00193942268], 0),
            t_bias([8], data["kConvBiasQuantized8"],
                   [1.71706745e-07, 3.5576184e-05, 3.95527377e-06, 1.44814294e-05,
                    4.67949249e-05, 1.56184819e-06, 3.73940784e-05, 1.52111588e-05], 0),
            t_out("output", [1, 16, 16, 8], data["kConvGoldenOutput1x16x16x8"], 0.0235294122,
                  -128, 1),
        ], ["TFLM runs this with common_conv_params (padding VALID, stride 2) and a declared",
            "1x16x16x8 output. VALID on a 32-wide input with a 3-wide filter and stride 2 gives",
            "15, not 16; TFLM's Prepare does not compare the output tensor's dims with the padding",
            "(conv_common.cc overwrites out_height/out_width and ignores them) and its reference",
            "kernel loops over the declared 16x16, skipping the taps past the input's edge.",
            "edgeset refuses an output shape that disagrees with the padding (es__conv_geometry in",
            "nn/kernels/conv_common.c). SAME padding declares the same 16x16 output with the same",
            "padding (0 before, the one missing row/column after), so this case runs exactly",
            "TFLM's arithmetic with padding=SAME. Data: conv_test_data.cc; tolerance 1.0."]))
    return cases


CONV_NOTE = [
    "",
    "TestConvQuantizedPerChannel (conv_test_common.cc @ 0e09ad378de18c6eec2f2ce9dd5e48a15953699f,",
    "conv_test.h @ 06dc7156b7992f99f009cabd34679d7fc2d2c7a6) quantizes the float data at run time:",
    "input Quantize(input_scale, input_zp); filter CreateSymmetricPerChannelQuantizedTensor",
    "(dimension 0); bias CreatePerChannelQuantizedBiasTensor (input_scale * filter_scale[c]);",
    "goldens Quantize(output_scale, output_zp) compared with ValidateConvGoldens(..., 1.0):",
    "tol=1. Other tolerances are stated per case (ValidateConvGoldens' default 1e-5: tol=0).",
    "",
    "Skipped:",
    "  SimpleTestQuantized4bitPerChannel                     - int4 filter",
    "  SimpleTestQuantizedPerChannelCompressed,",
    "  SimpleTestQuantized16x8PerChannel64bBiasCompressed,",
    "  SimpleTestQuantized16x8PerChannel32bBiasCompressed    - USE_TFLM_COMPRESSION (the 16x8",
    "                                                          ones are int16 as well)",
    "  SimpleTestFloat, SimpleTestFloatCompressed, InputAndFilterSameWidthHeight,",
    "  InputOutputDifferentTypeIsError                       - float32",
    "  HybridModeIsError                                     - hybrid (float32 input, int8 filter)",
    "  SimpleTestQuantized16x8PerChannel64bBias, SimpleTestQuantized16x8PerChannel32bBias,",
    "  SimpleTestQuantized16x8PerChannelRelu664bBias,",
    "  SimpleTestQuantized16x8PerChannelRelu632bBias,",
    "  Kernel1x1Quantized16x8PerChannelRelu6                 - int16 activations",
    "  SimpleTestDilatedQuantizedPerChannel                  - its declared 2x2x2x3 output does",
    "      not match its geometry: VALID padding on a 4x6 input, 2x2 filter dilated 2 (rows) and",
    "      3 (columns), stride 2 gives 1x2, not 2x2. TFLM does not check output dims and computes",
    "      the second row from the taps inside the input; no padding mode gives 2x2 with that",
    "      arithmetic (SAME gives 2x3), and edgeset refuses an output shape that disagrees with",
    "      the padding (es__conv_geometry, nn/kernels/conv_common.c).",
    "  FilterDimsNotMatchingAffineQuantization, second check (zero-point array shorter than the",
    "      scale array): edgeset's builder writes one count for both. The first check is ported.",
    "",
]


# ----------------------------------------------------------------------------------------------
# depthwise_conv_test.cc

def depthwise_cases():
    data = read_arrays("depthwise_fc_test_data.txt")
    cases = []

    def opts(in_shape, f_shape, stride=1, dil_w=1, dil_h=1, act="NONE"):
        # ValidateDepthwiseConvGoldens forces padding VALID and depth_multiplier = filter
        # channels / input channels.
        return [("padding", "VALID"), ("stride_w", stride), ("stride_h", stride),
                ("dilation_w", dil_w), ("dilation_h", dil_h),
                ("depth_multiplier", f_shape[3] // in_shape[3]), ("activation", act)]

    def per_channel(name, in_shape, in_data, in_scale, in_zp, f_shape, f_data, b_shape, b_data,
                    out_shape, golden, out_scale, out_zp, o, comment=()):
        """TestDepthwiseConvQuantizedPerChannel: per-channel filter (dimension 3), per-channel bias
        (dimension 3), goldens quantized with the output's parameters, tolerance 1.0."""
        f_scales, f_q = signed_symmetric_per_channel(f_data, f_shape, 3)
        b_scales, b_q = per_channel_bias(b_data, in_scale, f_scales)
        return Case("depthwise_conv_test.cc:" + name, "DEPTHWISE_CONV_2D", o, [
            t_in("input", in_shape, quantize(in_data, in_scale, in_zp), in_scale, in_zp),
            t_filter(f_shape, f_q, f_scales, 3),
            t_bias(b_shape, b_q, b_scales, 3),
            t_out("output", out_shape, quantize(golden, out_scale, out_zp), out_scale, out_zp, 1),
        ], comment)

    s_in_shape, s_in = [1, 3, 2, 2], [1, 2, 7, 8, 3, 4, 9, 10, 5, 6, 11, 12]
    s_f_shape, s_f = [1, 2, 2, 4], [1, 2, 3, 4, -9, 10, -11, 12, 5, 6, 7, 8, 13, -14, 15, -16]
    s_b_shape, s_b = [1, 1, 1, 4], [1, 2, 3, 4]
    s_golden, s_out_shape = [71, -34, 99, -20, 91, -26, 127, -4], [1, 2, 1, 4]

    cases.append(per_channel("SimpleTestQuantizedPerChannel", s_in_shape, s_in, 0.5, 0, s_f_shape,
                             s_f, s_b_shape, s_b, s_out_shape, s_golden, 1.0, 0,
                             opts(s_in_shape, s_f_shape)))
    cases.append(per_channel("SimpleTestQuantizedPerChannelDepthMultiplier1", s_in_shape, s_in,
                             1.0, 0, [1, 2, 2, 2], [1, 2, 3, 4, -9, 10, -11, 12], [1, 1, 1, 2],
                             [1, 2], [1, 2, 1, 2], [-103, 127, -128, 127], 1.0, 0,
                             opts(s_in_shape, [1, 2, 2, 2])))
    cases.append(per_channel("TestQuantizedPerChannelDepthMultiplier1Relu6", [1, 3, 2, 4],
                             [1] * 24, 0.023529, -128, [1, 2, 2, 4],
                             [0, 1, 8, -2, -1, 2, -10, 0, -1, 3, -18, 0, 0, 4, 20, -3],
                             s_b_shape, s_b, [1, 2, 1, 4], [0, 6, 3, 0, 0, 6, 3, 0], 0.023529,
                             -128, opts([1, 3, 2, 4], [1, 2, 2, 4], act="RELU6")))
    dil_in = [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4,
              1, 2, 3, 4, 5, 6, 2, 6, 2, 4, 4, 2, 3, 2, 6, 5, 1, 4, 1, 2, 1, 4, 6, 3]
    cases.append(per_channel("SimpleTestDilatedQuantizedPerChannel", [1, 4, 6, 2], dil_in, 0.5, 0,
                             s_f_shape, s_f, s_b_shape, s_b, [1, 2, 3, 4],
                             [15, 2, 88, -48, 25, 14, 72, 0, 61, -2, 56, 48,
                              -4, 52, 12, 48, 11, 70, 63, 40, 51, -30, 41, 48], 1.0, 0,
                             opts([1, 4, 6, 2], s_f_shape, dil_w=3, dil_h=2)))
    cf_in = [3, 2, 1, -1, -2, -3, 4, 3, 2, -2, -3, -4]
    cf_f = [1, 2, 3, 4, 3, 4, 5, 6, 7, 8, 5, 6, 3, 4, 1, 2]
    cases.append(per_channel("TestQuantizedPerChannelCompareWithFloat", [1, 2, 3, 2], cf_in, 0.5,
                             0, [1, 2, 2, 4], cf_f, s_b_shape, [3, -2, 4, 6], [1, 1, 2, 4],
                             [43, 48, 18, 22, 3, -4, -28, -36], 1.0, 0,
                             opts([1, 2, 3, 2], [1, 2, 2, 4]),
                             ["The int8 half of the test (its float32 half is not ported)."]))

    # PerChannelBroadcastQuantizationParams: per-tensor scales 1.0; bias SymmetricQuantize'd with
    # input_scale * output_scale, labelled input_scale * filter_scale; tolerance 1e-5: exact.
    cases.append(Case(
        "depthwise_conv_test.cc:PerChannelBroadcastQuantizationParams", "DEPTHWISE_CONV_2D",
        opts(s_in_shape, s_f_shape), [
            t_in("input", s_in_shape, quantize(s_in, 1.0, 0), 1.0, 0),
            t_filter(s_f_shape, quantize(s_f, 1.0, 0), [1.0], 0),
            t_bias(s_b_shape, symmetric_quantize(s_b, f32(1.0 * 1.0)), [1.0], 0),
            t_out("output", s_out_shape, quantize(s_golden, 1.0, 0), 1.0, 0, 0),
        ]))

    # FilterDimsNotMatchingAffineQuantization, first check.
    f_scales, f_q = signed_symmetric_per_channel(cf_f, [1, 2, 2, 4], 0)
    b_scales, b_q = per_channel_bias([3, -2, 4, 6], 0.5, f_scales)
    cases.append(Case(
        "depthwise_conv_test.cc:FilterDimsNotMatchingAffineQuantization", "DEPTHWISE_CONV_2D",
        opts([1, 2, 3, 2], [1, 2, 2, 4]), [
            t_in("input", [1, 2, 3, 2], quantize(cf_in, 0.5, 0), 0.5, 0),
            t_filter([1, 2, 2, 4], f_q, f_scales * 2, 0),
            t_bias(s_b_shape, b_q, b_scales, 0),
            t_out("output", [1, 1, 2, 4], [0] * 8, 1.0, 0, 0),
        ], ["TFLM quantizes the 1x2x2x4 filter along dimension 0 (one channel, one scale), then",
            "sets the scale array's size to 2 (neither 1 nor the 4 output channels): Prepare",
            "fails. Its second entry is whatever follows in the test's array; here it repeats",
            "the first. The bias is quantized along dimension 0 as well (one scale)."],
        load_error=True))

    def per_tensor_32(name, in_shape, f_shape, key, stride):
        """Int8Input32x{4,1}Filter32x{4,1}ShouldMatchGolden: per-tensor input (0.058824, -128),
        filter (0.003301, 0) and output (0.092596, 0); zero biases SymmetricQuantize'd with
        input_scale * output_scale; tolerance kQuantizationTolerance = 1."""
        in_scale, f_scale, out_scale = 0.058824, 0.003301, 0.092596
        return Case("depthwise_conv_test.cc:" + name, "DEPTHWISE_CONV_2D",
                    opts(in_shape, f_shape, stride=stride), [
                        t_in("input", in_shape, quantize(data[key + "_input"], in_scale, -128),
                             in_scale, -128),
                        t_filter(f_shape, quantize(data[key + "_filter"], f_scale, 0), [f_scale],
                                 0),
                        t_bias([32], symmetric_quantize([0.0] * 32, f32(f32(in_scale) *
                                                                        f32(out_scale))),
                               [f32(f32(in_scale) * f32(f_scale))], 0),
                        t_out("output", [1, 1, 1, 32],
                              quantize(data[key + "_golden"], out_scale, 0), out_scale, 0, 1),
                    ])

    cases.append(per_tensor_32("Int8Input32x4Filter32x4ShouldMatchGolden", [1, 4, 1, 32],
                               [1, 4, 1, 32], "dw32x4", 1))
    cases.append(per_tensor_32("Int8Input32x1Filter32x1ShouldMatchGolden", [1, 1, 1, 32],
                               [1, 1, 1, 32], "dw32x1", 2))
    return cases


DW_NOTE = [
    "",
    "The float arrays of the Int8Input32x* cases are copied verbatim into",
    "gen/depthwise_fc_test_data.txt.",
    "",
    "TestDepthwiseConvQuantizedPerChannel quantizes the float data at run time: input",
    "Quantize(input_scale, input_zp); filter CreateSymmetricPerChannelQuantizedTensor (dimension",
    "3); bias CreatePerChannelQuantizedBiasTensor (dimension 3, shape 1x1x1xC as in TFLM);",
    "goldens Quantize(output_scale, output_zp) compared with tolerance 1.0: tol=1.",
    "ValidateDepthwiseConvGoldens always sets padding VALID and depth_multiplier = filter",
    "channels / input channels (stated in each opt line). Other tolerances are stated per case.",
    "",
    "Skipped:",
    "  SimpleTest, SimpleTestRelu, and the float32 half of TestQuantizedPerChannelCompareWithFloat",
    "                                                       - float32",
    "  SimpleTestCompressed, SimpleTestQuantizedPerChannelInt8Compressed,",
    "  SimpleTestQuantizedPerChannelInt16Compressed          - USE_TFLM_COMPRESSION",
    "  SimpleTestQuantizedPerChannelInt4Filter               - int4 filter",
    "  SimpleTestQuantizedPerChannelInt16InputInt8Filter     - int16 activations",
    "  FilterDimsNotMatchingAffineQuantization, second check (zero-point array shorter than the",
    "      scale array): edgeset's builder writes one count for both. The first check is ported.",
    "",
]


# ----------------------------------------------------------------------------------------------
# fully_connected_test.cc

def fc_cases():
    data = read_arrays("depthwise_fc_test_data.txt")
    cases = []
    simple_in = [1, 2, 3, 4, 5, 6, 7, 8, -9, -10, 1, 2, 3, 4, 5, 6, 7, -8, 9, -10]
    simple_w = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] * 3
    simple_b = [1, 2, 3]
    simple_golden = [24, 25, 26, 58, 59, 60]
    relu_w = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10,
              1, 2, 3, 4, 5, 6, 7, 8, 9, 10]

    def quantized(name, in_shape, in_data, in_scale, in_zp, w_shape, w_data, w_scale, w_zp,
                  b_data, golden, out_shape, out_scale, out_zp, act="NONE", comment=()):
        """TestFullyConnectedQuantized: per-tensor weights Quantize(weights_scale, weights_zp),
        bias CreateQuantizedBiasTensor (input_scale * weights_scale) or no bias input at all,
        goldens quantized with the output's parameters, tolerance 0.0: exact."""
        tensors = [t_in("input", in_shape, quantize(in_data, in_scale, in_zp), in_scale, in_zp),
                   t_filter(w_shape, quantize(w_data, w_scale, w_zp), [w_scale], 0, [w_zp])]
        tensors[1].name = "weights"
        if b_data is not None:
            b_scale = f32(f32(in_scale) * f32(w_scale))
            tensors.append(t_bias([len(b_data)], symmetric_quantize(b_data, b_scale), [b_scale],
                                  0))
        tensors.append(t_out("output", out_shape, quantize(golden, out_scale, out_zp), out_scale,
                             out_zp, 0))
        return Case("fully_connected_test.cc:" + name, "FULLY_CONNECTED",
                    [("activation", act), ("keep_num_dims", 0)], tensors, comment)

    cases.append(quantized("SimpleTestQuantizedInt8", [2, 10], simple_in, 1.0, -1, [3, 10],
                           simple_w, 1.0, 0, simple_b, simple_golden, [2, 3], 0.5, -1))

    # SimpleTestQuantizedPerChannelInt8: TestFullyConnectedQuantizedPerChannel, weights quantized
    # with the given scales {0.2, 0.25, 0.5} (dimension 0), per-channel bias; tolerance 1.0.
    w_scales = [f32(0.2), f32(0.25), f32(0.5)]
    b_scales, b_q = per_channel_bias(simple_b, 0.5, w_scales)
    weights = t_filter([3, 10], per_channel_quantize(simple_w, w_scales, -127, 127), w_scales, 0)
    weights.name = "weights"
    cases.append(Case(
        "fully_connected_test.cc:SimpleTestQuantizedPerChannelInt8", "FULLY_CONNECTED",
        [("activation", "NONE"), ("keep_num_dims", 0)], [
            t_in("input", [2, 10], quantize(simple_in, 0.5, -1), 0.5, -1),
            weights,
            t_bias([3], b_q, b_scales, 0),
            t_out("output", [2, 3], quantize(simple_golden, 1.0, -1), 1.0, -1, 1),
        ]))
    cases.append(quantized("SimpleTest4DInputQuantizedInt8", [1, 1, 2, 10], simple_in, 1.0, -1,
                           [3, 10], simple_w, 1.0, 0, simple_b, simple_golden, [2, 3], 0.5, -1))
    cases.append(quantized("SimpleTestQuantizedInt8Relu", [2, 10], simple_in, 1.0, -1, [3, 10],
                           relu_w, 1.0, 0, [1, -2, 3], [24, 0, 26, 58, 0, 60], [2, 3], 0.5, -128,
                           act="RELU"))
    cases.append(quantized("Representative1x64Input1x16OutputQuantizedInt8", [1, 64],
                           data["fc64x16_input"], 0.051445, -128, [16, 64],
                           data["fc64x16_weights"], 0.005660, 0, data["fc64x16_bias"],
                           data["fc64x16_golden"], [1, 16], 0.069785, -9))
    cases.append(quantized("SimpleTestQuantizedInt8NullBias", [2, 10], simple_in, 1.0, -1,
                           [3, 10], simple_w, 1.0, 0, None, [23, 23, 23, 57, 57, 57], [2, 3], 0.5,
                           -1, comment=["TFLM's node has two inputs (no bias input at all), as "
                                        "here."]))
    return cases


FC_NOTE = [
    "",
    "The representative_64x16 float arrays are copied verbatim into",
    "gen/depthwise_fc_test_data.txt.",
    "",
    "Every case has keep_num_dims false (TFLM's TfLiteFullyConnectedParams in",
    "ValidateFullyConnectedGoldens). TestFullyConnectedQuantized compares with tolerance 0.0:",
    "tol=0; TestFullyConnectedQuantizedPerChannel with 1.0: tol=1.",
    "",
    "Skipped:",
    "  SimpleTest, SimpleTestNullBias, SimpleTest4DInput, Representative1x64Input1x16Output",
    "                                                       - float32",
    "  SimpleTestCompressed, SimpleTestQuantizedInt8Compressed,",
    "  SimpleTestQuantizedInt16Compressed                    - USE_TFLM_COMPRESSION",
    "  SimpleTestQuantizedInt16, SimpleTestPerChannelQuantizedInt16 - int16 activations",
    "  SimpleTestQuantizedInt4Weights                        - int4 weights",
    "",
]

FILES = {
    "conv.cases": (conv_cases, [CONV_TEST, K + "conv_test_common.cc @ "
                                "0e09ad378de18c6eec2f2ce9dd5e48a15953699f",
                                K + "conv_test.h @ 06dc7156b7992f99f009cabd34679d7fc2d2c7a6",
                                K + "conv_common.cc @ 28e6530bde687d42e79823855ffbaf0592eb0eb2 "
                                "(Prepare)",
                                K + "testdata/conv_test_data.cc @ "
                                "dd0ac1c701ff1b8f8de20c1ab4eb18604c0ee950 "
                                "(copied into gen/conv_test_data.txt)"], CONV_NOTE),
    "depthwise_conv.cases": (depthwise_cases, [DW_TEST], DW_NOTE),
    "fully_connected.cases": (fc_cases, [FC_TEST], FC_NOTE),
}


# ----------------------------------------------------------------------------------------------
# --verify: TFLM's reference integer kernels, in Python

def quantize_multiplier(m):
    """QuantizeMultiplier (quantization_util.cc): double -> (int32 multiplier, shift)."""
    if m == 0:
        return 0, 0
    q, shift = math.frexp(m)
    q_fixed = int(round_half_away(q * (1 << 31)))
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    return q_fixed, shift


def srdhm(a, b):
    """SaturatingRoundingDoublingHighMul."""
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    q = abs(ab + nudge) // (1 << 31)  # C division truncates toward zero
    return q if ab + nudge >= 0 else -q


def rounding_divide_by_pot(x, exponent):
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def mul_by_qm(x, multiplier, shift):
    """MultiplyByQuantizedMultiplier (double rounding, TFLM's default)."""
    left = shift if shift > 0 else 0
    right = 0 if shift > 0 else -shift
    x = x * (1 << left)
    x = ((x + (1 << 31)) % (1 << 32)) - (1 << 31)  # int32 wrap, as x * (1 << left) in C
    return rounding_divide_by_pot(srdhm(x, multiplier), right)


def act_range(act, scale, zp):
    """CalculateActivationRangeQuantized for int8."""
    def q(f):
        return zp + int(round_half_away(f32(f32(f) / f32(scale))))
    lo, hi = INT8_MIN, INT8_MAX
    if act == "RELU":
        lo = max(lo, q(0.0))
    elif act == "RELU6":
        lo, hi = max(lo, q(0.0)), min(hi, q(6.0))
    elif act == "RELU_N1_TO_1":
        lo, hi = max(lo, q(-1.0)), min(hi, q(1.0))
    return lo, hi


def out_size(padding, in_size, filt, stride, dil):
    eff = (filt - 1) * dil + 1
    if padding == "SAME":
        return (in_size + stride - 1) // stride
    return (in_size + stride - eff) // stride


def pad_amount(padding, in_size, filt, stride, dil):
    out = out_size(padding, in_size, filt, stride, dil)
    eff = (filt - 1) * dil + 1
    total = max(0, (out - 1) * stride + eff - in_size)
    return total // 2


def run_reference(case):
    """Outputs of TFLM's reference kernel for a case (int lists), from the case's integers."""
    o = dict(case.opts)
    ins = [t for t in case.tensors if t is not None and t.kind != "out"]
    out = [t for t in case.tensors if t is not None and t.kind == "out"][0]
    x, f = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    in_scale, in_zp = x.qinfo[0][0], x.qinfo[1][0]
    out_scale, out_zp = out.qinfo[0][0], out.qinfo[1][0]
    lo, hi = act_range(o.get("activation", "NONE"), out_scale, out_zp)
    if case.op == "FULLY_CONNECTED":
        depth, units = f.shape[-1], out.shape[-1]
        batches = len(x.values) // depth
        per_channel = len(f.qinfo[0]) > 1
        if per_channel:
            qms = [quantize_multiplier(in_scale * s / out_scale) for s in f.qinfo[0]]
        else:
            qms = [quantize_multiplier(f32(in_scale * f.qinfo[0][0]) / out_scale)] * units
        f_off = -f.qinfo[1][0]
        res = []
        for n in range(batches):
            for u in range(units):
                acc = sum((f.values[u * depth + d] + f_off) * (x.values[n * depth + d] - in_zp)
                          for d in range(depth))
                if b is not None:
                    acc += b.values[u]
                acc = mul_by_qm(acc, *qms[u]) + out_zp
                res.append(clamp(acc, lo, hi))
        return res
    depthwise = case.op == "DEPTHWISE_CONV_2D"
    nb, ih, iw, ic = x.shape
    _, oh, ow, oc = out.shape
    fh, fw = f.shape[1], f.shape[2]
    sw, sh = o["stride_w"], o["stride_h"]
    dw, dh = o["dilation_w"], o["dilation_h"]
    pw = pad_amount(o["padding"], iw, fw, sw, dw)
    ph = pad_amount(o["padding"], ih, fh, sh, dh)
    scales = f.qinfo[0] * (oc if len(f.qinfo[0]) == 1 else 1)
    qms = [quantize_multiplier(in_scale * s / out_scale) for s in scales]
    mult = o.get("depth_multiplier", 1)
    res = []
    for n in range(nb):
        for y in range(oh):
            for xx in range(ow):
                for c in range(oc):
                    acc = 0
                    for ky in range(fh):
                        iy = y * sh - ph + dh * ky
                        for kx in range(fw):
                            ix = xx * sw - pw + dw * kx
                            if not (0 <= iy < ih and 0 <= ix < iw):
                                continue
                            base = ((n * ih + iy) * iw + ix) * ic
                            if depthwise:
                                fv = f.values[(ky * fw + kx) * oc + c]
                                acc += fv * (x.values[base + c // mult] - in_zp)
                            else:
                                for k in range(ic):
                                    fv = f.values[((c * fh + ky) * fw + kx) * ic + k]
                                    acc += fv * (x.values[base + k] - in_zp)
                    if b is not None:
                        acc += b.values[c]
                    acc = mul_by_qm(acc, *qms[c]) + out_zp
                    res.append(clamp(acc, lo, hi))
    return res


def verify(cases):
    bad = 0
    for case in cases:
        if case.load_error:
            continue
        out = [t for t in case.tensors if t is not None and t.kind == "out"][0]
        got = run_reference(case)
        worst = max(abs(g - w) for g, w in zip(got, out.values))
        status = "ok" if worst <= out.tol else "FAIL"
        bad += status != "ok"
        print("%-4s %s: max |reference - expected| = %d (tol %d)" % (status, case.name, worst,
                                                                       out.tol))
    return bad


def main():
    check = "--check" in sys.argv[1:]
    do_verify = "--verify" in sys.argv[1:]
    stale = bad = 0
    for fname, (make, sources, note) in FILES.items():
        cases = make()
        text = render(common_header(note, sources), cases)
        path = os.path.join(OUT_DIR, fname)
        if do_verify:
            bad += verify(cases)
        if check:
            with open(path) as f:
                if f.read() != text:
                    print("%s is not what conv_fc.py generates" % path)
                    stale += 1
        elif not do_verify:
            with open(path, "w") as f:
                f.write(text)
            print("wrote %s (%d cases)" % (path, len(cases)))
    return 1 if stale or bad else 0


if __name__ == "__main__":
    sys.exit(main())
