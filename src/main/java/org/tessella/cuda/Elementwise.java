package org.tessella.cuda;

import org.tessella.backend.BinaryOp;
import org.tessella.backend.UnaryOp;
import org.tessella.tensor.DType;
import org.tessella.tensor.Tensor;

/**
 * Elementwise primitives on the device (elementwise.cu): fill, strided copy with int32/float32 conversion, unary
 * functions and derivatives, broadcasting binary ops, affine, pow, clamp, where, AdamW, and the float32 to bfloat16
 * conversion for BF16 GEMMs. Operands may have any strides (broadcast views included); the {@link Layout} walks them.
 * The switches below map each enum constant to the kernel's op code: a new constant fails to compile here instead of
 * silently running the wrong function.
 */
final class Elementwise {
    private static final String M = "elementwise";
    private final CudaBackend be;

    Elementwise(CudaBackend be) { this.be = be; }

    static int code(UnaryOp op) {
        return switch (op) {
            case NEG -> 0;
            case EXP -> 1;
            case LOG -> 2;
            case SQRT -> 3;
            case RSQRT -> 4;
            case ABS -> 5;
            case SQUARE -> 6;
            case RECIPROCAL -> 7;
            case SIGN -> 8;
            case TANH -> 9;
            case SIGMOID -> 10;
            case RELU -> 11;
            case SILU -> 12;
            case GELU -> 13;
            case GELU_TANH -> 14;
        };
    }

    static int code(BinaryOp op) {
        return switch (op) {
            case ADD -> 0;
            case SUB -> 1;
            case MUL -> 2;
            case DIV -> 3;
            case MAX -> 4;
            case MIN -> 5;
            case POW -> 6;
            case GT -> 7;
            case GE -> 8;
            case LT -> 9;
            case LE -> 10;
            case EQ -> 11;
            case NE -> 12;
        };
    }

    void fill(Tensor out, float value) {
        int n = out.numel();
        if (n == 0) return;
        int bits = out.dtype() == DType.I32 ? (int) value : Float.floatToRawIntBits(value);
        if (out.isContiguous()) {
            be.context().memset32(be.ptr(out), bits, n);
            return;
        }
        Layout l = Layout.of("fill", out.shape(), out);
        be.launch(be.kernel(M, "fill32"), n, KernelArgs.begin().layout(l).i32(n).ptr(be.ptr(out)).i32(bits));
    }

    /** dst = src, both on this device; dst may be strided, src a broadcast view of dst's shape. */
    void copy(Tensor src, Tensor dst) {
        int n = dst.numel();
        if (n == 0) return;
        if (src.dtype() == dst.dtype() && src.isContiguous() && dst.isContiguous()
                && java.util.Arrays.equals(src.shape(), dst.shape())) {
            be.context().copy(be.ptr(src), be.ptr(dst), 4L * n);
            return;
        }
        Layout l = Layout.of("copy", dst.shape(), dst, src);
        be.launch(be.kernel(M, "copy"), n, KernelArgs.begin().layout(l).i32(n)
                .ptr(be.ptr(dst)).i32(dst.dtype() == DType.I32 ? 1 : 0)
                .ptr(be.ptr(src)).i32(src.dtype() == DType.I32 ? 1 : 0));
    }

    void unary(UnaryOp op, Tensor x, Tensor out) {
        int n = out.numel();
        Layout l = Layout.of("unary " + op, out.shape(), out, x);
        be.launch(be.kernel(M, "unary"), n, KernelArgs.begin().layout(l).i32(n).i32(code(op))
                .ptr(be.ptr(out)).ptr(be.ptr(x)));
    }

    void unaryBackward(UnaryOp op, Tensor x, Tensor y, Tensor gy, Tensor gx) {
        int n = gx.numel();
        // a missing y is walked with x's strides but never read (the kernel tests its pointer)
        Layout l = Layout.of("unaryBackward " + op, gx.shape(), gx, x, y == null ? x : y, gy);
        be.launch(be.kernel(M, "unary_backward"), n, KernelArgs.begin().layout(l).i32(n).i32(code(op))
                .ptr(be.ptr(gx)).ptr(be.ptr(x)).ptr(y == null ? 0L : be.ptr(y)).ptr(be.ptr(gy)));
    }

    void binary(BinaryOp op, Tensor a, Tensor b, Tensor out) {
        int n = out.numel();
        Layout l = Layout.of("binary " + op, out.shape(), out, a, b);
        be.launch(be.kernel(M, "binary"), n, KernelArgs.begin().layout(l).i32(n).i32(code(op))
                .ptr(be.ptr(out)).ptr(be.ptr(a)).ptr(be.ptr(b)));
    }

    void affine(Tensor x, float scale, float shift, Tensor out) {
        int n = out.numel();
        Layout l = Layout.of("affine", out.shape(), out, x);
        be.launch(be.kernel(M, "affine"), n, KernelArgs.begin().layout(l).i32(n)
                .ptr(be.ptr(out)).ptr(be.ptr(x)).f32(scale).f32(shift));
    }

