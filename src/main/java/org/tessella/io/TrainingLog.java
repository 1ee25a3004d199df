package org.tessella.io;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;

/**
 * The progress line of long work: step/total, loss, gradient norm, learning rate, ms per step, items per second,
 * achieved GFLOP/s and ETA. On a terminal it redraws in place a few times a second; otherwise it prints plain,
 * parseable {@code key value} lines every few seconds. Every line is also appended to a log file, when one is given.
 */
public final class TrainingLog implements AutoCloseable {
    private final PrintStream out;
    private final boolean terminal;
    private final Path logFile;
    private final String stage, unit;
    private final long totalSteps;
    private final long startNanos = System.nanoTime();
    private long lastPrintNanos, lastStep, lastStepNanos = System.nanoTime();
    private double emaStepMs = -1;
    private boolean redrawn;

    public TrainingLog(String stage, String unit, long totalSteps, Path logFile) {
        this(stage, unit, totalSteps, logFile, System.out, System.console() != null && System.getenv("CI") == null);
    }

    public TrainingLog(String stage, String unit, long totalSteps, Path logFile, PrintStream out, boolean terminal) {
        this.stage = stage;
        this.unit = unit;
        this.totalSteps = totalSteps;
        this.logFile = logFile;
        this.out = out;
        this.terminal = terminal;
    }

    /**
     * Reports a finished step (1-based). {@code items} is how many images or tokens it processed, {@code flops} the
     * FLOPs it counted. Returns the line (for tests).
     */
    public String step(long step, double loss, double gradNorm, double lr, long items, long flops) {
        long now = System.nanoTime();
        double ms = (now - lastStepNanos) / 1e6 / Math.max(1, step - lastStep);
        lastStepNanos = now;
        lastStep = step;
        emaStepMs = emaStepMs < 0 ? ms : 0.9 * emaStepMs + 0.1 * ms;
        double itemsPerSec = items / (ms / 1e3);
        double gflops = flops / (ms / 1e3) / 1e9;
        long etaSec = (long) ((totalSteps - step) * emaStepMs / 1e3);
        String line = String.format(Locale.ROOT,
                "%s step %d/%d loss %.4f gnorm %.3f lr %.2e ms/step %.1f %s/s %.0f GFLOP/s %.1f eta %s",
                stage, step, totalSteps, loss, gradNorm, lr, ms, unit, itemsPerSec, gflops, duration(etaSec));
        boolean last = step >= totalSteps;
        long interval = terminal ? 200_000_000L : 5_000_000_000L;
        if (last || step == 1 || now - lastPrintNanos >= interval) {
            lastPrintNanos = now;
            print(line);
        }
        return line;
    }

    /** A one-off line (a stage starting, an evaluation result); ends any redrawn line first. */
    public void message(String text) {
        if (redrawn) {
            out.println();
            redrawn = false;
        }
        out.println(text);
        append(text);
    }

    private void print(String line) {
        if (terminal) {
            out.print("\r\033[2K" + line);
            out.flush();
            redrawn = true;
        } else out.println(line);
        append(line);
    }

    private void append(String line) {
        if (logFile == null) return;
        try {
            Files.writeString(logFile, line + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot append to log " + logFile + ": " + e.getMessage(), e);
        }
    }

    public double elapsedSeconds() { return (System.nanoTime() - startNanos) / 1e9; }

    @Override public void close() {
        if (redrawn) {
            out.println();
            redrawn = false;
        }
    }

    public static String duration(long seconds) {
        if (seconds < 60) return seconds + "s";
        if (seconds < 3600) return seconds / 60 + "m" + String.format(Locale.ROOT, "%02d", seconds % 60) + "s";
        return seconds / 3600 + "h" + String.format(Locale.ROOT, "%02d", (seconds % 3600) / 60) + "m";
    }
}
