package org.tessella.autograd;

import org.tessella.backend.Backend;
import org.tessella.backend.Backends;
import org.tessella.backend.BinaryOp;
import org.tessella.backend.ReduceOp;
import org.tessella.backend.UnaryOp;
import org.tessella.tensor.DType;
import org.tessella.tensor.Device;
import org.tessella.tensor.Shape;
import org.tessella.tensor.ShapeException;
import org.tessella.tensor.Tensor;

import java.util.Arrays;

/**
 * Differentiable tensor ops: elementwise math with broadcasting, reductions, matmul, and views. Each op checks shapes
 * (naming itself and the shapes), computes through the {@link Backend} of its inputs' device, and, when an input
 * requires a gradient and recording is on, records its backward rule on the {@link Tape}. Backward rules are written
 * with these same ops (under no-grad), so each rule is a few lines. Neural-network ops are in {@link Functional}.
 */
public final class Ops {
    private Ops() {}

    // ---- plumbing ------------------------------------------------------------------------------------------------

    static Backend be(Tensor t) { return Backends.of(t.device()); }

    static Tensor empty(Tensor like, int... shape) { return be(like).empty(DType.F32, shape); }

    static void sameDevice(String op, Tensor a, Tensor b) {
        if (!a.device().equals(b.device()))
            throw new IllegalArgumentException(op + ": tensors on different devices (" + a.device() + " and " + b.device() + ")");
    }

    static void requireFloat(String op, Tensor t) {
        if (t.dtype() != DType.F32) throw new IllegalArgumentException(op + ": expects F32, got " + t.dtype() + " " + Shape.str(t.shape()));
        t.checkAlive();
    }

    /** Adds g into t's gradient. Leaves own a persistent buffer; intermediates keep workspace tensors, never mutated. */
    static void accumulate(Tensor t, Tensor g) {
        if (!t.requiresGrad()) return;
        if (!Arrays.equals(g.shape(), t.shape())) g = sumTo(g, t.shape());
        Tensor cur = t.grad();
        if (t.isLeaf()) {
            if (cur == null) {
                cur = be(t).persistent(DType.F32, t.shape());
                t.setGrad(cur);
            }
            be(t).binary(BinaryOp.ADD, cur, g, cur);
        } else if (cur == null) {
            t.setGrad(g.isContiguous() ? g : contiguous(g));
        } else {
            Tensor sum = empty(t, t.shape());
            be(t).binary(BinaryOp.ADD, cur, g, sum);
            t.setGrad(sum);
        }
    }

    /** Sums a broadcast gradient back to {@code shape} (the inverse of broadcasting). */
    public static Tensor sumTo(Tensor g, int[] shape) {
        if (Arrays.equals(g.shape(), shape)) return g;
        int lead = g.rank() - shape.length;
        if (lead < 0) throw new ShapeException("sumTo: cannot reduce " + Shape.str(g.shape()) + " to " + Shape.str(shape));
        int[] keep = new int[g.rank()];
        for (int i = 0; i < g.rank(); i++) {
            int target = i < lead ? 1 : shape[i - lead];
            if (target != 1 && target != g.shape()[i])
                throw new ShapeException("sumTo: cannot reduce " + Shape.str(g.shape()) + " to " + Shape.str(shape));
            keep[i] = target;
        }
        Tensor out = empty(g, keep);
        be(g).reduce(ReduceOp.SUM, g, out);
        return out.reshape(shape);
    }

    // ---- creation ------------------------------------------------------------------------------------------------
    // Without a device these make CPU tensors; models make theirs on the device of their inputs or parameters
    // (fullLike, zerosLike, or the overloads that take a Device).

    public static Tensor zeros(int... shape) { return full(0f, shape); }

    public static Tensor ones(int... shape) { return full(1f, shape); }

    public static Tensor full(float value, int... shape) { return full(Device.CPU, value, shape); }

