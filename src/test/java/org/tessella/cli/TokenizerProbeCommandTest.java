package org.tessella.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessella.ar.TokenFile;
import org.tessella.data.Dataset;
import org.tessella.data.SyntheticImages;
import org.tessella.eval.TokenProbe;
import org.tessella.io.Json;
import org.tessella.nn.Init;
import org.tessella.tokenizer.TokenizerTraining;
import org.tessella.tokenizer.VqConfig;
import org.tessella.tokenizer.VqTokenizer;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What train-tokenizer does after training (token file, probe keys in metrics.json), and tessella probe. */
class TokenizerProbeCommandTest {
    @Test
    void tokensAndProbeWriteTheTokenFileAndTheProbeKeys(@TempDir Path tmp) throws Exception {
        VqTokenizer model = new VqTokenizer(new VqConfig("small", 16, 16, 32, 8, 8, 0.25f), new Init(3));
        Dataset train = SyntheticImages.shapes(48, 1), test = SyntheticImages.shapes(16, 2);
        TokenProbe.Options o = TokenProbe.Options.defaults().withSteps(3).withBatch(8);
        Map<String, Object> m = TrainTokenizerCommand.tokensAndProbe(model, train, test, tmp, o);
        TokenFile tf = TokenFile.read(tmp.resolve(TrainTokenizerCommand.TOKENS));
        assertEquals(32, tf.vocab());
        assertEquals(16, tf.length());
        assertEquals(48, tf.train().size());
        assertArrayEquals(TokenizerTraining.encodeTokens(model, test), tf.test().tokens());
        for (String k : new String[]{"probe_bits_per_token", "probe_train_bits_per_token", "probe_steps", "probe_model", "probe_seconds"})
            assertTrue(m.containsKey(k), "metrics lack " + k);
        assertTrue(Files.exists(tmp.resolve("probe.log")));

        Map<String, Object> none = TrainTokenizerCommand.tokensAndProbe(model, train, test, tmp, null);
        assertFalse(none.containsKey("probe_bits_per_token"), "--probe-steps 0 leaves the key out");

        // tessella probe on the same file gives the same numbers
        Path json = tmp.resolve("p.json");
        PrintStream old = System.out;
        System.setOut(new PrintStream(new ByteArrayOutputStream()));
        try {
            assertEquals(0, Main.run(new String[]{"probe", "--tokens", tmp.resolve(TrainTokenizerCommand.TOKENS).toString(), "--steps", "3",
                    "--batch", "8", "--json", json.toString()}));
            assertEquals(2, Main.run(new String[]{"probe", "--tokens", json.toString(), "--steps", "-1"}));
            assertEquals(2, Main.run(new String[]{"train-tokenizer", "--out", tmp.resolve("x").toString(), "--probe-model", "gpt-xl"}));
        } finally {
            System.setOut(old);
        }
        Json.Obj p = Json.parseObject(Files.readString(json), "probe");
        assertEquals((Double) m.get("probe_bits_per_token"), p.number("probe_bits_per_token"), 0.0);
    }
}
