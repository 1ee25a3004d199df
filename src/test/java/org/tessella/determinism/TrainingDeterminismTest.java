package org.tessella.determinism;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.tessella.cpu.WorkerPool;
import org.tessella.data.Dataset;
import org.tessella.eval.ClassifierTraining;
import org.tessella.eval.FashionClassifier;
import org.tessella.nn.Init;
import org.tessella.nn.Parameter;
import org.tessella.tensor.Philox;

import java.io.File;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * Same seed, same bits: short training runs of the classifier, of a small stage-2 transformer and of a small VQ
 * tokenizer with the CRT regularizer give bit-identical weights with 1, 2 and 3 threads, and in a child JVM limited to
 * AVX2 (8-lane vectors instead of 16).
 */
class TrainingDeterminismTest {

    @AfterEach
    void restorePool() { WorkerPool.configure(Runtime.getRuntime().availableProcessors()); }

    /** Trains 4 steps on generated images and returns a SHA-256 over every parameter's bits. */
    public static String trainAndHash() throws Exception {
        int n = 64;
        float[] px = new float[n * 1024];
        int[] labels = new int[n];
        for (int i = 0; i < px.length; i++) px[i] = 2f * Philox.uniform(99, i) - 1f;
        for (int i = 0; i < n; i++) labels[i] = i % 10;
        List<String> names = List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9");
        Dataset train = new Dataset(px, labels, 1, 32, 32, names);
        FashionClassifier model = new FashionClassifier(new Init(5));
        ClassifierTraining.train(model, train, train.subset(16), new ClassifierTraining.Config(1, 16, 1e-3f, 0.01f, 3, 2, 1.0), null, null);
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        for (Parameter p : model.parameters()) {
            sha.update(p.name().getBytes(StandardCharsets.UTF_8));
            float[] v = p.tensor().toFloatArray();
            ByteBuffer b = ByteBuffer.allocate(4 * v.length);
            for (float f : v) b.putInt(Float.floatToRawIntBits(f));
            sha.update(b.array());
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    /** Ten AdamW steps of a small stage-2 transformer (2 blocks, RoPE, SwiGLU) on fixed tokens; SHA-256 of its weights. */
    public static String gptHash() throws Exception {
        org.tessella.ar.GptConfig c = new org.tessella.ar.GptConfig("det", 64, 16, 4, 4, 10, 64, 2, 4, 128, true, 10000f, 1e-5f, 0.1f);
        org.tessella.ar.Gpt m = new org.tessella.ar.Gpt(c, 3);
        int[] tk = new int[8 * 16], lb = new int[8];
        for (int i = 0; i < tk.length; i++) tk[i] = Philox.below(4, i, 64);
        for (int i = 0; i < 8; i++) lb[i] = i % 11; // includes the null class 10
        org.tessella.tensor.Tensor tokens = org.tessella.tensor.Tensor.ofInts(tk, 8, 16), labels = org.tessella.tensor.Tensor.ofInts(lb, 8);
        org.tessella.optim.AdamW opt = new org.tessella.optim.AdamW(m.parameters(), 3e-3f, 0.05f);
        for (int s = 0; s < 10; s++) {
            org.tessella.tensor.Tensor loss = m.loss(labels, tokens);
            opt.zeroGrad();
            org.tessella.autograd.Tape.backward(loss);
            opt.step();
        }
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        for (Parameter p : m.parameters()) {
            float[] v = p.tensor().toFloatArray();
            ByteBuffer b = ByteBuffer.allocate(4 * v.length);
            for (float f : v) b.putInt(Float.floatToRawIntBits(f));
            sha.update(b.array());
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    /**
     * Ten steps of a small VQ tokenizer (vq-s's layers at 16 channels, 64 tokens, codebook 32) with the CRT regularizer
     * on (weight 2, ramp 3 steps) and a dead-code restart every 4 steps; SHA-256 of the tokenizer's and the
     * regularizer's checkpoint tensors.
     */
    public static String vqHash() throws Exception {
        int n = 40;
        float[] px = new float[n * 1024];
        int[] labels = new int[n];
        for (int i = 0; i < px.length; i++) px[i] = (float) Math.sin(0.01 * i + Philox.uniform(17, i));
        List<String> names = List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9");
        Dataset data = new Dataset(px, labels, 1, 32, 32, names);
        org.tessella.tokenizer.VqConfig vc = new org.tessella.tokenizer.VqConfig("det", 16, 64, 32, 8, 8, 0.25f);
        org.tessella.tokenizer.TokenizerTraining.Config cfg = new org.tessella.tokenizer.TokenizerTraining.Config(
                1, 4, 2e-3f, 2e-4f, 0f, 1.0, 2, 9, 2f, 3, false, 1e-3f, 4, 3, 0.1f, new org.tessella.tokenizer.TokenizerTraining.ExtraLosses(0.5f, 0f, 0.1f, 2), 0);
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("det-vq");
        org.tessella.tokenizer.TokenizerTraining.train(new org.tessella.tokenizer.VqTokenizer(vc, new Init(4)), data, data.subset(8),
                cfg, dir, false, null);
        org.tessella.io.Checkpoint c = org.tessella.io.Checkpoint.load(dir.resolve(org.tessella.tokenizer.TokenizerTraining.CHECKPOINT));
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        for (var e : new java.util.TreeMap<>(c.tensors()).entrySet()) {
            sha.update(e.getKey().getBytes(StandardCharsets.UTF_8));
            org.tessella.tensor.Tensor t = e.getValue();
            if (t.dtype() == org.tessella.tensor.DType.I32) {
                for (int v : t.toIntArray()) sha.update(ByteBuffer.allocate(4).putInt(v).array());
            } else {
                float[] v = t.toFloatArray();
                ByteBuffer b = ByteBuffer.allocate(4 * v.length);
                for (float f : v) b.putInt(Float.floatToRawIntBits(f));
                sha.update(b.array());
            }
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    /**
     * The diffusion stage end to end at toy size: four train-dit steps of a small DiT (label dropout, clipping, EMA),
     * then three Learning-to-Cache router updates on its EMA weights and a 4-step guided DDIM sampling with the learned
     * schedule; SHA-256 of the checkpoint's tensors (weights, EMA, optimizer), the router logits and the samples.
     */
    public static String ditHash() throws Exception {
        int n = 32;
        float[] px = new float[n * 1024];
        int[] labels = new int[n];
        for (int i = 0; i < px.length; i++) px[i] = (float) Math.cos(0.013 * i + Philox.uniform(23, i));
        for (int i = 0; i < n; i++) labels[i] = i % 10;
        List<String> names = List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9");
        Dataset data = new Dataset(px, labels, 1, 32, 32, names);
        org.tessella.diffusion.DitConfig dc = new org.tessella.diffusion.DitConfig("det", 32, 1, 8, 32, 2, 2, 2, 10);
        org.tessella.diffusion.DitTraining.Config cfg = new org.tessella.diffusion.DitTraining.Config(1, 8, 1e-3f, 0f, 1.0, 2, 1, 0.25f, 0.9f, 0);
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("det-dit");
        org.tessella.diffusion.DitTraining.train(new org.tessella.diffusion.Dit(dc, new Init(1)), data, cfg, dir, false, null);
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        org.tessella.io.Checkpoint c = org.tessella.io.Checkpoint.load(dir.resolve(org.tessella.diffusion.DitTraining.CHECKPOINT));
        for (var e : new java.util.TreeMap<>(c.tensors()).entrySet()) {
            sha.update(e.getKey().getBytes(StandardCharsets.UTF_8));
            putFloats(sha, e.getValue().toFloatArray());
        }
        org.tessella.diffusion.Dit trained = org.tessella.diffusion.DitTraining.load(dir, true);
        org.tessella.diffusion.CacheSchedule schedule = org.tessella.diffusion.LearnToCache.learn(trained, data, 4,
                new org.tessella.diffusion.LearnToCache.Config(3, 4, 0.1f, 0.01f, 1, 0.25f), null);
        for (float[] row : schedule.logits()) putFloats(sha, row);
        putFloats(sha, new org.tessella.diffusion.DdimSampler(4).sample(trained, new int[]{0, 3, 9}, 2f, 5, schedule, 0.5f,
                org.tessella.diffusion.DdimSampler.Skipped.REUSE, 2));
        return HexFormat.of().formatHex(sha.digest());
    }

    private static void putFloats(MessageDigest sha, float[] v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length);
        for (float f : v) b.putInt(Float.floatToRawIntBits(f));
        sha.update(b.array());
    }

    /** Entry point for the child JVM. */
    public static void main(String[] args) throws Exception {
        WorkerPool.configure(Integer.parseInt(args[0]));
        System.out.println("HASH " + trainAndHash());
        System.out.println("GPT " + gptHash());
        System.out.println("VQ " + vqHash());
        System.out.println("DIT " + ditHash());
    }

    /** The hash with 1 thread equals those with 2 and 3. */
    private static void assertSameWithOneTwoThreeThreads(java.util.concurrent.Callable<String> hash, String what) throws Exception {
        WorkerPool.configure(1);
        String one = hash.call();
        for (int t = 2; t <= 3; t++) {
            WorkerPool.configure(t);
            assertEquals(one, hash.call(), what + " differ between 1 and " + t + " threads");
        }
    }

    @Test
    void tokenizerWithCrtSameBitsWithOneTwoThreeThreads() throws Exception {
        assertSameWithOneTwoThreeThreads(TrainingDeterminismTest::vqHash, "tokenizer weights");
    }

    @Test
    void diffusionTrainingCachingAndSamplingSameBitsWithOneTwoThreeThreads() throws Exception {
        assertSameWithOneTwoThreeThreads(TrainingDeterminismTest::ditHash, "DiT weights, router logits and samples");
    }

    @Test
    void transformerTrainingSameBitsWithOneTwoThreeThreads() throws Exception {
        assertSameWithOneTwoThreeThreads(TrainingDeterminismTest::gptHash, "transformer weights");
    }

    @Test
    void sameBitsWithOneAndTwoThreads() throws Exception {
        WorkerPool.configure(1);
        String one = trainAndHash();
        WorkerPool.configure(2);
        String two = trainAndHash();
        assertEquals(one, two, "weights after training differ between 1 and 2 threads");
        WorkerPool.configure(3);
        assertEquals(one, trainAndHash(), "weights after training differ between 1 and 3 threads");
    }

    @Test
    void sameBitsWithAvx2VectorsInAChildJvm() throws Exception {
        String here = trainAndHash();
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(java, "-XX:UseAVX=2", otherTiles(), "--add-modules", "jdk.incubator.vector",
                "-cp", System.getProperty("java.class.path"), TrainingDeterminismTest.class.getName(), "2")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), "child JVM failed:\n" + out);
        String child = out.lines().filter(l -> l.startsWith("HASH ")).map(l -> l.substring(5)).findFirst()
                .orElseThrow(() -> new AssertionError("child printed no hash:\n" + out));
        assertNotEquals("", child);
        assertEquals(here, child, "weights differ between the default vector width and AVX2");
        String childGpt = out.lines().filter(l -> l.startsWith("GPT ")).map(l -> l.substring(4)).findFirst()
                .orElseThrow(() -> new AssertionError("child printed no transformer hash:\n" + out));
        assertEquals(gptHash(), childGpt, "transformer weights differ between the default vector width and AVX2");
        String childVq = out.lines().filter(l -> l.startsWith("VQ ")).map(l -> l.substring(3)).findFirst()
                .orElseThrow(() -> new AssertionError("child printed no tokenizer hash:\n" + out));
        assertEquals(vqHash(), childVq, "tokenizer weights differ between the default vector width and AVX2");
        String childDit = out.lines().filter(l -> l.startsWith("DIT ")).map(l -> l.substring(4)).findFirst()
                .orElseThrow(() -> new AssertionError("child printed no DiT hash:\n" + out));
        assertEquals(ditHash(), childDit, "DiT weights, router logits and samples differ between the default vector width and AVX2");
    }

    /**
     * The child's tile shapes, the other ones than here: with AVX2 vectors they default to the 16-register tiles, so on
     * a parent that already has them the child takes the 32-register ones.
     */
    static String otherTiles() {
        return "-Dtessella.cpu.registers=" + (org.tessella.cpu.CpuBackend.sixteenRegisterTiles() ? "32" : "16");
    }
}