    /** A tensor of {@code value} on the given device (from the step workspace when one is open). */
    public static Tensor full(Device device, float value, int... shape) {
        Backend be = Backends.of(device);
        Tensor t = be.empty(DType.F32, shape);
        be.fill(t, value);
        return t;
    }

    public static Tensor zeros(Device device, int... shape) { return full(device, 0f, shape); }

    public static Tensor zerosLike(Tensor x) { return fullLike(x, 0f); }

    public static Tensor onesLike(Tensor x) { return fullLike(x, 1f); }

    public static Tensor fullLike(Tensor x, float value) {
        Tensor t = empty(x, x.shape());
        be(x).fill(t, value);
        return t;
    }

    /** Uniform [0, 1) from the counter-based generator: element i draws from (seed, offset + i). */
    public static Tensor rand(long seed, long offset, int... shape) { return rand(Device.CPU, seed, offset, shape); }

    /** {@link #rand(long, long, int...)} on a device (the same stream; a GPU's floats may differ in the last bit). */
    public static Tensor rand(Device device, long seed, long offset, int... shape) {
        Backend be = Backends.of(device);
        Tensor t = be.empty(DType.F32, shape);
        be.randomUniform(t, seed, offset);
        return t;
    }

    /** Standard normal from the counter-based generator. */
    public static Tensor randn(long seed, long offset, int... shape) { return randn(Device.CPU, seed, offset, shape); }

    /** {@link #randn(long, long, int...)} on a device. */
    public static Tensor randn(Device device, long seed, long offset, int... shape) {
        Backend be = Backends.of(device);
        Tensor t = be.empty(DType.F32, shape);
        be.randomNormal(t, seed, offset, 0f, 1f);
        return t;
    }

    /**
     * Moves (copies) a tensor to a device; the identity when it is already there. Inside a workspace step the copy
     * lives until the step ends (a batch uploaded for one step); see {@link #persistentCopy} for what must outlive it.
     */
    public static Tensor to(Tensor x, Device device) {
        if (x.device().equals(device)) return x;
        return transfer(x, Backends.of(device).empty(x.dtype(), x.shape()));
    }

    /**
     * {@code dst = src} (not recorded) where the two may live on different devices: a GPU backend reads and writes host
     * memory, the CPU's does not, so the copy goes through the backend of the side that is not the CPU. Loading a
     * checkpoint into a model on a GPU, or a GPU model's state into a CPU one.
     */
    public static void copyInto(Tensor src, Tensor dst) {
        Device via = dst.device().kind() == Device.Kind.CPU ? src.device() : dst.device();
        Backends.of(via).copy(src, dst);
    }

    /** A contiguous copy of x on a device that outlives any workspace step (parameters, buffers, optimizer state). */
    public static Tensor persistentCopy(Tensor x, Device device) {
        return transfer(x, Backends.of(device).persistent(x.dtype(), x.shape()));
    }

    /** Copies x into the contiguous tensor out through host arrays, which every storage can read and write. */
    private static Tensor transfer(Tensor x, Tensor out) {
        x.checkAlive();
        boolean direct = x.isContiguous() && x.device().equals(Device.CPU); // its own array, no gathering copy
        int n = x.numel(), from = direct ? x.offset() : 0;
        if (x.dtype() == DType.F32) out.storage().writeFloats(out.offset(), direct ? x.floats() : x.toFloatArray(), from, n);
        else out.storage().writeInts(out.offset(), direct ? x.ints() : x.toIntArray(), from, n);
        return out;
    }

    // ---- elementwise binary (broadcasting) -----------------------------------------------------------------------

    private static Tensor binaryForward(String name, BinaryOp op, Tensor a, Tensor b) {
        requireFloat(name, a);
        requireFloat(name, b);
        sameDevice(name, a, b);
        int[] shape = Shape.broadcast(name, a.shape(), b.shape());
        Tensor out = empty(a, shape);
        be(a).binary(op, a.expand(shape), b.expand(shape), out);
        return out;
    }

