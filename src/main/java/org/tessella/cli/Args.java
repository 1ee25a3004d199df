package org.tessella.cli;

import org.tessella.tensor.Device;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** {@code --name value} and {@code --flag} arguments, checked against the options a command declares. */
public final class Args {
    private final Map<String, String> values = new LinkedHashMap<>();

    /** Parses args; {@code flags} take no value, {@code options} take one. Unknown names are usage errors. */
    public static Args parse(String command, String[] args, Set<String> options, Set<String> flags) {
        Args a = new Args();
        for (int i = 0; i < args.length; i++) {
            String s = args[i];
            if (!s.startsWith("--"))
                throw new UsageException(command + ": unexpected argument '" + s + "' (see tessella " + command + " --help)");
            String name = s.substring(2), value = null;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            if (flags.contains(name)) {
                if (value != null) throw new UsageException(command + ": --" + name + " takes no value");
                a.values.put(name, "true");
            } else if (options.contains(name)) {
                if (value == null) {
                    if (i + 1 >= args.length) throw new UsageException(command + ": --" + name + " needs a value");
                    value = args[++i];
                }
                a.values.put(name, value);
            } else {
                throw new UsageException(command + ": unknown option --" + name + " (see tessella " + command + " --help)");
            }
        }
        return a;
    }

    public boolean has(String name) { return values.containsKey(name); }

    public boolean flag(String name) { return values.containsKey(name); }

    public String string(String name, String def) { return values.getOrDefault(name, def); }

    public Optional<Path> path(String name) { return Optional.ofNullable(values.get(name)).map(Path::of); }

    public Path requiredPath(String command, String name) {
        return path(name).orElseThrow(() -> new UsageException(command + ": --" + name + " DIR is required"));
    }

    public int integer(String name, int def) {
        String v = values.get(name);
        if (v == null) return def;
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + " wants an integer, got '" + v + "'");
        }
    }

    public long longValue(String name, long def) {
        String v = values.get(name);
        if (v == null) return def;
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + " wants an integer, got '" + v + "'");
        }
    }

    /**
     * {@code --device}: cpu (the default), cuda or cuda:N. Only parses: {@link Main#device} also checks that the
     * device can be used.
     */
    public Device device() {
        try {
            return Device.parse(values.getOrDefault("device", "cpu"));
        } catch (IllegalArgumentException e) {
            throw new UsageException("--device: " + e.getMessage());
        }
    }

    public float number(String name, float def) {
        String v = values.get(name);
        if (v == null) return def;
        try {
            return Float.parseFloat(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + " wants a number, got '" + v + "'");
        }
    }
}
