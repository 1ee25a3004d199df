package org.tessella.cli;

import jdk.incubator.vector.FloatVector;
import org.tessella.ar.ArTraining;
import org.tessella.ar.Gpt;
import org.tessella.ar.GptConfig;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.backend.Backends;
import org.tessella.backend.FlopCounter;
import org.tessella.backend.OpProfiler;
import org.tessella.cpu.WorkerPool;
import org.tessella.cuda.CudaBackend;
import org.tessella.io.AtomicFile;
import org.tessella.io.Json;
import org.tessella.io.Safetensors;
import org.tessella.nn.Init;
import org.tessella.nn.Module;
import org.tessella.nn.Parameter;
import org.tessella.optim.AdamW;
import org.tessella.optim.GradClip;
import org.tessella.tensor.Device;
import org.tessella.tensor.Philox;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;
import org.tessella.tokenizer.TokenizerTraining;
import org.tessella.tokenizer.VqConfig;
import org.tessella.tokenizer.VqTokenizer;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * {@code tessella bench train}: the time of one full training step (forward, backward, global-norm clipping, AdamW)
 * of the reference configurations {@code gpt-s}, {@code gpt-m} and {@code vq-s} (DESIGN.md §3; gpt-s and vq-s by
 * default) on synthetic data, next to a PyTorch twin of the same step ({@code tools/bench_train_peer.py}).
 *
 * <pre>
 * tessella bench train [--models gpt-s,vq-s] [--batch 64] [--steps 5] [--warmup 2] [--threads N]
 *                      [--out bench.json] [--peer peer.json] [--speed-goal 1.5] [--peak-seconds 1]
 *                      [--in-process] [--export-weights DIR] [--device cpu|cuda[:N]] [--matmul fp32|tf32|bf16]
 * </pre>
 *
 * <p>{@code --device cuda} builds each model on the CPU, moves it to the GPU, uploads the batch once (as the twin
 * does with {@code --device cuda}) and stops the clock after {@code Backend.synchronize()}; {@code --matmul} sets the
 * GPU's matrix-product precision. There is no FMA peak then ({@code fraction_of_peak} is null); bench.json adds
 * {@code device}, {@code device_name} and {@code matmul}, and a peer measured on another device or precision is
 * named in {@code peer_mismatch}.
 *
 * <ul>
 *   <li>{@code gpt-s}: vocabulary 1024, 64 tokens (8x8 grid, 1-D RoPE), 10 classes plus the null class; random
 *   tokens and labels (Philox, seed 1; every 11th row the null class); the step is {@link ArTraining}'s: mean
 *   cross-entropy, AdamW betas 0.9/0.95 with {@link ArTraining.Config#defaults()}' learning rate, weight decay and
 *   clip. Throughput: {@code batch * 64} target tokens per step.</li>
 *   <li>{@code vq-s}: random images in [-1, 1], [batch, 1, 32, 32]; the step is {@link TokenizerTraining}'s baseline
 *   step (no CRT): reconstruction MSE + codebook loss + 0.25 x commitment loss, AdamW betas 0.9/0.95 with
 *   {@link TokenizerTraining.Config#defaults()}' learning rate, weight decay and clip, and the quantizer's usage
 *   record. (Dead-code restarts, every 100 steps in training, are not run.) Throughput: images per second.</li>
 * </ul>
 *
 * After {@code --warmup} untimed steps, {@code --steps} steps are timed together. Reported per model: tokens/s or
 * images/s, ms per step, GFLOP/s counted by the engine's {@link FlopCounter} and its fraction of the FP32 FMA peak
 * measured at the start of the same run ({@link BenchCommand#fmaPeak}), and the peak resident set size
 * ({@code VmHWM} of /proc/self/status; "n/a" off Linux).
 *
 * <p>Peak RSS per model: by default every model runs in its own child JVM (same Java, JVM options, class path and
 * thread count; the hidden options {@code --child-model} and {@code --child-out} select the model and the result
 * file), so each RSS is that model's own peak, JVM included, like the Python twin's per-model processes. With
 * {@code --in-process} the models run one after another in this JVM and the RSS reported for each is the process
 * peak up to the end of that model (so later models include the earlier ones).
 *
 * <p>{@code bench.json} ({@code --out}, default ./bench.json): engine, Java and vector details, threads, batch, steps,
 * warmup, {@code fma_peak_gflops}, {@code rss_scope}, and {@code models.<name>} with {@code parameters}, {@code unit},
 * {@code tokens_per_second} or {@code images_per_second}, {@code ms_per_step}, {@code gflop_per_step},
 * {@code gflop_per_second}, {@code fraction_of_peak}, {@code peak_rss_mb} (MiB, null when unknown),
 * {@code workspace_mb} (the step workspace's capacity), {@code workspace_live_peak_mb} (the most of it live at once), {@code heap_committed_mb} and {@code heap_max_mb} (the Java
 * heap at the end: what the RSS is made of), {@code first_loss} and {@code final_loss}. With {@code --peer FILE} (the JSON the Python twin writes, same keys
 * under {@code models}) the file also holds the peer's JSON under {@code peer} and, per model both have,
 * {@code comparison.<name>}: both throughputs, {@code throughput_ratio} (Tessella / PyTorch), {@code ms_per_step} of
 * each, both RSS and {@code peak_rss_ratio} (Tessella / PyTorch), and whether the goals are met: throughput ratio at
 * least {@code --speed-goal} (1.5, the goal on a two-core machine; 1.0 is the goal against PyTorch 2.x on a 16-core
 * one) and RSS no larger than PyTorch's. The table printed at the end shows the same numbers.
 *
 * <p>{@code --export-weights DIR} only writes each model's freshly initialised weights (the ones the bench trains
 * from) in PyTorch state_dict names, and the synthetic batch of {@code --batch} under {@code bench_input.}, to
 * {@code DIR/<model>.safetensors}, and exits; {@code bench_train_peer.py --weights DIR} loads the weights strictly,
 * which checks that the twin has the same layers and sizes, and trains on the same batch, so both report the same
 * {@code first_loss} up to float rounding (shown in {@code comparison} as {@code tessella_first_loss} and
 * {@code pytorch_first_loss}). {@code tools/bench-train} runs
 * all three (export, Python twin, this bench with {@code --peer}) with the same settings.
 */
final class TrainBench {
    private TrainBench() {}

    static final List<String> MODELS = List.of("gpt-s", "gpt-m", "vq-s");
    /** The models run when --models is not given. */
    static final String DEFAULT_MODELS = "gpt-s,vq-s";
    static final long SEED = 1;
    static final int GPT_VOCAB = 1024, GPT_LENGTH = 64, GPT_CLASSES = 10;

    static int run(String[] argv) {
        try {
            return runChecked(argv);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static int runChecked(String[] argv) throws IOException, InterruptedException {
        Args a = Args.parse("bench train", argv, Set.of("models", "batch", "steps", "warmup", "threads", "out", "peer",
                "speed-goal", "peak-seconds", "export-weights", "child-model", "child-out", "device", "matmul"), Set.of("in-process"));
        Main.configureThreads(a);
        if (a.has("matmul")) { // read by the CUDA backend when it starts (fp32, tf32, bf16)
            if (a.device().kind() == Device.Kind.CPU) throw new UsageException("--matmul applies to --device cuda only");
            System.setProperty("tessella.cuda.matmul", a.string("matmul", "fp32"));
        }
        Device device = Main.device(a);
        String matmul = device.kind() == Device.Kind.CPU ? null : a.string("matmul", "fp32");
        int batch = a.integer("batch", 64), steps = a.integer("steps", 5), warmup = a.integer("warmup", 2);
        if (batch < 1 || steps < 1 || warmup < 0) throw new UsageException("--batch and --steps must be at least 1, --warmup at least 0");
        List<String> models = parseModels(a.string("models", DEFAULT_MODELS));
        int threads = WorkerPool.global().threads();

        if (a.has("child-model")) { // one model in a child JVM: measure and write the result, nothing else
            String m = a.string("child-model", "");
            if (!MODELS.contains(m)) throw new UsageException("--child-model: unknown model '" + m + "'");
            Map<String, Object> r = measure(m, batch, steps, warmup, device);
            AtomicFile.writeString(a.requiredPath("bench train", "child-out"), Json.write(r) + "\n");
            return 0;
        }
        if (a.has("export-weights")) {
            Path dir = a.requiredPath("bench train", "export-weights");
            Files.createDirectories(dir);
            for (String m : models) {
                Path f = dir.resolve(m + ".safetensors");
                Map<String, Tensor> t = new LinkedHashMap<>(build(m).stateDict());
                for (var e : inputs(m, batch).entrySet()) t.put(INPUT_PREFIX + e.getKey(), e.getValue());
                Safetensors.write(f, t, Map.of("model", m, "seed", Long.toString(SEED), "batch", Integer.toString(batch),
                        "generator", "tessella bench train --export-weights"));
                System.out.println("bench train: wrote " + f);
            }
            return 0;
        }

        Path out = a.path("out").orElse(Path.of("bench.json"));
        Json.Obj peer = null;
        if (a.has("peer")) {
            Path p = a.requiredPath("bench train", "peer");
            if (!Files.isRegularFile(p)) throw new UsageException("--peer " + p + ": no such file (write it with tools/bench_train_peer.py)");
            peer = Json.parseObject(Files.readString(p), "peer");
        }
        float speedGoal = a.number("speed-goal", 1.5f);
        boolean inProcess = a.flag("in-process");

        double peak = 0;
        if (device.kind() == Device.Kind.CPU) {
            double peakSeconds = a.number("peak-seconds", 1f);
            BenchCommand.fmaPeak(threads, Math.min(0.3, peakSeconds)); // let C2 compile the FMA loop before the timed run
            peak = BenchCommand.fmaPeak(threads, peakSeconds);
            System.out.printf(Locale.ROOT, "bench train: %s, batch %d, %d threads, %d warm-up + %d timed steps; FMA peak %.1f GFLOP/s%n",
                    String.join(", ", models), batch, threads, warmup, steps, peak);
        } else {
            System.out.printf(Locale.ROOT, "bench train: %s, batch %d, %s, matmul %s, %d warm-up + %d timed steps%n",
                    String.join(", ", models), batch, Main.where(device), matmul, warmup, steps);
        }

        Map<String, Object> result = new LinkedHashMap<>();
        result.put("engine", "tessella");
        result.put("java_version", System.getProperty("java.version"));
        result.put("vector_lanes", FloatVector.SPECIES_PREFERRED.length());
        result.put("vector_registers", org.tessella.cpu.CpuBackend.sixteenRegisterTiles() ? 16 : 32);
        result.put("cores", Runtime.getRuntime().availableProcessors());
        result.put("threads", threads);
        result.put("batch", batch);
        result.put("steps", steps);
        result.put("warmup", warmup);
        result.put("fma_peak_gflops", peak);
        result.put("device", device.toString());
        if (matmul != null) {
            result.put("device_name", Backends.of(device).toString());
            result.put("matmul", matmul);
        }
        result.put("rss_scope", inProcess ? "process peak so far (models run in one JVM, in order)" : "per model (one child JVM each)");
        Map<String, Object> per = new LinkedHashMap<>();
        for (String m : models) {
            Map<String, Object> r = inProcess ? measure(m, batch, steps, warmup, device)
                    : forkChild(m, batch, steps, warmup, threads, device, matmul);
            double g = ((Number) r.get("gflop_per_second")).doubleValue();
            r.put("fraction_of_peak", peak > 0 ? g / peak : null); // of the CPU's FMA peak: none on a GPU
            per.put(m, r);
        }
        result.put("models", per);
        if (peer != null) addPeer(result, peer, speedGoal);
        TrainClassifierCommand.writeJson(out, result);
        System.out.print(table(result));
        System.out.println("wrote " + out);
        return 0;
    }

    static List<String> parseModels(String s) {
        List<String> out = new ArrayList<>();
        for (String m : s.split(",")) {
            m = m.trim();
            if (m.isEmpty()) continue;
            if (!MODELS.contains(m)) throw new UsageException("--models: unknown model '" + m + "' (use " + String.join(", ", MODELS) + ")");
            if (!out.contains(m)) out.add(m);
        }
        if (out.isEmpty()) throw new UsageException("--models: name at least one of " + String.join(", ", MODELS));
        return out;
    }

    // ---- one model --------------------------------------------------------------------------------------------

    /** The model, freshly initialised with {@link #SEED} on the CPU. */
    static Module build(String model) {
        return switch (model) {
            case "gpt-s", "gpt-m" -> new Gpt(gptConfig(model), SEED);
            case "vq-s" -> new VqTokenizer(VqConfig.preset("vq-s"), new Init(SEED));
            default -> throw new IllegalArgumentException("unknown model " + model);
        };
    }

    /** Prefix of the synthetic inputs in an exported weights file (not parameters; the twin strips them). */
    static final String INPUT_PREFIX = "bench_input.";

    /**
     * The synthetic batch of a model: gpt-s {@code tokens} I32 [B, 64] (uniform over the vocabulary) and {@code labels}
     * I32 [B] (a random class, the null class on every 11th row); vq-s {@code images} [B, 1, 32, 32] uniform in [-1, 1].
     * Philox with {@link #SEED}, so the same for every run and thread count.
     */
    static Map<String, Tensor> inputs(String model, int batch) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        if (model.startsWith("gpt-")) {
            GptConfig c = gptConfig(model);
            int[] tk = new int[batch * c.length()], lb = new int[batch];
            for (int i = 0; i < tk.length; i++) tk[i] = Philox.below(SEED, i, c.vocab());
            for (int i = 0; i < batch; i++) lb[i] = i % 11 == 10 ? c.nullClass() : Philox.below(SEED ^ 0xC1A55L, i, c.classes());
            t.put("tokens", Tensor.ofInts(tk, batch, c.length()));
            t.put("labels", Tensor.ofInts(lb, batch));
        } else {
            int s = VqConfig.IMAGE_SIZE;
            float[] px = new float[batch * s * s];
            for (int i = 0; i < px.length; i++) px[i] = 2f * Philox.uniform(SEED, i) - 1f;
            t.put("images", Tensor.of(px, batch, 1, s, s));
        }
        return t;
    }

    static GptConfig gptConfig(String model) {
        return GptConfig.preset(model, GPT_VOCAB, GPT_LENGTH, 8, 8, GPT_CLASSES);
    }

    /**
     * Builds (on the CPU, then moved to {@code device}), warms up and times one model in this JVM; the result map of
     * one entry of {@code models}. The synthetic batch is uploaded once, as the twin does; on a GPU the clock stops
     * when the device has finished the last step.
     */
    static Map<String, Object> measure(String model, int batch, int steps, int warmup, Device device) {
        Module m = build(model).to(device);
        List<Parameter> params = m.parameters();
        Map<String, Tensor> in = new LinkedHashMap<>();
        for (var e : inputs(model, batch).entrySet()) in.put(e.getKey(), Ops.to(e.getValue(), device)); // no workspace open: kept
        Workspace ws = new Workspace();
        double[] lastLoss = {Double.NaN}, firstLoss = {Double.NaN};
        Runnable step;
        String unit;
        long perStep;
        if (model.startsWith("gpt-")) {
            Gpt gpt = (Gpt) m;
            GptConfig c = gpt.config;
            ArTraining.Config tc = ArTraining.Config.defaults();
            AdamW opt = new AdamW(params, tc.lr(), 0.9f, 0.95f, 1e-8f, tc.weightDecay());
            Tensor tokens = in.get("tokens"), labels = in.get("labels");
            gpt.train(true);
            step = () -> {
                try (Workspace w = ws.open()) {
                    Tensor loss = gpt.loss(labels, tokens);
                    lastLoss[0] = checkFinite(loss.item(), model);
                    if (Double.isNaN(firstLoss[0])) firstLoss[0] = lastLoss[0];
                    opt.zeroGrad();
                    Tape.backward(loss);
                    GradClip.clip(params, tc.clip());
                    opt.step();
                }
            };
            unit = "tokens";
            perStep = (long) batch * c.length();
        } else {
            VqTokenizer vq = (VqTokenizer) m;
            TokenizerTraining.Config tc = TokenizerTraining.Config.defaults();
            AdamW opt = new AdamW(params, tc.lr(), 0.9f, 0.95f, 1e-8f, tc.weightDecay());
            vq.quantizer.setDeadAfterSteps(tc.deadAfter());
            Tensor images = in.get("images");
            long[] stepNo = {0};
            vq.train(true);
            step = () -> {
                try (Workspace w = ws.open()) {
                    VqTokenizer.Output o = vq.forward(images);
                    Tensor loss = o.loss();
                    lastLoss[0] = checkFinite(loss.item(), model);
                    if (Double.isNaN(firstLoss[0])) firstLoss[0] = lastLoss[0];
                    o.reconstructionLoss().item(); // the trainer reads both losses every step
                    opt.zeroGrad();
                    Tape.backward(loss);
                    GradClip.clip(params, tc.clip());
                    opt.step();
                    vq.quantizer.recordUsage(o.quant().indices(), ++stepNo[0]);
                }
            };
            unit = "images";
            perStep = batch;
        }
        for (int i = 0; i < warmup; i++) step.run();
        // the CUDA classes load only for a CUDA device
        boolean profile = device.kind() == Device.Kind.CUDA && CudaBackend.profiling();
        if (profile) ((CudaBackend) Backends.of(device)).profileReset();
        OpProfiler.reset();
        long f0 = FlopCounter.total(), t0 = System.nanoTime();
        for (int i = 0; i < steps; i++) step.run();
        Backends.of(device).synchronize();
        double secs = (System.nanoTime() - t0) / 1e9;
        if (profile) System.err.printf("%s, %d steps, %.2f ms wall (events add a little), %s", model, steps, secs * 1e3,
                ((CudaBackend) Backends.of(device)).profileReport(40));
        long flops = FlopCounter.total() - f0;
        if (OpProfiler.ENABLED && device.kind() == Device.Kind.CPU)
            System.err.printf("%s, %d threads, %.2f ms per step, %s", model, WorkerPool.global().threads(), secs * 1e3 / steps,
                    OpProfiler.report(steps, 40));

        Map<String, Object> r = new LinkedHashMap<>();
        r.put("model", model);
        r.put("device", device.toString());
        r.put("parameters", m.parameterCount());
        r.put("unit", unit);
        r.put(unit + "_per_step", perStep);
        r.put(unit + "_per_second", steps * (double) perStep / secs);
        r.put("ms_per_step", secs * 1e3 / steps);
        r.put("gflop_per_step", flops / 1e9 / steps);
        r.put("gflop_per_second", flops / 1e9 / secs);
        Double rss = peakRssMb();
        r.put("peak_rss_mb", rss);
        r.put("workspace_mb", ws.capacityBytes() / 1048576.0);
        r.put("workspace_live_peak_mb", ws.highWaterBytes() / 1048576.0);
        r.put("heap_committed_mb", Runtime.getRuntime().totalMemory() / 1048576.0);
        r.put("heap_max_mb", Runtime.getRuntime().maxMemory() / 1048576.0);
        r.put("first_loss", firstLoss[0]);
        r.put("final_loss", lastLoss[0]);
        System.out.printf(Locale.ROOT, "  %-6s %,d parameters: %.1f %s/s, %.1f ms/step, %.1f GFLOP/s, peak RSS %s%n", model,
                m.parameterCount(), steps * (double) perStep / secs, unit, secs * 1e3 / steps, flops / 1e9 / secs, mb(rss));
        return r;
    }

    private static double checkFinite(double loss, String model) {
        if (!Double.isFinite(loss)) throw new IllegalStateException(model + ": loss became " + loss);
        return loss;
    }

    /** This process's peak resident set size in MiB (VmHWM), or null where /proc/self/status has none. */
    static Double peakRssMb() {
        Path status = Path.of("/proc/self/status");
        try {
            if (!Files.isReadable(status)) return null;
            for (String line : Files.readAllLines(status)) {
                if (!line.startsWith("VmHWM:")) continue;
                String[] f = line.substring(6).trim().split("\\s+");
                return Long.parseLong(f[0]) / 1024.0; // kB
            }
        } catch (IOException | RuntimeException e) {
            return null;
        }
        return null;
    }

    /** Runs one model in a child JVM (this JVM's java, options and class path) and reads its result. */
    static Map<String, Object> forkChild(String model, int batch, int steps, int warmup, int threads, Device device, String matmul)
            throws IOException, InterruptedException {
        Path tmp = Files.createTempFile("tessella-bench-" + model + "-", ".json");
        try {
            List<String> cmd = new ArrayList<>();
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments())
                if (!arg.startsWith("-agentlib:jdwp") && !arg.startsWith("-Xrunjdwp")) cmd.add(arg);
            cmd.add("-cp");
            cmd.add(System.getProperty("java.class.path"));
            cmd.add(Main.class.getName());
            cmd.addAll(List.of("bench", "train", "--child-model", model, "--child-out", tmp.toString(), "--batch", Integer.toString(batch),
                    "--steps", Integer.toString(steps), "--warmup", Integer.toString(warmup), "--threads", Integer.toString(threads),
                    "--device", device.toString()));
            if (matmul != null) cmd.addAll(List.of("--matmul", matmul));
            Process p = new ProcessBuilder(cmd).start();
            // pass the child's output on through this JVM's streams (minus the JVM's incubator notice); keep stderr
            // for the error message
            Thread outPump = Thread.ofVirtual().start(() -> {
                try (var o = p.inputReader()) {
                    o.lines().forEach(System.out::println);
                } catch (IOException ignored) {
                    // the child is gone; its exit code tells
                }
            });
            StringBuilder err = new StringBuilder();
            try (var e = p.errorReader()) {
                String line;
                while ((line = e.readLine()) != null) {
                    if (line.startsWith("WARNING: Using incubator modules")) continue;
                    System.err.println(line);
                    err.append(line).append('\n');
                }
            }
            int rc = p.waitFor();
            outPump.join();
            if (rc != 0 || Files.size(tmp) == 0)
                throw new IllegalStateException("the child JVM for " + model + " failed (exit " + rc + ")"
                        + (err.isEmpty() ? "" : ": " + err.toString().strip().lines().reduce((x, y) -> y).orElse("")
                        .replaceFirst("^tessella bench: (error: )?", "")));
            return new LinkedHashMap<>(Json.parseObject(Files.readString(tmp), model).map());
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    // ---- comparison with the PyTorch twin ---------------------------------------------------------------------

    /**
     * Adds {@code peer} (the Python twin's JSON) and {@code comparison.<model>} for every model both measured:
     * throughputs and {@code throughput_ratio} = Tessella / PyTorch, ms per step of each, peak RSS of each and
     * {@code peak_rss_ratio} = Tessella / PyTorch (null when either is unknown), and the two goal checks.
     */
    @SuppressWarnings("unchecked")
    static void addPeer(Map<String, Object> result, Json.Obj peer, double speedGoal) {
        result.put("peer", peer.map());
        Map<String, Object> ours = (Map<String, Object>) result.get("models");
        Json.Obj theirs = peer.object("models");
        Map<String, Object> cmp = new LinkedHashMap<>();
        for (var e : ours.entrySet()) {
            if (!theirs.has(e.getKey())) continue;
            Map<String, Object> t = (Map<String, Object>) e.getValue();
            Json.Obj p = theirs.object(e.getKey());
            String unit = (String) t.get("unit");
            String key = unit + "_per_second";
            double a = ((Number) t.get(key)).doubleValue(), b = p.number(key);
            Map<String, Object> c = new LinkedHashMap<>();
            c.put("unit", unit);
            c.put("tessella_per_second", a);
            c.put("pytorch_per_second", b);
            c.put("throughput_ratio", b > 0 ? a / b : null);
            c.put("tessella_ms_per_step", t.get("ms_per_step"));
            c.put("pytorch_ms_per_step", p.number("ms_per_step"));
            Object ra = t.get("peak_rss_mb"), rb = p.map().get("peak_rss_mb");
            c.put("tessella_peak_rss_mb", ra);
            c.put("pytorch_peak_rss_mb", rb);
            boolean rss = ra instanceof Number x && rb instanceof Number y && y.doubleValue() > 0;
            c.put("peak_rss_ratio", rss ? ((Number) ra).doubleValue() / ((Number) rb).doubleValue() : null);
            c.put("tessella_first_loss", t.get("first_loss"));
            c.put("pytorch_first_loss", p.map().get("first_loss"));
            c.put("pytorch_inputs", p.map().get("inputs"));
            c.put("speed_goal", speedGoal);
            c.put("speed_goal_met", b > 0 && a / b >= speedGoal);
            c.put("rss_goal_met", rss ? (Object) (((Number) ra).doubleValue() <= ((Number) rb).doubleValue()) : null);
            cmp.put(e.getKey(), c);
        }
        result.put("comparison", cmp);
        List<String> notes = new ArrayList<>();
        for (String k : List.of("batch", "threads", "steps", "warmup")) {
            Object mine = result.get(k), other = peer.map().get(k);
            if (other instanceof Number n && mine instanceof Number m && n.longValue() != m.longValue())
                notes.add(k + " " + m + " here, " + n + " in the peer");
        }
        for (String k : List.of("device", "matmul")) { // e.g. a CPU peer beside a GPU run, or FP32 beside TF32
            Object mine = result.get(k), other = peer.map().get(k);
            if (mine != null && other != null && !mine.toString().equals(other.toString()))
                notes.add(k + " " + mine + " here, " + other + " in the peer");
        }
        if (!notes.isEmpty()) result.put("peer_mismatch", String.join("; ", notes));
    }

    // ---- the table --------------------------------------------------------------------------------------------

    @SuppressWarnings("unchecked")
    static String table(Map<String, Object> result) {
        StringBuilder sb = new StringBuilder();
        Map<String, Object> models = (Map<String, Object>) result.get("models");
        Map<String, Object> peer = (Map<String, Object>) result.get("peer");
        Map<String, Object> cmp = (Map<String, Object>) result.get("comparison");
        boolean gpu = result.get("matmul") != null;
        if (gpu)
            sb.append(String.format(Locale.ROOT, "%nTessella %s on %s, matmul %s, batch %s, %s timed steps; RSS %s%n",
                    result.get("java_version"), result.get("device_name"), result.get("matmul"), result.get("batch"), result.get("steps"),
                    result.get("rss_scope")));
        else
            sb.append(String.format(Locale.ROOT, "%nTessella %s, %s threads, batch %s, %s timed steps; FMA peak %.1f GFLOP/s; RSS %s%n",
                    result.get("java_version"), result.get("threads"), result.get("batch"), result.get("steps"),
                    ((Number) result.get("fma_peak_gflops")).doubleValue(), result.get("rss_scope")));
        if (peer != null)
            sb.append(String.format(Locale.ROOT, "PyTorch %s, %s, batch %s, %s timed steps, attention %s; RSS %s%n",
                    peer.get("torch_version"), peer.get("device_name") != null ? "on " + peer.get("device_name") + ", matmul "
                            + peer.getOrDefault("matmul", "?") : peer.get("threads") + " threads",
                    peer.get("batch"), peer.get("steps"), peer.getOrDefault("attention", "?"),
                    peer.getOrDefault("rss_scope", "per model process")));
        String head = String.format(Locale.ROOT, "%-6s %-9s %10s %8s %8s %6s %8s", "model", "unit", "tessella", "ms/step", "GFLOP/s",
                "%peak", "RSS MB");
        if (peer != null) head += String.format(Locale.ROOT, " | %10s %8s %8s | %7s %6s", "pytorch", "ms/step", "RSS MB", "speed x", "RSS x");
        sb.append(head).append('\n').append("-".repeat(head.length())).append('\n');
        for (var e : models.entrySet()) {
            Map<String, Object> r = (Map<String, Object>) e.getValue();
            String unit = (String) r.get("unit");
            Object frac = r.get("fraction_of_peak");
            sb.append(String.format(Locale.ROOT, "%-6s %-9s %10.1f %8.1f %8.1f %6s %8s", e.getKey(), unit + "/s",
                    num(r.get(unit + "_per_second")), num(r.get("ms_per_step")), num(r.get("gflop_per_second")),
                    frac instanceof Number f ? String.format(Locale.ROOT, "%.1f%%", 100 * f.doubleValue()) : "n/a",
                    mb(r.get("peak_rss_mb"))));
            if (peer != null) {
                Map<String, Object> c = cmp == null ? null : (Map<String, Object>) cmp.get(e.getKey());
                if (c == null) sb.append(" | (not in the peer's file)");
                else sb.append(String.format(Locale.ROOT, " | %10.1f %8.1f %8s | %6.2fx %5s", num(c.get("pytorch_per_second")),
                        num(c.get("pytorch_ms_per_step")), mb(c.get("pytorch_peak_rss_mb")), num(c.get("throughput_ratio")),
                        c.get("peak_rss_ratio") == null ? "n/a" : String.format(Locale.ROOT, "%.2fx", num(c.get("peak_rss_ratio")))));
            }
            sb.append('\n');
        }
        if (cmp != null && !cmp.isEmpty()) {
            List<String> goals = new ArrayList<>();
            for (var e : cmp.entrySet()) {
                Map<String, Object> c = (Map<String, Object>) e.getValue();
                goals.add(String.format(Locale.ROOT, "%s speed >= %.2fx %s, RSS <= PyTorch %s", e.getKey(), num(c.get("speed_goal")),
                        Boolean.TRUE.equals(c.get("speed_goal_met")) ? "met" : "NOT met",
                        c.get("rss_goal_met") == null ? "n/a" : Boolean.TRUE.equals(c.get("rss_goal_met")) ? "met" : "NOT met"));
            }
            sb.append("goals: ").append(String.join("; ", goals)).append('\n');
        }
        if (result.get("peer_mismatch") != null) sb.append("warning: settings differ: ").append(result.get("peer_mismatch")).append('\n');
        return sb.toString();
    }

    private static double num(Object o) { return o instanceof Number n ? n.doubleValue() : Double.NaN; }

    private static String mb(Object o) { return o instanceof Number n ? String.format(Locale.ROOT, "%.0f", n.doubleValue()) : "n/a"; }
}