    public static Tensor add(Tensor a, Tensor b) {
        Tensor out = binaryForward("add", BinaryOp.ADD, a, b);
        if (!Tape.needsGrad(a, b)) return out;
        return Tape.record(out, g -> {
            accumulate(a, g);
            accumulate(b, g);
        });
    }

    public static Tensor sub(Tensor a, Tensor b) {
        Tensor out = binaryForward("sub", BinaryOp.SUB, a, b);
        if (!Tape.needsGrad(a, b)) return out;
        return Tape.record(out, g -> {
            accumulate(a, g);
            if (b.requiresGrad()) accumulate(b, neg(g));
        });
    }

    public static Tensor mul(Tensor a, Tensor b) {
        Tensor out = binaryForward("mul", BinaryOp.MUL, a, b);
        if (!Tape.needsGrad(a, b)) return out;
        return Tape.record(out, g -> {
            if (a.requiresGrad()) accumulate(a, mul(g, b));
            if (b.requiresGrad()) accumulate(b, mul(g, a));
        });
    }

    public static Tensor div(Tensor a, Tensor b) {
        Tensor out = binaryForward("div", BinaryOp.DIV, a, b);
        if (!Tape.needsGrad(a, b)) return out;
        return Tape.record(out, g -> {
            if (a.requiresGrad()) accumulate(a, div(g, b));
            if (b.requiresGrad()) accumulate(b, neg(div(mul(g, out), b)));
        });
    }

    /** Elementwise maximum; the gradient goes to a where a >= b, else to b. */
    public static Tensor maximum(Tensor a, Tensor b) {
        Tensor out = binaryForward("maximum", BinaryOp.MAX, a, b);
        if (!Tape.needsGrad(a, b)) return out;
        return Tape.record(out, g -> {
            Tensor pick = compare(BinaryOp.GE, a, b);
            if (a.requiresGrad()) accumulate(a, mul(g, pick));
            if (b.requiresGrad()) accumulate(b, mul(g, affine(pick, -1f, 1f)));
        });
    }

    /** Comparison (not differentiable): 1.0 where {@code a op b}, else 0.0. */
    public static Tensor compare(BinaryOp op, Tensor a, Tensor b) {
        return binaryForward(op.name().toLowerCase(), op, a, b);
    }

    public static Tensor gt(Tensor a, Tensor b) { return compare(BinaryOp.GT, a, b); }

    public static Tensor lt(Tensor a, Tensor b) { return compare(BinaryOp.LT, a, b); }

    public static Tensor eq(Tensor a, Tensor b) { return compare(BinaryOp.EQ, a, b); }

    // ---- scalar-parameter ops -------------------------------------------------------------------------------------

    /** {@code x * scale + shift}. */
    public static Tensor affine(Tensor x, float scale, float shift) {
        requireFloat("affine", x);
        Tensor out = empty(x, x.shape());
        be(x).affine(x, scale, shift, out);
        if (!Tape.needsGrad(x)) return out;
        return Tape.record(out, g -> accumulate(x, affine(g, scale, 0f)));
    }

    public static Tensor mulScalar(Tensor x, float s) { return affine(x, s, 0f); }

    public static Tensor addScalar(Tensor x, float s) { return affine(x, 1f, s); }

    public static Tensor pow(Tensor x, float exponent) {
        requireFloat("pow", x);
        Tensor out = empty(x, x.shape());
        be(x).powScalar(x, exponent, out);
        if (!Tape.needsGrad(x)) return out;
        return Tape.record(out, g -> {
            Tensor d = empty(x, x.shape());
            be(x).powScalar(x, exponent - 1f, d);
            accumulate(x, mul(g, affine(d, exponent, 0f)));
        });
    }

    public static Tensor clamp(Tensor x, float lo, float hi) {
        requireFloat("clamp", x);
        if (lo > hi) throw new IllegalArgumentException("clamp: lo " + lo + " > hi " + hi);
        Tensor out = empty(x, x.shape());
        be(x).clamp(x, lo, hi, out);
        if (!Tape.needsGrad(x)) return out;
        return Tape.record(out, g -> {
            // gradient passes where x was inside [lo, hi]: exactly where clamping left x unchanged
            Tensor inside = compare(BinaryOp.EQ, out, x);
            accumulate(x, mul(g, inside));
        });
    }

