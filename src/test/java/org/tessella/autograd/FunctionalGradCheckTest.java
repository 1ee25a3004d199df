package org.tessella.autograd;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.tessella.autograd.GradCheck.Layout;
import org.tessella.autograd.Ref.D;
import org.tessella.tensor.Philox;
import org.tessella.tensor.ShapeException;
import org.tessella.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessella.autograd.GradCheck.STD;
import static org.tessella.autograd.GradCheck.constant;
import static org.tessella.autograd.GradCheck.leaf;
import static org.tessella.autograd.GradCheck.uniform;
import static org.tessella.autograd.GradCheck.Layout.CONTIG;
import static org.tessella.autograd.GradCheck.Layout.PERM;
import static org.tessella.autograd.GradCheck.Layout.SLICE;
import static org.tessella.autograd.GradCheck.Layout.T;

/** Gradient checks of the ops in {@link Functional}. */
class FunctionalGradCheckTest {

    @BeforeEach
    @AfterEach
    void cleanTape() {
        Tape.clear();
        assertTrue(Tape.enabled(), "a no-grad scope leaked from an earlier test");
    }

    record Case(Layout layout, int[] shape) {
        @Override public String toString() { return layout + Arrays.toString(shape); }
    }

    static Case c(Layout l, int... shape) { return new Case(l, shape); }

    // ---- softmax -------------------------------------------------------------------------------------------------

    static final Case[] ROW_CASES = {c(CONTIG, 3, 7), c(T, 5, 6), c(CONTIG, 2, 3, 9), c(SLICE, 4, 5), c(PERM, 3, 2, 4),
            c(CONTIG, 2, 37), c(CONTIG, 1, 1)};

    @TestFactory
    Stream<DynamicTest> softmaxAndLogSoftmax() {
        List<DynamicTest> tests = new ArrayList<>();
        long seed = 10;
        for (Case cs : ROW_CASES) {
            long sd = seed++;
            tests.add(DynamicTest.dynamicTest("softmax " + cs, () -> {
                Tensor x = leaf(cs.layout, uniform(-3, 3), sd, cs.shape);
                GradCheck.of("softmax " + cs, x).fn(in -> Functional.softmax(in.get(0))).ref(in -> Ref.softmax(in.get(0))).run();
            }));
            tests.add(DynamicTest.dynamicTest("logSoftmax " + cs, () -> {
                Tensor x = leaf(cs.layout, uniform(-3, 3), sd, cs.shape);
                GradCheck.of("logSoftmax " + cs, x).fn(in -> Functional.logSoftmax(in.get(0))).ref(in -> Ref.logSoftmax(in.get(0))).run();
            }));
        }
        return tests.stream();
    }

    @Test
    void softmaxLargeLogitsStable() {
        Tensor x = Tensor.of(new float[]{1000f, 1001f, 999f, -1000f}, 1, 4).requiresGrad(true);
        GradCheck.of("softmax large", x).fn(in -> Functional.softmax(in.get(0))).ref(in -> Ref.softmax(in.get(0))).run();
        GradCheck.of("logSoftmax large", x).fn(in -> Functional.logSoftmax(in.get(0))).ref(in -> Ref.logSoftmax(in.get(0))).run();
    }

    // ---- cross-entropy and losses --------------------------------------------------------------------------------

    @Test
    void crossEntropyWithIgnoreIndex() {
        int[] t = {0, 4, -100, 2, 2, 1};
        Tensor targets = Tensor.ofInts(t, 6);
        Tensor x = leaf(uniform(-2, 2), 30, 6, 5);
        GradCheck.of("crossEntropy ignore -100", x).fn(in -> Functional.crossEntropy(in.get(0), targets))
                .ref(in -> Ref.crossEntropy(in.get(0), t, -100)).run();
        // an ignore index that is also a valid class
        int[] t3 = {3, 1, 0, 3, 4, 2};
        Tensor targets3 = Tensor.ofInts(t3, 2, 3);
        Tensor x3 = leaf(uniform(-2, 2), 31, 2, 3, 5);
        GradCheck.of("crossEntropy 3-d ignore 3", x3).fn(in -> Functional.crossEntropy(in.get(0), targets3, 3))
                .ref(in -> Ref.crossEntropy(in.get(0), t3, 3)).run();
        // transposed logits view, wide rows
        int[] tw = {36, 0, 17, 5};
        Tensor xt = leaf(T, uniform(-2, 2), 32, 4, 37);
        GradCheck.of("crossEntropy transposed logits C=37", xt).fn(in -> Functional.crossEntropy(in.get(0), Tensor.ofInts(tw, 4)))
                .ref(in -> Ref.crossEntropy(in.get(0), tw, -100)).run();
        // in a graph: the scalar loss scaled, logits from a linear layer
        Tensor h = leaf(STD, 33, 6, 3), w = leaf(STD, 34, 5, 3);
        GradCheck.of("2 * crossEntropy(linear)", h, w)
                .fn(in -> Ops.mulScalar(Functional.crossEntropy(Ops.linear(in.get(0), in.get(1), null), targets), 2f))
                .ref(in -> Ref.scale(Ref.crossEntropy(Ref.matmul(in.get(0), Ref.transpose(in.get(1), 0, 1)), t, -100), 2)).run();
    }

