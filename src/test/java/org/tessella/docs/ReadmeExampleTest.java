package org.tessella.docs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessella.autograd.Tape;
import org.tessella.data.SyntheticImages;
import org.tessella.nn.Init;
import org.tessella.tensor.Tensor;
import org.tessella.tokenizer.VqConfig;
import org.tessella.tokenizer.VqTokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessella.autograd.Functional.crossEntropy;
import static org.tessella.autograd.Ops.*;

/** The README's Java examples, verbatim (the tokenizer's with a temporary directory), plus checks that the README still contains them. */
class ReadmeExampleTest {
    @Test
    void readmeSnippetRunsAndProducesGradients() throws Exception {
        Tensor x  = Tensor.of(new float[]{0.5f, -1f, 2f, 0f, 1f, -0.5f}, 2, 3);  // batch of 2, 3 features
        Tensor w1 = randn(42, 0, 3, 16).requiresGrad(true);                      // seed 42, counters 0..47
        Tensor w2 = randn(42, 48, 16, 4).requiresGrad(true);                     // the next counters
        Tensor y  = Tensor.ofInts(new int[]{1, 3}, 2);                           // class labels
        Tensor loss = crossEntropy(matmul(relu(matmul(x, w1)), w2), y);
        Tape.backward(loss);                                                     // w1.grad(), w2.grad() hold dL/dw

        assertNotNull(w1.grad());
        assertArrayEquals(new int[]{3, 16}, w1.grad().shape());
        assertTrue(Float.isFinite(loss.item()) && loss.item() > 0);
        String readme = Files.readString(Path.of("README.md"));
        assertTrue(readme.contains("Tensor loss = crossEntropy(matmul(relu(matmul(x, w1)), w2), y);"), "README lost the example");
        assertTrue(readme.contains("Tape.backward(loss);"), "README lost the example");
    }

    @Test
    void readmeTokenizerSnippetEncodesAndDecodes(@TempDir Path tmp) throws Exception {
        new VqTokenizer(new VqConfig("small", 16, 64, 32, 8, 8, 0.25f), new Init(3)).save(tmp, 0);
        String dir = tmp.toString();
        float[] image = SyntheticImages.shapes(1, 28, 28, 6, 1).images();   // a 28x28 grey image in [-1, 1]

        VqTokenizer tok = VqTokenizer.load(Path.of(dir));                    // org.tessella.tokenizer
        int[] tokens = tok.encode(image);      // 28x28 (padded like Fashion-MNIST) or 32x32 grey values in [-1, 1]
        float[] decoded = tok.decode(tokens);  // a 32x32 image, values in [-1, 1]

        assertEquals(64, tokens.length);
        assertEquals(32 * 32, decoded.length);
        for (float v : decoded) assertTrue(v >= -1f && v <= 1f, "decoded value " + v);
        float[] padded = new float[32 * 32];
        Arrays.fill(padded, -1f);
        for (int r = 0; r < 28; r++) System.arraycopy(image, r * 28, padded, (r + 2) * 32 + 2, 28);
        assertArrayEquals(tokens, tok.encode(padded), "28x28 is padded by 2 on every side, as FashionMnist does");
        assertArrayEquals(tok.encodeIndices(Tensor.of(padded, 1, 1, 32, 32)).toIntArray(), tokens);
        String readme = Files.readString(Path.of("README.md"));
        for (String line : new String[]{"VqTokenizer tok = VqTokenizer.load(Path.of(", "int[] tokens = tok.encode(image);",
                "float[] decoded = tok.decode(tokens);"})
            assertTrue(readme.contains(line), "README lost the tokenizer example: " + line);
    }
}
