package org.tessella.backend;

import org.tessella.tensor.DType;
import org.tessella.tensor.Device;
import org.tessella.tensor.Tensor;

/**
 * The primitive ops every device implements. Autograd, nn and the models call only these, so the CPU and CUDA paths
 * run the same model code.
 *
 * <p>Conventions, the same for every method:
 * <ul>
 *   <li>Outputs are passed in, already allocated (by {@link #empty}), contiguous, and are overwritten (never
 *       accumulated into) unless the method says otherwise.</li>
 *   <li>Elementwise ops, {@link #copy} and {@link #reduce} accept inputs with any strides, including zero strides of
 *       a broadcast view. Every other op needs contiguous inputs; the caller makes them so.</li>
 *   <li>Results are deterministic: the same inputs give the same bits whatever the thread count or vector width.</li>
 *   <li>Shapes are checked by the caller (autograd) with messages naming the op; backends may assume them right.</li>
 * </ul>
 */
public interface Backend {

    Device device();

    /** An uninitialised contiguous tensor on this device, from the current step workspace when one is open. */
    Tensor empty(DType dtype, int... shape);

    /** A zero-filled tensor that outlives any workspace step (parameters, gradients, optimizer state). */
    Tensor persistent(DType dtype, int... shape);

    /**
     * Waits until every op queued so far has finished. The CPU's ops finish before they return, so there this does
     * nothing; a GPU queues work, and timings must wait for it.
     */
    default void synchronize() {}

    /**
     * Runs body, on the calling thread, with this backend's reference kernels where it also has faster, less exact
     * ones (the CPU: direct convolutions instead of Winograd F(4x4, 3x3)): what checks of other backends compare with.
     */
    default <T> T withReferenceKernels(java.util.function.Supplier<T> body) { return body.get(); }

    // ---- data movement -------------------------------------------------------------------------------------------

    void fill(Tensor out, float value);

    /** {@code dst = src}, elementwise over dst's shape; src may be a broadcast view; converts F32 and I32. */
    void copy(Tensor src, Tensor dst);

    // ---- elementwise ---------------------------------------------------------------------------------------------

    /** {@code out = op(x)}; x has out's shape (maybe a broadcast view). */
    void unary(UnaryOp op, Tensor x, Tensor out);

    /** {@code gx = gy * op'(x)}; y = op(x) is given too, since some derivatives are cheaper from it. */
    void unaryBackward(UnaryOp op, Tensor x, Tensor y, Tensor gy, Tensor gx);

    /** {@code out = op(a, b)}; a and b have out's shape (maybe broadcast views). */
    void binary(BinaryOp op, Tensor a, Tensor b, Tensor out);

    /** {@code out = x * scale + shift}. */
    void affine(Tensor x, float scale, float shift, Tensor out);

    /** {@code out = x ^ exponent} (scalar exponent). */
    void powScalar(Tensor x, float exponent, Tensor out);

    /** {@code out = min(max(x, lo), hi)}. */
    void clamp(Tensor x, float lo, float hi, Tensor out);

    /** {@code out = cond != 0 ? a : b}; all three have out's shape (maybe broadcast views). */
    void where(Tensor cond, Tensor a, Tensor b, Tensor out);

    // ---- reductions ----------------------------------------------------------------------------------------------

    /**
     * Reduces x into out, which has x's rank with size 1 on every reduced axis (keep-dims form) and x's size on the
     * others. The order of accumulation is fixed (independent of threads and vector width).
     */
    void reduce(ReduceOp op, Tensor x, Tensor out);

    /** Sum of squares of all elements, in double precision, in a fixed order (for gradient clipping). */
    double sumOfSquares(Tensor x);

    /**
     * {@code sumOfSquares} of each tensor, added in list order (the squared global norm of gradients). The same bits
     * as the loop over them, which is the default; a GPU overrides it to wait for the device once for all of them.
     */
    default double sumOfSquares(java.util.List<Tensor> xs) {
        double total = 0;
        for (Tensor x : xs) total += sumOfSquares(x);
        return total;
    }

    /** Index of the largest element along the last axis (first one on ties); out is I32 with the last axis dropped. */
    void argmax(Tensor x, Tensor out);

    /** The k largest values along the last axis, in descending order, and their indices (I32). */
    void topk(Tensor x, int k, Tensor values, Tensor indices);

    // ---- linear algebra ------------------------------------------------------------------------------------------

    /**
     * Batched GEMM {@code c[i] = alpha * op(a[i]) @ op(b[i]) + beta * c[i]} on contiguous rank-3 tensors.
     * a is [Ba, M, K] ([Ba, K, M] when transA), b is [Bb, K, N] ([Bb, N, K] when transB), c is [B, M, N];
     * Ba and Bb are B or 1 (a batch of one is reused for every i). With beta = 0, c's old contents are ignored.
     */
    void matmul(Tensor a, boolean transA, Tensor b, boolean transB, Tensor c, float alpha, float beta);

    // ---- fused row ops (last axis, contiguous) ---------------------------------------------------------------------

    void softmax(Tensor x, Tensor out);

