package org.tessella.tensor;

/** Where a tensor's storage lives. The CPU is always present; CUDA devices only when the cuda package binds them. */
public record Device(Kind kind, int index) {
    public enum Kind { CPU, CUDA }

    public static final Device CPU = new Device(Kind.CPU, 0);

    public static Device cuda(int index) { return new Device(Kind.CUDA, index); }

    /** Parses "cpu", "cuda" or "cuda:N". */
    public static Device parse(String s) {
        String t = s.trim().toLowerCase();
        if (t.equals("cpu")) return CPU;
        if (t.equals("cuda")) return cuda(0);
        if (t.startsWith("cuda:")) return cuda(Integer.parseInt(t.substring(5)));
        throw new IllegalArgumentException("unknown device '" + s + "': use cpu, cuda or cuda:N");
    }

    @Override public String toString() { return kind == Kind.CPU ? "cpu" : "cuda:" + index; }
}