    @Test
    void crossEntropyAllIgnored() {
        Tensor x = leaf(STD, 35, 3, 4);
        Tensor targets = Tensor.ofInts(new int[]{-1, -1, -1}, 3);
        Tensor loss = Functional.crossEntropy(x, targets, -1);
        assertEquals(0f, loss.item());
        Tape.backward(loss);
        for (float g : x.grad().toFloatArray()) assertEquals(0f, g);
        x.setGrad(null);
    }

    @Test
    void crossEntropyTargetShapeError() {
        Tensor x = leaf(STD, 36, 3, 4);
        ShapeException e = assertThrows(ShapeException.class, () -> Functional.crossEntropy(x, Tensor.ofInts(new int[]{0, 1}, 2)));
        assertTrue(e.getMessage().contains("crossEntropy"), e.getMessage());
        Tape.clear();
    }

    @Test
    void mseAndL1() {
        Tensor a = leaf(T, STD, 40, 3, 4), b = leaf(STD, 41, 3, 4);
        GradCheck.of("mse", a, b).fn(in -> Functional.mse(in.get(0), in.get(1)))
                .ref(in -> { D d = Ref.sub(in.get(0), in.get(1)); return Ref.mean(Ref.mul(d, d), false); }).run();
        GradCheck.of("l1", a, b).fn(in -> Functional.l1(in.get(0), in.get(1)))
                .ref(in -> Ref.mean(Ref.map(Ref.sub(in.get(0), in.get(1)), Math::abs), false)).run();
        Tensor bb = leaf(STD, 42, 4);
        GradCheck.of("mse broadcast", a, bb).fn(in -> Functional.mse(in.get(0), in.get(1)))
                .ref(in -> { D d = Ref.sub(in.get(0), in.get(1)); return Ref.mean(Ref.mul(d, d), false); }).run();
        GradCheck.of("l1 broadcast", a, bb).fn(in -> Functional.l1(in.get(0), in.get(1)))
                .ref(in -> Ref.mean(Ref.map(Ref.sub(in.get(0), in.get(1)), Math::abs), false)).run();
    }

    // ---- normalisation -------------------------------------------------------------------------------------------

    @TestFactory
    Stream<DynamicTest> layerNorm() {
        List<DynamicTest> tests = new ArrayList<>();
        long seed = 50;
        for (Case cs : new Case[]{c(CONTIG, 2, 3, 8), c(T, 5, 6), c(CONTIG, 3, 40), c(PERM, 2, 2, 5)})
            for (int wb = 0; wb < 4; wb++) {
                boolean hasW = (wb & 1) != 0, hasB = (wb & 2) != 0;
                long sd = seed++;
                String name = "layerNorm " + cs + (hasW ? " +w" : "") + (hasB ? " +b" : "");
                tests.add(DynamicTest.dynamicTest(name, () -> {
                    int d = cs.shape[cs.shape.length - 1];
                    Tensor x = leaf(cs.layout, uniform(-2, 2), sd, cs.shape);
                    Tensor w = hasW ? leaf(uniform(0.5, 1.5), sd + 100, d) : constant(STD, 0, 1);
                    Tensor b = hasB ? leaf(STD, sd + 200, d) : constant(STD, 0, 1);
                    GradCheck.of(name, x, w, b)
                            .fn(in -> Functional.layerNorm(in.get(0), hasW ? in.get(1) : null, hasB ? in.get(2) : null, 1e-5f))
                            .ref(in -> Ref.layerNorm(in.get(0), hasW ? in.get(1) : null, hasB ? in.get(2) : null, 1e-5)).run();
                }));
            }
        return tests.stream();
    }