    /** {@code gx = y * (gy - sum(gy * y))} per row. */
    void softmaxBackward(Tensor y, Tensor gy, Tensor gx);

    void logSoftmax(Tensor x, Tensor out);

    /** {@code gx = gy - exp(y) * sum(gy)} per row. */
    void logSoftmaxBackward(Tensor y, Tensor gy, Tensor gx);

    /**
     * Cross-entropy of logits [N, C] against I32 targets [N]: {@code losses[n] = logsumexp(x[n]) - x[n, t[n]]}, and
     * when dlogits is not null, {@code dlogits[n] = softmax(x[n]) - onehot(t[n])}. Rows whose target equals
     * ignoreIndex get loss 0 and zero gradient. Returns the number of rows that were not ignored.
     */
    int crossEntropy(Tensor logits, Tensor targets, int ignoreIndex, Tensor losses, Tensor dlogits);

    // ---- normalisation -------------------------------------------------------------------------------------------

    /** LayerNorm over the last axis of x [R, D]; weight and bias [D] may be null; mean and rstd [R] are saved. */
    void layerNorm(Tensor x, Tensor weight, Tensor bias, float eps, Tensor y, Tensor mean, Tensor rstd);

    /** Gradients of layerNorm; gWeight and gBias may be null (and must be when weight or bias was). */
    void layerNormBackward(Tensor x, Tensor weight, Tensor mean, Tensor rstd, Tensor gy,
                           Tensor gx, Tensor gWeight, Tensor gBias);

    /** RMSNorm over the last axis: {@code y = x * rsqrt(mean(x^2) + eps) * weight}; weight may be null. */
    void rmsNorm(Tensor x, Tensor weight, float eps, Tensor y, Tensor rstd);

    void rmsNormBackward(Tensor x, Tensor weight, Tensor rstd, Tensor gy, Tensor gx, Tensor gWeight);

