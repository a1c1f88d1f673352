package org.frcnn4j.box;

/**
 * exp and the logistic sigmoid in float32 as torch's CPU kernels compute them on vectors: SLEEF's expf with a 1-ulp
 * bound (its u10 variant, fused multiply-adds), not the correctly rounded value. torchvision decodes box widths with
 * torch.exp and scores proposals with torch.sigmoid; the two differ from a correctly rounded result in about 8% and
 * 29% of the RPN's values (measured on a full-size MobileNetV3-FPN). Where a network gives hundreds of anchors nearly
 * equal logits, those last-place differences decide which of two equal-looking boxes NMS keeps, so frcnn4j computes
 * them the peer's way: bit for bit equal to torch 1.13's (4,096 values from -110 to 110 in the committed fixture,
 * tools/torchvision/make_arithmetic_fixture.py; 424,240 in a wider check when this was written). In torch
 * the last elements of each thread's chunk (its length modulo twice the vector width: 16 for the peer's AVX2 kernels;
 * chunks above 32,768 values split between threads) go through the C library's scalar expf instead; that tail is not
 * singled out here.
 */
public final class TorchExp {
    private TorchExp() {}

    /** 1 / ln 2, and ln 2 split into a high part exact in few bits and the rest (Cody and Waite's reduction). */
    private static final float INV_LN2 = 1.442695040888963407359924681001892137426645954152985934135449406931f;
    private static final float LN2_HIGH = 0.693145751953125f;
    private static final float LN2_LOW = 1.428606765330187045e-06f;

    /**
     * e^d: d = q ln 2 + s with q the nearest integer to d / ln 2 and |s| &lt;= ln 2 / 2; e^s from a degree-6
     * polynomial (Horner's rule in fused multiply-adds), scaled by 2^q in two halves so that no step overflows early.
     */
    public static float exp(float d) {
        int q = (int) Math.rint(d * INV_LN2);
        float s = Math.fma(q, -LN2_HIGH, d);
        s = Math.fma(q, -LN2_LOW, s);
        float u = 0.000198527617612853646278381f;
        u = Math.fma(u, s, 0.00139304355252534151077271f);
        u = Math.fma(u, s, 0.00833336077630519866943359f);
        u = Math.fma(u, s, 0.0416664853692054748535156f);
        u = Math.fma(u, s, 0.166666671633720397949219f);
        u = Math.fma(u, s, 0.5f);
        u = 1f + Math.fma(s * s, u, s);
        u = u * powerOfTwo(q >> 1) * powerOfTwo(q - (q >> 1));
        if (d < -104) {
            return 0f;
        }
        return d > 100 ? Float.POSITIVE_INFINITY : u;
    }

    /** torch's sigmoid kernel: 1 / (e^(0 - x) + 1), each step rounded to float. */
    public static float sigmoid(float x) {
        return 1f / (exp(0f - x) + 1f);
    }

    private static float powerOfTwo(int q) {
        return Float.intBitsToFloat((q + 0x7f) << 23);
    }
}
