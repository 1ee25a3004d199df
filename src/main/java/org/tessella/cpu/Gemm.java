package org.tessella.cpu;

import org.tessella.tensor.Tensor;

/** Blocked, packed, multithreaded SGEMM (helper-owned; placeholder until written). */
final class Gemm {
    private Gemm() {}

    static void matmul(Tensor a, boolean transA, Tensor b, boolean transB, Tensor c, float alpha, float beta) {
        throw new UnsupportedOperationException("Gemm.matmul not written yet");
    }
}
