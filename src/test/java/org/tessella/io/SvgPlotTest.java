package org.tessella.io;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SvgPlotTest {
    @Test
    void linearTicksAreNiceAndCoverTheRange() {
        List<Double> t = SvgPlot.ticks(0.13, 0.87, false);
        assertTrue(t.get(0) <= 0.13 && t.get(t.size() - 1) >= 0.87, t.toString());
        assertTrue(t.size() >= 4 && t.size() <= 11, t.toString());
        double step = t.get(1) - t.get(0);
        for (int i = 1; i < t.size(); i++) assertEquals(step, t.get(i) - t.get(i - 1), 1e-12);
        assertEquals(0.1, step, 1e-12);
    }

    @Test
    void logTicksAreDecades() {
        assertEquals(List.of(1e9, 1e10, 1e11, 1e12), SvgPlot.ticks(3e8, 4e12, true));
        List<Double> few = SvgPlot.ticks(1.5, 40, true); // two decades: 1-2-5 steps
        assertEquals(List.of(2.0, 5.0, 10.0, 20.0), few);
    }

    @Test
    void labelsAreShort() {
        assertEquals("0.5", SvgPlot.label(0.5));
        assertEquals("2e9", SvgPlot.label(2e9));
        assertEquals("1e12", SvgPlot.label(1e12));
        assertEquals("1200", SvgPlot.label(1200));
    }

    @Test
    void oneMarkerPerUsablePointAndLinesBreakAtGaps() {
        String svg = new SvgPlot("a <b> & c").logX()
                .series("s1", new double[]{1, 10, 100}, new double[]{3, 2, 1})
                .series("s2", new double[]{1, -5, 100, 1000}, new double[]{1, 1, Double.NaN, 2}).render();
        assertTrue(svg.startsWith("<svg"));
        assertTrue(svg.contains("a &lt;b&gt; &amp; c"), "title escaped");
        assertEquals(3 + 2, count(svg, "<circle"), "x <= 0 on a log axis and NaN are left out");
        Matcher m = Pattern.compile("<path d=\"([^\"]*)\"").matcher(svg);
        assertTrue(m.find());
        assertEquals(2, count(m.group(1), "L"), "s1 is one line through three points");
        assertTrue(m.find());
        assertEquals(0, count(m.group(1), "L"), "s2's two usable points are separated by a gap");
        assertEquals(2, count(m.group(1), "M"));
    }

    @Test
    void pointsStayInsideTheFrame() {
        String svg = new SvgPlot("t").size(600, 400).series("s", new double[]{0, 1, 2}, new double[]{-7, 0, 13}).render();
        Matcher m = Pattern.compile("<circle cx=\"([0-9.]+)\" cy=\"([0-9.]+)\"").matcher(svg);
        int n = 0;
        while (m.find()) {
            double x = Double.parseDouble(m.group(1)), y = Double.parseDouble(m.group(2));
            assertTrue(x >= 64 && x <= 600 - 170 && y >= 34 && y <= 400 - 48, x + "," + y);
            n++;
        }
        assertEquals(3, n);
    }

    @Test
    void emptyPlotSaysSo() {
        assertTrue(new SvgPlot("empty").series("s", new double[0], new double[0]).render().contains("no data"));
        assertThrows(IllegalArgumentException.class, () -> new SvgPlot("x").series("s", new double[2], new double[3]));
    }

    @Test
    void htmlPageEmbedsPngAndEscapes(@TempDir Path dir) throws Exception {
        byte[] px = new byte[4 * 3];
        px[5] = (byte) 200;
        Path f = dir.resolve("r.html");
        new HtmlPage("Report <1>").paragraph("x < y").table(List.of("a", "b"), List.of(List.of(1.5, "q"), List.of(Double.NaN, 2)))
                .svg(new SvgPlot("p").series("s", new double[]{1}, new double[]{1}).render())
                .png("grid", 4, 3, 1, px, 4).write(f);
        String html = Files.readString(f);
        assertTrue(html.contains("<title>Report &lt;1&gt;</title>"));
        assertTrue(html.contains("<p>x &lt; y</p>"));
        assertTrue(html.contains("<td>n/a</td>"));
        Matcher m = Pattern.compile("data:image/png;base64,([A-Za-z0-9+/=]+)").matcher(html);
        assertTrue(m.find());
        Png.Image img = Png.decode(java.util.Base64.getDecoder().decode(m.group(1)));
        assertEquals(4, img.width());
        assertEquals(200, img.get(1, 1, 0));
    }

    private static int count(String s, String sub) {
        int n = 0;
        for (int i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + 1)) n++;
        return n;
    }
}