    @TestFactory
    Stream<DynamicTest> rmsNorm() {
        List<DynamicTest> tests = new ArrayList<>();
        long seed = 70;
        for (Case cs : new Case[]{c(CONTIG, 2, 3, 8), c(T, 5, 6), c(CONTIG, 3, 40), c(PERM, 2, 2, 5)})
            for (boolean hasW : new boolean[]{true, false}) {
                long sd = seed++;
                String name = "rmsNorm " + cs + (hasW ? " +w" : "");
                tests.add(DynamicTest.dynamicTest(name, () -> {
                    int d = cs.shape[cs.shape.length - 1];
                    Tensor x = leaf(cs.layout, uniform(-2, 2), sd, cs.shape);
                    Tensor w = hasW ? leaf(uniform(0.5, 1.5), sd + 100, d) : constant(STD, 0, 1);
                    GradCheck.of(name, x, w).fn(in -> Functional.rmsNorm(in.get(0), hasW ? in.get(1) : null, 1e-6f))
                            .ref(in -> Ref.rmsNorm(in.get(0), hasW ? in.get(1) : null, 1e-6)).run();
                }));
            }
        return tests.stream();
    }

    @TestFactory
    Stream<DynamicTest> groupNorm() {
        record G(Case x, int groups) {}
        List<DynamicTest> tests = new ArrayList<>();
        long seed = 90;
        for (G gc : new G[]{new G(c(CONTIG, 2, 4, 3, 3), 2), new G(c(CONTIG, 2, 4, 3, 3), 1), new G(c(CONTIG, 1, 4, 2, 5), 4),
                new G(c(CONTIG, 2, 6, 5), 3), new G(c(PERM, 2, 4, 3, 2), 2), new G(c(CONTIG, 2, 8, 4, 4), 2)})
            for (int wb = 0; wb < 4; wb++) {
                boolean hasW = (wb & 1) != 0, hasB = (wb & 2) != 0;
                if (wb == 1 || wb == 2) if (gc.groups != 2) continue;
                long sd = seed++;
                String name = "groupNorm " + gc.x + " groups " + gc.groups + (hasW ? " +w" : "") + (hasB ? " +b" : "");
                tests.add(DynamicTest.dynamicTest(name, () -> {
                    int ch = gc.x.shape[1];
                    Tensor x = leaf(gc.x.layout, uniform(-2, 2), sd, gc.x.shape);
                    Tensor w = hasW ? leaf(uniform(0.5, 1.5), sd + 100, ch) : constant(STD, 0, 1);
                    Tensor b = hasB ? leaf(STD, sd + 200, ch) : constant(STD, 0, 1);
                    GradCheck.of(name, x, w, b)
                            .fn(in -> Functional.groupNorm(in.get(0), gc.groups, hasW ? in.get(1) : null, hasB ? in.get(2) : null, 1e-5f))
                            .ref(in -> Ref.groupNorm(in.get(0), gc.groups, hasW ? in.get(1) : null, hasB ? in.get(2) : null, 1e-5)).run();
                }));
            }
        return tests.stream();
    }

    /** A large eps, so that where eps enters (inside the square root, added to the variance) matters. */
    @Test
    void normsWithLargeEps() {
        Tensor x = leaf(uniform(-1, 1), 95, 3, 6), w = leaf(uniform(0.5, 1.5), 96, 6), b = leaf(STD, 97, 6);
        GradCheck.of("layerNorm eps 0.5", x, w, b).fn(in -> Functional.layerNorm(in.get(0), in.get(1), in.get(2), 0.5f))
                .ref(in -> Ref.layerNorm(in.get(0), in.get(1), in.get(2), 0.5)).run();
        GradCheck.of("rmsNorm eps 0.5", x, w).fn(in -> Functional.rmsNorm(in.get(0), in.get(1), 0.5f))
                .ref(in -> Ref.rmsNorm(in.get(0), in.get(1), 0.5)).run();
        Tensor xg = leaf(uniform(-1, 1), 98, 2, 4, 3), wg = leaf(uniform(0.5, 1.5), 99, 4), bg = leaf(STD, 100, 4);
        GradCheck.of("groupNorm eps 0.5", xg, wg, bg).fn(in -> Functional.groupNorm(in.get(0), 2, in.get(1), in.get(2), 0.5f))
                .ref(in -> Ref.groupNorm(in.get(0), 2, in.get(1), in.get(2), 0.5)).run();
    }