    void powScalar(Tensor x, float exponent, Tensor out) {
        int n = out.numel();
        Layout l = Layout.of("powScalar", out.shape(), out, x);
        be.launch(be.kernel(M, "pow_scalar"), n, KernelArgs.begin().layout(l).i32(n)
                .ptr(be.ptr(out)).ptr(be.ptr(x)).f32(exponent));
    }

    void clamp(Tensor x, float lo, float hi, Tensor out) {
        int n = out.numel();
        Layout l = Layout.of("clamp", out.shape(), out, x);
        be.launch(be.kernel(M, "clamp"), n, KernelArgs.begin().layout(l).i32(n)
                .ptr(be.ptr(out)).ptr(be.ptr(x)).f32(lo).f32(hi));
    }

    void where(Tensor cond, Tensor a, Tensor b, Tensor out) {
        int n = out.numel();
        Layout l = Layout.of("where", out.shape(), out, cond, a, b);
        be.launch(be.kernel(M, "where_select"), n, KernelArgs.begin().layout(l).i32(n)
                .ptr(be.ptr(out)).ptr(be.ptr(cond)).ptr(be.ptr(a)).ptr(be.ptr(b)));
    }

    void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
               float weightDecay, float c1, float c2) {
        be.requireContiguous("adamw", param, grad, m, v);
        int n = param.numel();
        float decay = 1f - lr * weightDecay, step = lr / c1, invC2 = 1f / c2;
        be.launch(be.kernel(M, "adamw"), n, KernelArgs.begin().i32(n).ptr(be.ptr(param)).ptr(be.ptr(grad))
                .ptr(be.ptr(m)).ptr(be.ptr(v)).f32(beta1).f32(beta2).f32(eps).f32(decay).f32(step).f32(invC2));
    }

    /** Elements per chunk of the many-tensor kernels: a block each. */
    private static final int CHUNK = 1 << 14;

    /**
     * {@link #adamw} of every tensor in one launch (a model's 50-70 parameters otherwise take as many launches, about
     * 6 us each), the same operations on every element; the chunk table goes up in one small copy.
     */
    void adamwAll(java.util.List<Tensor> params, java.util.List<Tensor> grads, java.util.List<Tensor> m,
                  java.util.List<Tensor> v, float lr, float beta1, float beta2, float eps, float[] weightDecay,
                  float c1, float c2) {
        java.util.List<long[]> rows = new java.util.ArrayList<>();
        for (int i = 0; i < params.size(); i++) {
            Tensor p = params.get(i), g = grads.get(i), mi = m.get(i), vi = v.get(i);
            be.requireContiguous("adamw", p, g, mi, vi);
            long decayBits = Float.floatToRawIntBits(1f - lr * weightDecay[i]) & 0xffffffffL;
            for (long s = 0, n = p.numel(); s < n; s += CHUNK)
                rows.add(new long[]{be.ptr(p) + 4 * s, be.ptr(g) + 4 * s, be.ptr(mi) + 4 * s, be.ptr(vi) + 4 * s,
                        Math.min(CHUNK, n - s), decayBits});
        }
        if (rows.isEmpty()) return;
        Tensor table = upload(rows, 6);
        be.launchGrid(be.kernel(M, "adamw_chunks"), Math.min(rows.size(), 1 << 16), 256, KernelArgs.begin()
                .i32(rows.size()).ptr(be.ptr(table)).f32(beta1).f32(beta2).f32(eps).f32(lr / c1).f32(1f / c2));
        be.release(table);
    }

    /** {@code x *= s} for every x in one launch, as {@link #affine} with shift 0. */
    void scaleAll(java.util.List<Tensor> xs, float s) {
        java.util.List<long[]> rows = new java.util.ArrayList<>();
        for (Tensor x : xs) {
            be.requireContiguous("scale", x);
            for (long o = 0, n = x.numel(); o < n; o += CHUNK) rows.add(new long[]{be.ptr(x) + 4 * o, Math.min(CHUNK, n - o)});
        }
        if (rows.isEmpty()) return;
        Tensor table = upload(rows, 2);
        be.launchGrid(be.kernel(M, "scale_chunks"), Math.min(rows.size(), 1 << 16), 256, KernelArgs.begin()
                .i32(rows.size()).ptr(be.ptr(table)).f32(s));
        be.release(table);
    }

    /** The rows (width int64s each) in a device scratch tensor (float-typed: only its bytes matter). */
    private Tensor upload(java.util.List<long[]> rows, int width) {
        long[] flat = new long[rows.size() * width];
        for (int r = 0; r < rows.size(); r++) System.arraycopy(rows.get(r), 0, flat, r * width, width);
        Tensor table = be.scratch(DType.F32, 2 * flat.length);
        be.context().upload(java.lang.foreign.MemorySegment.ofArray(flat), be.ptr(table), 8L * flat.length);
        return table;
    }

    /** n float32 values at src to bfloat16 at dst (device addresses). */
    void toBf16(long src, long dst, long n) {
        if (n > Integer.MAX_VALUE) throw new UnsupportedOperationException("toBf16: " + n + " elements");
        be.launch(be.kernel(M, "to_bf16"), (int) n, KernelArgs.begin().i32((int) n).ptr(src).ptr(dst));
    }
}
