package org.tessella.io;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Line plots as self-contained SVG text, for the HTML reports: several named series of (x, y) points, linear or
 * logarithmic axes with "nice" ticks (1, 2, 5 times a power of ten; decades on a log axis), a legend, and markers at
 * every point so that short curves stay readable. Non-finite points (and non-positive ones on a log axis) are left out
 * and break the line, so a missing measurement never draws a false segment.
 *
 * <pre>{@code
 * String svg = new SvgPlot("loss against compute").xLabel("FLOPs").yLabel("bits/token").logX()
 *         .series("baseline", flops, bits).series("crt", flops2, bits2).render();
 * }</pre>
 */
public final class SvgPlot {
    /** One curve. */
    public record Series(String name, double[] x, double[] y) {
        public Series {
            if (x.length != y.length)
                throw new IllegalArgumentException("series '" + name + "': " + x.length + " x values but " + y.length + " y values");
        }
    }

    private static final String[] COLORS = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
            "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
    private static final int LEFT = 64, RIGHT = 170, TOP = 34, BOTTOM = 48;

    private final String title;
    private String xLabel = "", yLabel = "";
    private boolean logX, logY;
    private int width = 620, height = 380;
    private final List<Series> series = new ArrayList<>();

    public SvgPlot(String title) { this.title = title; }

    public SvgPlot xLabel(String s) { xLabel = s; return this; }
    public SvgPlot yLabel(String s) { yLabel = s; return this; }
    public SvgPlot logX() { logX = true; return this; }
    public SvgPlot logY() { logY = true; return this; }
    public SvgPlot size(int w, int h) { width = w; height = h; return this; }
    public SvgPlot series(String name, double[] x, double[] y) { series.add(new Series(name, x, y)); return this; }