    /** Only the affine parameters require grad (x is data). */
    @Test
    void normsParametersOnly() {
        Tensor x = constant(uniform(-1, 1), 103, 4, 5), w = leaf(uniform(0.5, 1.5), 104, 5), b = leaf(STD, 105, 5);
        GradCheck.of("layerNorm params only", x, w, b).fn(in -> Functional.layerNorm(in.get(0), in.get(1), in.get(2), 1e-5f))
                .ref(in -> Ref.layerNorm(in.get(0), in.get(1), in.get(2), 1e-5)).run();
        GradCheck.of("rmsNorm weight only", x, w).fn(in -> Functional.rmsNorm(in.get(0), in.get(1), 1e-6f))
                .ref(in -> Ref.rmsNorm(in.get(0), in.get(1), 1e-6)).run();
        Tensor xg = constant(uniform(-1, 1), 106, 2, 4, 2, 2), wg = leaf(uniform(0.5, 1.5), 107, 4), bg = leaf(STD, 108, 4);
        GradCheck.of("groupNorm params only", xg, wg, bg).fn(in -> Functional.groupNorm(in.get(0), 2, in.get(1), in.get(2), 1e-5f))
                .ref(in -> Ref.groupNorm(in.get(0), 2, in.get(1), in.get(2), 1e-5)).run();
        Tensor w2 = constant(uniform(0.5, 1.5), 109, 5);
        GradCheck.of("layerNorm bias only", x, w2, b).fn(in -> Functional.layerNorm(in.get(0), in.get(1), in.get(2), 1e-5f))
                .ref(in -> Ref.layerNorm(in.get(0), in.get(1), in.get(2), 1e-5)).run();
    }

    /** A constant row: zero variance, so rstd = 1/sqrt(eps) is large; the output is the bias and the gradient stays finite. */
    @Test
    void layerNormConstantRow() {
        Tensor x = Tensor.of(new float[]{0.5f, 0.5f, 0.5f, 0.5f, 1, 2, 3, 4}, 2, 4).requiresGrad(true);
        Tensor w = leaf(uniform(0.5, 1.5), 101, 4), b = leaf(STD, 102, 4);
        GradCheck.of("layerNorm constant row", x, w, b).fn(in -> Functional.layerNorm(in.get(0), in.get(1), in.get(2), 1e-5f))
                .ref(in -> Ref.layerNorm(in.get(0), in.get(1), in.get(2), 1e-5)).gradTol(2e-3).run();
    }

    @Test
    void l2Normalize() {
        Tensor x = leaf(T, STD, 110, 3, 5);
        GradCheck.of("l2Normalize axis -1", x).fn(in -> Functional.l2Normalize(in.get(0), -1, 1e-12f))
                .ref(in -> Ref.l2Normalize(in.get(0), -1, 1e-12)).run();
        GradCheck.of("l2Normalize axis 0", x).fn(in -> Functional.l2Normalize(in.get(0), 0, 1e-12f))
                .ref(in -> Ref.l2Normalize(in.get(0), 0, 1e-12)).run();
        Tensor y = leaf(STD, 111, 2, 3, 4);
        GradCheck.of("l2Normalize 3-d axis 1", y).fn(in -> Functional.l2Normalize(in.get(0), 1, 1e-12f))
                .ref(in -> Ref.l2Normalize(in.get(0), 1, 1e-12)).run();
    }

    // ---- embedding, images ---------------------------------------------------------------------------------------