    public static Tensor clampMin(Tensor x, float lo) { return clamp(x, lo, Float.POSITIVE_INFINITY); }

    /** {@code cond != 0 ? a : b}, differentiable in a and b. */
    public static Tensor where(Tensor cond, Tensor a, Tensor b) {
        requireFloat("where", a);
        requireFloat("where", b);
        int[] shape = Shape.broadcast("where", Shape.broadcast("where", cond.shape(), a.shape()), b.shape());
        Tensor out = empty(a, shape);
        be(a).where(cond.expand(shape), a.expand(shape), b.expand(shape), out);
        if (!Tape.needsGrad(a, b)) return out;
        return Tape.record(out, g -> {
            Tensor zero = fullLike(g, 0f);
            if (a.requiresGrad()) accumulate(a, where(cond, g, zero));
            if (b.requiresGrad()) accumulate(b, where(cond, zero, g));
        });
    }

    /** x with {@code value} wherever mask is non-zero (mask broadcasts to x). */
    public static Tensor maskedFill(Tensor x, Tensor mask, float value) {
        Tensor v = fullLike(x, value);
        return where(mask, v, x);
    }

    // ---- elementwise unary ---------------------------------------------------------------------------------------

    public static Tensor unary(UnaryOp op, Tensor x) {
        requireFloat(op.name().toLowerCase(), x);
        Tensor out = empty(x, x.shape());
        be(x).unary(op, x, out);
        if (!Tape.needsGrad(x)) return out;
        return Tape.record(out, g -> {
            Tensor gx = empty(x, x.shape());
            be(x).unaryBackward(op, x, out, g, gx);
            accumulate(x, gx);
        });
    }

    public static Tensor neg(Tensor x) { return unary(UnaryOp.NEG, x); }
    public static Tensor exp(Tensor x) { return unary(UnaryOp.EXP, x); }
    public static Tensor log(Tensor x) { return unary(UnaryOp.LOG, x); }
    public static Tensor sqrt(Tensor x) { return unary(UnaryOp.SQRT, x); }
    public static Tensor rsqrt(Tensor x) { return unary(UnaryOp.RSQRT, x); }
    public static Tensor abs(Tensor x) { return unary(UnaryOp.ABS, x); }
    public static Tensor square(Tensor x) { return unary(UnaryOp.SQUARE, x); }
    public static Tensor tanh(Tensor x) { return unary(UnaryOp.TANH, x); }
    public static Tensor sigmoid(Tensor x) { return unary(UnaryOp.SIGMOID, x); }
    public static Tensor relu(Tensor x) { return unary(UnaryOp.RELU, x); }
    public static Tensor silu(Tensor x) { return unary(UnaryOp.SILU, x); }
    /** Exact GELU (erf form), PyTorch's default. */
    public static Tensor gelu(Tensor x) { return unary(UnaryOp.GELU, x); }
    /** GELU with the tanh approximation (DiT's MLP). */
    public static Tensor geluTanh(Tensor x) { return unary(UnaryOp.GELU_TANH, x); }

    // ---- reductions ----------------------------------------------------------------------------------------------

    private static int[] keepShape(String op, Tensor x, int[] axes) {
        int[] keep = x.shape().clone();
        if (axes.length == 0) Arrays.fill(keep, 1);
        for (int a : axes) keep[Shape.axis(op, a, x.rank())] = 1;
        return keep;
    }

    private static int[] dropShape(int[] keep, Tensor x, int[] axes) {
        if (axes.length == 0) return new int[0];
        boolean[] drop = new boolean[x.rank()];
        for (int a : axes) drop[Shape.axis("reduce", a, x.rank())] = true;
        int n = 0;
        for (boolean d : drop) if (!d) n++;
        int[] s = new int[n];
        for (int i = 0, j = 0; i < keep.length; i++) if (!drop[i]) s[j++] = keep[i];
        return s;
    }

