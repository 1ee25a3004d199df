package org.tessella.io;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class JsonTest {
    @Test
    void roundTripKeepsValuesAndOrder() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", "vq-s \"quoted\" \\ tab\t nl\n é ☃ \u0001");
        m.put("dim", 64L);
        m.put("big", 9_007_199_254_740_993L);
        m.put("lr", 2.5e-4);
        m.put("neg", -0.125);
        m.put("on", true);
        m.put("off", false);
        m.put("nothing", null);
        m.put("shape", List.of(1L, 32L, 32L));
        m.put("empty", List.of());
        m.put("nested", Map.of("a", List.of(Map.of("b", 1.5)), "e", Map.of()));
        for (String text : new String[]{Json.write(m), Json.writeCompact(m)}) {
            Object back = Json.parse(text);
            assertEquals(m, back, text);
            assertEquals(List.copyOf(m.keySet()), List.copyOf(((Map<?, ?>) back).keySet()));
        }
        assertTrue(Json.write(m).contains("\n  \"dim\": 64,"), Json.write(m));
        assertTrue(Json.write(m).contains("\"shape\": [1, 32, 32]"), Json.write(m));
        assertFalse(Json.writeCompact(m).contains("\n"));
    }

    @Test
    void writesArraysFloatsAndEnums() {
        assertEquals("[1,2,3]", Json.writeCompact(new int[]{1, 2, 3}));
        assertEquals("[0.5,1.0E-5]", Json.writeCompact(new float[]{0.5f, 1e-5f}));
        assertEquals("\"ZERO_ONE\"", Json.writeCompact(Png.Range.ZERO_ONE));
        assertEquals(1e-5, ((List<?>) Json.parse("[1.0E-5]")).getFirst());
        assertThrows(Json.JsonException.class, () -> Json.write(Double.NaN));
        assertThrows(Json.JsonException.class, () -> Json.write(Float.POSITIVE_INFINITY));
    }

    @Test
    void parsesNumbersAndEscapes() {
        assertEquals(List.of(0L, -7L, 1.5, -2e3, 12.0, Double.POSITIVE_INFINITY), Json.parse(" [0, -7, 1.5, -2e3, 1.2E1, 1e400] "));
        assertEquals(99999999999999999999.0, Json.parse("99999999999999999999"));
        assertEquals("A\u00e9\ud83d\ude00/", Json.parse("\"\\u0041\\u00E9\\ud83d\\ude00\\/\""));
        assertNull(Json.parse("null"));
    }

    private static void bad(String text, String fragment) {
        Json.JsonException e = assertThrows(Json.JsonException.class, () -> Json.parse(text), text);
        assertTrue(e.getMessage().contains(fragment), "'" + fragment + "' in: " + e.getMessage());
    }

    @Test
    void malformedInputGivesPositionedErrors() {
        bad("{\"a\": 1,\n \"b\" 2}", "line 2 column 6");
        bad("{\"a\": 1,}", "expected a string key");
        bad("[1, 2", "expected ',' or ']'");
        bad("[01]", "leading zero");
        bad("[1.]", "digit after '.'");
        bad("\"abc", "unterminated string");
        bad("\"a\\qb\"", "bad escape");
        bad("\"a\nb\"", "unescaped");
        bad("tru", "expected a value");
        bad("{} x", "after the JSON value");
        bad("{\"a\":1,\"a\":2}", "duplicate key");
        bad("", "end of input");
        bad("[".repeat(2000), "nested deeper");
    }

    @Test
    void typedFieldsExplainWhatIsWrong() {
        Json.Obj o = Json.parseObject("{\"model\": {\"dim\": \"64\", \"heads\": 4, \"drop\": 0.1, \"shape\": [1, 2.5]}, \"name\": \"x\"}", "config");
        assertEquals(4, o.object("model").integer("heads"));
        assertEquals(0.1, o.object("model").number("drop"));
        assertEquals("x", o.string("name"));
        assertEquals(7, o.integer("missing", 7));
        assertEquals("config.model.dim: expected an integer, found a string \"64\"",
                assertThrows(Json.JsonException.class, () -> o.object("model").integer("dim")).getMessage());
        assertEquals("config.model.depth: missing",
                assertThrows(Json.JsonException.class, () -> o.object("model").integer("depth")).getMessage());
        assertTrue(assertThrows(Json.JsonException.class, () -> o.object("model").intArray("shape")).getMessage()
                .startsWith("config.model.shape[1]: expected a 32-bit integer, found a number 2.5"));
        assertTrue(assertThrows(Json.JsonException.class, () -> o.object("name")).getMessage().contains("expected an object"));
        assertTrue(assertThrows(Json.JsonException.class, () -> Json.parseObject("[1]", "rng")).getMessage()
                .startsWith("rng: expected a JSON object"));
    }
}
