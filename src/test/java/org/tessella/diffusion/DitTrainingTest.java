package org.tessella.diffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessella.data.Dataset;
import org.tessella.data.SyntheticImages;
import org.tessella.io.Checkpoint;
import org.tessella.io.Csv;
import org.tessella.nn.Init;
import org.tessella.tensor.Tensor;

/** DiT training: it learns, it resumes to the same bits, the EMA is what loads, bad images are named. */
class DitTrainingTest {
    static final DitConfig SMALL = new DitConfig("small", 32, 1, 8, 32, 2, 2, 2, 10);
    static final Dataset TRAIN = SyntheticImages.shapes(96, 5);

    static DitTraining.Config config(int epochs) {
        return new DitTraining.Config(epochs, 16, 2e-3f, 0f, 1.0, 2, 1, 0.1f, 0.9f, 0);
    }

    @Test
    void lossFallsAndTheEmaIsWhatLoads(@TempDir Path tmp) throws Exception {
        Dit m = new Dit(SMALL, new Init(1));
        DitTraining.Result r = DitTraining.train(m, TRAIN, config(4), tmp, false, null);
        assertTrue(r.finished());
        assertEquals(24, r.steps());
        List<List<String>> csv = Csv.read(tmp.resolve("loss.csv"));
        double first = 0, last = 0;
        for (int i = 1; i <= 4; i++) first += Double.parseDouble(csv.get(i).get(2)) / 4;
        for (int i = csv.size() - 4; i < csv.size(); i++) last += Double.parseDouble(csv.get(i).get(2)) / 4;
        assertTrue(last < 0.8 * first, "noise-prediction loss " + first + " -> " + last);
        assertTrue(r.trainFlops() > 0 && r.imagesPerSecond() > 0);
        Dit ema = DitTraining.load(tmp, true), raw = DitTraining.load(tmp, false);
        assertArrayEquals(m.blocks[0].qkv.weight.toFloatArray(), raw.blocks[0].qkv.weight.toFloatArray(), 0f);
        assertFalse(java.util.Arrays.equals(m.blocks[0].qkv.weight.toFloatArray(), ema.blocks[0].qkv.weight.toFloatArray()),
                "the EMA lags the weights");
        // the loaded EMA is bias-corrected: the stored one minus the initial weights' share d^t, renormalised
        float[] stored = Checkpoint.load(tmp.resolve(DitTraining.CHECKPOINT)).tensors().get("ema.blocks.0.attn.qkv.weight").toFloatArray();
        float[] w0 = new Dit(SMALL, new Init(1)).blocks[0].qkv.weight.toFloatArray(), got = ema.blocks[0].qkv.weight.toFloatArray();
        double bias = Math.pow(0.9, 24);
        for (int i = 0; i < got.length; i += 97)
            assertEquals((stored[i] - bias * w0[i]) / (1 - bias), got[i], 1e-6, "element " + i);
        // a new run that does not start from its seed's weights could not be corrected
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DitTraining.train(new Dit(SMALL, new Init(2)), TRAIN, config(1), tmp.resolve("other"), false, null));
        assertTrue(e.getMessage().contains("new Init(1)"), e.getMessage());
    }

    @Test
    void resumedRunEndsWithTheSameBits(@TempDir Path tmp) throws Exception {
        Path full = Files.createDirectories(tmp.resolve("full")), part = Files.createDirectories(tmp.resolve("part"));
        DitTraining.train(new Dit(SMALL, new Init(1)), TRAIN, config(2), full, false, null);
        DitTraining.Result p = DitTraining.train(new Dit(SMALL, new Init(1)), TRAIN, config(2).withStopAfter(7), part, false, null);
        assertFalse(p.finished());
        DitTraining.train(new Dit(SMALL, new Init(1)), TRAIN, config(2), part, true, null);
        Map<String, Tensor> x = Checkpoint.load(full.resolve(DitTraining.CHECKPOINT)).tensors();
        Map<String, Tensor> y = Checkpoint.load(part.resolve(DitTraining.CHECKPOINT)).tensors();
        assertEquals(x.keySet(), y.keySet());
        assertTrue(x.containsKey("ema.blocks.0.attn.qkv.weight") && x.containsKey("optim.exp_avg.blocks.0.attn.qkv.weight"));
        List<String> differ = new ArrayList<>();
        for (String k : x.keySet()) if (!java.util.Arrays.equals(x.get(k).toFloatArray(), y.get(k).toFloatArray())) differ.add(k);
        assertEquals(List.of(), differ, "tensors that differ after resume");
        assertEquals(Files.readString(full.resolve("loss.csv")), Files.readString(part.resolve("loss.csv")));
    }

    @Test
    void wrongImagesAreNamed(@TempDir Path tmp) {
        Dataset small = SyntheticImages.shapes(16, 16, 16, 3, 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DitTraining.train(new Dit(SMALL, new Init(1)), small, config(1), tmp, false, null));
        assertTrue(e.getMessage().contains("1x32x32") && e.getMessage().contains("1x16x16"), e.getMessage());
    }
}
