package org.tessella.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SvgHeatMapTest {
    @Test
    void oneCellPerEntryColouredByTheScaleWithLabelsEscaped() {
        double[][] v = {{0, 0.5, 1}, {Double.NaN, 0.25, 2}};
        String svg = new SvgHeatMap("a < b", v).rows("step", "t=900", "t=500").columns("layer", "attn 0", "mlp 0", "attn 1").scale(0, 1).render();
        assertTrue(svg.startsWith("<svg") && svg.trim().endsWith("</svg>"));
        assertEquals(6, svg.split("stroke=\"white\"", -1).length - 1, "six cells");
        assertTrue(svg.contains("a &lt; b") && svg.contains("t=500") && svg.contains("mlp 0"));
        assertTrue(svg.contains("fill=\"#ffffff\" stroke"), "the low end is white");
        assertTrue(svg.contains("fill=\"#08306b\" stroke"), "the high end (and above it) is dark blue");
        assertTrue(svg.contains("fill=\"#bbbbbb\" stroke"), "NaN is grey");
        assertThrows(IllegalArgumentException.class, () -> new SvgHeatMap("ragged", new double[][]{{1, 2}, {3}}));
    }
}
