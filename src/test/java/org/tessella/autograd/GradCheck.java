package org.tessella.autograd;

import org.tessella.tensor.DType;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Gradient checker. {@code f(inputs)} is run forward, reduced to a scalar loss ({@code sum(out * probe)} with a fixed
 * random probe, or the output itself when it is a single element) and differentiated with {@link Tape#backward};
 * the analytic gradients ({@code input.grad()}) are then compared against numerical ones:
 * <ul>
 *   <li>with a {@link #ref double-precision reference} (preferred): the reference is differentiated by central
 *       differences in double with a tiny step (1e-6), which gives a clean gradient; the float forward is also checked
 *       against the reference;</li>
 *   <li>otherwise (or in addition, with {@link #floatFd}): the float function itself is evaluated at inputs moved by
 *       +-h in float storage (h ~ 1e-2), the loss accumulated in double, and the tolerance is looser.</li>
 * </ul>
 * Errors are measured as {@code max |a - b| / max(max |b|, floor)}. The backward is run twice and must give the same
 * bits (determinism), the tape must be empty afterwards, and inputs that do not require a gradient must get none.
 */
final class GradCheck {
    /** The function under test. */
    @FunctionalInterface
    interface Fn {
        Tensor apply(List<Tensor> in);
    }

    /** Its independent double-precision reference. */
    @FunctionalInterface
    interface RefFn {
        Ref.D apply(List<Ref.D> in);
    }

    /** -Dgradcheck.verbose=true prints every comparison's error. */
    private static final boolean VERBOSE = Boolean.getBoolean("gradcheck.verbose");

    private final String name;
    private final List<Tensor> inputs;
    private Fn fn;
    private RefFn ref;
    private double gradTol = 1e-3, fwdTol = 1e-4, floor = 1e-3;
    private double fdStep = 0, fdTol = 1e-2;
    private double refStep = 1e-6;
    private long probeSeed = 0x5eedL;
    private boolean requireReach = true;

    private double[] probe;

    private GradCheck(String name, List<Tensor> inputs) {
        this.name = name;
        this.inputs = inputs;
    }

    static GradCheck of(String name, Tensor... inputs) {
        return new GradCheck(name, new ArrayList<>(Arrays.asList(inputs)));
    }

    GradCheck fn(Fn f) { this.fn = f; return this; }

    GradCheck ref(RefFn r) { this.ref = r; return this; }

    /** Tolerance for analytic vs reference gradient (default 1e-3). */
    GradCheck gradTol(double t) { this.gradTol = t; return this; }

    /** Tolerance for float forward vs double reference (default 1e-4). */
    GradCheck fwdTol(double t) { this.fwdTol = t; return this; }

    /** Also (or instead, when there is no reference) check against float central differences with this step. */
    GradCheck floatFd(double step, double tol) { this.fdStep = step; this.fdTol = tol; return this; }

    GradCheck probeSeed(long s) { this.probeSeed = s; return this; }

    /** Allow inputs that require grad to receive none (treated as zero). */
    GradCheck allowUnreached() { this.requireReach = false; return this; }

    /** The analytic gradients of the last run, per input (null for inputs that do not require grad). */
    record Result(float[] out, int[] outShape, float[][] grads) {}

    Result run() {
        if (fn == null) throw new IllegalStateException("no function");
        try {
            Result r1 = analytic();
            Result r2 = analytic();
            for (int i = 0; i < inputs.size(); i++)
                if (r1.grads[i] != null && !Arrays.equals(bits(r1.grads[i]), bits(r2.grads[i])))
                    fail(name + ": backward not deterministic for input " + i);
            assertArrayEquals(r1.out, r2.out, 0f, name + ": forward not deterministic");
            Result r3 = inDirtyWorkspace();
            assertArrayEquals(bits(r1.out), bits(r3.out), name + ": forward differs inside a workspace step");
            for (int i = 0; i < inputs.size(); i++)
                if (r1.grads[i] != null && !Arrays.equals(bits(r1.grads[i]), bits(r3.grads[i])))
                    fail(name + ": gradient of input " + i + " differs inside a workspace step (non-zero offsets, dirty memory)"
                            + "\n  heap:      " + head(toDouble(r1.grads[i])) + "\n  workspace: " + head(toDouble(r3.grads[i])));
            if (ref != null) checkAgainstRef(r1);
            if (ref == null || fdStep > 0) checkAgainstFloatFd(r1);
            return r1;
        } finally {
            Tape.clear();
            for (Tensor t : inputs) t.setGrad(null);
        }
    }

    /**
     * The analytic pass again, inside a workspace step whose recycled memory is full of NaN (so a kernel that
     * assumes a zeroed output, or ignores a tensor's offset, shows up), starting at a non-zero offset.
     */
    private Result inDirtyWorkspace() {
        Workspace ws = new Workspace();
        try (Workspace step = ws.open()) {
            Tensor junk = Tensor.empty(DType.F32, 1 << 18);
            Arrays.fill(junk.floats(), junk.offset(), junk.offset() + junk.numel(), Float.NaN);
            Tensor junkInts = Tensor.empty(DType.I32, 1 << 12);
            Arrays.fill(junkInts.ints(), junkInts.offset(), junkInts.offset() + junkInts.numel(), -12345);
        }
        try (Workspace step = ws.open()) {
            Tensor.empty(DType.F32, 3); // start the step's tensors at a non-zero offset
            Tensor.empty(DType.I32, 5);
            return analytic();
        }
    }

    private static int[] bits(float[] a) {
        int[] b = new int[a.length];
        for (int i = 0; i < a.length; i++) b[i] = Float.floatToRawIntBits(a[i]);
        return b;
    }

    private double[] probe(int n) {
        if (probe == null || probe.length != n) {
            SplittableRandom r = new SplittableRandom(probeSeed);
            probe = new double[n];
            for (int i = 0; i < n; i++) probe[i] = (float) ((r.nextBoolean() ? 1 : -1) * (0.5 + r.nextDouble()));
        }
        return probe;
    }

    private Result analytic() {
        Tape.clear();
        for (Tensor t : inputs) t.setGrad(null);
        Tensor out = fn.apply(inputs);
        float[] outVals = out.toFloatArray();
        int[] outShape = out.shape().clone();
        Tensor loss;
        if (out.numel() == 1) {
            probe = new double[]{1};
            loss = out;
        } else {
            double[] p = probe(out.numel());
            float[] pf = new float[p.length];
            for (int i = 0; i < p.length; i++) pf[i] = (float) p[i];
            loss = Ops.sum(Ops.mul(out, Tensor.of(pf, out.shape().clone())));
        }
        Tape.backward(loss);
        assertEquals(0, Tape.size(), name + ": tape not empty after backward");
        float[][] grads = new float[inputs.size()][];
        for (int i = 0; i < inputs.size(); i++) {
            Tensor t = inputs.get(i);
            if (!t.requiresGrad()) {
                assertNull(t.grad(), name + ": input " + i + " does not require grad but got one");
                continue;
            }
            Tensor g = t.grad();
            if (g == null) {
                if (requireReach) fail(name + ": no gradient reached input " + i + " " + t);
                grads[i] = new float[t.numel()];
                continue;
            }
            assertArrayEquals(t.shape(), g.shape(), name + ": gradient shape of input " + i);
            grads[i] = g.toFloatArray();
            for (float v : grads[i])
                if (!Float.isFinite(v)) fail(name + ": non-finite gradient for input " + i + ": " + Arrays.toString(grads[i]));
        }
        return new Result(outVals, outShape, grads);
    }

    private void checkAgainstRef(Result r) {
        List<Ref.D> xs = new ArrayList<>();
        for (Tensor t : inputs) xs.add(Ref.D.of(t));
        Ref.D y = ref.apply(xs);
        if (!Arrays.equals(y.shape(), r.outShape) && !(y.numel() == 1 && r.out.length == 1))
            fail(name + ": output shape " + Arrays.toString(r.outShape) + ", reference " + Arrays.toString(y.shape()));
        double[] yv = y.v();
        compare("forward", -1, toDouble(r.out), yv, fwdTol, r.outShape);
        double[] p = probe;
        for (int i = 0; i < inputs.size(); i++) {
            if (r.grads[i] == null) continue;
            double[] x = xs.get(i).v();
            double[] num = new double[x.length];
            for (int j = 0; j < x.length; j++) {
                double orig = x[j];
                double h = refStep * Math.max(1, Math.abs(orig));
                x[j] = orig + h;
                double lp = dot(ref.apply(xs).v(), p);
                x[j] = orig - h;
                double lm = dot(ref.apply(xs).v(), p);
                x[j] = orig;
                num[j] = (lp - lm) / (2 * h);
            }
            compare("gradient (vs double reference)", i, toDouble(r.grads[i]), num, gradTol, inputs.get(i).shape());
        }
    }

    private void checkAgainstFloatFd(Result r) {
        double step = fdStep > 0 ? fdStep : 1e-2;
        double[] p = probe;
        for (int i = 0; i < inputs.size(); i++) {
            if (r.grads[i] == null) continue;
            Tensor t = inputs.get(i);
            for (int d = 0; d < t.rank(); d++)
                if (t.stride(d) == 0 && t.shape(d) > 1)
                    throw new IllegalStateException(name + ": float differences need a non-aliasing input, got strides "
                            + Arrays.toString(t.strides()));
            float[] arr = t.floats();
            double[] num = new double[t.numel()];
            for (int j = 0; j < num.length; j++) {
                int[] idx = Ref.unravel(t.shape(), j);
                int off = t.offset();
                for (int d = 0; d < idx.length; d++) off += idx[d] * t.stride(d);
                float orig = arr[off];
                double h = step * Math.max(1, Math.abs(orig));
                float xp = (float) (orig + h), xm = (float) (orig - h);
                arr[off] = xp;
                double lp = evalLoss(p);
                arr[off] = xm;
                double lm = evalLoss(p);
                arr[off] = orig;
                num[j] = (lp - lm) / ((double) xp - (double) xm);
            }
            compare("gradient (vs float differences)", i, toDouble(r.grads[i]), num, fdTol, t.shape());
        }
    }

    private double evalLoss(double[] p) {
        try (var ignored = Tape.noGrad()) {
            Tensor out = fn.apply(inputs);
            float[] v = out.toFloatArray();
            double s = 0;
            for (int i = 0; i < v.length; i++) s += v[i] * p[i];
            return s;
        } finally {
            Tape.clear();
        }
    }

    private static double dot(double[] a, double[] b) {
        if (a.length != b.length) throw new IllegalStateException("reference output has " + a.length + " values, probe " + b.length);
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    private static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    /** Relative error of a against the reference b, scaled by b's largest magnitude. */
    static double relErr(double[] a, double[] b, double floor) {
        double maxB = 0, maxD = 0;
        for (int i = 0; i < b.length; i++) {
            maxB = Math.max(maxB, Math.abs(b[i]));
            double d = Math.abs(a[i] - b[i]);
            if (!(d <= maxD)) maxD = d; // NaN propagates
        }
        return maxD / Math.max(maxB, floor);
    }

    private void compare(String what, int input, double[] a, double[] b, double tol, int[] shape) {
        if (a.length != b.length) fail(name + ": " + what + " sizes differ: " + a.length + " vs " + b.length);
        double err = relErr(a, b, floor);
        if (VERBOSE) System.out.printf("GRADCHECK %-70s %-34s in %2d err %.2e (tol %.0e)%n", name, what, input, err, tol);
        if (err <= tol) return;
        int worst = 0;
        double wd = -1;
        for (int i = 0; i < a.length; i++) {
            double d = Math.abs(a[i] - b[i]);
            if (!(d <= wd)) { wd = d; worst = i; }
        }
        StringBuilder sb = new StringBuilder();
        sb.append(name).append(": ").append(what);
        if (input >= 0) sb.append(" of input ").append(input).append(" ").append(Arrays.toString(shape));
        sb.append(" rel err ").append(String.format("%.3g", err)).append(" > ").append(tol)
                .append("; worst at ").append(Arrays.toString(Ref.unravel(shape, worst)))
                .append(" got ").append(a[worst]).append(" want ").append(b[worst]);
        sb.append("\n  got:  ").append(head(a)).append("\n  want: ").append(head(b));
        fail(sb.toString());
    }

    private static String head(double[] a) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < Math.min(a.length, 12); i++) sb.append(i > 0 ? ", " : "").append(String.format("%.5g", a[i]));
        return sb.append(a.length > 12 ? ", ...]" : "]").toString();
    }

    // ---- inputs --------------------------------------------------------------------------------------------------

    /** How a leaf is laid out in memory. */
    enum Layout {
        /** Plain contiguous. */
        CONTIG,
        /** The last two axes transposed (a view of a tensor with them swapped). */
        T,
        /** A slice of a wider tensor along the last axis (offset, row stride larger than the row). */
        SLICE,
        /** All axes reversed (a permuted view). */
        PERM,
        /** The first axis broadcast from size 1 (zero stride; aliasing, so only with a double reference). */
        EXPAND
    }

    /** A value distribution. */
    @FunctionalInterface
    interface Gen {
        double next(SplittableRandom r);
    }

    static Gen uniform(double lo, double hi) { return r -> lo + (hi - lo) * r.nextDouble(); }

    /** Random sign, magnitude in [lo, hi]: keeps away from zero (abs, relu, division). */
    static Gen away(double lo, double hi) { return r -> (r.nextBoolean() ? 1 : -1) * (lo + (hi - lo) * r.nextDouble()); }

    static final Gen STD = uniform(-1, 1);

    static Tensor filled(Gen g, long seed, int... shape) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[Ref.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) g.next(r);
        return Tensor.of(v, shape.clone());
    }

    /** A tensor of logical shape {@code shape} laid out as {@code layout}, requiring grad. */
    static Tensor leaf(Layout layout, Gen g, long seed, int... shape) {
        return constant(layout, g, seed, shape).requiresGrad(true);
    }

    static Tensor leaf(Gen g, long seed, int... shape) { return leaf(Layout.CONTIG, g, seed, shape); }

    /** A tensor of logical shape {@code shape} laid out as {@code layout}, not requiring grad. */
    static Tensor constant(Layout layout, Gen g, long seed, int... shape) {
        int r = shape.length;
        switch (layout) {
            case CONTIG:
                return filled(g, seed, shape);
            case T: {
                if (r < 2) throw new IllegalArgumentException("T needs rank >= 2");
                int[] s = shape.clone();
                s[r - 1] = shape[r - 2];
                s[r - 2] = shape[r - 1];
                return filled(g, seed, s).transpose(-1, -2);
            }
            case SLICE: {
                if (r < 1) throw new IllegalArgumentException("SLICE needs rank >= 1");
                int[] s = shape.clone();
                s[r - 1] += 3;
                return filled(g, seed, s).slice(r - 1, 1, 1 + shape[r - 1]);
            }
            case PERM: {
                int[] s = new int[r], axes = new int[r];
                for (int i = 0; i < r; i++) {
                    s[i] = shape[r - 1 - i];
                    axes[i] = r - 1 - i;
                }
                return filled(g, seed, s).permute(axes);
            }
            case EXPAND: {
                int[] s = shape.clone();
                int d = 0;
                while (d < r && s[d] == 1) d++;
                if (d == r) throw new IllegalArgumentException("EXPAND needs a dimension > 1");
                s[d] = 1;
                return filled(g, seed, s).expand(shape);
            }
            default:
                throw new AssertionError(layout);
        }
    }

    static Tensor constant(Gen g, long seed, int... shape) { return constant(Layout.CONTIG, g, seed, shape); }

    static Tensor ints(int[] v, int... shape) { return Tensor.ofInts(v, shape); }
}