    @Test
    void embedding() {
        int[] idx = {1, 3, 1, 5, 1, 0};
        Tensor table = leaf(STD, 120, 6, 4);
        GradCheck.of("embedding [2,3] repeated", table).fn(in -> Functional.embedding(in.get(0), Tensor.ofInts(idx, 2, 3)))
                .ref(in -> Ref.embedding(in.get(0), idx, new int[]{2, 3})).run();
        Tensor tableT = leaf(T, STD, 121, 7, 5);
        int[] idx1 = {6, 6, 6, 2};
        GradCheck.of("embedding 1-d, transposed table", tableT).fn(in -> Functional.embedding(in.get(0), Tensor.ofInts(idx1, 4)))
                .ref(in -> Ref.embedding(in.get(0), idx1, new int[]{4})).run();
        Tensor wide = leaf(STD, 122, 4, 37);
        int[] idx2 = {3, 0, 3};
        GradCheck.of("embedding wide rows", wide).fn(in -> Functional.embedding(in.get(0), Tensor.ofInts(idx2, 3)))
                .ref(in -> Ref.embedding(in.get(0), idx2, new int[]{3})).run();
    }

    record Conv(String name, int[] x, int[] w, boolean bias, int stride, int pad, Layout xl) {}

    @TestFactory
    Stream<DynamicTest> conv2d() {
        List<Conv> cases = List.of(
                new Conv("3x3 s1 p1", new int[]{2, 3, 6, 6}, new int[]{4, 3, 3, 3}, true, 1, 1, CONTIG),
                new Conv("3x3 s1 p0", new int[]{2, 3, 6, 5}, new int[]{4, 3, 3, 3}, true, 1, 0, CONTIG),
                new Conv("3x3 s2 p0", new int[]{2, 3, 7, 7}, new int[]{4, 3, 3, 3}, true, 2, 0, CONTIG),
                new Conv("3x3 s2 p1", new int[]{2, 2, 6, 6}, new int[]{3, 2, 3, 3}, true, 2, 1, CONTIG),
                new Conv("3x3 s2 p1 no bias", new int[]{1, 2, 5, 6}, new int[]{3, 2, 3, 3}, false, 2, 1, CONTIG),
                new Conv("1x1 s1 p0", new int[]{2, 5, 4, 3}, new int[]{3, 5, 1, 1}, true, 1, 0, CONTIG),
                new Conv("1x1 s1 p0 no bias", new int[]{2, 5, 4, 3}, new int[]{3, 5, 1, 1}, false, 1, 0, CONTIG),
                new Conv("1x1 s2 p0", new int[]{2, 3, 5, 5}, new int[]{4, 3, 1, 1}, true, 2, 0, CONTIG),
                new Conv("1x1 s1 p1", new int[]{1, 3, 3, 3}, new int[]{2, 3, 1, 1}, true, 1, 1, CONTIG),
                new Conv("3x2 kernel s1 p1", new int[]{1, 2, 5, 4}, new int[]{3, 2, 3, 2}, true, 1, 1, CONTIG),
                new Conv("3x3 s1 p1 permuted x", new int[]{2, 3, 5, 4}, new int[]{2, 3, 3, 3}, true, 1, 1, PERM),
                new Conv("1x1 transposed x", new int[]{2, 3, 4, 5}, new int[]{2, 3, 1, 1}, true, 1, 0, T));
        List<DynamicTest> tests = new ArrayList<>();
        long seed = 130;
        for (Conv cv : cases) {
            long sd = seed++;
            tests.add(DynamicTest.dynamicTest("conv2d " + cv.name, () -> {
                Tensor x = leaf(cv.xl, STD, sd, cv.x), w = leaf(STD, sd + 100, cv.w);
                Tensor b = cv.bias ? leaf(STD, sd + 200, cv.w[0]) : constant(STD, 0, 1);
                GradCheck.of("conv2d " + cv.name, x, w, b)
                        .fn(in -> Functional.conv2d(in.get(0), in.get(1), cv.bias ? in.get(2) : null, cv.stride, cv.pad))
                        .ref(in -> Ref.conv2d(in.get(0), in.get(1), cv.bias ? in.get(2) : null, cv.stride, cv.pad)).run();
            }));
        }
        for (int side = 0; side < 3; side++) {
            int sd = side;
            String name = "conv2d 3x3 s1 p1 grad only " + (side == 0 ? "x" : side == 1 ? "w" : "bias");
            tests.add(DynamicTest.dynamicTest(name, () -> {
                Tensor x = constant(STD, 150, 2, 3, 5, 5), w = constant(STD, 151, 4, 3, 3, 3), b = constant(STD, 152, 4);
                (sd == 0 ? x : sd == 1 ? w : b).requiresGrad(true);
                GradCheck.of(name, x, w, b).fn(in -> Functional.conv2d(in.get(0), in.get(1), in.get(2), 1, 1))
                        .ref(in -> Ref.conv2d(in.get(0), in.get(1), in.get(2), 1, 1)).run();
            }));
        }
        return tests.stream();
    }

