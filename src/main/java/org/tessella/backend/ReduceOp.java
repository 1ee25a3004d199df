package org.tessella.backend;

/** Reductions over axes. */
public enum ReduceOp {
    SUM, MAX, MIN
}
