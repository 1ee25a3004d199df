package org.tessella.autograd;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.tessella.autograd.GradCheck.Gen;
import org.tessella.autograd.GradCheck.Layout;
import org.tessella.autograd.Ref.D;
import org.tessella.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.BinaryOperator;
import java.util.function.DoubleUnaryOperator;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessella.autograd.GradCheck.STD;
import static org.tessella.autograd.GradCheck.away;
import static org.tessella.autograd.GradCheck.constant;
import static org.tessella.autograd.GradCheck.leaf;
import static org.tessella.autograd.GradCheck.uniform;
import static org.tessella.autograd.GradCheck.Layout.CONTIG;
import static org.tessella.autograd.GradCheck.Layout.EXPAND;
import static org.tessella.autograd.GradCheck.Layout.PERM;
import static org.tessella.autograd.GradCheck.Layout.SLICE;
import static org.tessella.autograd.GradCheck.Layout.T;

/** Gradient checks of the ops in {@link Ops}: elementwise (broadcasting, views), reductions, matmul, views. */
class GradCheckTest {

    @BeforeEach
    @AfterEach
    void cleanTape() {
        Tape.clear();
        assertTrue(Tape.enabled(), "a no-grad scope leaked from an earlier test");
    }

    static int[] s(int... d) { return d; }

    // ---- the checker itself --------------------------------------------------------------------------------------

    /** A deliberately wrong backward rule must be caught (otherwise every other test here proves nothing). */
    @Test
    void checkerCatchesAWrongGradient() {
        Tensor x = leaf(STD, 1, 3, 4);
        GradCheck.Fn wrongSquare = in -> {
            Tensor a = in.get(0);
            Tensor out;
            try (var ignored = Tape.noGrad()) { out = Ops.square(a); }
            if (!Tape.needsGrad(a)) return out;
            return Tape.record(out, g -> Ops.accumulate(a, Ops.mul(g, a))); // should be 2 * a
        };
        assertThrows(AssertionError.class, () -> GradCheck.of("wrongSquare/ref", x).fn(wrongSquare)
                .ref(in -> Ref.map(in.get(0), v -> v * v)).run());
        assertThrows(AssertionError.class, () -> GradCheck.of("wrongSquare/fd", x).fn(wrongSquare).run());
        // and the right rule passes both ways
        GradCheck.of("square", x).fn(in -> Ops.square(in.get(0))).ref(in -> Ref.map(in.get(0), v -> v * v))
                .floatFd(1e-2, 1e-2).run();
    }

    @Test
    void checkerCatchesAWrongForward() {
        Tensor x = leaf(STD, 2, 5);
        assertThrows(AssertionError.class, () -> GradCheck.of("exp-vs-tanh", x).fn(in -> Ops.exp(in.get(0)))
                .ref(in -> Ref.map(in.get(0), Math::tanh)).run());
    }

    // ---- elementwise binary with broadcasting and views ------------------------------------------------------------

    record Bin(String name, BinaryOperator<Tensor> op, BinaryOperator<D> ref, Gen ga, Gen gb) {}

    static final List<Bin> BINARY = List.of(
            new Bin("add", Ops::add, Ref::add, STD, STD),
            new Bin("sub", Ops::sub, Ref::sub, STD, STD),
            new Bin("mul", Ops::mul, Ref::mul, STD, STD),
            new Bin("div", Ops::div, Ref::div, STD, away(0.5, 2)),
            new Bin("maximum", Ops::maximum, (a, b) -> Ref.zip(a, b, Math::max), STD, STD));

    record Operand(Layout layout, int[] shape) {
        @Override public String toString() { return layout + Arrays.toString(shape); }
    }

    static Operand op(Layout l, int... shape) { return new Operand(l, shape); }

    static final Operand[][] BINARY_CASES = {
            {op(CONTIG, 3, 4), op(CONTIG, 3, 4)},
            {op(CONTIG, 2, 3, 4), op(CONTIG, 4)},
            {op(CONTIG, 2, 1, 4), op(CONTIG, 3, 1)},
            {op(CONTIG, 3, 5), op(CONTIG)},              // rank-0 operand
            {op(CONTIG, 1), op(PERM, 3, 2, 2)},
            {op(T, 4, 3), op(SLICE, 4, 3)},
            {op(EXPAND, 4, 3), op(PERM, 4, 3)},
            {op(PERM, 2, 3, 4), op(SLICE, 3, 1)},
            {op(T, 5, 6), op(CONTIG, 6)},
            {op(CONTIG, 37), op(CONTIG, 37)},            // vector body and scalar tail
            {op(SLICE, 2, 45), op(T, 2, 45)},
            {op(CONTIG, 2, 1, 5), op(EXPAND, 2, 4, 5)},
    };

    @TestFactory
    Stream<DynamicTest> binaryOps() {
        List<DynamicTest> tests = new ArrayList<>();
        long seed = 100;
        for (Bin b : BINARY)
            for (Operand[] c : BINARY_CASES) {
                long sd = seed++;
                String name = b.name + " " + c[0] + " " + c[1];
                tests.add(DynamicTest.dynamicTest(name, () -> {
                    Tensor x = leaf(c[0].layout, b.ga, sd, c[0].shape), y = leaf(c[1].layout, b.gb, sd + 1000, c[1].shape);
                    GradCheck.of(name, x, y).fn(in -> b.op.apply(in.get(0), in.get(1)))
                            .ref(in -> b.ref.apply(in.get(0), in.get(1))).run();
                }));
            }
        return tests.stream();
    }