    @Test
    void upsampleNearest() {
        Tensor x = leaf(STD, 160, 2, 3, 3, 4);
        GradCheck.of("upsample x2", x).fn(in -> Functional.upsampleNearest(in.get(0), 2))
                .ref(in -> Ref.upsampleNearest(in.get(0), 2)).run();
        Tensor xt = leaf(T, STD, 161, 1, 2, 3, 2);
        GradCheck.of("upsample x3 transposed view", xt).fn(in -> Functional.upsampleNearest(in.get(0), 3))
                .ref(in -> Ref.upsampleNearest(in.get(0), 3)).run();
    }

    @Test
    void avgPool2d() {
        Tensor x = leaf(STD, 170, 2, 3, 6, 6);
        GradCheck.of("avgPool k2 s2", x).fn(in -> Functional.avgPool2d(in.get(0), 2, 2)).ref(in -> Ref.avgPool2d(in.get(0), 2, 2)).run();
        GradCheck.of("avgPool k3 s1 (overlap)", x).fn(in -> Functional.avgPool2d(in.get(0), 3, 1)).ref(in -> Ref.avgPool2d(in.get(0), 3, 1)).run();
        Tensor y = leaf(PERM, STD, 171, 1, 2, 7, 7);
        GradCheck.of("avgPool k3 s2 permuted view", y).fn(in -> Functional.avgPool2d(in.get(0), 3, 2)).ref(in -> Ref.avgPool2d(in.get(0), 3, 2)).run();
    }

    // ---- dropout -------------------------------------------------------------------------------------------------

    static D dropoutRef(D x, float p, long seed, long offset) {
        double[] o = new double[x.numel()];
        for (int i = 0; i < o.length; i++)
            o[i] = Philox.uniform(seed, offset + i) >= p ? x.v()[i] * (double) (1f / (1f - p)) : 0;
        return new D(o, x.shape().clone());
    }

    @Test
    void dropoutGradientIsTheMaskScaling() {
        Tensor x = leaf(STD, 180, 6, 7);
        GradCheck.of("dropout p=0.3", x).fn(in -> Functional.dropout(in.get(0), 0.3f, true, 42, 1000))
                .ref(in -> dropoutRef(in.get(0), 0.3f, 42, 1000)).run();
        Tensor xt = leaf(T, STD, 181, 5, 4);
        GradCheck.of("dropout p=0.5 transposed view", xt).fn(in -> Functional.dropout(in.get(0), 0.5f, true, 7, 0))
                .ref(in -> dropoutRef(in.get(0), 0.5f, 7, 0)).run();
        // the gradient is exactly mask / (1 - p)
        Tensor y = Functional.dropout(x, 0.3f, true, 42, 1000);
        Tape.backward(Ops.sum(y));
        float[] g = x.grad().toFloatArray();
        for (int i = 0; i < g.length; i++)
            assertEquals(Philox.uniform(42, 1000 + i) >= 0.3f ? 1f / 0.7f : 0f, g[i], 1e-6f);
        x.setGrad(null);
    }

    @Test
    void dropoutDeterminismAndRate() {
        Tensor x = Ops.ones(100, 100);
        float[] a = Functional.dropout(x, 0.25f, true, 5, 77).toFloatArray();
        float[] b = Functional.dropout(x, 0.25f, true, 5, 77).toFloatArray();
        float[] c = Functional.dropout(x, 0.25f, true, 5, 78).toFloatArray();
        float[] d = Functional.dropout(x, 0.25f, true, 6, 77).toFloatArray();
        assertArrayEquals(a, b, 0f, "same seed and offset: same mask");
        assertFalse(Arrays.equals(a, c), "another offset: another mask");
        assertFalse(Arrays.equals(a, d), "another seed: another mask");
        // offset shifts the stream: element i at offset 78 equals element i + 1 at offset 77
        for (int i = 0; i + 1 < a.length; i++) assertEquals(a[i + 1], c[i], 0f);
        int zeros = 0;
        for (float v : a) {
            if (v == 0f) zeros++;
            else assertEquals(1f / 0.75f, v, 1e-6f);
        }
        assertEquals(0.25, zeros / 10000.0, 0.02, "dropout rate");
    }

