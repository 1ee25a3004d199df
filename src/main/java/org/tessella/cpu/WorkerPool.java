package org.tessella.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The one persistent pool of CPU worker threads. {@link #parallelFor} splits a range of independent output indices
 * (rows, tiles) into contiguous tasks; the calling thread works too. Which thread runs a task never changes what the
 * task computes, so results do not depend on the thread count.
 *
 * <p>Size: {@code -Dtessella.threads=N}, else the environment variable {@code TESSELLA_THREADS}, else all cores.
 * A call made from inside a task, or while another thread is using the pool, runs inline on the caller.
 */
public final class WorkerPool {

    /** The body of a parallel loop over {@code [start, end)}. */
    @FunctionalInterface
    public interface RangeBody {
        void run(int start, int end);
    }

    private static final int SPIN_ITERATIONS = 20_000;
    private static volatile WorkerPool global;

    private final int threads;
    private final Worker[] workers;
    private final ReentrantLock submitLock = new ReentrantLock();
    private volatile Job current;
    private volatile boolean shutdown;

    private WorkerPool(int threads) {
        this.threads = Math.max(1, threads);
        this.workers = new Worker[this.threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker(i);
            workers[i].start();
        }
    }

    /** The shared pool, created on first use. */
    public static WorkerPool global() {
        WorkerPool p = global;
        if (p == null) {
            synchronized (WorkerPool.class) {
                if (global == null) global = new WorkerPool(defaultThreads());
                p = global;
            }
        }
        return p;
    }

    /** Replaces the shared pool by one of the given size (tests of thread-count independence, the bench). */
    public static synchronized void configure(int threads) {
        WorkerPool old = global;
        global = new WorkerPool(threads);
        if (old != null) old.shutdown();
    }

    static int defaultThreads() {
        String s = System.getProperty("tessella.threads");
        if (s == null) s = System.getenv("TESSELLA_THREADS");
        if (s != null && !s.isBlank()) {
            try {
                int n = Integer.parseInt(s.trim());
                if (n >= 1) return n;
            } catch (NumberFormatException ignored) {
                // fall through to the core count
            }
            throw new IllegalArgumentException("tessella.threads / TESSELLA_THREADS must be a positive integer, got '" + s + "'");
        }
        return Runtime.getRuntime().availableProcessors();
    }

    public int threads() { return threads; }

    /**
     * Runs {@code body} over {@code [0, n)} split into contiguous ranges of at least {@code grain} indices, in parallel
     * when that is worth it. Returns when every range is done; rethrows the first failure.
     */
    public void parallelFor(int n, int grain, RangeBody body) {
        if (n <= 0) return;
        int g = Math.max(1, grain);
        // up to 16 tasks per thread, taken in turn: a thread slowed down (a busy shared core) leaves less idle time
        // behind it than with 4 (measured on the convolutions: about 5-10% on two cores)
        int tasks = (int) Math.min((n + (long) g - 1) / g, 16L * threads);
        if (tasks <= 1 || threads == 1 || Thread.currentThread() instanceof Worker || submitLock.isHeldByCurrentThread()
                || !submitLock.tryLock()) {
            body.run(0, n);
            return;
        }
        try {
            Job job = new Job(body, n, tasks);
            current = job;
            for (Worker w : workers) LockSupport.unpark(w);
            job.drain();
            while (job.done.get() < tasks) Thread.onSpinWait();
            current = null;
            if (job.failure != null) {
                if (job.failure instanceof RuntimeException re) throw re;
                if (job.failure instanceof Error e) throw e;
                throw new RuntimeException(job.failure);
            }
        } finally {
            submitLock.unlock();
        }
    }

    /** Runs {@code task(i)} for i in [0, count), each index once, in parallel. */
    public void parallelTasks(int count, java.util.function.IntConsumer task) {
        parallelFor(count, 1, (s, e) -> {
            for (int i = s; i < e; i++) task.accept(i);
        });
    }

    private void shutdown() {
        shutdown = true;
        for (Worker w : workers) LockSupport.unpark(w);
    }

    private static final class Job {
        final RangeBody body;
        final int n, tasks;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger done = new AtomicInteger();
        volatile Throwable failure;

        Job(RangeBody body, int n, int tasks) {
            this.body = body;
            this.n = n;
            this.tasks = tasks;
        }

        void drain() {
            int t;
            while ((t = next.getAndIncrement()) < tasks) {
                int start = (int) ((long) n * t / tasks), end = (int) ((long) n * (t + 1) / tasks);
                try {
                    body.run(start, end);
                } catch (Throwable e) {
                    if (failure == null) failure = e;
                } finally {
                    done.incrementAndGet();
                }
            }
        }
    }

    private final class Worker extends Thread {
        Worker(int index) {
            super("tessella-worker-" + index);
            setDaemon(true);
        }

        @Override public void run() {
            Job last = null;
            while (!shutdown) {
                Job job = current;
                if (job != null && job != last) {
                    last = job;
                    job.drain();
                    continue;
                }
                int spins = 0;
                while (!shutdown) {
                    Job c = current;
                    if (c != null && c != last) break;
                    if (++spins < SPIN_ITERATIONS) Thread.onSpinWait();
                    else LockSupport.parkNanos(this, 1_000_000L);
                }
            }
        }
    }
}