    /** Sum over the given axes (all axes when none are given). */
    public static Tensor sum(Tensor x, boolean keepDims, int... axes) {
        requireFloat("sum", x);
        int[] keep = keepShape("sum", x, axes);
        Tensor out = empty(x, keep);
        be(x).reduce(ReduceOp.SUM, x, out);
        Tensor result = keepDims ? out : out.reshape(dropShape(keep, x, axes));
        if (!Tape.needsGrad(x)) return result;
        return Tape.record(result, g -> accumulate(x, g.reshape(keep).expand(x.shape())));
    }

    /** Sum of all elements, as a rank-0 tensor. */
    public static Tensor sum(Tensor x) { return sum(x, false); }

    public static Tensor mean(Tensor x, boolean keepDims, int... axes) {
        int[] keep = keepShape("mean", x, axes);
        long n = Shape.numel(x.shape()) / Math.max(1, Shape.numel(keep));
        return mulScalar(sum(x, keepDims, axes), 1f / n);
    }

    public static Tensor mean(Tensor x) { return mean(x, false); }

    /** Maximum over axes; the gradient goes to every element equal to the maximum. */
    public static Tensor max(Tensor x, boolean keepDims, int... axes) {
        requireFloat("max", x);
        int[] keep = keepShape("max", x, axes);
        Tensor out = empty(x, keep);
        be(x).reduce(ReduceOp.MAX, x, out);
        Tensor result = keepDims ? out : out.reshape(dropShape(keep, x, axes));
        if (!Tape.needsGrad(x)) return result;
        return Tape.record(result, g -> {
            Tensor hit = compare(BinaryOp.EQ, x, out);
            accumulate(x, mul(hit, g.reshape(keep)));
        });
    }

    /** Variance over axes with the given correction (0: population, 1: unbiased, PyTorch's default). */
    public static Tensor var(Tensor x, int correction, boolean keepDims, int... axes) {
        int[] keep = keepShape("var", x, axes);
        long n = Shape.numel(x.shape()) / Math.max(1, Shape.numel(keep));
        Tensor centered = sub(x, mean(x, true, axes));
        return mulScalar(sum(square(centered), keepDims, axes), 1f / Math.max(1, n - correction));
    }

    // ---- matmul --------------------------------------------------------------------------------------------------

    /**
     * Matrix product with NumPy batching: a [..., M, K] @ b [..., K, N]. Transposed operands are free: pass a
     * transposed view (e.g. {@code transpose(w, 0, 1)}) and the GEMM reads it in place.
     */
    public static Tensor matmul(Tensor a, Tensor b) {
        requireFloat("matmul", a);
        requireFloat("matmul", b);
        sameDevice("matmul", a, b);
        if (a.rank() < 2 || b.rank() < 2)
            throw new ShapeException("matmul: needs rank >= 2, got " + Shape.str(a.shape()) + " and " + Shape.str(b.shape()));
        int m = a.shape(-2), k = a.shape(-1), k2 = b.shape(-2), n = b.shape(-1);
        if (k != k2)
            throw new ShapeException("matmul: inner dimensions differ: " + Shape.str(a.shape()) + " @ " + Shape.str(b.shape()));
        Tensor out = MatMul.product(a, b);
        if (!Tape.needsGrad(a, b)) return out;
        return Tape.record(out, g -> {
            if (a.requiresGrad()) accumulate(a, MatMul.product(g, b.transpose(-1, -2)));
            if (b.requiresGrad()) {
                if (b.rank() == 2 && a.rank() > 2) // fold a's batch into rows: one GEMM instead of a batch and a sum
                    accumulate(b, MatMul.product(contiguous(a).reshape(-1, k).transpose(0, 1), g.reshape(-1, n)));
                else accumulate(b, MatMul.product(a.transpose(-1, -2), g));
            }
        });
    }

