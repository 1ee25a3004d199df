package org.tessella.ar;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessella.cli.Main;
import org.tessella.io.Safetensors;
import org.tessella.io.TessellaIOException;
import org.tessella.tensor.Tensor;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class TokenFileTest {
    @TempDir Path dir;

    private static TokenFile small() {
        TokenFile.Split train = new TokenFile.Split(new int[]{0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3}, new int[]{0, 1, 2});
        TokenFile.Split test = new TokenFile.Split(new int[]{7, 7, 7, 7}, new int[]{1});
        return new TokenFile(8, 4, 2, 2, 3, train, test, Map.of("source", "unit test", "true_bits_per_token", "1.5"));
    }

    @Test
    void roundTrip() {
        TokenFile t = small();
        Path f = dir.resolve("tok.safetensors");
        t.write(f);
        TokenFile r = TokenFile.read(f);
        assertEquals(t.vocab(), r.vocab());
        assertEquals(t.length(), r.length());
        assertEquals(t.gridH(), r.gridH());
        assertEquals(t.gridW(), r.gridW());
        assertEquals(t.classes(), r.classes());
        assertArrayEquals(t.train().tokens(), r.train().tokens());
        assertArrayEquals(t.train().labels(), r.train().labels());
        assertArrayEquals(t.test().tokens(), r.test().tokens());
        assertArrayEquals(t.test().labels(), r.test().labels());
        assertEquals(t.extra(), r.extra());
    }

    private Map<String, Tensor> tensors(int badToken) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("train.tokens", Tensor.ofInts(new int[]{0, 1, 2, badToken}, 1, 4));
        m.put("train.labels", Tensor.ofInts(new int[]{0}, 1));
        m.put("test.tokens", Tensor.ofInts(new int[]{3, 2, 1, 0}, 1, 4));
        m.put("test.labels", Tensor.ofInts(new int[]{1}, 1));
        return m;
    }

    private static Map<String, String> meta(String format) {
        return Map.of("format", format, "vocab", "8", "length", "4", "grid_h", "2", "grid_w", "2", "classes", "2");
    }

    private static void assertNamesFile(Path f, String what, Runnable r) {
        TessellaIOException e = assertThrows(TessellaIOException.class, r::run);
        assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
        assertTrue(e.getMessage().contains(what), e.getMessage());
    }

    @Test
    void badFilesNameTheFile() {
        Path ok = dir.resolve("ok.safetensors");
        Safetensors.write(ok, tensors(3), meta(TokenFile.FORMAT));
        assertEquals(8, TokenFile.read(ok).vocab());

        Path wrongFormat = dir.resolve("wrong.safetensors");
        Safetensors.write(wrongFormat, tensors(3), meta("tessella-checkpoint-1"));
        assertNamesFile(wrongFormat, "not a Tessella token file", () -> TokenFile.read(wrongFormat));

        Path missing = dir.resolve("missing.safetensors");
        Map<String, Tensor> t = tensors(3);
        t.remove("test.labels");
        Safetensors.write(missing, t, meta(TokenFile.FORMAT));
        assertNamesFile(missing, "test.labels", () -> TokenFile.read(missing));

        Path outside = dir.resolve("outside.safetensors");
        Safetensors.write(outside, tensors(8), meta(TokenFile.FORMAT));
        assertNamesFile(outside, "outside the vocabulary", () -> TokenFile.read(outside));

        Path noMeta = dir.resolve("nometa.safetensors");
        Map<String, String> m = new LinkedHashMap<>(meta(TokenFile.FORMAT));
        m.remove("vocab");
        Safetensors.write(noMeta, tensors(3), m);
        assertNamesFile(noMeta, "vocab", () -> TokenFile.read(noMeta));

        Path absent = dir.resolve("absent.safetensors");
        assertNamesFile(absent, "", () -> TokenFile.read(absent));
    }

    private static int quietRun(String... args) {
        PrintStream out = System.out, err = System.err;
        try {
            System.setOut(new PrintStream(new ByteArrayOutputStream()));
            System.setErr(new PrintStream(new ByteArrayOutputStream()));
            return Main.run(args);
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void synthTokensCommandWritesAReadableFile() {
        Path f = dir.resolve("synth.safetensors");
        assertEquals(0, quietRun("synth-tokens", "--out", f.toString(), "--vocab", "32", "--length", "16", "--order", "2",
                "--seed", "4", "--classes", "3", "--train", "200", "--test", "50"));
        TokenFile t = TokenFile.read(f);
        assertEquals(32, t.vocab());
        assertEquals(16, t.length());
        assertEquals(4, t.gridH());
        assertEquals(4, t.gridW());
        assertEquals(3, t.classes());
        assertEquals(200, t.train().size());
        assertEquals(50, t.test().size());
        MarkovSource src = new MarkovSource(32, 16, 2, 3, 4);
        assertEquals(src.trueBitsPerToken(), Double.parseDouble(t.extra().get("true_bits_per_token")), 0.0);
        assertTrue(t.extra().get("source").contains("order 2"), t.extra().get("source"));
        for (int i = 0; i < 50; i++) {
            int[] seq = Arrays.copyOfRange(t.test().tokens(), i * 16, i * 16 + 16);
            assertTrue(Double.isFinite(src.log2Likelihood(t.test().labels()[i], seq)), "test data comes from the source");
        }

        Path g = dir.resolve("sub/line.safetensors");
        assertEquals(0, quietRun("synth-tokens", "--out", g.toString(), "--vocab", "5", "--length", "10", "--order", "1",
                "--seed", "4", "--train", "20", "--test", "20", "--concentration", "2"));
        TokenFile line = TokenFile.read(g);
        assertEquals(1, line.gridH());
        assertEquals(10, line.gridW());
        assertEquals(10, line.classes());
        assertFalse(Arrays.equals(line.train().tokens(), line.test().tokens()), "train and test are different draws");
    }

    @Test
    void synthTokensBadUsage() {
        String out = dir.resolve("x.safetensors").toString();
        String[][] bad = {
                {"--out", out, "--vocab", "1", "--length", "4", "--order", "1", "--seed", "1"},
                {"--out", out, "--vocab", "8", "--length", "0", "--order", "1", "--seed", "1"},
                {"--out", out, "--vocab", "8", "--length", "4", "--order", "3", "--seed", "1"},
                {"--out", out, "--vocab", "8", "--length", "4", "--order", "1"},
                {"--vocab", "8", "--length", "4", "--order", "1", "--seed", "1"},
                {"--out", out, "--vocab", "8", "--length", "4", "--order", "1", "--seed", "1", "--classes", "0"},
                {"--out", out, "--vocab", "8", "--length", "4", "--order", "1", "--seed", "1", "--concentration", "-1"},
                {"--out", out, "--vocab", "8", "--length", "4", "--order", "1", "--seed", "1", "--concentration", "abc"},
                {"--out", out, "--vocab", "eight", "--length", "4", "--order", "1", "--seed", "1"},
                {"--out", out, "--vocab", "8", "--length", "4", "--order", "1", "--seed", "1", "--bogus", "1"},
                {"--out", dir.toString(), "--vocab", "8", "--length", "4", "--order", "1", "--seed", "1"},
        };
        for (String[] b : bad) {
            String[] args = new String[b.length + 1];
            args[0] = "synth-tokens";
            System.arraycopy(b, 0, args, 1, b.length);
            assertEquals(2, quietRun(args), String.join(" ", b));
        }
        assertFalse(Files.exists(Path.of(out)));
    }
}
