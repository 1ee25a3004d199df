package org.tessella.io;

import java.util.Locale;

/**
 * A matrix as a self-contained SVG heat map for the HTML reports: one cell per entry, coloured from white (the
 * scale's low end) to dark blue (its high end), each cell printing its value, row and column labels, and a colour bar.
 * The scale is given (e.g. [0, 1] for router weights) or spans the data; non-finite entries are drawn grey.
 *
 * <pre>{@code
 * String svg = new SvgHeatMap("router weights", weights).rows(stepLabels).columns(layerLabels).scale(0, 1).render();
 * }</pre>
 */
public final class SvgHeatMap {
    private static final int LEFT = 70, TOP = 58, RIGHT = 90, BOTTOM = 16, CELL_W = 44, CELL_H = 20;

    private final String title;
    private final double[][] values;
    private String[] rowLabels, columnLabels;
    private String rowTitle = "", columnTitle = "";
    private double low = Double.NaN, high = Double.NaN;

    public SvgHeatMap(String title, double[][] values) {
        for (double[] r : values)
            if (r.length != values[0].length) throw new IllegalArgumentException("heat map '" + title + "': rows of different lengths");
        this.title = title;
        this.values = values;
    }

    public SvgHeatMap rows(String axisTitle, String... labels) { rowTitle = axisTitle; rowLabels = labels; return this; }
    public SvgHeatMap columns(String axisTitle, String... labels) { columnTitle = axisTitle; columnLabels = labels; return this; }
    public SvgHeatMap scale(double lo, double hi) { low = lo; high = hi; return this; }

    private double[] range() {
        if (!Double.isNaN(low)) return new double[]{low, high};
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (double[] r : values) for (double v : r) if (Double.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
        return lo <= hi ? new double[]{lo, hi} : new double[]{0, 1};
    }

    /** White at 0, dark blue at 1. */
    private static String color(double u) {
        u = Math.max(0, Math.min(1, u));
        int r = (int) Math.round(255 - u * (255 - 8)), g = (int) Math.round(255 - u * (255 - 48)), b = (int) Math.round(255 - u * (255 - 107));
        return String.format(Locale.ROOT, "#%02x%02x%02x", r, g, b);
    }

    public String render() {
        int rows = values.length, cols = rows == 0 ? 0 : values[0].length;
        int width = LEFT + cols * CELL_W + RIGHT, height = TOP + rows * CELL_H + BOTTOM;
        double[] r = range();
        double span = r[1] > r[0] ? r[1] - r[0] : 1;
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                + "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"10\">%n", width, height, width, height));
        s.append(String.format(Locale.ROOT, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>%n", width, height));
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"16\" font-size=\"13\" font-weight=\"bold\">%s</text>%n", 8, SvgPlot.escape(title)));
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"34\" font-size=\"11\">%s</text>%n", LEFT, SvgPlot.escape(columnTitle)));
        s.append(String.format(Locale.ROOT, "<text x=\"8\" y=\"%d\" font-size=\"11\">%s</text>%n", TOP - 6, SvgPlot.escape(rowTitle)));
        for (int j = 0; j < cols; j++) {
            String l = columnLabels != null && j < columnLabels.length ? columnLabels[j] : Integer.toString(j);
            s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>%n",
                    LEFT + j * CELL_W + CELL_W / 2, TOP - 6, SvgPlot.escape(l)));
        }
        for (int i = 0; i < rows; i++) {
            int y = TOP + i * CELL_H;
            String l = rowLabels != null && i < rowLabels.length ? rowLabels[i] : Integer.toString(i);
            s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>%n", LEFT - 6, y + 14, SvgPlot.escape(l)));
            for (int j = 0; j < cols; j++) {
                double v = values[i][j], u = (v - r[0]) / span;
                String fill = Double.isFinite(v) ? color(u) : "#bbbbbb";
                s.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"white\"/>",
                        LEFT + j * CELL_W, y, CELL_W, CELL_H, fill));
                s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"%s\">%s</text>%n",
                        LEFT + j * CELL_W + CELL_W / 2, y + 14, u > 0.55 ? "white" : "black", Double.isFinite(v) ? SvgPlot.label(round(v)) : "-"));
            }
        }
        int barX = LEFT + cols * CELL_W + 24, barH = Math.max(40, rows * CELL_H);
        for (int k = 0; k < 20; k++)
            s.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%.1f\" width=\"14\" height=\"%.1f\" fill=\"%s\"/>%n",
                    barX, TOP + barH * (19 - k) / 20.0, barH / 20.0 + 0.5, color((k + 0.5) / 20)));
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\">%s</text>%n", barX + 18, TOP + 8, SvgPlot.label(r[1])));
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\">%s</text>%n", barX + 18, TOP + barH, SvgPlot.label(r[0])));
        return s.append("</svg>\n").toString();
    }

    /** Two significant digits: enough to read a cell, short enough to fit it. */
    private static double round(double v) {
        if (v == 0) return 0;
        double p = Math.pow(10, Math.floor(Math.log10(Math.abs(v))) - 1);
        return Math.round(v / p) * p;
    }
}
