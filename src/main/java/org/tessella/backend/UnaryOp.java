package org.tessella.backend;

/** Elementwise functions of one argument. GELU is the exact (erf) form, GELU_TANH the tanh approximation. */
public enum UnaryOp {
    NEG, EXP, LOG, SQRT, RSQRT, ABS, SQUARE, RECIPROCAL, SIGN, TANH, SIGMOID, RELU, SILU, GELU, GELU_TANH
}