    /** {@code x @ w^T + b} with w in PyTorch's [out, in] layout; b may be null. */
    public static Tensor linear(Tensor x, Tensor w, Tensor b) {
        Tensor y = matmul(x, transpose(w, 0, 1));
        return b == null ? y : add(y, b);
    }

    // ---- views and copies ----------------------------------------------------------------------------------------

    /** x itself when contiguous, else a contiguous copy (differentiable). */
    public static Tensor contiguous(Tensor x) {
        if (x.isContiguous()) return x;
        Tensor out = be(x).empty(x.dtype(), x.shape());
        be(x).copy(x, out);
        if (!Tape.needsGrad(x)) return out;
        return Tape.record(out, g -> accumulate(x, g));
    }

    public static Tensor reshape(Tensor x, int... shape) {
        Tensor c = contiguous(x);
        Tensor out = c.reshape(shape);
        if (!Tape.needsGrad(c)) return out;
        return Tape.record(out, g -> accumulate(c, g.reshape(c.shape())));
    }

    public static Tensor flatten(Tensor x, int fromAxis) {
        int a = Shape.axis("flatten", fromAxis, x.rank());
        int[] s = Arrays.copyOf(x.shape(), a + 1);
        s[a] = -1;
        return reshape(x, s);
    }

    public static Tensor permute(Tensor x, int... axes) {
        Tensor out = x.permute(axes);
        if (!Tape.needsGrad(x)) return out;
        int[] inverse = new int[axes.length];
        for (int i = 0; i < axes.length; i++) inverse[Shape.axis("permute", axes[i], axes.length)] = i;
        return Tape.record(out, g -> accumulate(x, g.permute(inverse)));
    }

    public static Tensor transpose(Tensor x, int a, int b) {
        Tensor out = x.transpose(a, b);
        if (!Tape.needsGrad(x)) return out;
        return Tape.record(out, g -> accumulate(x, g.transpose(a, b)));
    }

    public static Tensor unsqueeze(Tensor x, int axis) {
        Tensor out = x.unsqueeze(axis);
        if (!Tape.needsGrad(x)) return out;
        return Tape.record(out, g -> accumulate(x, g.reshape(x.shape())));
    }

    public static Tensor squeeze(Tensor x, int axis) {
        Tensor out = x.squeeze(axis);
        if (!Tape.needsGrad(x)) return out;
        return Tape.record(out, g -> accumulate(x, g.reshape(x.shape())));
    }

    /** Broadcast view to a larger shape; the gradient is summed back. */
    public static Tensor expand(Tensor x, int... shape) {
        Tensor out = x.expand(shape);
        if (!Tape.needsGrad(x)) return out;
        return Tape.record(out, g -> accumulate(x, sumTo(g, x.shape())));
    }

    /** Elements {@code start <= i < end} along an axis, as a view. */
    public static Tensor slice(Tensor x, int axis, int start, int end) {
        Tensor out = x.slice(axis, start, end);
        if (!Tape.needsGrad(x)) return out;
        int ax = Shape.axis("slice", axis, x.rank());
        return Tape.record(out, g -> {
            Tensor cur = x.grad();
            if (cur != null && !x.isLeaf() && cur.isContiguous() && Arrays.equals(cur.shape(), x.shape())
                    && cur.isSoleBackwardGradient()) {
                // the slices of one tensor (q, k and v of one projection) add into one gradient, not a zero-filled
                // full-size tensor each and a sum per slice
                Tensor region = cur.slice(ax, start, end);
                be(x).binary(BinaryOp.ADD, region, g, region);
                return;
            }
            Tensor gx = zerosLike(x);
            be(x).copy(g, gx.slice(ax, start, end));
            accumulate(x, gx);
        });
    }