    /**
     * GroupNorm of x [N, C, *] with C divisible by groups; weight and bias [C] may be null; mean and rstd [N, groups].
     */
    void groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps, Tensor y, Tensor mean, Tensor rstd);

    void groupNormBackward(Tensor x, int groups, Tensor weight, Tensor mean, Tensor rstd, Tensor gy,
                           Tensor gx, Tensor gWeight, Tensor gBias);

    /**
     * Whether {@link #swiglu} and its backward run fused here (one pass each); otherwise {@code Functional.swiglu}
     * composes {@code silu} and {@code mul}, which must give the same values.
     */
    default boolean fusesSwiglu() { return false; }

    /** {@code out = silu(a) * b}, a, b and out contiguous and of one shape; only where {@link #fusesSwiglu}. */
    default void swiglu(Tensor a, Tensor b, Tensor out) {
        throw new UnsupportedOperationException("swiglu is not fused on this backend");
    }

    /** The gradients of {@link #swiglu} for the output gradient g: ga with respect to a, gb to b. */
    default void swigluBackward(Tensor a, Tensor b, Tensor g, Tensor ga, Tensor gb) {
        throw new UnsupportedOperationException("swiglu is not fused on this backend");
    }

    /**
     * Whether {@link #groupNormSilu} and its backward run fused here (one pass over each group while it is in cache,
     * the normalised values never stored); where not, the autograd layer composes groupNorm and SiLU instead.
     */
    default boolean fusesGroupNormSilu() { return false; }

    /** {@code y = silu(groupNorm(x))}, mean and rstd as {@link #groupNorm}'s; only where {@link #fusesGroupNormSilu}. */
    default void groupNormSilu(Tensor x, int groups, Tensor weight, Tensor bias, float eps, Tensor y, Tensor mean,
                               Tensor rstd) {
        throw new UnsupportedOperationException("groupNormSilu is not fused on this backend");
    }

    /**
     * The gradients of {@link #groupNormSilu} from x and its statistics (the normalised values recomputed), the same
     * as SiLU's backward followed by {@link #groupNormBackward}.
     */
    default void groupNormSiluBackward(Tensor x, int groups, Tensor weight, Tensor bias, Tensor mean, Tensor rstd,
                                       Tensor gy, Tensor gx, Tensor gWeight, Tensor gBias) {
        throw new UnsupportedOperationException("groupNormSilu is not fused on this backend");
    }

    // ---- images --------------------------------------------------------------------------------------------------

    /** 2-D convolution (cross-correlation) of x [N, C, H, W] with w [O, C, kh, kw] and optional bias [O]. */
    void conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padding, Tensor y);

    void conv2dBackwardInput(Tensor gy, Tensor w, int stride, int padding, Tensor gx);

    /** Writes gw and, when not null, gBias (the sum of gy over N, H, W). */
    void conv2dBackwardWeight(Tensor gy, Tensor x, int stride, int padding, Tensor gw, Tensor gBias);

    /** Nearest-neighbour upsampling of [N, C, H, W] by an integer factor. */
    void upsampleNearest(Tensor x, int factor, Tensor y);

    void upsampleNearestBackward(Tensor gy, int factor, Tensor gx);

    /** Average pooling of [N, C, H, W] with a square window, no padding. */
    void avgPool2d(Tensor x, int kernel, int stride, Tensor y);

    void avgPool2dBackward(Tensor gy, int kernel, int stride, Tensor gx);

    // ---- indexing ------------------------------------------------------------------------------------------------

    /** {@code out[n] = table[idx[n]]}: table [V, D], idx I32 [N], out [N, D]. */
    void embedding(Tensor table, Tensor idx, Tensor out);

    /** {@code gTable[idx[n]] += g[n]}, accumulating, in order of n (deterministic). */
    void embeddingBackward(Tensor g, Tensor idx, Tensor gTable);

    /** torch.gather along an axis: x [A, Dx, B], idx I32 [A, Di, B] (viewed so), out [A, Di, B]. */
    void gather(Tensor x, int axis, Tensor idx, Tensor out);

    /** {@code gx[.., idx[..], ..] += g}: the accumulation behind gather's backward; gx must be zeroed first. */
    void scatterAdd(Tensor g, int axis, Tensor idx, Tensor gx);

    // ---- attention -----------------------------------------------------------------------------------------------

    /**
     * Scaled dot-product attention. q [B, H, T, D], k [B, H, S, D], v [B, H, S, Dv], out [B, H, T, Dv], and the
     * row log-sum-exp lse [B, H, T] saved for the backward pass. When causal, query t sees keys s <= t + (S - T),
     * so a query block appended to a KV cache of S - T earlier positions is causal too.
     */
    void attention(Tensor q, Tensor k, Tensor v, boolean causal, float scale, Tensor out, Tensor lse);

    void attentionBackward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor gOut, boolean causal,
                           float scale, Tensor gq, Tensor gk, Tensor gv);

    /**
     * Whether {@link #qkvAttention} and its backward run fused here: q, k and v read straight from the packed
     * projection, RoPE applied as they are read. Otherwise {@code Functional.qkvAttention} composes copies,
     * {@link #rope} and {@link #attention}, which must give the same values.
     */
    default boolean fusesQkvAttention() { return false; }

    /**
     * Causal (or not) attention of the q, k and v in qkv [B, T, 3, H, D], q and k rotated by RoPE (cos, sin [T, D/2]);
     * out [B, T, H, D] and lse [B, H, T] as {@link #attention}'s. Only where {@link #fusesQkvAttention}.
     */
    default void qkvAttention(Tensor qkv, Tensor cos, Tensor sin, boolean causal, float scale, Tensor out, Tensor lse) {
        throw new UnsupportedOperationException("qkvAttention is not fused on this backend");
    }

    /** The gradient of {@link #qkvAttention} with respect to qkv, into gQkv [B, T, 3, H, D] (every element written). */
    default void qkvAttentionBackward(Tensor qkv, Tensor cos, Tensor sin, Tensor out, Tensor lse, Tensor gOut,
                                      boolean causal, float scale, Tensor gQkv) {
        throw new UnsupportedOperationException("qkvAttention is not fused on this backend");
    }

    /**
     * Rotary position embedding on interleaved pairs. x [N, T, H, D] (D even), cos and sin [T, D/2]:
     * {@code (x0, x1) -> (x0 cos - x1 sin, x0 sin + x1 cos)}. With inverse, the rotation is by the negative angle,
     * which is also the backward pass.
     */
    void rope(Tensor x, Tensor cos, Tensor sin, boolean inverse, Tensor out);

    // ---- randomness (counter-based: element i draws from (seed, offset + i), whatever thread computes it) ----------

    /** Uniform in [0, 1). */
    void randomUniform(Tensor out, long seed, long offset);

    /** Normal with the given mean and standard deviation. */
    void randomNormal(Tensor out, long seed, long offset, float mean, float std);

    // ---- optimizer -----------------------------------------------------------------------------------------------

    /**
     * One AdamW update in place (PyTorch semantics): {@code p -= lr * wd * p}, then the moments m and v are updated
     * with beta1 and beta2, and {@code p -= lr * (m / c1) / (sqrt(v / c2) + eps)} where c1 and c2 are the bias
     * corrections {@code 1 - beta^t}.
     */
    void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
               float weightDecay, float c1, float c2);

    /**
     * {@link #adamw} of every {@code params[i]} (with its own weight decay {@code weightDecay[i]}): the same update,
     * element by element, as the loop over them, which is the default; the CPU runs all tensors in one parallel pass
     * (a model of many small tensors otherwise wakes the worker threads once per tensor).
     */
    default void adamw(java.util.List<Tensor> params, java.util.List<Tensor> grads, java.util.List<Tensor> m,
                       java.util.List<Tensor> v, float lr, float beta1, float beta2, float eps, float[] weightDecay,
                       float c1, float c2) {
        for (int i = 0; i < params.size(); i++)
            adamw(params.get(i), grads.get(i), m.get(i), v.get(i), lr, beta1, beta2, eps, weightDecay[i], c1, c2);
    }

    /** {@code x *= s} in place for every x (gradient clipping), as {@link #affine} with shift 0 would; one pass on the CPU. */
    default void scale(java.util.List<Tensor> xs, float s) {
        for (Tensor x : xs) affine(x, s, 0f, x);
    }
}
