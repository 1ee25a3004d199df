package org.tessella.cpu;

import java.util.List;

import org.tessella.backend.Backend;
import org.tessella.backend.BinaryOp;
import org.tessella.backend.ReduceOp;
import org.tessella.backend.UnaryOp;
import org.tessella.tensor.DType;
import org.tessella.tensor.Device;
import org.tessella.tensor.Philox;
import org.tessella.tensor.Tensor;

/**
 * The CPU backend: each primitive delegates to the kernel class of its concern (one file per concern, as in llm.c).
 * Kernels use {@code FloatVector.SPECIES_PREFERRED} with scalar tails and split work over the {@link WorkerPool} by
 * output, never by reduction, so results are identical for any thread count.
 */
public final class CpuBackend implements Backend {
    public static final CpuBackend INSTANCE = new CpuBackend();

    /**
     * Direct convolutions (float32-exact sums in their order) instead of the default Winograd path for 3x3 stride-1
     * layers, which rounds about 20x more.
     */
    @Override public <T> T withReferenceKernels(java.util.function.Supplier<T> body) {
        boolean[] direct = Winograd.DIRECT.get();
        boolean before = direct[0];
        direct[0] = true;
        try {
            return body.get();
        } finally {
            direct[0] = before;
        }
    }

    /**
     * Whether the micro kernels use the tiles for 16 vector registers (x86 below AVX-512, or
     * {@code -Dtessella.cpu.registers=16}) rather than those for 32; either way the results are the same bits.
     */
    public static boolean sixteenRegisterTiles() { return VectorSupport.SIXTEEN_REGISTERS; }

    private CpuBackend() {
        VectorSupport.check();
    }

    @Override public Device device() { return Device.CPU; }

    @Override public Tensor empty(DType dtype, int... shape) { return Tensor.empty(dtype, shape); }

    @Override public Tensor persistent(DType dtype, int... shape) { return Tensor.persistent(dtype, shape); }

    @Override public void fill(Tensor out, float value) { Elementwise.fill(out, value); }

    @Override public void copy(Tensor src, Tensor dst) { Elementwise.copy(src, dst); }

    @Override public void unary(UnaryOp op, Tensor x, Tensor out) { Elementwise.unary(op, x, out); }

    @Override public void unaryBackward(UnaryOp op, Tensor x, Tensor y, Tensor gy, Tensor gx) {
        Elementwise.unaryBackward(op, x, y, gy, gx);
    }

    @Override public void binary(BinaryOp op, Tensor a, Tensor b, Tensor out) { Elementwise.binary(op, a, b, out); }

    @Override public void affine(Tensor x, float scale, float shift, Tensor out) { Elementwise.affine(x, scale, shift, out); }

    @Override public void powScalar(Tensor x, float exponent, Tensor out) { Elementwise.powScalar(x, exponent, out); }

    @Override public void clamp(Tensor x, float lo, float hi, Tensor out) { Elementwise.clamp(x, lo, hi, out); }

    @Override public void where(Tensor cond, Tensor a, Tensor b, Tensor out) { Elementwise.where(cond, a, b, out); }

    @Override public void reduce(ReduceOp op, Tensor x, Tensor out) { Reductions.reduce(op, x, out); }

    @Override public double sumOfSquares(Tensor x) { return Reductions.sumOfSquares(x); }

    @Override public void argmax(Tensor x, Tensor out) { Reductions.argmax(x, out); }

    @Override public void topk(Tensor x, int k, Tensor values, Tensor indices) { Reductions.topk(x, k, values, indices); }

    @Override public void matmul(Tensor a, boolean transA, Tensor b, boolean transB, Tensor c, float alpha, float beta) {
        Gemm.matmul(a, transA, b, transB, c, alpha, beta);
    }

    @Override public void softmax(Tensor x, Tensor out) { RowOps.softmax(x, out); }

    @Override public void softmaxBackward(Tensor y, Tensor gy, Tensor gx) { RowOps.softmaxBackward(y, gy, gx); }