    @Test
    void dropoutIdentityCases() {
        Tensor x = leaf(STD, 190, 3, 4);
        assertSame(x, Functional.dropout(x, 0f, true, 1, 0), "p = 0 is the identity");
        assertSame(x, Functional.dropout(x, 0.5f, false, 1, 0), "not training is the identity");
        GradCheck.of("dropout p=0", x).fn(in -> Functional.dropout(in.get(0), 0f, true, 1, 0)).ref(in -> in.get(0).copy()).run();
        assertThrows(IllegalArgumentException.class, () -> Functional.dropout(x, 1f, true, 1, 0));
        Tape.clear();
    }

    // ---- attention -----------------------------------------------------------------------------------------------

    /** [B, H, T, D] as the usual permuted view of a [B, T, H, D] projection. */
    static Tensor bhtd(long seed, int b, int h, int t, int d) {
        return GradCheck.filled(STD, seed, b, t, h, d).permute(0, 2, 1, 3).requiresGrad(true);
    }

    record Att(String name, int b, int h, int t, int s, int d, int dv, boolean causal, boolean views) {}

    @TestFactory
    Stream<DynamicTest> attention() {
        List<Att> cases = List.of(
                new Att("T==S non-causal", 1, 2, 4, 4, 8, 8, false, false),
                new Att("T==S causal", 1, 2, 4, 4, 8, 8, true, false),
                new Att("T<S non-causal", 2, 1, 3, 5, 4, 6, false, false),
                new Att("T<S causal (offset)", 2, 1, 3, 5, 4, 6, true, false),
                new Att("T=1 S=6 causal (decode step)", 1, 2, 1, 6, 4, 4, true, false),
                new Att("T==S causal, permuted views", 2, 2, 5, 5, 4, 4, true, true),
                new Att("T<S non-causal, permuted views", 1, 3, 2, 7, 8, 5, false, true),
                new Att("T==S causal D=16 S=19", 1, 1, 19, 19, 16, 16, true, false));
        List<DynamicTest> tests = new ArrayList<>();
        long seed = 200;
        for (Att a : cases) {
            long sd = seed;
            seed += 3;
            tests.add(DynamicTest.dynamicTest("attention " + a.name, () -> {
                Tensor q, k, v;
                if (a.views) {
                    q = bhtd(sd, a.b, a.h, a.t, a.d);
                    k = bhtd(sd + 1, a.b, a.h, a.s, a.d);
                    v = bhtd(sd + 2, a.b, a.h, a.s, a.dv);
                } else {
                    q = leaf(STD, sd, a.b, a.h, a.t, a.d);
                    k = leaf(STD, sd + 1, a.b, a.h, a.s, a.d);
                    v = leaf(STD, sd + 2, a.b, a.h, a.s, a.dv);
                }
                GradCheck.of("attention " + a.name, q, k, v).fn(in -> Functional.attention(in.get(0), in.get(1), in.get(2), a.causal))
                        .ref(in -> Ref.attention(in.get(0), in.get(1), in.get(2), a.causal)).run();
            }));
        }
        return tests.stream();
    }

    @Test
    void attentionOneSided() {
        for (int side = 0; side < 3; side++) {
            Tensor q = constant(STD, 230, 1, 2, 3, 4), k = constant(STD, 231, 1, 2, 5, 4), v = constant(STD, 232, 1, 2, 5, 3);
            (side == 0 ? q : side == 1 ? k : v).requiresGrad(true);
            GradCheck.of("attention causal grad only " + "qkv".charAt(side), q, k, v)
                    .fn(in -> Functional.attention(in.get(0), in.get(1), in.get(2), true))
                    .ref(in -> Ref.attention(in.get(0), in.get(1), in.get(2), true)).run();
        }
    }

    /** Shared k = v (self-attention on one tensor) and large scores: both gradients accumulate, softmax stays stable. */
    @Test
    void attentionSharedKeysValuesLargeScores() {
        Tensor q = leaf(uniform(-4, 4), 240, 1, 1, 4, 8), kv = leaf(uniform(-4, 4), 241, 1, 1, 6, 8);
        GradCheck.of("attention k = v", q, kv).fn(in -> Functional.attention(in.get(0), in.get(1), in.get(1), false))
                .ref(in -> Ref.attention(in.get(0), in.get(1), in.get(1), false)).run();
    }

