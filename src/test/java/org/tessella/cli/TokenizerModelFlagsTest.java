package org.tessella.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessella.tokenizer.VqConfig;

/** train-tokenizer's model shape from a preset, flags on top of it, or a JSON config. */
class TokenizerModelFlagsTest {
    private static final Set<String> VALUED = Set.of("model", "config", "width", "tokens", "codebook", "code-dim");

    private static VqConfig parse(String... argv) throws Exception {
        return TrainTokenizerCommand.modelConfig(Args.parse("train-tokenizer", argv, VALUED, Set.of()));
    }

    @Test
    void flagsOverrideThePreset() throws Exception {
        assertEquals(VqConfig.preset("vq-s"), parse());
        VqConfig c = parse("--model", "vq-s", "--tokens", "16", "--codebook", "256", "--code-dim", "4", "--width", "32");
        assertEquals(16, c.tokensPerImage());
        assertEquals(256, c.codebookSize());
        assertEquals(4, c.codeDim());
        assertEquals(32, c.channels());
        assertEquals(3, c.downsamples());
    }

    @Test
    void jsonConfigAndItsErrors(@TempDir Path tmp) throws Exception {
        Path f = tmp.resolve("vq.json");
        Files.writeString(f, "{\"name\": \"mine\", \"channels\": 96, \"tokens_per_image\": 64, \"codebook_size\": 512, \"code_dim\": 16, \"groups\": 32}");
        VqConfig c = parse("--config", f.toString(), "--codebook", "128");
        assertEquals(new VqConfig("mine", 96, 64, 128, 16, 32, 0.25f), c);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> parse("--tokens", "10"));
        assertTrue(e.getMessage().contains("tokens per image"), e.getMessage());
        UsageException u = assertThrows(UsageException.class, () -> parse("--config", tmp.resolve("missing.json").toString()));
        assertTrue(u.getMessage().contains("not a file"), u.getMessage());
    }
}