    @Override public void logSoftmax(Tensor x, Tensor out) { RowOps.logSoftmax(x, out); }

    @Override public void logSoftmaxBackward(Tensor y, Tensor gy, Tensor gx) { RowOps.logSoftmaxBackward(y, gy, gx); }

    @Override public int crossEntropy(Tensor logits, Tensor targets, int ignoreIndex, Tensor losses, Tensor dlogits) {
        return RowOps.crossEntropy(logits, targets, ignoreIndex, losses, dlogits);
    }

    @Override public void layerNorm(Tensor x, Tensor weight, Tensor bias, float eps, Tensor y, Tensor mean, Tensor rstd) {
        Norms.layerNorm(x, weight, bias, eps, y, mean, rstd);
    }

    @Override public void layerNormBackward(Tensor x, Tensor weight, Tensor mean, Tensor rstd, Tensor gy,
                                            Tensor gx, Tensor gWeight, Tensor gBias) {
        Norms.layerNormBackward(x, weight, mean, rstd, gy, gx, gWeight, gBias);
    }

    @Override public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor y, Tensor rstd) {
        Norms.rmsNorm(x, weight, eps, y, rstd);
    }

    @Override public void rmsNormBackward(Tensor x, Tensor weight, Tensor rstd, Tensor gy, Tensor gx, Tensor gWeight) {
        Norms.rmsNormBackward(x, weight, rstd, gy, gx, gWeight);
    }

    @Override public void groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps, Tensor y,
                                    Tensor mean, Tensor rstd) {
        Norms.groupNorm(x, groups, weight, bias, eps, y, mean, rstd);
    }

    @Override public void groupNormBackward(Tensor x, int groups, Tensor weight, Tensor mean, Tensor rstd, Tensor gy,
                                            Tensor gx, Tensor gWeight, Tensor gBias) {
        Norms.groupNormBackward(x, groups, weight, mean, rstd, gy, gx, gWeight, gBias);
    }

    @Override public boolean fusesSwiglu() { return true; }

    @Override public void swiglu(Tensor a, Tensor b, Tensor out) { Elementwise.swiglu(a, b, out); }

    @Override public void swigluBackward(Tensor a, Tensor b, Tensor g, Tensor ga, Tensor gb) {
        Elementwise.swigluBackward(a, b, g, ga, gb);
    }

    @Override public boolean fusesGroupNormSilu() { return true; }

    @Override public void groupNormSilu(Tensor x, int groups, Tensor weight, Tensor bias, float eps, Tensor y,
                                        Tensor mean, Tensor rstd) {
        Norms.groupNorm(x, groups, weight, bias, eps, y, mean, rstd, true);
    }

    @Override public void groupNormSiluBackward(Tensor x, int groups, Tensor weight, Tensor bias, Tensor mean,
                                                Tensor rstd, Tensor gy, Tensor gx, Tensor gWeight, Tensor gBias) {
        Norms.groupNormBackward(x, groups, weight, bias, mean, rstd, gy, gx, gWeight, gBias, true);
    }

    @Override public void conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padding, Tensor y) {
        Conv.conv2d(x, w, bias, stride, padding, y);
    }

    @Override public void conv2dBackwardInput(Tensor gy, Tensor w, int stride, int padding, Tensor gx) {
        Conv.conv2dBackwardInput(gy, w, stride, padding, gx);
    }

    @Override public void conv2dBackwardWeight(Tensor gy, Tensor x, int stride, int padding, Tensor gw, Tensor gBias) {
        Conv.conv2dBackwardWeight(gy, x, stride, padding, gw, gBias);
    }

    @Override public void upsampleNearest(Tensor x, int factor, Tensor y) { Conv.upsampleNearest(x, factor, y); }

    @Override public void upsampleNearestBackward(Tensor gy, int factor, Tensor gx) {
        Conv.upsampleNearestBackward(gy, factor, gx);
    }

    @Override public void avgPool2d(Tensor x, int kernel, int stride, Tensor y) { Conv.avgPool2d(x, kernel, stride, y); }

    @Override public void avgPool2dBackward(Tensor gy, int kernel, int stride, Tensor gx) {
        Conv.avgPool2dBackward(gy, kernel, stride, gx);
    }

    @Override public void embedding(Tensor table, Tensor idx, Tensor out) { Indexing.embedding(table, idx, out); }

    @Override public void embeddingBackward(Tensor g, Tensor idx, Tensor gTable) { Indexing.embeddingBackward(g, idx, gTable); }

    @Override public void gather(Tensor x, int axis, Tensor idx, Tensor out) { Indexing.gather(x, axis, idx, out); }

    @Override public void scatterAdd(Tensor g, int axis, Tensor idx, Tensor gx) { Indexing.scatterAdd(g, axis, idx, gx); }

    @Override public void attention(Tensor q, Tensor k, Tensor v, boolean causal, float scale, Tensor out, Tensor lse) {
        Attention.attention(q, k, v, causal, scale, out, lse);
    }

    @Override public void attentionBackward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor gOut,
                                            boolean causal, float scale, Tensor gq, Tensor gk, Tensor gv) {
        Attention.attentionBackward(q, k, v, out, lse, gOut, causal, scale, gq, gk, gv);
    }

    @Override public boolean fusesQkvAttention() { return true; }

    @Override public void qkvAttention(Tensor qkv, Tensor cos, Tensor sin, boolean causal, float scale, Tensor out,
                                       Tensor lse) {
        Attention.qkvAttention(qkv, cos, sin, causal, scale, out, lse);
    }

    @Override public void qkvAttentionBackward(Tensor qkv, Tensor cos, Tensor sin, Tensor out, Tensor lse, Tensor gOut,
                                               boolean causal, float scale, Tensor gQkv) {
        Attention.qkvAttentionBackward(qkv, cos, sin, out, lse, gOut, causal, scale, gQkv);
    }

    @Override public void rope(Tensor x, Tensor cos, Tensor sin, boolean inverse, Tensor out) {
        Attention.rope(x, cos, sin, inverse, out);
    }

    @Override public void randomUniform(Tensor out, long seed, long offset) {
        float[] o = out.floats();
        int base = out.offset();
        WorkerPool.global().parallelFor(out.numel(), 4096, (s, e) -> {
            for (int i = s; i < e; i++) o[base + i] = Philox.uniform(seed, offset + i);
        });
    }

    @Override public void randomNormal(Tensor out, long seed, long offset, float mean, float std) {
        float[] o = out.floats();
        int base = out.offset();
        WorkerPool.global().parallelFor(out.numel(), 4096, (s, e) -> {
            for (int i = s; i < e; i++) o[base + i] = mean + std * Philox.normal(seed, offset + i);
        });
    }

    @Override public void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2,
                                float eps, float weightDecay, float c1, float c2) {
        Elementwise.adamw(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, c1, c2);
    }

    @Override public void adamw(List<Tensor> params, List<Tensor> grads, List<Tensor> m, List<Tensor> v, float lr,
                                float beta1, float beta2, float eps, float[] weightDecay, float c1, float c2) {
        Chunks.run(params, (i, s, e) -> Elementwise.adamw(Chunks.part(params.get(i), s, e),
                Chunks.part(grads.get(i), s, e), Chunks.part(m.get(i), s, e), Chunks.part(v.get(i), s, e),
                lr, beta1, beta2, eps, weightDecay[i], c1, c2));
    }

    @Override public void scale(List<Tensor> xs, float s) {
        Chunks.run(xs, (i, a, b) -> {
            Tensor part = Chunks.part(xs.get(i), a, b);
            Elementwise.affine(part, s, 0f, part);
        });
    }

    @Override public double sumOfSquares(List<Tensor> xs) {
        // each tensor's own sum is the same on any thread; the tensors are summed on the pool at once, added in order
        double[] sums = new double[xs.size()];
        WorkerPool.global().parallelTasks(xs.size(), i -> sums[i] = Reductions.sumOfSquares(xs.get(i)));
        double total = 0;
        for (double x : sums) total += x;
        return total;
    }
}
