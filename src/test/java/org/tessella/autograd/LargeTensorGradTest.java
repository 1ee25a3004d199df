package org.tessella.autograd;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.tessella.cpu.WorkerPool;
import org.tessella.tensor.Tensor;

import java.util.List;
import java.util.function.DoubleUnaryOperator;
import java.util.function.Function;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.tessella.autograd.GradCheck.STD;
import static org.tessella.autograd.GradCheck.away;
import static org.tessella.autograd.GradCheck.uniform;

/**
 * Tensors larger than the kernels' parallel grain (2^14 elements), where the work is split over threads and single
 * long rows are split into blocks. Full finite differences would be too slow here, so gradients are compared with
 * closed forms evaluated in double (elementwise derivatives by per-element central differences of the double
 * reference). Also: the same gradients, bit for bit, with 1 and 3 worker threads.
 */
class LargeTensorGradTest {
    private static int threadsBefore;

    @BeforeAll
    static void remember() { threadsBefore = WorkerPool.global().threads(); }

    @AfterAll
    static void restore() { WorkerPool.configure(threadsBefore); }

    @BeforeEach
    @AfterEach
    void cleanTape() { Tape.clear(); }

    static final int N = 20011; // odd: vector tails everywhere

    static double[] d(Tensor t) {
        float[] f = t.toFloatArray();
        double[] r = new double[f.length];
        for (int i = 0; i < f.length; i++) r[i] = f[i];
        return r;
    }

    static void close(String what, double[] got, double[] want, double tol) {
        double err = GradCheck.relErr(got, want, 1e-3);
        if (!(err <= tol)) {
            int worst = 0;
            for (int i = 0; i < got.length; i++) if (!(Math.abs(got[i] - want[i]) <= Math.abs(got[worst] - want[worst]))) worst = i;
            fail(what + ": rel err " + err + " at " + worst + ": got " + got[worst] + " want " + want[worst]);
        }
    }

    record Un(String name, UnaryOperator<Tensor> op, DoubleUnaryOperator ref, GradCheck.Gen gen) {}

    @Test
    void largeUnaryElementwise() {
        List<Un> ops = List.of(
                new Un("exp", Ops::exp, Math::exp, uniform(-2, 2)),
                new Un("log", Ops::log, Math::log, uniform(0.2, 3)),
                new Un("rsqrt", Ops::rsqrt, v -> 1 / Math.sqrt(v), uniform(0.2, 3)),
                new Un("tanh", Ops::tanh, Math::tanh, uniform(-3, 3)),
                new Un("sigmoid", Ops::sigmoid, Ref::sigmoid, uniform(-5, 5)),
                new Un("relu", Ops::relu, v -> Math.max(v, 0), away(0.01, 2)),
                new Un("silu", Ops::silu, v -> v * Ref.sigmoid(v), uniform(-5, 5)),
                new Un("gelu", Ops::gelu, Ref::gelu, uniform(-3.5, 3.5)),
                new Un("geluTanh", Ops::geluTanh, Ref::geluTanh, uniform(-3.5, 3.5)),
                new Un("pow1.7", x -> Ops.pow(x, 1.7f), v -> Math.pow(v, 1.7), uniform(0.3, 2)),
                new Un("clamp", x -> Ops.clamp(x, -0.5f, 0.5f), v -> Math.min(Math.max(v, -0.5), 0.5),
                        GradCheckTest.avoiding(-1, 1, 0.01, -0.5, 0.5)));
        Tensor p = GradCheck.filled(STD, 99, 3, N);
        double[] pv = d(p);
        for (Un u : ops) {
            // a transposed view [3, N] of [N, 3]: strided reads and a dense copy before the kernel
            for (GradCheck.Layout l : new GradCheck.Layout[]{GradCheck.Layout.CONTIG, GradCheck.Layout.T}) {
                Tensor x = GradCheck.leaf(l, u.gen, 7, 3, N);
                Tensor y = u.op.apply(x);
                Tape.backward(Ops.sum(Ops.mul(y, p)));
                double[] xv = d(x), want = new double[xv.length], gwant = new double[xv.length];
                for (int i = 0; i < xv.length; i++) {
                    want[i] = u.ref.applyAsDouble(xv[i]);
                    double h = 1e-6 * Math.max(1, Math.abs(xv[i]));
                    gwant[i] = pv[i] * (u.ref.applyAsDouble(xv[i] + h) - u.ref.applyAsDouble(xv[i] - h)) / (2 * h);
                }
                close(u.name + " " + l + " forward", d(y), want, 1e-5);
                close(u.name + " " + l + " gradient", d(x.grad()), gwant, 1e-4);
                x.setGrad(null);
            }
        }
    }

