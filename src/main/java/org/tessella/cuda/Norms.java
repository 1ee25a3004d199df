package org.tessella.cuda;

import org.tessella.tensor.DType;
import org.tessella.tensor.Tensor;

/**
 * LayerNorm, RMSNorm and GroupNorm, forward and backward, on contiguous tensors (norms.cu): a block per row (or
 * group) for the statistics and the input gradient, then the weight and bias gradients as sums over rows in a fixed
 * order (a thread per column and chunk of 32 rows, then the chunks in order; for GroupNorm a block per channel and
 * chunk of images, then the chunks in order).
 */
final class Norms {
    private static final String M = "norms";
    private final CudaBackend be;

    Norms(CudaBackend be) { this.be = be; }

    private long ptr(Tensor t) { return t == null ? 0L : be.ptr(t); }

    void layerNorm(Tensor x, Tensor weight, Tensor bias, float eps, Tensor y, Tensor mean, Tensor rstd) {
        be.requireContiguous("layerNorm", x, y, mean, rstd);
        int d = x.shape(-1), rows = d == 0 ? 0 : x.numel() / d;
        be.launchRows(be.kernel(M, "layer_norm"), rows, CudaBackend.rowThreads(d), KernelArgs.begin().i32(rows).i32(d)
                .ptr(be.ptr(x)).ptr(ptr(weight)).ptr(ptr(bias)).f32(eps).ptr(be.ptr(y)).ptr(be.ptr(mean)).ptr(be.ptr(rstd)));
    }

    void layerNormBackward(Tensor x, Tensor weight, Tensor mean, Tensor rstd, Tensor gy, Tensor gx, Tensor gWeight,
                           Tensor gBias) {
        be.requireContiguous("layerNormBackward", x, mean, rstd, gy, gx);
        int d = x.shape(-1), rows = d == 0 ? 0 : x.numel() / d;
        be.launchRows(be.kernel(M, "layer_norm_backward"), rows, CudaBackend.rowThreads(d), KernelArgs.begin()
                .i32(rows).i32(d).ptr(be.ptr(x)).ptr(ptr(weight)).ptr(be.ptr(mean)).ptr(be.ptr(rstd))
                .ptr(be.ptr(gy)).ptr(be.ptr(gx)));
        paramGrads(x, gy, mean, rstd, rows, d, gWeight, gBias);
    }

    void rmsNorm(Tensor x, Tensor weight, float eps, Tensor y, Tensor rstd) {
        be.requireContiguous("rmsNorm", x, y, rstd);
        int d = x.shape(-1), rows = d == 0 ? 0 : x.numel() / d;
        be.launchRows(be.kernel(M, "rms_norm"), rows, CudaBackend.rowThreads(d), KernelArgs.begin().i32(rows).i32(d)
                .ptr(be.ptr(x)).ptr(ptr(weight)).f32(eps).ptr(be.ptr(y)).ptr(be.ptr(rstd)));
    }

    void rmsNormBackward(Tensor x, Tensor weight, Tensor rstd, Tensor gy, Tensor gx, Tensor gWeight) {
        be.requireContiguous("rmsNormBackward", x, rstd, gy, gx);
        int d = x.shape(-1), rows = d == 0 ? 0 : x.numel() / d;
        be.launchRows(be.kernel(M, "rms_norm_backward"), rows, CudaBackend.rowThreads(d), KernelArgs.begin()
                .i32(rows).i32(d).ptr(be.ptr(x)).ptr(ptr(weight)).ptr(be.ptr(rstd)).ptr(be.ptr(gy)).ptr(be.ptr(gx)));
        paramGrads(x, gy, null, rstd, rows, d, gWeight, null);
    }

    /**
     * gw, gb = sums over rows, in two stages: row chunks (32 rows each, at most 256 chunks: a function of the shape
     * alone, so the order of the sums is too), then the chunks in order.
     */
    private void paramGrads(Tensor x, Tensor gy, Tensor mean, Tensor rstd, int rows, int d, Tensor gw, Tensor gb) {
        if (gw == null && gb == null) return;
        int chunks = Math.max(1, Math.min(256, rows / 32));
        Tensor partial = be.scratch(DType.F32, 2, chunks, d);
        long pw = be.ptr(partial), pb = pw + 4L * chunks * d;
        be.launch(be.kernel(M, "norm_param_partials"), d * chunks, KernelArgs.begin().i32(rows).i32(d).i32(chunks)
                .ptr(be.ptr(x)).ptr(be.ptr(gy)).ptr(ptr(mean)).ptr(be.ptr(rstd)).ptr(gw == null ? 0L : pw)
                .ptr(gb == null ? 0L : pb));
        be.launch(be.kernel(M, "norm_param_grads"), d, KernelArgs.begin().i32(d).i32(chunks).ptr(pw).ptr(pb)
                .ptr(ptr(gw)).ptr(ptr(gb)));
        be.release(partial);
    }

    void groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps, Tensor y, Tensor mean, Tensor rstd) {
        be.requireContiguous("groupNorm", x, y, mean, rstd);
        int n = x.shape(0), c = x.shape(1), cpg = c / groups;
        int hw = n * c == 0 ? 0 : x.numel() / (n * c);
        be.launchRows(be.kernel(M, "group_norm"), n * groups, CudaBackend.rowThreads(cpg * hw), KernelArgs.begin()
                .i32(n * groups).i32(groups).i32(cpg).i32(hw).ptr(be.ptr(x)).ptr(ptr(weight)).ptr(ptr(bias)).f32(eps)
                .ptr(be.ptr(y)).ptr(be.ptr(mean)).ptr(be.ptr(rstd)));
    }

    void groupNormBackward(Tensor x, int groups, Tensor weight, Tensor mean, Tensor rstd, Tensor gy, Tensor gx,
                           Tensor gWeight, Tensor gBias) {
        be.requireContiguous("groupNormBackward", x, mean, rstd, gy, gx);
        int n = x.shape(0), c = x.shape(1), cpg = c / groups;
        int hw = n * c == 0 ? 0 : x.numel() / (n * c);
        be.launchRows(be.kernel(M, "group_norm_backward"), n * groups, CudaBackend.rowThreads(cpg * hw), KernelArgs.begin()
                .i32(n * groups).i32(groups).i32(cpg).i32(hw).ptr(be.ptr(x)).ptr(ptr(weight)).ptr(be.ptr(mean))
                .ptr(be.ptr(rstd)).ptr(be.ptr(gy)).ptr(be.ptr(gx)));
        if (gWeight == null && gBias == null) return;
        // chunks of images per channel (a function of n alone, so the sums' order is too), then their sum in order
        int chunks = Math.max(1, Math.min(n, 32));
        Tensor partial = be.scratch(DType.F32, 2, c, chunks);
        be.launchRows(be.kernel(M, "group_norm_param_partials"), c * chunks, CudaBackend.rowThreads(hw), KernelArgs.begin()
                .i32(n).i32(c).i32(groups).i32(hw).i32(chunks).ptr(be.ptr(x)).ptr(be.ptr(gy)).ptr(be.ptr(mean))
                .ptr(be.ptr(rstd)).ptr(be.ptr(partial)));
        be.launch(be.kernel(M, "group_norm_param_grads"), c, KernelArgs.begin().i32(c).i32(chunks).ptr(be.ptr(partial))
                .ptr(ptr(gWeight)).ptr(ptr(gBias)));
        be.release(partial);
    }
}
