package org.tessella.cuda;

import org.tessella.tensor.DType;
import org.tessella.tensor.Tensor;

/**
 * Fused attention and rotary embeddings on the device (attention.cu), on contiguous tensors: a warp per query row
 * with an online softmax (no score matrix), the row log-sum-exp saved for the backward pass, which recomputes the
 * probabilities: a warp per query for gq and a warp per key for gk and gv (queries in order, no atomics). Head
 * dimensions up to 256. Sequences and heads up to 64 (gpt-s, gpt-m) run as one tile per (batch, head) pair in shared
 * memory instead: scores, probabilities and outputs one thread each, sums in a fixed order.
 */
final class Attention {
    private static final String M = "attention";
    private static final int MAX_HEAD_DIM = 256, WARPS = 4;
    private final CudaBackend be;

    Attention(CudaBackend be) { this.be = be; }

    private static void checkDims(String op, int d, int dv) {
        if (d > MAX_HEAD_DIM || dv > MAX_HEAD_DIM)
            throw new UnsupportedOperationException(op + ": head dimensions " + d + " and " + dv
                    + " exceed the CUDA kernels' " + MAX_HEAD_DIM);
    }

    private void warps(String kernel, int rows, KernelArgs args) {
        be.launchGrid(be.kernel(M, kernel), (rows + WARPS - 1) / WARPS, 32 * WARPS, args);
    }

    /** Sequences and head dimensions up to this run as one tile per (batch, head) pair in shared memory. */
    private static final int TILE = 64, TILE_THREADS = 256;

    private static boolean tiled(int tq, int sk, int d, int dv) {
        return tq <= TILE && sk <= TILE && d <= TILE && dv <= TILE;
    }

    /** The tile kernels' shared memory (floats): the layouts at the top of attention_forward_tile / _backward_tile. */
    private static int forwardTileFloats(int tq, int sk, int d, int dv) {
        return tq * (d + 1) + sk * (d + 1) + sk * (dv + 1) + tq * (sk + 1) + 2 * tq;
    }

    private static int backwardTileFloats(int tq, int sk, int d, int dv) {
        return tq * (d + 1) + sk * (d + 1) + sk * (dv + 1) + tq * (dv + 1) + 2 * tq * (sk + 1) + 2 * tq;
    }

    private void tile(String kernel, int pairs, int floats, KernelArgs args) {
        int bytes = 4 * floats;
        be.launch(be.kernel(M, kernel, bytes), Math.min(pairs, 1 << 16), 1, TILE_THREADS, bytes, args);
    }

    void attention(Tensor q, Tensor k, Tensor v, boolean causal, float scale, Tensor out, Tensor lse) {
        be.requireContiguous("attention", q, k, v, out, lse);
        int bh = q.shape(0) * q.shape(1), tq = q.shape(2), d = q.shape(3), sk = k.shape(2), dv = v.shape(3);
        checkDims("attention", d, dv);
        int rows = bh * tq;
        if (rows == 0) return;
        if (tiled(tq, sk, d, dv)) {
            tile("attention_forward_tile", bh, forwardTileFloats(tq, sk, d, dv), KernelArgs.begin().i32(bh).i32(tq)
                    .i32(sk).i32(d).i32(dv).i32(causal ? 1 : 0).f32(scale).ptr(be.ptr(q)).ptr(be.ptr(k)).ptr(be.ptr(v))
                    .ptr(be.ptr(out)).ptr(be.ptr(lse)));
            return;
        }
        warps("attention_forward", rows, KernelArgs.begin().i32(rows).i32(tq).i32(sk).i32(d).i32(dv).i32(causal ? 1 : 0)
                .f32(scale).ptr(be.ptr(q)).ptr(be.ptr(k)).ptr(be.ptr(v)).ptr(be.ptr(out)).ptr(be.ptr(lse)));
    }

    void attentionBackward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor gOut, boolean causal,
                           float scale, Tensor gq, Tensor gk, Tensor gv) {
        be.requireContiguous("attentionBackward", q, k, v, out, lse, gOut, gq, gk, gv);
        int bh = q.shape(0) * q.shape(1), tq = q.shape(2), d = q.shape(3), sk = k.shape(2), dv = v.shape(3);
        checkDims("attentionBackward", d, dv);
        int rows = bh * tq, keyRows = bh * sk;
        Tensor delta = be.scratch(DType.F32, Math.max(1, rows));
        if (rows > 0) {
            warps("attention_delta", rows, KernelArgs.begin().i32(rows).i32(dv).ptr(be.ptr(gOut)).ptr(be.ptr(out))
                    .ptr(be.ptr(delta)));
        }
        if (rows > 0 && keyRows > 0 && tiled(tq, sk, d, dv)) {
            tile("attention_backward_tile", bh, backwardTileFloats(tq, sk, d, dv), KernelArgs.begin().i32(bh).i32(tq)
                    .i32(sk).i32(d).i32(dv).i32(causal ? 1 : 0).f32(scale).ptr(be.ptr(q)).ptr(be.ptr(k)).ptr(be.ptr(v))
                    .ptr(be.ptr(lse)).ptr(be.ptr(gOut)).ptr(be.ptr(delta)).ptr(be.ptr(gq)).ptr(be.ptr(gk))
                    .ptr(be.ptr(gv)));
            be.release(delta);
            return;
        }
        if (rows > 0) {
            warps("attention_backward_q", rows, KernelArgs.begin().i32(rows).i32(tq).i32(sk).i32(d).i32(dv)
                    .i32(causal ? 1 : 0).f32(scale).ptr(be.ptr(q)).ptr(be.ptr(k)).ptr(be.ptr(v)).ptr(be.ptr(lse))
                    .ptr(be.ptr(gOut)).ptr(be.ptr(delta)).ptr(be.ptr(gq)));
        }
        if (keyRows > 0)
            warps("attention_backward_kv", keyRows, KernelArgs.begin().i32(keyRows).i32(tq).i32(sk).i32(d).i32(dv)
                    .i32(causal ? 1 : 0).f32(scale).ptr(be.ptr(q)).ptr(be.ptr(k)).ptr(be.ptr(v)).ptr(be.ptr(lse))
                    .ptr(be.ptr(gOut)).ptr(be.ptr(delta)).ptr(be.ptr(gk)).ptr(be.ptr(gv)));
        be.release(delta);
    }

    void rope(Tensor x, Tensor cos, Tensor sin, boolean inverse, Tensor out) {
        be.requireContiguous("rope", x, out);
        int tq = x.shape(1), heads = x.shape(2), half = x.shape(3) / 2;
        int rows = x.numel() / Math.max(1, x.shape(3));
        be.launch(be.kernel(M, "rope"), rows * half, KernelArgs.begin().i32(rows).i32(tq).i32(heads).i32(half)
                .ptr(be.ptr(x)).ptr(be.ptr(cos)).i32(cos.stride(0)).i32(cos.stride(1))
                .ptr(be.ptr(sin)).i32(sin.stride(0)).i32(sin.stride(1)).i32(inverse ? 1 : 0).ptr(be.ptr(out)));
    }
}
