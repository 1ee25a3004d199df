package org.tessella.backend;

/** Elementwise functions of two arguments. Comparisons give 1.0 where true and 0.0 where false. */
public enum BinaryOp {
    ADD, SUB, MUL, DIV, MAX, MIN, POW, GT, GE, LT, LE, EQ, NE
}
