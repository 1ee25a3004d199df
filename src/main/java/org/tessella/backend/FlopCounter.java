package org.tessella.backend;

import java.util.concurrent.atomic.LongAdder;

/**
 * Counts the floating-point operations of the compute-heavy ops (matrix products, convolutions, attention), forward
 * and backward, as they run: 2 per multiply-add. Elementwise work is not counted; it is a few percent of the total
 * for the reference models. Counted once, in the autograd layer, so every device counts the same way.
 */
public final class FlopCounter {
    private static final LongAdder TOTAL = new LongAdder();

    private FlopCounter() {}

    public static void add(long flops) { TOTAL.add(flops); }

    /** FLOPs counted since the JVM started. Take differences to measure a span. */
    public static long total() { return TOTAL.sum(); }
}
