package org.tessella.io;

import java.nio.file.Path;
import java.util.Base64;
import java.util.List;

/**
 * A self-contained HTML page built in order: headings, paragraphs, tables, inline SVG and PNG images embedded as data
 * URIs, so the file can be mailed or opened offline with nothing beside it. Text is escaped; {@link #svg} and
 * {@link #rawHtml} take markup as is. Written atomically.
 */
public final class HtmlPage {
    private final StringBuilder body = new StringBuilder();
    private final String title;

    public HtmlPage(String title) {
        this.title = title;
        heading(1, title);
    }

    public HtmlPage heading(int level, String text) {
        body.append("<h").append(level).append('>').append(SvgPlot.escape(text)).append("</h").append(level).append(">\n");
        return this;
    }

    public HtmlPage paragraph(String text) {
        body.append("<p>").append(SvgPlot.escape(text)).append("</p>\n");
        return this;
    }

    /** A bulleted list of plain-text items. */
    public HtmlPage list(List<String> items) {
        body.append("<ul>\n");
        for (String s : items) body.append("<li>").append(SvgPlot.escape(s)).append("</li>\n");
        body.append("</ul>\n");
        return this;
    }

    /** A table; cells are formatted with {@link Csv#field} (numbers to their shortest exact text). */
    public HtmlPage table(List<String> header, List<? extends List<?>> rows) {
        body.append("<table>\n<tr>");
        for (String h : header) body.append("<th>").append(SvgPlot.escape(h)).append("</th>");
        body.append("</tr>\n");
        for (List<?> r : rows) {
            body.append("<tr>");
            for (Object v : r) body.append("<td>").append(SvgPlot.escape(cell(v))).append("</td>");
            body.append("</tr>\n");
        }
        body.append("</table>\n");
        return this;
    }

    private static String cell(Object v) {
        if (v instanceof Double d) return Double.isFinite(d) ? String.format(java.util.Locale.ROOT, Math.abs(d) >= 1e5 || (d != 0 && Math.abs(d) < 1e-3) ? "%.3e" : "%.4g", d) : "n/a";
        if (v instanceof Float f) return cell((double) f);
        return v == null ? "" : String.valueOf(v);
    }

    public HtmlPage svg(String svg) {
        body.append("<div class=\"fig\">").append(svg).append("</div>\n");
        return this;
    }

    /** An 8-bit grey or RGB image embedded as a PNG data URI, drawn at scale times its size (pixelated). */
    public HtmlPage png(String caption, int width, int height, int channels, byte[] pixels, int scale) {
        String b64 = Base64.getEncoder().encodeToString(Png.encode(width, height, channels, pixels));
        body.append("<figure><img style=\"image-rendering:pixelated\" width=\"").append(width * scale).append("\" height=\"")
                .append(height * scale).append("\" alt=\"").append(SvgPlot.escape(caption)).append("\" src=\"data:image/png;base64,")
                .append(b64).append("\"/><figcaption>").append(SvgPlot.escape(caption)).append("</figcaption></figure>\n");
        return this;
    }

    public HtmlPage rawHtml(String html) {
        body.append(html).append('\n');
        return this;
    }

    public String render() {
        return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + SvgPlot.escape(title) + "</title>\n<style>"
                + "body{font-family:sans-serif;max-width:1100px;margin:24px auto;padding:0 16px;color:#222}"
                + "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}"
                + "th{background:#f0f0f0}figure{display:inline-block;margin:8px}.fig{display:inline-block;margin:4px}"
                + "</style></head>\n<body>\n" + body + "</body></html>\n";
    }

    public void write(Path file) { AtomicFile.writeString(file, render()); }
}