    @Test
    void attentionCausalWithMoreQueriesThanKeysThrows() {
        Tensor q = leaf(STD, 1, 1, 1, 4, 2), k = leaf(STD, 2, 1, 1, 3, 2);
        assertThrows(ShapeException.class, () -> Functional.attention(q, k, k, true));
    }

    // ---- rope ----------------------------------------------------------------------------------------------------

    @Test
    void rope() {
        Tensor[] tabs = Functional.ropeTables(3, 8, 10000f);
        double[] cos = toDouble(tabs[0].toFloatArray()), sin = toDouble(tabs[1].toFloatArray());
        Tensor x = leaf(STD, 210, 2, 3, 2, 8);
        GradCheck.of("rope", x).fn(in -> Functional.rope(in.get(0), tabs[0], tabs[1])).ref(in -> Ref.rope(in.get(0), cos, sin)).run();
        // a [N, H, T, D] projection viewed as [N, T, H, D]
        Tensor xv = GradCheck.filled(STD, 211, 2, 2, 3, 8).permute(0, 2, 1, 3).requiresGrad(true);
        GradCheck.of("rope permuted view", xv).fn(in -> Functional.rope(in.get(0), tabs[0], tabs[1])).ref(in -> Ref.rope(in.get(0), cos, sin)).run();
        // rotation preserves pair norms, and inverse(rope(x)) = x
        Tensor y = Functional.rope(x, tabs[0], tabs[1]);
        Tensor back = Tensor.empty(org.tessella.tensor.DType.F32, x.shape());
        Ops.be(x).rope(Ops.contiguous(y), tabs[0], tabs[1], true, back);
        assertArrayEquals(x.toFloatArray(), back.toFloatArray(), 1e-5f);
        Tape.clear();
    }

    @Test
    void ropeTablesValues() {
        Tensor[] tabs = Functional.ropeTables(4, 6, 100f);
        assertArrayEquals(new int[]{4, 3}, tabs[0].shape());
        for (int p = 0; p < 4; p++)
            for (int i = 0; i < 3; i++) {
                double angle = p * Math.pow(100, -2.0 * i / 6);
                assertEquals(Math.cos(angle), tabs[0].get(p, i), 1e-6);
                assertEquals(Math.sin(angle), tabs[1].get(p, i), 1e-6);
            }
    }

    static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    // ---- a composite block ---------------------------------------------------------------------------------------

    /** conv -> groupNorm -> silu -> avgPool -> flatten -> linear -> crossEntropy, against float differences too. */
    @Test
    void compositeConvBlock() {
        Tensor x = leaf(STD, 300, 2, 2, 6, 6), w = leaf(uniform(-0.5, 0.5), 301, 4, 2, 3, 3), cb = leaf(STD, 302, 4);
        Tensor gw = leaf(uniform(0.5, 1.5), 303, 4), gb = leaf(STD, 304, 4), lw = leaf(STD, 305, 3, 36);
        int[] t = {2, 0};
        GradCheck.of("conv block", x, w, cb, gw, gb, lw).fn(in -> {
            Tensor h = Functional.conv2d(in.get(0), in.get(1), in.get(2), 1, 1);
            h = Ops.silu(Functional.groupNorm(h, 2, in.get(3), in.get(4), 1e-5f));
            h = Ops.flatten(Functional.avgPool2d(h, 2, 2), 1);
            return Functional.crossEntropy(Ops.linear(h, in.get(5), null), Tensor.ofInts(t, 2));
        }).ref(in -> {
            D h = Ref.conv2d(in.get(0), in.get(1), in.get(2), 1, 1);
            h = Ref.map(Ref.groupNorm(h, 2, in.get(3), in.get(4), 1e-5), v -> v * Ref.sigmoid(v));
            h = Ref.reshape(Ref.avgPool2d(h, 2, 2), 2, 36);
            return Ref.crossEntropy(Ref.matmul(h, Ref.transpose(in.get(5), 0, 1)), t, -100);
        }).floatFd(1e-2, 2e-2).run();
    }
}
