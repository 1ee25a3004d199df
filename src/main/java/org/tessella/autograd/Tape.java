package org.tessella.autograd;

import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;

import java.util.ArrayList;

/**
 * The record of differentiable ops run on this thread since the last backward pass, in execution order, which is a
 * topological order; {@link #backward} walks it in reverse. The tape is reused across steps (no allocation once its
 * list has grown), and a no-grad scope records nothing.
 */
public final class Tape {
    /** How one op sends its output's gradient to its inputs. */
    @FunctionalInterface
    public interface BackwardRule {
        void apply(Tensor gradOut);
    }

    private record Node(Tensor out, BackwardRule rule) {}

    private static final ThreadLocal<Tape> CURRENT = ThreadLocal.withInitial(Tape::new);

    private final ArrayList<Node> nodes = new ArrayList<>();
    private int noGradDepth;

    private Tape() {}

    static Tape current() { return CURRENT.get(); }

    /** True when ops on this thread are being recorded. */
    public static boolean enabled() { return CURRENT.get().noGradDepth == 0; }

    /** Number of ops recorded and not yet consumed by a backward pass. */
    public static int size() { return CURRENT.get().nodes.size(); }

    /** A scope in which nothing is recorded (sampling, evaluation). */
    public static NoGrad noGrad() {
        Tape t = CURRENT.get();
        t.noGradDepth++;
        return t.noGradScope;
    }

    private final NoGrad noGradScope = new NoGrad();

    /** Closes a no-grad scope. */
    public final class NoGrad implements AutoCloseable {
        @Override public void close() {
            if (noGradDepth == 0) throw new IllegalStateException("no-grad scope closed twice");
            noGradDepth--;
        }
    }

    /** Drops everything recorded so far (e.g. after a forward pass whose gradient is not wanted). */
    public static void clear() { CURRENT.get().nodes.clear(); }

    /** True when an op with these inputs must be recorded. */
    static boolean needsGrad(Tensor a) {
        return a.requiresGrad() && enabled();
    }

    static boolean needsGrad(Tensor a, Tensor b) {
        return (a.requiresGrad() || (b != null && b.requiresGrad())) && enabled();
    }

    static boolean needsGrad(Tensor... ts) {
        if (!enabled()) return false;
        for (Tensor t : ts) if (t != null && t.requiresGrad()) return true;
        return false;
    }

    /** Records that {@code out} was computed by an op whose backward is {@code rule}. */
    static Tensor record(Tensor out, BackwardRule rule) {
        out.requiresGrad(true);
        out.markNonLeaf();
        CURRENT.get().nodes.add(new Node(out, rule));
        return out;
    }

    /**
     * Backpropagates from a scalar (or, with {@code seed}, any tensor): accumulates into the {@code grad} of every leaf
     * that requires one, then clears the tape and the intermediate gradients.
     */
    public static void backward(Tensor root, Tensor seed) {
        Tape t = CURRENT.get();
        if (!root.requiresGrad())
            throw new IllegalStateException("backward: " + root + " does not require grad (no parameter reached it, or it was computed under noGrad)");
        if (seed == null) {
            if (root.numel() != 1)
                throw new IllegalArgumentException("backward: root " + root + " is not a scalar; pass a seed gradient");
            seed = Ops.onesLike(root);
        }
        // Gradients and the rules' temporaries are released as soon as no pending gradient refers to them: after
        // each rule, the gradient it consumed is dropped and the workspace takes back what nothing refers to.
        Workspace ws = Workspace.current();
        if (ws != null) ws.beginBackward();
        ArrayList<Node> list = t.nodes;
        try (NoGrad ignored = noGrad()) {
            Ops.accumulate(root, seed);
            for (int i = list.size() - 1; i >= 0; i--) {
                Node n = list.get(i);
                Tensor g = n.out().grad();
                if (g == null) continue;
                n.rule().apply(g);
                n.out().setGrad(null);
                if (ws != null) ws.releaseUnreferencedGradients();
            }
        } finally {
            for (Node n : list) n.out().setGrad(null);
            list.clear();
            if (ws != null) ws.endBackward();
        }
    }

    public static void backward(Tensor root) { backward(root, null); }
}