    /** The plot as an {@code <svg>} element. */
    public String render() {
        double[] xr = range(true), yr = range(false);
        List<Double> xt = ticks(xr[0], xr[1], logX), yt = ticks(yr[0], yr[1], logY);
        // the axes span the ticks, so the outermost tick labels sit on the frame
        if (!xt.isEmpty()) { xr[0] = Math.min(xr[0], xt.get(0)); xr[1] = Math.max(xr[1], xt.get(xt.size() - 1)); }
        if (!yt.isEmpty()) { yr[0] = Math.min(yr[0], yt.get(0)); yr[1] = Math.max(yr[1], yt.get(yt.size() - 1)); }
        int pw = width - LEFT - RIGHT, ph = height - TOP - BOTTOM;
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                + "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">%n", width, height, width, height));
        s.append(String.format(Locale.ROOT, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>%n", width, height));
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"18\" font-size=\"13\" font-weight=\"bold\">%s</text>%n", LEFT, escape(title)));
        s.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#444\"/>%n", LEFT, TOP, pw, ph));
        for (double t : xt) {
            double px = LEFT + pw * frac(t, xr, logX);
            s.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>"
                    + "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>%n", px, TOP, px, TOP + ph, px, TOP + ph + 14, label(t)));
        }
        for (double t : yt) {
            double py = TOP + ph * (1 - frac(t, yr, logY));
            s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                    + "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>%n", LEFT, py, LEFT + pw, py, LEFT - 4, py + 4, label(t)));
        }
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>%n", LEFT + pw / 2, height - 10, escape(xLabel)));
        s.append(String.format(Locale.ROOT, "<text x=\"14\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 14 %d)\">%s</text>%n",
                TOP + ph / 2, TOP + ph / 2, escape(yLabel)));
        for (int i = 0; i < series.size(); i++) {
            Series ser = series.get(i);
            String color = COLORS[i % COLORS.length];
            StringBuilder path = new StringBuilder();
            boolean pen = false;
            for (int j = 0; j < ser.x().length; j++) {
                if (!usable(ser.x()[j], logX) || !usable(ser.y()[j], logY)) { pen = false; continue; }
                double px = LEFT + pw * frac(ser.x()[j], xr, logX), py = TOP + ph * (1 - frac(ser.y()[j], yr, logY));
                path.append(String.format(Locale.ROOT, "%s%.1f %.1f ", pen ? "L" : "M", px, py));
                s.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>%n", px, py, color));
                pen = true;
            }
            if (!path.isEmpty())
                s.append(String.format(Locale.ROOT, "<path d=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\"/>%n", path.toString().trim(), color));
            int ly = TOP + 8 + 16 * i;
            s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>"
                    + "<text x=\"%d\" y=\"%d\">%s</text>%n", LEFT + pw + 10, ly, LEFT + pw + 28, ly, color, LEFT + pw + 32, ly + 4, escape(ser.name())));
        }
        if (series.stream().noneMatch(this::hasPoint))
            s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">no data</text>%n", LEFT + pw / 2, TOP + ph / 2));
        return s.append("</svg>\n").toString();
    }

    private boolean hasPoint(Series ser) {
        for (int j = 0; j < ser.x().length; j++) if (usable(ser.x()[j], logX) && usable(ser.y()[j], logY)) return true;
        return false;
    }

    private static boolean usable(double v, boolean log) { return Double.isFinite(v) && (!log || v > 0); }

    /** [min, max] of the usable values on one axis, widened when degenerate; [1, 10] or [0, 1] when there are none. */
    private double[] range(boolean xAxis) {
        boolean log = xAxis ? logX : logY;
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (Series ser : series) {
            for (int j = 0; j < ser.x().length; j++) {
                if (!usable(ser.x()[j], logX) || !usable(ser.y()[j], logY)) continue;
                double v = xAxis ? ser.x()[j] : ser.y()[j];
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
        }
        if (lo > hi) return log ? new double[]{1, 10} : new double[]{0, 1};
        if (lo == hi) return log ? new double[]{lo / 2, hi * 2} : new double[]{lo - Math.max(1e-12, Math.abs(lo) * 0.1), hi + Math.max(1e-12, Math.abs(hi) * 0.1)};
        if (!log) { double pad = (hi - lo) * 0.05; return new double[]{lo - pad, hi + pad}; }
        return new double[]{lo, hi};
    }

    private static double frac(double v, double[] r, boolean log) {
        return log ? (Math.log(v) - Math.log(r[0])) / (Math.log(r[1]) - Math.log(r[0])) : (v - r[0]) / (r[1] - r[0]);
    }

    /** Tick values covering [lo, hi]: 1-2-5 steps giving 4 to 10 ticks, or decades (with 2 and 5 when few). */
    static List<Double> ticks(double lo, double hi, boolean log) {
        List<Double> t = new ArrayList<>();
        if (log) {
            int d0 = (int) Math.floor(Math.log10(lo) + 1e-9), d1 = (int) Math.ceil(Math.log10(hi) - 1e-9);
            double[] mult = d1 - d0 <= 2 ? new double[]{1, 2, 5} : new double[]{1};
            for (int d = d0; d <= d1; d++)
                for (double m : mult) {
                    double v = m * Math.pow(10, d);
                    if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) t.add(v);
                }
            if (t.size() < 2) { t.clear(); t.add(Math.pow(10, d0)); t.add(Math.pow(10, d1 == d0 ? d0 + 1 : d1)); }
            return t;
        }
        double span = hi - lo, raw = span / 6, mag = Math.pow(10, Math.floor(Math.log10(raw))), step;
        double n = raw / mag;
        step = (n < 1.5 ? 1 : n < 3.5 ? 2 : n < 7.5 ? 5 : 10) * mag;
        for (double v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step) t.add(Math.abs(v) < step * 1e-9 ? 0 : v);
        if (t.get(t.size() - 1) < hi - step * 1e-9) t.add(t.get(t.size() - 1) + step);
        return t;
    }

    /** A short tick label: plain for moderate magnitudes, 2e9-style beyond. */
    static String label(double v) {
        double a = Math.abs(v);
        if (v == 0) return "0";
        if (a >= 1e5 || a < 1e-3) {
            String m = String.format(Locale.ROOT, "%.3g", v / Math.pow(10, Math.floor(Math.log10(a))));
            m = m.contains(".") ? m.replaceAll("0+$", "").replaceAll("\\.$", "") : m;
            return m + "e" + (int) Math.floor(Math.log10(a));
        }
        String s = String.format(Locale.ROOT, "%.4g", v);
        return s.contains(".") && !s.contains("e") ? s.replaceAll("0+$", "").replaceAll("\\.$", "") : s;
    }

    /** XML text escaping. */
    public static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