    /** Only one side requires grad: the other must get none, and the branch that skips it must still be right. */
    @TestFactory
    Stream<DynamicTest> binaryOpsOneSided() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Bin b : BINARY)
            for (int side = 0; side < 2; side++) {
                int sd = side;
                String name = b.name + (side == 0 ? " grad a only" : " grad b only");
                tests.add(DynamicTest.dynamicTest(name, () -> {
                    Tensor x = constant(T, b.ga, 7, 3, 4), y = constant(CONTIG, b.gb, 8, 4);
                    (sd == 0 ? x : y).requiresGrad(true);
                    GradCheck.of(name, x, y).fn(in -> b.op.apply(in.get(0), in.get(1)))
                            .ref(in -> b.ref.apply(in.get(0), in.get(1))).run();
                }));
            }
        return tests.stream();
    }

    /** The same leaf on both sides: both gradients accumulate into it. */
    @TestFactory
    Stream<DynamicTest> binaryOpsSameOperand() {
        return BINARY.stream().map(b -> DynamicTest.dynamicTest(b.name + "(x, x)", () -> {
            Tensor x = leaf(T, b.name.equals("div") ? away(0.5, 2) : STD, 9, 3, 5);
            GradCheck.of(b.name + "(x, x)", x).fn(in -> b.op.apply(in.get(0), in.get(0)))
                    .ref(in -> b.ref.apply(in.get(0), in.get(0))).run();
        }));
    }

    @Test
    void maximumTieGoesToA() {
        Tensor a = Tensor.of(new float[]{1, 2, 3}, 3).requiresGrad(true);
        Tensor b = Tensor.of(new float[]{1, 5, 0}, 3).requiresGrad(true);
        Tape.backward(Ops.sum(Ops.maximum(a, b)));
        assertArrayEquals(new float[]{1, 0, 1}, a.grad().toFloatArray());
        assertArrayEquals(new float[]{0, 1, 0}, b.grad().toFloatArray());
    }

    // ---- elementwise unary ---------------------------------------------------------------------------------------

    record Un(String name, UnaryOperator<Tensor> op, DoubleUnaryOperator ref, Gen gen) {}

    /** Uniform in [lo, hi] but at least {@code margin} away from each kink. */
    static Gen avoiding(double lo, double hi, double margin, double... kinks) {
        return r -> {
            while (true) {
                double v = lo + (hi - lo) * r.nextDouble();
                boolean ok = true;
                for (double k : kinks) ok &= Math.abs(v - k) >= margin;
                if (ok) return v;
            }
        };
    }

    static final List<Un> UNARY = List.of(
            new Un("neg", Ops::neg, v -> -v, STD),
            new Un("exp", Ops::exp, Math::exp, uniform(-2, 2)),
            new Un("log", Ops::log, Math::log, uniform(0.2, 3)),
            new Un("sqrt", Ops::sqrt, Math::sqrt, uniform(0.2, 3)),
            new Un("rsqrt", Ops::rsqrt, v -> 1 / Math.sqrt(v), uniform(0.2, 3)),
            new Un("abs", Ops::abs, Math::abs, away(0.05, 2)),
            new Un("square", Ops::square, v -> v * v, uniform(-2, 2)),
            new Un("tanh", Ops::tanh, Math::tanh, uniform(-3, 3)),
            new Un("sigmoid", Ops::sigmoid, Ref::sigmoid, uniform(-5, 5)),
            new Un("relu", Ops::relu, v -> Math.max(v, 0), away(0.05, 2)),
            new Un("silu", Ops::silu, v -> v * Ref.sigmoid(v), uniform(-5, 5)),
            new Un("gelu", Ops::gelu, Ref::gelu, uniform(-3.5, 3.5)),
            new Un("geluTanh", Ops::geluTanh, Ref::geluTanh, uniform(-3.5, 3.5)),
            new Un("pow2", x -> Ops.pow(x, 2f), v -> v * v, uniform(-2, 2)),
            new Un("pow3", x -> Ops.pow(x, 3f), v -> v * v * v, uniform(-2, 2)),
            new Un("pow0.5", x -> Ops.pow(x, 0.5f), Math::sqrt, uniform(0.3, 2)),
            new Un("pow-1.5", x -> Ops.pow(x, -1.5f), v -> Math.pow(v, -1.5), uniform(0.3, 2)),
            new Un("pow1.7", x -> Ops.pow(x, 1.7f), v -> Math.pow(v, 1.7), uniform(0.3, 2)),
            new Un("pow1", x -> Ops.pow(x, 1f), v -> v, uniform(-2, 2)),
            new Un("clamp", x -> Ops.clamp(x, -0.5f, 0.7f), v -> Math.min(Math.max(v, -0.5), 0.7), avoiding(-2, 2, 0.05, -0.5, 0.7)),
            new Un("clampMin", x -> Ops.clampMin(x, 0.1f), v -> Math.max(v, 0.1), avoiding(-2, 2, 0.05, 0.1)),
            new Un("affine", x -> Ops.affine(x, 1.7f, -0.3f), v -> 1.7 * v - 0.3, STD),
            new Un("mulScalar", x -> Ops.mulScalar(x, -2.5f), v -> -2.5 * v, STD),
            new Un("addScalar", x -> Ops.addScalar(x, 0.75f), v -> v + 0.75, STD));

    static final Operand[] UNARY_SHAPES = {op(CONTIG, 37), op(T, 5, 7), op(SLICE, 3, 2, 5), op(PERM, 2, 3, 4), op(EXPAND, 3, 4)};

    @TestFactory
    Stream<DynamicTest> unaryOps() {
        List<DynamicTest> tests = new ArrayList<>();
        long seed = 500;
        for (Un u : UNARY)
            for (Operand o : UNARY_SHAPES) {
                long sd = seed++;
                String name = u.name + " " + o;
                tests.add(DynamicTest.dynamicTest(name, () -> {
                    Tensor x = leaf(o.layout, u.gen, sd, o.shape);
                    GradCheck.of(name, x).fn(in -> u.op.apply(in.get(0))).ref(in -> Ref.map(in.get(0), u.ref)).run();
                }));
            }
        return tests.stream();
    }

    /** A longer row, so the vector bodies of the kernels run on several full vectors. */
    @TestFactory
    Stream<DynamicTest> unaryOpsLong() {
        return UNARY.stream().map(u -> DynamicTest.dynamicTest(u.name + " [2, 70]", () -> {
            Tensor x = leaf(CONTIG, u.gen, 77, 2, 70);
            GradCheck.of(u.name, x).fn(in -> u.op.apply(in.get(0))).ref(in -> Ref.map(in.get(0), u.ref)).run();
        }));
    }

    // ---- where / maskedFill ------------------------------------------------------------------------------------

    static Tensor mask(long seed, int... shape) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] m = new float[Ref.numel(shape)];
        for (int i = 0; i < m.length; i++) m[i] = r.nextBoolean() ? 1f : 0f;
        return Tensor.of(m, shape);
    }

    @Test
    void whereBroadcasting() {
        Tensor cond = mask(1, 4);
        Tensor a = leaf(T, STD, 2, 3, 4), b = leaf(CONTIG, STD, 3, 1, 4);
        GradCheck.of("where", a, b).fn(in -> Ops.where(cond, in.get(0), in.get(1)))
                .ref(in -> Ref.where(D.of(cond), in.get(0), in.get(1))).run();
        Tensor cond2 = mask(4, 2, 3, 1);
        Tensor a2 = leaf(PERM, STD, 5, 3, 4), b2 = leaf(CONTIG, STD, 6, 2, 3, 4);
        GradCheck.of("where 3d", a2, b2).fn(in -> Ops.where(cond2, in.get(0), in.get(1)))
                .ref(in -> Ref.where(D.of(cond2), in.get(0), in.get(1))).run();
        Tensor a3 = leaf(CONTIG, STD, 7, 5);
        GradCheck.of("where a only", a3, constant(STD, 8, 5)).fn(in -> Ops.where(mask(9, 5), in.get(0), in.get(1)))
                .ref(in -> Ref.where(D.of(mask(9, 5)), in.get(0), in.get(1))).run();
    }

    @Test
    void maskedFill() {
        Tensor m = mask(11, 1, 4);
        Tensor x = leaf(SLICE, STD, 12, 3, 4);
        GradCheck.of("maskedFill", x).fn(in -> Ops.maskedFill(in.get(0), m, -7f))
                .ref(in -> Ref.where(D.of(m), Ref.map(in.get(0), v -> -7), in.get(0))).run();
        Tensor m2 = mask(13, 3, 4);
        GradCheck.of("maskedFill -inf then softmax-free sum", x).fn(in -> Ops.exp(Ops.maskedFill(in.get(0), m2, Float.NEGATIVE_INFINITY)))
                .ref(in -> Ref.where(D.of(m2), Ref.map(in.get(0), v -> 0), Ref.map(in.get(0), Math::exp))).run();
    }

    // ---- reductions ----------------------------------------------------------------------------------------------

    static final int[][] AXES = {{}, {0}, {1}, {2}, {-1}, {0, 2}, {1, 2}, {0, 1, 2}};
    static final Layout[] RED_LAYOUTS = {CONTIG, PERM, SLICE, T};

    @TestFactory
    Stream<DynamicTest> sumAndMean() {
        List<DynamicTest> tests = new ArrayList<>();
        long seed = 900;
        for (Layout l : RED_LAYOUTS)
            for (int[] axes : AXES)
                for (boolean keep : new boolean[]{true, false}) {
                    long sd = seed++;
                    String tag = l + " [2, 3, 4] axes " + Arrays.toString(axes) + " keep " + keep;
                    tests.add(DynamicTest.dynamicTest("sum " + tag, () -> {
                        Tensor x = leaf(l, STD, sd, 2, 3, 4);
                        GradCheck.of("sum " + tag, x).fn(in -> Ops.sum(in.get(0), keep, axes))
                                .ref(in -> Ref.sum(in.get(0), keep, axes)).run();
                    }));
                    tests.add(DynamicTest.dynamicTest("mean " + tag, () -> {
                        Tensor x = leaf(l, STD, sd, 2, 3, 4);
                        GradCheck.of("mean " + tag, x).fn(in -> Ops.mean(in.get(0), keep, axes))
                                .ref(in -> Ref.mean(in.get(0), keep, axes)).run();
                    }));
                }
        return tests.stream();
    }

    @Test
    void sumLongRowsAndColumns() {
        // row path (RowSum with full vectors and a tail) and column path (vectorised across columns)
        Tensor x = leaf(STD, 31, 3, 53);
        GradCheck.of("sum rows", x).fn(in -> Ops.sum(in.get(0), false, 1)).ref(in -> Ref.sum(in.get(0), false, 1)).run();
        Tensor y = leaf(STD, 32, 40, 21);
        GradCheck.of("sum cols", y).fn(in -> Ops.sum(in.get(0), true, 0)).ref(in -> Ref.sum(in.get(0), true, 0)).run();
        GradCheck.of("sum all", y).fn(in -> Ops.sum(in.get(0))).ref(in -> Ref.sum(in.get(0), false)).run();
        GradCheck.of("mean all", y).fn(in -> Ops.mean(in.get(0))).ref(in -> Ref.mean(in.get(0), false)).run();
    }

    /** Reducing only axes of size 1 of a non-contiguous view (nothing to reduce: a copy). */
    @Test
    void sumOverSizeOneAxisOfView() {
        Tensor x = leaf(PERM, STD, 33, 3, 1, 4);
        GradCheck.of("sum size-1 axis of permuted view", x).fn(in -> Ops.sum(in.get(0), false, 1))
                .ref(in -> Ref.sum(in.get(0), false, 1)).run();
        Tensor y = leaf(T, STD, 34, 1, 5, 3);
        GradCheck.of("mean size-1 axis of transposed view", y).fn(in -> Ops.mean(in.get(0), true, 0))
                .ref(in -> Ref.mean(in.get(0), true, 0)).run();
    }

    @Test
    void sumOfRankZero() {
        Tensor x = Tensor.scalar(2.5f).requiresGrad(true);
        GradCheck.of("sum scalar", x).fn(in -> Ops.mulScalar(Ops.sum(in.get(0)), 3f))
                .ref(in -> Ref.scale(in.get(0), 3)).run();
    }

    @Test
    void unaryChainOnRankZero() {
        Tensor x = Tensor.scalar(0.3f).requiresGrad(true), y = Tensor.scalar(-1.2f).requiresGrad(true);
        GradCheck.of("rank-0 chain", x, y).fn(in -> Ops.mul(Ops.exp(Ops.tanh(in.get(0))), Ops.sigmoid(Ops.mul(in.get(0), in.get(1)))))
                .ref(in -> Ref.mul(Ref.map(in.get(0), v -> Math.exp(Math.tanh(v))), Ref.map(Ref.mul(in.get(0), in.get(1)), Ref::sigmoid))).run();
    }

    /** Values spaced 0.1 apart, shuffled: no ties, so max has a clean gradient. */
    static Tensor distinct(Layout l, long seed, int... shape) {
        Tensor t = constant(l, STD, seed, shape);
        float[] a = t.floats();
        SplittableRandom r = new SplittableRandom(seed);
        int n = a.length;
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int tmp = p[i]; p[i] = p[j]; p[j] = tmp;
        }
        for (int i = 0; i < n; i++) a[i] = (float) ((p[i] - n / 2) * 0.1 + 0.01 * r.nextDouble());
        return t.requiresGrad(true);
    }

    @TestFactory
    Stream<DynamicTest> maxReduction() {
        List<DynamicTest> tests = new ArrayList<>();
        long seed = 1300;
        for (Layout l : new Layout[]{CONTIG, PERM, T})
            for (int[] axes : AXES)
                for (boolean keep : new boolean[]{true, false}) {
                    long sd = seed++;
                    String tag = "max " + l + " axes " + Arrays.toString(axes) + " keep " + keep;
                    tests.add(DynamicTest.dynamicTest(tag, () -> {
                        Tensor x = distinct(l, sd, 2, 3, 4);
                        GradCheck.of(tag, x).fn(in -> Ops.max(in.get(0), keep, axes))
                                .ref(in -> Ref.reduce(in.get(0), true, keep, axes)).run();
                    }));
                }
        tests.add(DynamicTest.dynamicTest("max long row", () -> {
            Tensor x = distinct(CONTIG, 1400, 3, 41);
            GradCheck.of("max long row", x).fn(in -> Ops.max(in.get(0), false, -1))
                    .ref(in -> Ref.reduce(in.get(0), true, false, -1)).run();
        }));
        return tests.stream();
    }

    @Test
    void maxGradientGoesToEveryTiedElement() {
        Tensor x = Tensor.of(new float[]{1, 3, 3, 2, 0, -1}, 2, 3).requiresGrad(true);
        Tape.backward(Ops.sum(Ops.max(x, false, 1)));
        assertArrayEquals(new float[]{0, 1, 1, 1, 0, 0}, x.grad().toFloatArray());
    }

    @TestFactory
    Stream<DynamicTest> variance() {
        List<DynamicTest> tests = new ArrayList<>();
        long seed = 1500;
        for (Layout l : new Layout[]{CONTIG, PERM})
            for (int[] axes : new int[][]{{}, {1}, {-1}, {0, 2}})
                for (int corr : new int[]{0, 1})
                    for (boolean keep : new boolean[]{true, false}) {
                        long sd = seed++;
                        String tag = "var " + l + " axes " + Arrays.toString(axes) + " corr " + corr + " keep " + keep;
                        tests.add(DynamicTest.dynamicTest(tag, () -> {
                            Tensor x = leaf(l, STD, sd, 2, 3, 4);
                            GradCheck.of(tag, x).fn(in -> Ops.var(in.get(0), corr, keep, axes))
                                    .ref(in -> Ref.var(in.get(0), corr, keep, axes)).run();
                        }));
                    }
        return tests.stream();
    }

    // ---- matmul --------------------------------------------------------------------------------------------------

    /** Batch-[2, 3, 4] permuted from [3, 2, 4]: batch stride is not rows * cols, so MatMul must copy it. */
    static Tensor batchPermuted(long seed) {
        return GradCheck.filled(STD, seed, 3, 2, 4).permute(1, 0, 2).requiresGrad(true);
    }

    record MM(String name, Tensor a, Tensor b) {}

    static List<MM> matmulCases() {
        return List.of(
                new MM("[3,4]@[4,5]", leaf(STD, 1, 3, 4), leaf(STD, 2, 4, 5)),
                new MM("T[3,4]@[4,5]", leaf(T, STD, 3, 3, 4), leaf(STD, 4, 4, 5)),
                new MM("[3,4]@T[4,5]", leaf(STD, 5, 3, 4), leaf(T, STD, 6, 4, 5)),
                new MM("T[3,4]@T[4,5]", leaf(T, STD, 7, 3, 4), leaf(T, STD, 8, 4, 5)),
                new MM("SLICE[3,4]@SLICE[4,5]", leaf(SLICE, STD, 9, 3, 4), leaf(SLICE, STD, 10, 4, 5)),
                new MM("[2,3,4]@[2,4,5]", leaf(STD, 11, 2, 3, 4), leaf(STD, 12, 2, 4, 5)),
                new MM("T[2,3,4]@T[2,4,5]", leaf(T, STD, 13, 2, 3, 4), leaf(T, STD, 14, 2, 4, 5)),
                new MM("[2,3,4]@[4,5] (fold)", leaf(STD, 15, 2, 3, 4), leaf(STD, 16, 4, 5)),
                new MM("[2,3,4]@T[4,5] (fold, trans b)", leaf(STD, 17, 2, 3, 4), leaf(T, STD, 18, 4, 5)),
                new MM("T[2,3,4]@[4,5]", leaf(T, STD, 19, 2, 3, 4), leaf(STD, 20, 4, 5)),
                new MM("[2,2,3,4]@[4,5]", leaf(STD, 21, 2, 2, 3, 4), leaf(T, STD, 22, 4, 5)),
                new MM("[2,1,3,4]@[3,4,5] (broadcast batch)", leaf(STD, 23, 2, 1, 3, 4), leaf(STD, 24, 3, 4, 5)),
                new MM("[1,3,4]@[2,4,5]", leaf(STD, 25, 1, 3, 4), leaf(STD, 26, 2, 4, 5)),
                new MM("[3,4]@[2,4,5]", leaf(STD, 27, 3, 4), leaf(STD, 28, 2, 4, 5)),
                new MM("T[3,4]@T[2,4,5]", leaf(T, STD, 29, 3, 4), leaf(T, STD, 30, 2, 4, 5)),
                new MM("PERMBATCH[2,3,4]@[2,4,5]", batchPermuted(31), leaf(STD, 32, 2, 4, 5)),
                new MM("SLICE[2,3,4]@[2,4,5]", leaf(SLICE, STD, 33, 2, 3, 4), leaf(STD, 34, 2, 4, 5)),
                new MM("EXPAND[2,3,4]@PERM[2,4,5]", leaf(EXPAND, STD, 35, 2, 3, 4), leaf(PERM, STD, 36, 2, 4, 5)),
                new MM("[1,4]@[4,1]", leaf(STD, 37, 1, 4), leaf(STD, 38, 4, 1)),
                new MM("[5,1]@[1,6] (outer)", leaf(STD, 39, 5, 1), leaf(T, STD, 40, 1, 6)),
                new MM("[17,33]@T[33,19]", leaf(STD, 41, 17, 33), leaf(T, STD, 42, 33, 19)),
                new MM("T[3,9,17]@[17,10]", leaf(T, STD, 43, 3, 9, 17), leaf(STD, 44, 17, 10)),
                new MM("[3,9,17]@[17,10] (fold)", leaf(STD, 45, 3, 9, 17), leaf(STD, 46, 17, 10)));
    }

    @TestFactory
    Stream<DynamicTest> matmul() {
        return matmulCases().stream().map(c -> DynamicTest.dynamicTest("matmul " + c.name, () ->
                GradCheck.of("matmul " + c.name, c.a, c.b).fn(in -> Ops.matmul(in.get(0), in.get(1)))
                        .ref(in -> Ref.matmul(in.get(0), in.get(1))).run()));
    }

    @TestFactory
    Stream<DynamicTest> matmulOneSided() {
        List<DynamicTest> tests = new ArrayList<>();
        for (int ci = 5; ci < 16; ci++)
            for (int side = 0; side < 2; side++) {
                int sd = side, idx = ci;
                String name = "matmul " + matmulCases().get(ci).name + (side == 0 ? " grad a only" : " grad b only");
                tests.add(DynamicTest.dynamicTest(name, () -> {
                    MM c = matmulCases().get(idx);
                    (sd == 0 ? c.b : c.a).requiresGrad(false);
                    GradCheck.of(name, c.a, c.b).fn(in -> Ops.matmul(in.get(0), in.get(1)))
                            .ref(in -> Ref.matmul(in.get(0), in.get(1))).run();
                }));
            }
        return tests.stream();
    }

    /** Operands transposed through the recorded Ops.transpose (the gradient flows back through the view). */
    @Test
    void matmulThroughRecordedTranspose() {
        Tensor a = leaf(STD, 50, 4, 3), b = leaf(STD, 51, 2, 5, 4);
        GradCheck.of("matmul(a^T, b^T)", a, b)
                .fn(in -> Ops.matmul(Ops.transpose(in.get(0), 0, 1), Ops.transpose(in.get(1), -1, -2)))
                .ref(in -> Ref.matmul(Ref.transpose(in.get(0), 0, 1), Ref.transpose(in.get(1), -1, -2))).run();
    }

    @Test
    void linear() {
        Tensor x = leaf(STD, 60, 2, 3, 4), w = leaf(STD, 61, 5, 4), b = leaf(STD, 62, 5);
        GradCheck.of("linear", x, w, b).fn(in -> Ops.linear(in.get(0), in.get(1), in.get(2)))
                .ref(in -> Ref.add(Ref.matmul(in.get(0), Ref.transpose(in.get(1), 0, 1)), in.get(2))).run();
        Tensor xt = leaf(T, STD, 63, 6, 4);
        GradCheck.of("linear no bias, x transposed view", xt, w).fn(in -> Ops.linear(in.get(0), in.get(1), null))
                .ref(in -> Ref.matmul(in.get(0), Ref.transpose(in.get(1), 0, 1))).run();
    }

    // ---- views ---------------------------------------------------------------------------------------------------

    @Test
    void reshapeFlattenContiguous() {
        Tensor x = leaf(STD, 70, 2, 6);
        GradCheck.of("reshape", x).fn(in -> Ops.reshape(in.get(0), 3, -1)).ref(in -> Ref.reshape(in.get(0), 3, 4)).run();
        Tensor xt = leaf(T, STD, 71, 2, 3, 4);
        GradCheck.of("reshape of transposed view", xt).fn(in -> Ops.reshape(in.get(0), -1))
                .ref(in -> Ref.reshape(in.get(0), -1)).run();
        GradCheck.of("flatten(1) of transposed view", xt).fn(in -> Ops.flatten(in.get(0), 1))
                .ref(in -> Ref.reshape(in.get(0), 2, 12)).run();
        Tensor xp = leaf(PERM, STD, 72, 3, 4, 2);
        GradCheck.of("contiguous of permuted view", xp).fn(in -> {
            Tensor c = Ops.contiguous(in.get(0));
            assertTrue(c.isContiguous());
            return Ops.mul(c, c);
        }).ref(in -> Ref.mul(in.get(0), in.get(0))).run();
        Tensor xc = leaf(STD, 73, 3, 4);
        assertSame(xc, Ops.contiguous(xc), "contiguous of a contiguous tensor is itself");
    }

    @Test
    void permuteTransposeChain() {
        Tensor x = leaf(STD, 80, 2, 3, 4);
        GradCheck.of("permute", x).fn(in -> Ops.permute(in.get(0), 2, 0, 1)).ref(in -> Ref.permute(in.get(0), 2, 0, 1)).run();
        GradCheck.of("transpose", x).fn(in -> Ops.transpose(in.get(0), 0, -1)).ref(in -> Ref.transpose(in.get(0), 0, 2)).run();
        GradCheck.of("permute -> exp -> transpose -> reshape", x)
                .fn(in -> Ops.reshape(Ops.transpose(Ops.exp(Ops.permute(in.get(0), 1, 2, 0)), 0, 1), 4, -1))
                .ref(in -> Ref.reshape(Ref.transpose(Ref.map(Ref.permute(in.get(0), 1, 2, 0), Math::exp), 0, 1), 4, 6)).run();
        Tensor xv = leaf(SLICE, STD, 81, 3, 4, 5);
        GradCheck.of("permute of sliced view", xv).fn(in -> Ops.mul(Ops.permute(in.get(0), 1, 2, 0), Ops.permute(in.get(0), 1, 2, 0)))
                .ref(in -> { D p = Ref.permute(in.get(0), 1, 2, 0); return Ref.mul(p, p); }).run();
    }

    @Test
    void expandSqueezeUnsqueeze() {
        Tensor x = leaf(STD, 90, 3, 1);
        GradCheck.of("expand", x).fn(in -> Ops.expand(in.get(0), 2, 3, 4)).ref(in -> Ref.expand(in.get(0), 2, 3, 4)).run();
        GradCheck.of("expand then mul", x).fn(in -> Ops.mul(Ops.expand(in.get(0), 2, 3, 4), Ops.expand(in.get(0), 3, 4)))
                .ref(in -> Ref.mul(Ref.expand(in.get(0), 2, 3, 4), Ref.expand(in.get(0), 3, 4))).run();
        Tensor y = leaf(T, STD, 91, 3, 4);
        GradCheck.of("unsqueeze", y).fn(in -> Ops.unsqueeze(in.get(0), 1)).ref(in -> Ref.reshape(in.get(0), 3, 1, 4)).run();
        GradCheck.of("unsqueeze(-1) then expand", y).fn(in -> Ops.expand(Ops.unsqueeze(in.get(0), -1), 3, 4, 2))
                .ref(in -> Ref.expand(Ref.reshape(in.get(0), 3, 4, 1), 3, 4, 2)).run();
        Tensor z = leaf(PERM, STD, 92, 2, 1, 3);
        GradCheck.of("squeeze", z).fn(in -> Ops.exp(Ops.squeeze(in.get(0), 1))).ref(in -> Ref.map(Ref.reshape(in.get(0), 2, 3), Math::exp)).run();
        GradCheck.of("squeeze(unsqueeze)", y).fn(in -> Ops.squeeze(Ops.unsqueeze(in.get(0), 0), 0)).ref(in -> in.get(0).copy()).run();
    }

    @Test
    void slice() {
        Tensor x = leaf(STD, 100, 3, 5, 2);
        GradCheck.of("slice axis 1", x).fn(in -> Ops.slice(in.get(0), 1, 1, 4)).ref(in -> Ref.slice(in.get(0), 1, 1, 4)).run();
        GradCheck.of("two overlapping slices", x)
                .fn(in -> Ops.mul(Ops.slice(in.get(0), 1, 0, 3), Ops.exp(Ops.slice(in.get(0), 1, 2, 5))))
                .ref(in -> Ref.mul(Ref.slice(in.get(0), 1, 0, 3), Ref.map(Ref.slice(in.get(0), 1, 2, 5), Math::exp))).run();
        Tensor xt = leaf(T, STD, 101, 4, 6);
        GradCheck.of("slice of transposed view, last axis", xt).fn(in -> Ops.slice(in.get(0), -1, 2, 6))
                .ref(in -> Ref.slice(in.get(0), 1, 2, 6)).run();
    }

    @Test
    void concatAndStack() {
        Tensor a = leaf(STD, 110, 2, 3), b = leaf(T, STD, 111, 4, 3), c = constant(STD, 112, 1, 3);
        GradCheck.of("concat axis 0", a, b, c).fn(in -> Ops.concat(0, in.get(0), in.get(1), in.get(2)))
                .ref(in -> Ref.concat(0, in.get(0), in.get(1), in.get(2))).run();
        Tensor d = leaf(PERM, STD, 113, 2, 2), e = leaf(SLICE, STD, 114, 2, 1);
        GradCheck.of("concat axis -1", a, d, e).fn(in -> Ops.concat(-1, in.get(0), in.get(1), in.get(2)))
                .ref(in -> Ref.concat(1, in.get(0), in.get(1), in.get(2))).run();
        Tensor f = leaf(STD, 115, 2, 3), g = leaf(T, STD, 116, 2, 3);
        for (int axis : new int[]{0, 1, 2, -1}) {
            int ra = axis < 0 ? axis + 3 : axis;
            GradCheck.of("stack axis " + axis, a, f, g).fn(in -> Ops.stack(axis, in.get(0), in.get(1), in.get(2)))
                    .ref(in -> Ref.concat(ra, unsq(in.get(0), ra), unsq(in.get(1), ra), unsq(in.get(2), ra))).run();
        }
        GradCheck.of("concat same tensor twice", a).fn(in -> Ops.concat(1, in.get(0), in.get(0)))
                .ref(in -> Ref.concat(1, in.get(0), in.get(0))).run();
    }

    static D unsq(D x, int axis) {
        int[] s = new int[x.rank() + 1];
        for (int i = 0, j = 0; i < s.length; i++) s[i] = i == axis ? 1 : x.shape()[j++];
        return Ref.reshape(x, s);
    }

    @Test
    void gather() {
        int[] idx = {2, 0, 0, 1, 3, 3, 3, 2};
        Tensor ix = Tensor.ofInts(idx, 2, 4);
        Tensor x = leaf(T, STD, 120, 2, 5);
        GradCheck.of("gather axis 1 (repeated indices)", x).fn(in -> Ops.gather(in.get(0), 1, ix))
                .ref(in -> Ref.gather(in.get(0), 1, idx, new int[]{2, 4})).run();
        int[] idx0 = {1, 0, 2, 1, 1, 0, 2, 2, 0, 1, 1, 1};
        Tensor ix0 = Tensor.ofInts(idx0, 4, 3);
        Tensor y = leaf(STD, 121, 3, 3);
        GradCheck.of("gather axis 0", y).fn(in -> Ops.gather(in.get(0), 0, ix0))
                .ref(in -> Ref.gather(in.get(0), 0, idx0, new int[]{4, 3})).run();
        int[] idx3 = {0, 1, 1, 0, 1, 0, 0, 0, 1, 1, 0, 1};
        Tensor ix3 = Tensor.ofInts(idx3, 2, 3, 2);
        Tensor z = leaf(PERM, STD, 122, 2, 3, 2);
        GradCheck.of("gather 3-d axis 2 of permuted view", z).fn(in -> Ops.gather(in.get(0), 2, ix3))
                .ref(in -> Ref.gather(in.get(0), 2, idx3, new int[]{2, 3, 2})).run();
    }

    // ---- detach, straight-through --------------------------------------------------------------------------------

    @Test
    void detachStopsGradient() {
        Tensor x = leaf(STD, 130, 3, 4);
        // d/dx sum(x * detach(x) * p) = detach(x) * p: the detached factor contributes nothing
        GradCheck.of("x * detach(x)", x).fn(in -> Ops.mul(in.get(0), Ops.detach(in.get(0))))
                .ref(in -> Ref.mul(in.get(0), in.get(0))).gradTol(Double.MAX_VALUE).run(); // forward only here
        Tensor p = GradCheck.filled(STD, 131, 3, 4);
        Tape.backward(Ops.sum(Ops.mul(Ops.mul(x, Ops.detach(x)), p)));
        float[] g = x.grad().toFloatArray(), xv = x.toFloatArray(), pv = p.toFloatArray();
        for (int i = 0; i < g.length; i++) assertEquals(xv[i] * pv[i], g[i], 1e-6f);
        x.setGrad(null);

        Tensor d = Ops.detach(Ops.exp(x));
        assertFalse(d.requiresGrad());
        assertTrue(d.isLeaf());
        assertThrows(IllegalStateException.class, () -> Tape.backward(Ops.sum(d)));
        Tape.clear();
    }

    @Test
    void straightThrough() {
        Tensor x = leaf(STD, 140, 4, 5);
        Tensor q0 = leaf(STD, 141, 4, 5);
        Tensor p = GradCheck.filled(STD, 142, 4, 5);
        Tensor st = Ops.straightThrough(x, q0);
        float[] sv = st.toFloatArray(), qv = q0.toFloatArray();
        for (int i = 0; i < sv.length; i++) assertEquals(qv[i], sv[i], 1e-6f, "forward equals q");
        Tape.backward(Ops.sum(Ops.mul(st, p)));
        assertArrayEquals(p.toFloatArray(), x.grad().toFloatArray(), 0f, "gradient is the identity to x");
        assertNull(q0.grad(), "no gradient to q");
        x.setGrad(null);

        // q computed from x (a quantiser): still identity to x
        Tensor st2 = Ops.straightThrough(x, Ops.clamp(Ops.mulScalar(x, 100f), -0.25f, 0.25f));
        Tape.backward(Ops.sum(Ops.mul(st2, p)));
        assertArrayEquals(p.toFloatArray(), x.grad().toFloatArray(), 0f);
        x.setGrad(null);
    }

    // ---- tape behaviour ------------------------------------------------------------------------------------------

    @Test
    void leafGradientsAccumulateAcrossBackwardPasses() {
        Tensor x = leaf(STD, 150, 3, 4);
        Tensor p = GradCheck.filled(STD, 151, 3, 4);
        Tape.backward(Ops.sum(Ops.mul(Ops.exp(x), p)));
        float[] once = x.grad().toFloatArray();
        Tape.backward(Ops.sum(Ops.mul(Ops.exp(x), p)));
        float[] twice = x.grad().toFloatArray();
        for (int i = 0; i < once.length; i++) assertEquals(2 * once[i], twice[i], 1e-6f * Math.abs(once[i]) + 1e-7f);
        x.setGrad(null);
    }

    @Test
    void intermediateGradientsAreClearedAndTapeIsEmpty() {
        Tensor x = leaf(STD, 160, 3, 4);
        Tensor y = Ops.exp(x);
        Tensor z = Ops.mul(y, y);
        assertTrue(Tape.size() >= 2);
        assertFalse(y.isLeaf());
        Tape.backward(Ops.sum(z));
        assertEquals(0, Tape.size());
        assertNull(y.grad());
        assertNull(z.grad());
        assertTrue(x.grad() != null);
        x.setGrad(null);
    }

    /** A small graph with shared sub-expressions, checked against both the double reference and float differences. */
    @Test
    void compositeMlp() {
        Tensor x = leaf(T, STD, 170, 4, 6), w1 = leaf(STD, 171, 8, 6), b1 = leaf(STD, 172, 8);
        Tensor w2 = leaf(STD, 173, 3, 8);
        GradCheck.of("mlp", x, w1, b1, w2).fn(in -> {
            Tensor h = Ops.tanh(Ops.linear(in.get(0), in.get(1), in.get(2)));
            Tensor o = Ops.linear(Ops.mul(h, Ops.sigmoid(h)), in.get(3), null);
            return Ops.mean(Ops.square(o));
        }).ref(in -> {
            D h = Ref.map(Ref.add(Ref.matmul(in.get(0), Ref.transpose(in.get(1), 0, 1)), in.get(2)), Math::tanh);
            D o = Ref.matmul(Ref.mul(h, Ref.map(h, Ref::sigmoid)), Ref.transpose(in.get(3), 0, 1));
            return Ref.mean(Ref.mul(o, o), false);
        }).floatFd(1e-2, 1e-2).run();
    }
}
