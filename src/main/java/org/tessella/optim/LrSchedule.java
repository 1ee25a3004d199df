package org.tessella.optim;

/** Linear warmup to the base rate, then cosine decay to {@code minLr} at {@code totalSteps}. */
public record LrSchedule(float baseLr, float minLr, long warmupSteps, long totalSteps) {

    /** The learning rate for step {@code step} (0-based). */
    public float at(long step) {
        if (warmupSteps > 0 && step < warmupSteps) return baseLr * (step + 1) / warmupSteps;
        if (step >= totalSteps) return minLr;
        double progress = (double) (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
        return (float) (minLr + (baseLr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress)));
    }

    public static LrSchedule constant(float lr) { return new LrSchedule(lr, lr, 0, Long.MAX_VALUE); }

    /**
     * Warmup then cosine, with the warmup cut to a fifth of the run when the run is short, so a quick run still
     * reaches its peak rate.
     */
    public static LrSchedule warmupCosine(float baseLr, float minLr, long warmupSteps, long totalSteps) {
        return new LrSchedule(baseLr, minLr, Math.min(warmupSteps, totalSteps / 5), totalSteps);
    }
}
