package org.tessella.io;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A tiny CSV writer (RFC 4180 quoting, '\n' line ends, numbers in {@link java.util.Locale#ROOT} form) with an atomic
 * write, and a matching reader for tests and round trips.
 */
public final class Csv {
    private Csv() {}

    /** Writes a header line and the rows atomically. Values: strings, numbers, booleans; null is an empty field. */
    public static void write(Path file, List<String> header, List<? extends List<?>> rows) {
        AtomicFile.writeString(file, format(header, rows));
    }

    public static String format(List<String> header, List<? extends List<?>> rows) {
        StringBuilder b = new StringBuilder();
        line(b, header);
        for (int i = 0; i < rows.size(); i++) {
            List<?> r = rows.get(i);
            if (r.size() != header.size())
                throw new IllegalArgumentException("Csv: row " + i + " has " + r.size() + " fields, the header " + header.size());
            line(b, r);
        }
        return b.toString();
    }

    private static void line(StringBuilder b, List<?> fields) {
        for (int i = 0; i < fields.size(); i++) {
            if (i > 0) b.append(',');
            b.append(field(fields.get(i)));
        }
        b.append('\n');
    }

    /** One field as written: numbers as Java prints them (shortest round-trip form), quoted where needed. */
    public static String field(Object v) {
        if (v == null) return "";
        String s;
        if (v instanceof Double d) s = d.isNaN() ? "NaN" : d.isInfinite() ? (d > 0 ? "Infinity" : "-Infinity") : Double.toString(d);
        else if (v instanceof Float f) s = Float.toString(f);
        else s = v.toString();
        if (s.indexOf(',') >= 0 || s.indexOf('"') >= 0 || s.indexOf('\n') >= 0 || s.indexOf('\r') >= 0)
            return '"' + s.replace("\"", "\"\"") + '"';
        return s;
    }

    /** The rows after the header of a CSV file, or none when the file does not exist (a run's curve before its first save). */
    public static List<List<String>> readBody(Path file) {
        if (!java.nio.file.Files.exists(file)) return List.of();
        List<List<String>> rows = read(file);
        return rows.isEmpty() ? rows : rows.subList(1, rows.size());
    }

    /** Reads all lines of a CSV file (header included) as fields. */
    public static List<List<String>> read(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw TessellaIOException.io(file, "read", e);
        }
        try {
            return parse(text);
        } catch (IllegalArgumentException e) {
            throw new TessellaIOException(file, e.getMessage(), e);
        }
    }

    public static List<List<String>> parse(String text) {
        List<List<String>> out = new ArrayList<>();
        List<String> row = new ArrayList<>();
        StringBuilder f = new StringBuilder();
        boolean quoted = false, any = false;
        int line = 1;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (quoted) {
                if (c == '"') {
                    if (i + 1 < text.length() && text.charAt(i + 1) == '"') { f.append('"'); i++; }
                    else quoted = false;
                } else {
                    if (c == '\n') line++;
                    f.append(c);
                }
                continue;
            }
            switch (c) {
                case '"' -> { quoted = true; any = true; }
                case ',' -> { row.add(f.toString()); f.setLength(0); any = true; }
                case '\r' -> { }
                case '\n' -> {
                    row.add(f.toString());
                    f.setLength(0);
                    out.add(row);
                    row = new ArrayList<>();
                    any = false;
                    line++;
                }
                default -> { f.append(c); any = true; }
            }
        }
        if (quoted) throw new IllegalArgumentException("unterminated quoted field at line " + line);
        if (any || f.length() > 0) {
            row.add(f.toString());
            out.add(row);
        }
        return out;
    }
}