    /** Concatenation along an existing axis. */
    public static Tensor concat(int axis, Tensor... xs) {
        if (xs.length == 0) throw new IllegalArgumentException("concat: no tensors");
        int ax = Shape.axis("concat", axis, xs[0].rank());
        int[] shape = xs[0].shape().clone();
        int total = 0;
        for (Tensor t : xs) {
            if (t.rank() != shape.length)
                throw new ShapeException("concat: ranks differ: " + Shape.str(xs[0].shape()) + " and " + Shape.str(t.shape()));
            for (int d = 0; d < shape.length; d++)
                if (d != ax && t.shape()[d] != shape[d])
                    throw new ShapeException("concat: shapes " + Shape.str(xs[0].shape()) + " and " + Shape.str(t.shape()) + " differ off axis " + ax);
            sameDevice("concat", xs[0], t);
            total += t.shape()[ax];
        }
        shape[ax] = total;
        Tensor out = be(xs[0]).empty(xs[0].dtype(), shape);
        int at = 0;
        for (Tensor t : xs) {
            be(t).copy(t, out.slice(ax, at, at + t.shape()[ax]));
            at += t.shape()[ax];
        }
        if (!Tape.needsGrad(xs)) return out;
        return Tape.record(out, g -> {
            int from = 0;
            for (Tensor t : xs) {
                int len = t.shape()[ax];
                if (t.requiresGrad()) accumulate(t, g.slice(ax, from, from + len));
                from += len;
            }
        });
    }

    /** Stacks equal-shape tensors along a new axis. */
    public static Tensor stack(int axis, Tensor... xs) {
        Tensor[] u = new Tensor[xs.length];
        for (int i = 0; i < xs.length; i++) u[i] = unsqueeze(xs[i], axis);
        return concat(axis, u);
    }

    /** torch.gather: {@code out[..i..] = x[.. idx[..i..] ..]} along an axis; idx is I32 with x's rank. */
    public static Tensor gather(Tensor x, int axis, Tensor idx) {
        requireFloat("gather", x);
        int ax = Shape.axis("gather", axis, x.rank());
        if (idx.dtype() != DType.I32 || idx.rank() != x.rank())
            throw new ShapeException("gather: index must be I32 of x's rank, got " + idx.dtype() + " " + Shape.str(idx.shape()) + " for x " + Shape.str(x.shape()));
        for (int d = 0; d < x.rank(); d++)
            if (d != ax && idx.shape()[d] != x.shape()[d])
                throw new ShapeException("gather: index " + Shape.str(idx.shape()) + " and x " + Shape.str(x.shape()) + " differ off axis " + ax);
        Tensor xc = contiguous(x), ic = contiguousInts(idx);
        Tensor out = empty(x, idx.shape());
        be(x).gather(xc, ax, ic, out);
        if (!Tape.needsGrad(x)) return out;
        return Tape.record(out, g -> {
            Tensor gx = zerosLike(x);
            be(x).scatterAdd(contiguous(g), ax, ic, gx);
            accumulate(x, gx);
        });
    }

    static Tensor contiguousInts(Tensor idx) {
        if (idx.isContiguous()) return idx;
        Tensor c = be(idx).empty(DType.I32, idx.shape());
        be(idx).copy(idx, c);
        return c;
    }

    /** The same values, cut from the graph. */
    public static Tensor detach(Tensor x) {
        return x.view(x.offset(), x.shape(), x.strides());
    }

    /** The straight-through estimator {@code x + detach(q - x)}: the value of q, the gradient of x. */
    public static Tensor straightThrough(Tensor x, Tensor q) {
        return add(x, detach(sub(q, x)));
    }

    // ---- non-differentiable --------------------------------------------------------------------------------------

    /** Index of the maximum along the last axis (I32, last axis dropped). */
    public static Tensor argmax(Tensor x) {
        Tensor out = be(x).empty(DType.I32, Arrays.copyOf(x.shape(), x.rank() - 1));
        be(x).argmax(x, out);
        return out;
    }

    /** The k largest values along the last axis and their I32 indices, in descending order. */
    public static Tensor[] topk(Tensor x, int k) {
        int[] s = x.shape().clone();
        s[s.length - 1] = k;
        Tensor v = empty(x, s), i = be(x).empty(DType.I32, s);
        be(x).topk(x, k, v, i);
        return new Tensor[]{v, i};
    }
}
