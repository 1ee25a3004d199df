package org.tessella.tokenizer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessella.ar.ArTraining;
import org.tessella.ar.Gpt;
import org.tessella.ar.GptConfig;
import org.tessella.cli.Main;
import org.tessella.data.FashionMnist;
import org.tessella.data.SyntheticImages;
import org.tessella.eval.FashionClassifier;
import org.tessella.io.Checkpoint;
import org.tessella.io.Json;
import org.tessella.io.Png;
import org.tessella.nn.Init;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** reconstruct and sample --tokenizer/--classifier, on tiny models: the PNG grids have the promised layout. */
class TokenizerCommandsTest {
    /** Grid size of {@code rows x cols} 32x32 cells with 2-pixel gaps (Png.writeGrid's layout). */
    static int side(int cells) { return cells * 32 + (cells + 1) * 2; }

    @Test
    void reconstructWritesOriginalsAboveReconstructions(@TempDir Path tmp) throws Exception {
        assumeTrue(Files.exists(Path.of(FashionMnist.SYSTEM_DIR)), "Fashion-MNIST is not installed: reconstruct is not run");
        Path tok = Files.createDirectories(tmp.resolve("tok"));
        VqTokenizer model = new VqTokenizer(TokenizerTrainingTest.SMALL, new Init(2));
        TokenizerTraining.Result r = TokenizerTraining.train(model, SyntheticImages.shapes(32, 3), SyntheticImages.shapes(16, 4),
                TokenizerTrainingTest.config(1, 0f), tok, false, null); // 2 steps
        model.save(tok, r.steps());
        Path png = tmp.resolve("sub/r.png");
        assertEquals(0, quiet("reconstruct", "--tokenizer", tok.toString(), "--index", "9995", "--count", "5", "--out", png.toString()));
        Png.Image img = Png.read(png);
        assertEquals(side(5), img.width());
        assertEquals(side(2), img.height());
        assertEquals(0, quiet("reconstruct", "--tokenizer", tok.toString(), "--count", "10", "--out", png.toString()));
        img = Png.read(png);
        assertEquals(side(8), img.width());
        assertEquals(side(4), img.height());
        assertEquals(2, quiet("reconstruct", "--tokenizer", tok.toString(), "--index", "9996", "--count", "5", "--out", png.toString()));
        assertEquals(2, quiet("reconstruct", "--tokenizer", tok.toString(), "--split", "val", "--out", png.toString()));
    }

    @Test
    void sampleDecodesToAGridAndScoresTheClasses(@TempDir Path tmp) throws Exception {
        Path ar = stage2(tmp.resolve("ar")), tok = Files.createDirectories(tmp.resolve("tok")), clf = Files.createDirectories(tmp.resolve("clf"));
        new VqTokenizer(new VqConfig("t16", 16, 16, 16, 8, 8, 0.25f), new Init(1)).save(tok, 0);
        Checkpoint.save(clf.resolve(FashionClassifier.CHECKPOINT), new FashionClassifier(new Init(1)).stateDict(),
                Checkpoint.meta(Map.of("classifier", Map.of()), 0, null));
        Path out = tmp.resolve("s.safetensors");
        assertEquals(0, quiet("sample", "--ar", ar.toString(), "--out", out.toString(), "--classes", "0,3,7", "--per-class", "4",
                "--cfg", "1.5", "--tokenizer", tok.toString(), "--classifier", clf.toString()));
        Png.Image img = Png.read(tmp.resolve("s.png"));
        assertEquals(side(4), img.width());
        assertEquals(side(3), img.height());
        Json.Obj m = Json.parseObject(Files.readString(tmp.resolve("s.classes.json")), "accuracy");
        double acc = m.number("class_accuracy");
        assertTrue(acc >= 0 && acc <= 1, "accuracy " + acc);
        assertEquals(12, m.integer("count"));
        Json.Obj per = m.object("per_class_accuracy");
        assertEquals(java.util.List.of("0", "3", "7"), java.util.List.copyOf(per.keys()));
        assertEquals(acc, (per.number("0") + per.number("3") + per.number("7")) / 3, 1e-12);

        Path png = tmp.resolve("grid.png");
        assertEquals(0, quiet("sample", "--ar", ar.toString(), "--out", out.toString(), "--per-class", "2", "--tokenizer", tok.toString(),
                "--png", png.toString()));
        img = Png.read(png);
        assertEquals(side(2), img.width());
        assertEquals(side(10), img.height());
    }

    /** An untrained stage-2 run directory (vocabulary 16, 16 tokens on a 4x4 grid, 10 classes) as train-ar leaves it. */
    static Path stage2(Path dir) throws Exception {
        GptConfig gc = new GptConfig("g", 16, 16, 4, 4, 10, 32, 1, 2, 64, false, 10000f, 1e-5f, 0.1f);
        Gpt g = new Gpt(gc, 1);
        org.tessella.backend.Backends.cpu().randomNormal(g.output.weight, 4, 0, 0f, 0.5f);
        Checkpoint.save(Files.createDirectories(dir).resolve(ArTraining.CHECKPOINT), g.stateDict(),
                Checkpoint.meta(Map.of("model", gc.toJson()), 0, null));
        return dir;
    }

    static int quiet(String... args) {
        PrintStream out = System.out;
        System.setOut(new PrintStream(new ByteArrayOutputStream()));
        try {
            return Main.run(args);
        } finally {
            System.setOut(out);
        }
    }
}
