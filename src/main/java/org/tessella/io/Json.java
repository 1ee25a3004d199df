package org.tessella.io;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small JSON reader and writer with no dependencies.
 *
 * <p>{@link #parse} gives {@code Map<String, Object>} (a {@link LinkedHashMap}, keys in document order),
 * {@code List<Object>}, {@code String}, {@code Long} (integers without fraction or exponent that fit a long),
 * {@code Double} (all other numbers), {@code Boolean} and {@code null}. {@link #write} accepts those plus any
 * {@link Number}, {@link Collection}, Java arrays of primitives or objects, and enums (written by name); non-finite
 * numbers are refused. {@link Obj} reads typed fields with errors that name the field's path.
 */
public final class Json {
    private Json() {}

    /** Malformed JSON, or a field missing or of the wrong type. The message is one line. */
    public static final class JsonException extends RuntimeException {
        public JsonException(String message) { super(message); }
    }

    // ---- reading ------------------------------------------------------------------------------------------------

    public static Object parse(String text) {
        Parser p = new Parser(text);
        p.skipWs();
        Object v = p.value(0);
        p.skipWs();
        if (p.pos < text.length()) throw p.error("unexpected " + p.describe() + " after the JSON value");
        return v;
    }

    /** Parses a document that must be an object, for typed access; {@code what} names it in errors. */
    public static Obj parseObject(String text, String what) {
        Object v;
        try {
            v = parse(text);
        } catch (JsonException e) {
            throw new JsonException(what + ": " + e.getMessage());
        }
        if (!(v instanceof Map<?, ?> m)) throw new JsonException(what + ": expected a JSON object, found " + typeName(v));
        return new Obj(cast(m), what);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> cast(Map<?, ?> m) { return (Map<String, Object>) m; }

    private static final class Parser {
        private static final int MAX_DEPTH = 512;
        final String s;
        int pos;

        Parser(String s) { this.s = s; }

        JsonException error(String what) {
            int line = 1, col = 1;
            for (int i = 0; i < Math.min(pos, s.length()); i++) {
                if (s.charAt(i) == '\n') { line++; col = 1; } else col++;
            }
            return new JsonException("bad JSON at line " + line + " column " + col + ": " + what);
        }

        String describe() {
            if (pos >= s.length()) return "end of input";
            char c = s.charAt(pos);
            return c < 0x20 ? String.format("control character U+%04X", (int) c) : "'" + c + "'";
        }

        void skipWs() {
            while (pos < s.length()) {
                char c = s.charAt(pos);
                if (c == ' ' || c == '\t' || c == '\n' || c == '\r') pos++;
                else break;
            }
        }

        Object value(int depth) {
            if (depth > MAX_DEPTH) throw error("nested deeper than " + MAX_DEPTH);
            if (pos >= s.length()) throw error("unexpected end of input, expected a value");
            char c = s.charAt(pos);
            switch (c) {
                case '{': return object(depth);
                case '[': return array(depth);
                case '"': return string();
                case 't': literal("true"); return Boolean.TRUE;
                case 'f': literal("false"); return Boolean.FALSE;
                case 'n': literal("null"); return null;
                default:
                    if (c == '-' || (c >= '0' && c <= '9')) return number();
                    throw error("unexpected " + describe() + ", expected a value");
            }
        }

        void literal(String word) {
            if (!s.startsWith(word, pos)) throw error("unexpected " + describe() + ", expected a value");
            pos += word.length();
        }

        Map<String, Object> object(int depth) {
            pos++; // {
            Map<String, Object> m = new LinkedHashMap<>();
            skipWs();
            if (pos < s.length() && s.charAt(pos) == '}') { pos++; return m; }
            while (true) {
                skipWs();
                if (pos >= s.length() || s.charAt(pos) != '"') throw error("unexpected " + describe() + ", expected a string key");
                int keyPos = pos;
                String key = string();
                skipWs();
                expect(':');
                skipWs();
                Object v = value(depth + 1);
                if (m.containsKey(key)) {
                    pos = keyPos;
                    throw error("duplicate key \"" + key + "\"");
                }
                m.put(key, v);
                skipWs();
                if (pos < s.length() && s.charAt(pos) == ',') { pos++; continue; }
                if (pos < s.length() && s.charAt(pos) == '}') { pos++; return m; }
                throw error("unexpected " + describe() + ", expected ',' or '}'");
            }
        }

        List<Object> array(int depth) {
            pos++; // [
            List<Object> l = new ArrayList<>();
            skipWs();
            if (pos < s.length() && s.charAt(pos) == ']') { pos++; return l; }
            while (true) {
                skipWs();
                l.add(value(depth + 1));
                skipWs();
                if (pos < s.length() && s.charAt(pos) == ',') { pos++; continue; }
                if (pos < s.length() && s.charAt(pos) == ']') { pos++; return l; }
                throw error("unexpected " + describe() + ", expected ',' or ']'");
            }
        }

        void expect(char c) {
            if (pos >= s.length() || s.charAt(pos) != c) throw error("unexpected " + describe() + ", expected '" + c + "'");
            pos++;
        }

        String string() {
            pos++; // "
            StringBuilder b = null;
            int start = pos;
            while (true) {
                if (pos >= s.length()) throw error("unterminated string");
                char c = s.charAt(pos);
                if (c == '"') {
                    String out = b == null ? s.substring(start, pos) : b.append(s, start, pos).toString();
                    pos++;
                    return out;
                }
                if (c < 0x20) throw error("unescaped " + describe() + " in string");
                if (c != '\\') { pos++; continue; }
                if (b == null) b = new StringBuilder();
                b.append(s, start, pos);
                pos++;
                if (pos >= s.length()) throw error("unterminated string");
                char e = s.charAt(pos++);
                switch (e) {
                    case '"' -> b.append('"');
                    case '\\' -> b.append('\\');
                    case '/' -> b.append('/');
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'u' -> {
                        if (pos + 4 > s.length()) throw error("truncated \\u escape");
                        int v = 0;
                        for (int i = 0; i < 4; i++) {
                            int d = Character.digit(s.charAt(pos + i), 16);
                            if (d < 0) throw error("bad hex digit in \\u escape");
                            v = v * 16 + d;
                        }
                        pos += 4;
                        b.append((char) v);
                    }
                    default -> {
                        pos--;
                        throw error("bad escape '\\" + e + "'");
                    }
                }
                start = pos;
            }
        }

        Object number() {
            int start = pos;
            if (s.charAt(pos) == '-') pos++;
            if (pos >= s.length() || !isDigit(s.charAt(pos))) throw error("bad number: expected a digit");
            if (s.charAt(pos) == '0') {
                pos++;
                if (pos < s.length() && isDigit(s.charAt(pos))) throw error("bad number: leading zero");
            } else while (pos < s.length() && isDigit(s.charAt(pos))) pos++;
            boolean integral = true;
            if (pos < s.length() && s.charAt(pos) == '.') {
                integral = false;
                pos++;
                if (pos >= s.length() || !isDigit(s.charAt(pos))) throw error("bad number: expected a digit after '.'");
                while (pos < s.length() && isDigit(s.charAt(pos))) pos++;
            }
            if (pos < s.length() && (s.charAt(pos) == 'e' || s.charAt(pos) == 'E')) {
                integral = false;
                pos++;
                if (pos < s.length() && (s.charAt(pos) == '+' || s.charAt(pos) == '-')) pos++;
                if (pos >= s.length() || !isDigit(s.charAt(pos))) throw error("bad number: expected a digit in the exponent");
                while (pos < s.length() && isDigit(s.charAt(pos))) pos++;
            }
            String t = s.substring(start, pos);
            if (integral && t.length() <= 19) {
                try {
                    return Long.parseLong(t);
                } catch (NumberFormatException ignored) {
                    // too large for a long: fall through to double
                }
            }
            return Double.parseDouble(t);
        }

        static boolean isDigit(char c) { return c >= '0' && c <= '9'; }
    }

    // ---- writing ------------------------------------------------------------------------------------------------

    /** Pretty-printed JSON with two-space indentation (empty containers stay on one line). */
    public static String write(Object value) {
        StringBuilder b = new StringBuilder();
        write(b, value, 0, true);
        return b.toString();
    }

    /** JSON on one line, without spaces. */
    public static String writeCompact(Object value) {
        StringBuilder b = new StringBuilder();
        write(b, value, 0, false);
        return b.toString();
    }

    private static void write(StringBuilder b, Object v, int indent, boolean pretty) {
        if (v == null) b.append("null");
        else if (v instanceof String str) quote(b, str);
        else if (v instanceof Boolean bool) b.append(bool);
        else if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            if (!Double.isFinite(d)) throw new JsonException("JSON cannot hold the number " + d);
            b.append(v instanceof Float f ? Float.toString(f) : Double.toString(d));
        } else if (v instanceof Number n) {
            if (n instanceof java.math.BigDecimal bd) b.append(bd.toString());
            else b.append(n.toString());
        } else if (v instanceof Character c) quote(b, c.toString());
        else if (v instanceof Enum<?> e) quote(b, e.name());
        else if (v instanceof Map<?, ?> m) {
            if (m.isEmpty()) { b.append("{}"); return; }
            b.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!(e.getKey() instanceof String key)) throw new JsonException("JSON object keys must be strings, not " + typeName(e.getKey()));
                if (!first) b.append(',');
                first = false;
                newline(b, indent + 1, pretty);
                quote(b, key);
                b.append(pretty ? ": " : ":");
                write(b, e.getValue(), indent + 1, pretty);
            }
            newline(b, indent, pretty);
            b.append('}');
        } else if (v instanceof Collection<?> c) writeArray(b, new ArrayList<>(c), indent, pretty);
        else if (v.getClass().isArray()) {
            int n = java.lang.reflect.Array.getLength(v);
            List<Object> l = new ArrayList<>(n);
            for (int i = 0; i < n; i++) l.add(java.lang.reflect.Array.get(v, i));
            writeArray(b, l, indent, pretty);
        } else throw new JsonException("cannot write a " + v.getClass().getName() + " as JSON");
    }

    private static void writeArray(StringBuilder b, List<?> l, int indent, boolean pretty) {
        if (l.isEmpty()) { b.append("[]"); return; }
        // Arrays of scalars stay on one line (shapes, offsets, small vectors).
        boolean flat = true;
        for (Object o : l) if (o instanceof Map<?, ?> || o instanceof Collection<?> || (o != null && o.getClass().isArray())) flat = false;
        b.append('[');
        for (int i = 0; i < l.size(); i++) {
            if (i > 0) b.append(flat && pretty ? ", " : ",");
            if (!flat) newline(b, indent + 1, pretty);
            write(b, l.get(i), indent + 1, pretty);
        }
        if (!flat) newline(b, indent, pretty);
        b.append(']');
    }

    private static void newline(StringBuilder b, int indent, boolean pretty) {
        if (!pretty) return;
        b.append('\n');
        b.repeat("  ", indent);
    }

    /** Appends {@code s} as a JSON string literal. */
    public static void quote(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                default -> {
                    if (c < 0x20 || c == 0x2028 || c == 0x2029) b.append(String.format("\\u%04x", (int) c));
                    else b.append(c);
                }
            }
        }
        b.append('"');
    }

    public static String quote(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2);
        quote(b, s);
        return b.toString();
    }

    static String typeName(Object v) {
        if (v == null) return "null";
        if (v instanceof String) return "a string";
        if (v instanceof Boolean) return "a boolean";
        if (v instanceof Number) return "a number";
        if (v instanceof Map<?, ?>) return "an object";
        if (v instanceof List<?>) return "an array";
        return "a " + v.getClass().getSimpleName();
    }

    // ---- typed access -------------------------------------------------------------------------------------------

    /**
     * A parsed JSON object with typed getters. Errors name the field by its path from the document root, e.g.
     * {@code config.model.dim: expected an integer, found a string "64"}.
     */
    public static final class Obj {
        private final Map<String, Object> map;
        private final String path;

        public Obj(Map<String, Object> map, String path) {
            this.map = map;
            this.path = path;
        }

        /** The underlying map (document order). */
        public Map<String, Object> map() { return map; }

        /** The path of this object in its document, used in error messages. */
        public String path() { return path; }

        public boolean has(String key) { return map.containsKey(key); }

        public java.util.Set<String> keys() { return map.keySet(); }

        private String field(String key) { return path + "." + key; }

        private Object require(String key) {
            if (!map.containsKey(key)) throw new JsonException(field(key) + ": missing");
            return map.get(key);
        }

        private JsonException wrong(String key, String expected, Object v) {
            String shown = v instanceof String s ? " " + quote(s.length() > 40 ? s.substring(0, 40) + "..." : s)
                    : (v instanceof Number || v instanceof Boolean) ? " " + v : "";
            return new JsonException(field(key) + ": expected " + expected + ", found " + typeName(v) + shown);
        }

        public Object get(String key) { return require(key); }

        public String string(String key) {
            Object v = require(key);
            if (v instanceof String s) return s;
            throw wrong(key, "a string", v);
        }

        public String string(String key, String fallback) { return map.containsKey(key) ? string(key) : fallback; }

        public double number(String key) {
            Object v = require(key);
            if (v instanceof Number n) return n.doubleValue();
            throw wrong(key, "a number", v);
        }

        public double number(String key, double fallback) { return map.containsKey(key) ? number(key) : fallback; }

        public long longValue(String key) {
            Object v = require(key);
            if (v instanceof Long l) return l;
            if (v instanceof Number n) {
                double d = n.doubleValue();
                if (d == Math.rint(d) && Math.abs(d) < 0x1p53) return (long) d;
            }
            throw wrong(key, "an integer", v);
        }

        public long longValue(String key, long fallback) { return map.containsKey(key) ? longValue(key) : fallback; }

        public int integer(String key) {
            long l = longValue(key);
            if (l < Integer.MIN_VALUE || l > Integer.MAX_VALUE) throw new JsonException(field(key) + ": " + l + " does not fit a 32-bit integer");
            return (int) l;
        }

        public int integer(String key, int fallback) { return map.containsKey(key) ? integer(key) : fallback; }

        public boolean bool(String key) {
            Object v = require(key);
            if (v instanceof Boolean b) return b;
            throw wrong(key, "true or false", v);
        }

        public boolean bool(String key, boolean fallback) { return map.containsKey(key) ? bool(key) : fallback; }

        public Obj object(String key) {
            Object v = require(key);
            if (v instanceof Map<?, ?> m) return new Obj(cast(m), field(key));
            throw wrong(key, "an object", v);
        }

        public List<Object> list(String key) {
            Object v = require(key);
            if (v instanceof List<?> l) {
                @SuppressWarnings("unchecked") List<Object> out = (List<Object>) l;
                return out;
            }
            throw wrong(key, "an array", v);
        }

        public int[] intArray(String key) {
            List<Object> l = list(key);
            int[] out = new int[l.size()];
            for (int i = 0; i < out.length; i++) {
                Object v = l.get(i);
                if (!(v instanceof Long x) || x < Integer.MIN_VALUE || x > Integer.MAX_VALUE)
                    throw wrong(key + "[" + i + "]", "a 32-bit integer", v);
                out[i] = (int) (long) x;
            }
            return out;
        }

        public long[] longArray(String key) {
            List<Object> l = list(key);
            long[] out = new long[l.size()];
            for (int i = 0; i < out.length; i++) {
                if (!(l.get(i) instanceof Long x)) throw wrong(key + "[" + i + "]", "an integer", l.get(i));
                out[i] = x;
            }
            return out;
        }

        public double[] doubleArray(String key) {
            List<Object> l = list(key);
            double[] out = new double[l.size()];
            for (int i = 0; i < out.length; i++) {
                if (!(l.get(i) instanceof Number x)) throw wrong(key + "[" + i + "]", "a number", l.get(i));
                out[i] = x.doubleValue();
            }
            return out;
        }

        public List<String> stringList(String key) {
            List<Object> l = list(key);
            List<String> out = new ArrayList<>(l.size());
            for (int i = 0; i < l.size(); i++) {
                if (!(l.get(i) instanceof String x)) throw wrong(key + "[" + i + "]", "a string", l.get(i));
                out.add(x);
            }
            return out;
        }

        @Override public String toString() { return writeCompact(map); }
    }
}