    @Test
    void largeBinaryBroadcast() {
        Tensor a = GradCheck.leaf(GradCheck.Layout.T, STD, 1, 3, N); // strided: scalar path
        Tensor b = GradCheck.leaf(away(0.5, 2), 2, N);                // broadcast over rows
        Tensor c = GradCheck.leaf(away(0.5, 2), 3, 3, 1);             // broadcast along rows
        Tensor p = GradCheck.filled(STD, 4, 3, N);
        double[] av = d(a), bv = d(b), cv = d(c), pv = d(p);
        // y = (a * b + c) / b - a / c
        Tensor y = Ops.sub(Ops.div(Ops.add(Ops.mul(a, b), c), b), Ops.div(a, c));
        Tape.backward(Ops.sum(Ops.mul(y, p)));
        double[] want = new double[3 * N], ga = new double[3 * N], gb = new double[N], gc = new double[3];
        for (int r = 0; r < 3; r++)
            for (int j = 0; j < N; j++) {
                int i = r * N + j;
                double A = av[i], B = bv[j], C = cv[r], P = pv[i];
                want[i] = (A * B + C) / B - A / C;
                ga[i] = P * (1 - 1 / C);
                gb[j] += P * (-C / (B * B));
                gc[r] += P * (1 / B + A / (C * C));
            }
        close("binary forward", d(y), want, 1e-5);
        close("binary grad a", d(a.grad()), ga, 1e-4);
        close("binary grad b", d(b.grad()), gb, 1e-4);
        close("binary grad c", d(c.grad()), gc, 1e-4);
        a.setGrad(null);
        b.setGrad(null);
        c.setGrad(null);

        // one long contiguous row: split into blocks
        Tensor u = GradCheck.leaf(STD, 5, 1, 3 * N), v = GradCheck.leaf(STD, 6, 1, 3 * N);
        Tensor pl = GradCheck.filled(STD, 7, 1, 3 * N);
        Tape.backward(Ops.sum(Ops.mul(Ops.maximum(Ops.mul(u, v), u), pl)));
        double[] uv = d(u), vv = d(v), plv = d(pl), gu = new double[3 * N], gv = new double[3 * N];
        for (int i = 0; i < 3 * N; i++) {
            boolean first = uv[i] * vv[i] >= uv[i];
            gu[i] = plv[i] * (first ? vv[i] : 1);
            gv[i] = plv[i] * (first ? uv[i] : 0);
        }
        close("long row grad u", d(u.grad()), gu, 1e-4);
        close("long row grad v", d(v.grad()), gv, 1e-4);
        u.setGrad(null);
        v.setGrad(null);
    }

    @Test
    void largeReductions() {
        Tensor x = GradCheck.leaf(STD, 11, 4, 3 * N);
        // rows (RowSum), columns (vectorised), all; grad of sum is the broadcast seed
        Tensor rows = Ops.sum(x, false, 1);
        double[] xv = d(x), want = new double[4];
        for (int r = 0; r < 4; r++) for (int j = 0; j < 3 * N; j++) want[r] += xv[r * 3 * N + j];
        close("row sums", d(rows), want, 1e-5);
        Tensor pr = Tensor.of(new float[]{1, -2, 0.5f, 3}, 4);
        Tape.backward(Ops.sum(Ops.mul(rows, pr)));
        double[] g = d(x.grad());
        for (int r = 0; r < 4; r++) for (int j = 0; j < 3 * N; j += 997) assertTrue(g[r * 3 * N + j] == pr.get(r));
        x.setGrad(null);

        Tensor col = GradCheck.leaf(STD, 12, 3 * N, 5);
        Tensor cs = Ops.mean(col, true, 0);
        double[] cv = d(col), cw = new double[5];
        for (int i = 0; i < 3 * N; i++) for (int j = 0; j < 5; j++) cw[j] += cv[i * 5 + j] / (3 * N);
        close("column means", d(cs), cw, 1e-4);

        Tensor big = GradCheck.leaf(GradCheck.Layout.T, STD, 13, 3, N);
        Tensor m = Ops.max(big, false, 1);
        double[] bv = d(big), mw = {-9, -9, -9};
        for (int r = 0; r < 3; r++) for (int j = 0; j < N; j++) mw[r] = Math.max(mw[r], bv[r * N + j]);
        close("row max of transposed view", d(m), mw, 0);
    }

    /** The same graph, run with 1 and 3 threads: identical bits in every output and gradient. */
    @Test
    void sameBitsForAnyThreadCount() {
        Function<Integer, float[][]> run = threads -> {
            WorkerPool.configure(threads);
            Tensor x = GradCheck.leaf(GradCheck.Layout.T, STD, 21, 64, 300);
            Tensor w = GradCheck.leaf(STD, 22, 80, 300), b = GradCheck.leaf(STD, 23, 80);
            Tensor e = GradCheck.leaf(uniform(0.5, 1.5), 24, 1, 80);
            Tensor h = Ops.gelu(Ops.linear(x, w, b));
            Tensor z = Ops.div(Ops.mul(h, Ops.sigmoid(h)), e);
            Tensor loss = Ops.add(Ops.mean(Ops.square(z)), Ops.mulScalar(Ops.sum(Ops.max(z, false, 0)), 1e-3f));
            Tensor big = GradCheck.leaf(STD, 25, 3, N);
            Tensor l2 = Ops.sum(Ops.mul(Ops.exp(big), Ops.tanh(Ops.transpose(Ops.contiguous(Ops.transpose(big, 0, 1)), 0, 1))));
            Tape.backward(Ops.add(loss, Ops.mulScalar(l2, 1e-4f)));
            return new float[][]{x.grad().toFloatArray(), w.grad().toFloatArray(), b.grad().toFloatArray(),
                    e.grad().toFloatArray(), big.grad().toFloatArray(), {loss.item(), l2.item()}};
        };
        float[][] one = run.apply(1), three = run.apply(3);
        for (int i = 0; i < one.length; i++) assertArrayEquals(OpsTest.bitsOf(one[i]), OpsTest.bitsOf(three[i]), "result " + i);
    }
}
