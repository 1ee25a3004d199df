package org.tessella.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** {@code tessella bench} at a tiny time budget: every kernel row is printed with a positive, finite rate. */
class BenchCommandTest {
    @Test
    void printsPeakGemmConvolutionAttentionAndMemoryRows() {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int rc;
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            rc = Main.run(new String[]{"bench", "--sizes", "96,64x32x48", "--seconds", "0.02"});
        } finally {
            System.setOut(old);
        }
        assertEquals(0, rc);
        String out = buf.toString(StandardCharsets.UTF_8);
        // rows by their first words (conv2d: three shapes by three passes; qkvAttention: forward and backward)
        String[] rows = {"gemm", "conv2d", "conv2d input grad", "conv2d weight grad", "qkvAttention",
                "qkvAttention backward", "stream", "groupNormSilu", "swiglu", "rmsNorm"};
        int[] want = {2, 9, 3, 3, 2, 1, 1, 1, 1, 1};
        for (int i = 0; i < rows.length; i++) {
            Matcher m = Pattern.compile("(?m)^" + Pattern.quote(rows[i]) + ".*?([0-9.]+) (GFLOP|GB)/s").matcher(out);
            int found = 0;
            while (m.find()) {
                double rate = Double.parseDouble(m.group(1));
                assertTrue(Double.isFinite(rate) && rate > 0, rows[i] + ": " + m.group());
                found++;
            }
            assertEquals(want[i], found, "rows starting '" + rows[i] + "' in:\n" + out);
        }
    }
}
