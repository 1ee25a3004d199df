package org.tessella.cli;

import org.tessella.backend.Backends;
import org.tessella.cpu.WorkerPool;
import org.tessella.tensor.Device;

import java.util.List;

/**
 * The {@code tessella} command. Exit codes: 0 success, 2 bad usage, 1 failure, with a one-line reason on stderr
 * (set TESSELLA_DEBUG=1 for the stack trace).
 */
public final class Main {
    private Main() {}

    static List<Command> commands() {
        return List.of(new QuickstartCommand(), new StudyCommand(), new TrainClassifierCommand(), new TrainTokenizerCommand(), new EncodeCommand(), new TrainArCommand(), new SampleCommand(), new ReconstructCommand(), new ProbeCommand(), new EvalCommand(), new TrainDitCommand(), new DitCommands.LearnCache(), new DitCommands.SampleDit(), new DitCommands.CacheStudyCommand(), new DitCommands.ExportDit(), new SynthTokensCommand(), new BenchCommand());
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    public static int run(String[] args) {
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h") || args[0].equals("help")) {
            System.out.println(usage());
            return args.length == 0 ? 2 : 0;
        }
        Command cmd = commands().stream().filter(c -> c.name().equals(args[0])).findFirst().orElse(null);
        if (cmd == null) {
            System.err.println("tessella: unknown command '" + args[0] + "'; run tessella --help for the list");
            return 2;
        }
        String[] rest = java.util.Arrays.copyOfRange(args, 1, args.length);
        if (List.of(rest).contains("--help") || List.of(rest).contains("-h")) {
            System.out.println(cmd.help());
            return 0;
        }
        try {
            return cmd.run(rest);
        } catch (UsageException e) {
            System.err.println("tessella " + cmd.name() + ": " + e.getMessage());
            return 2;
        } catch (Throwable e) {
            if (System.getenv("TESSELLA_DEBUG") != null) e.printStackTrace();
            String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            System.err.println("tessella " + cmd.name() + ": error: " + msg.lines().findFirst().orElse(msg));
            return 1;
        }
    }

    static String usage() {
        StringBuilder sb = new StringBuilder("usage: tessella COMMAND [OPTIONS]   (tessella COMMAND --help for its options)\n\ncommands:\n");
        for (Command c : commands()) sb.append(String.format("  %-18s %s%n", c.name(), c.summary()));
        sb.append("\nthreads: --threads N on any command, or TESSELLA_THREADS (default: all cores, now ")
                .append(Runtime.getRuntime().availableProcessors()).append(")");
        sb.append("\ndevice: --device cuda (or cuda:N) on train-classifier, train-tokenizer, train-ar, sample, bench, train-dit,\n"
                + "        learn-cache, sample-dit and cache-study; default cpu");
        return sb.toString();
    }

    /**
     * The device of {@code --device} (cpu when absent), opened now so that a missing GPU or library stops the command
     * with one line before any data is read (e.g. "no CUDA: libcuda.so.1 not found ..."); exit code 1.
     */
    static Device device(Args a) {
        Device d = a.device();
        if (d.kind() != Device.Kind.CPU) Backends.of(d);
        return d;
    }

    /** "N threads" on the CPU, or the device's name: the start line of a command. */
    static String where(Device d) {
        return d.kind() == Device.Kind.CPU ? WorkerPool.global().threads() + " threads" : "on " + d + " (" + Backends.of(d) + ")";
    }

    /** Applies a --threads option before any kernel runs. */
    static void configureThreads(Args a) {
        if (a.has("threads")) {
            int n = a.integer("threads", 1);
            if (n < 1) throw new UsageException("--threads must be at least 1");
            WorkerPool.configure(n);
        }
    }
}
