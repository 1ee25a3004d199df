package org.tessella.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessella.ar.ArTraining;
import org.tessella.ar.Gpt;
import org.tessella.ar.GptConfig;
import org.tessella.ar.TokenFile;
import org.tessella.data.Dataset;
import org.tessella.eval.FashionClassifier;
import org.tessella.eval.TokenProbe;
import org.tessella.io.Checkpoint;
import org.tessella.io.Json;
import org.tessella.nn.Init;
import org.tessella.tokenizer.VqConfig;
import org.tessella.tokenizer.VqTokenizer;

/** {@code tessella eval} on small untrained or briefly trained runs and 40 test images: every metric present and in range. */
class EvalCommandTest {
    @Test
    void writesEveryMetric(@TempDir Path tmp) throws Exception {
        // the real test set's first 40 images (CI installs dataset-fashion-mnist)
        Path data = Path.of(org.tessella.data.FashionMnist.SYSTEM_DIR);
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(data), "Fashion-MNIST is not installed at " + data);
        VqTokenizer tok = new VqTokenizer(new VqConfig("small", 16, 64, 32, 8, 8, 0.25f), new Init(3));
        Path tokDir = Files.createDirectories(tmp.resolve("tok"));
        tok.save(tokDir, 0);
        Dataset shapes = org.tessella.data.FashionMnist.load(java.util.Optional.of(data), org.tessella.data.FashionMnist.Split.TEST, 40);
        TokenFile tokens = TokenProbe.tokenFile(tok, shapes, shapes, Map.of());
        Path arDir = Files.createDirectories(tmp.resolve("ar"));
        ArTraining.train(new Gpt(GptConfig.preset("gpt-xs", 32, 64, 8, 8, 10), 1), tokens,
                new ArTraining.Config(1, 8, 1e-3f, 1e-4f, 0f, 1.0, 1, 1, 0), arDir, false, null, null);
        Path clsDir = Files.createDirectories(tmp.resolve("cls"));
        FashionClassifier cls = new FashionClassifier(new Init(4));
        Checkpoint.save(clsDir.resolve(FashionClassifier.CHECKPOINT), cls.stateDict(),
                Checkpoint.meta(Map.of("model", "fashion-classifier"), 0, Map.of()));

        Path out = tmp.resolve("out");
        assertEquals(0, Main.run(new String[]{"eval", "--tokenizer", tokDir.toString(), "--ar", arDir.toString(), "--classifier",
                clsDir.toString(), "--out", out.toString(), "--data", data.toString(), "--limit", "40", "--samples", "20", "--threads", "1"}));
        Json.Obj m = Json.parseObject(Files.readString(out.resolve("metrics.json")), "metrics.json");
        assertEquals(40, m.integer("test_images"));
        assertTrue(Double.isFinite(m.number("test_psnr_db")) && m.number("test_mse") > 0);
        assertTrue(m.number("test_ssim") <= 1 && m.number("test_ssim") > -1);
        double usage = m.number("codebook_usage"), h = m.number("code_entropy_bits"), hPos = m.number("code_entropy_given_position_bits");
        assertTrue(usage > 0 && usage <= 1, "usage " + usage);
        assertTrue(hPos >= 0 && hPos <= h + 1e-9 && h <= 5 + 1e-9, "entropy " + h + ", given position " + hPos);
        assertEquals(Math.pow(2, h), m.number("perplexity"), 1e-9);
        double bits = m.number("val_bits_per_token");
        assertTrue(bits > 0 && bits < 8, "val bits " + bits); // a barely trained model over 32 codes: near log2(32) = 5
        assertEquals(bits * 64, m.number("val_bits_per_image"), 1e-9);
        assertEquals(20, m.integer("samples"));
        assertTrue(m.number("fd") >= 0, "fd " + m.number("fd"));
        assertTrue(m.number("class_accuracy") >= 0 && m.number("class_accuracy") <= 1);
        assertTrue(m.longValue("ar_train_flops") > 0);
        // bad usage: samples scored without a stage-2 model
        assertEquals(2, Main.run(new String[]{"eval", "--tokenizer", tokDir.toString(), "--classifier", clsDir.toString(), "--out", out.toString()}));
    }
}
