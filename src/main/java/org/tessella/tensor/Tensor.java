package org.tessella.tensor;

import java.util.Arrays;

/**
 * An n-dimensional view over a {@link Storage}: shape, strides and offset in elements. Reshape (of a contiguous
 * tensor), permute, transpose, slice and expand are views that copy nothing; ops that need contiguous input make it so
 * explicitly. A tensor also carries the two pieces of autodiff state that belong to the value itself: whether it
 * requires a gradient and the gradient accumulated so far. The recording of ops lives in the autograd package.
 */
public final class Tensor {
    // storage, offset, strides and generation change only in setData (a parameter moving to another device)
    private Storage storage;
    private int offset;
    private final int[] shape;
    private int[] strides;
    private int generation;
    private boolean requiresGrad;
    private boolean leaf = true;
    private Tensor grad;
    // the workspace allocation this tensor views (views share it), so that the workspace can count the gradients
    // that still refer to it
    private Workspace owner;
    private int block = -1, ownerStep;

    public Tensor(Storage storage, int offset, int[] shape, int[] strides) {
        if (shape.length != strides.length)
            throw new ShapeException("tensor: shape " + Shape.str(shape) + " and strides " + Shape.str(strides) + " differ in rank");
        for (int d : shape)
            if (d < 0) throw new ShapeException("tensor: negative dimension in shape " + Shape.str(shape));
        this.storage = storage;
        this.offset = offset;
        this.shape = shape;
        this.strides = strides;
        this.generation = storage.generation();
    }

    // ---- creation (CPU) ------------------------------------------------------------------------------------------

    /** A CPU tensor over the given array (not copied). */
    public static Tensor of(float[] data, int... shape) {
        checkLength("Tensor.of", data.length, shape);
        return new Tensor(HeapStorage.ofFloats(data), 0, shape.clone(), Shape.contiguousStrides(shape));
    }

    /** A CPU int32 tensor over the given array (not copied). */
    public static Tensor ofInts(int[] data, int... shape) {
        checkLength("Tensor.ofInts", data.length, shape);
        return new Tensor(HeapStorage.ofInts(data), 0, shape.clone(), Shape.contiguousStrides(shape));
    }

    public static Tensor scalar(float value) { return of(new float[]{value}); }

    /**
     * An uninitialised contiguous CPU tensor: from the thread's active {@link Workspace} when there is one (then valid
     * until the workspace is reset), else a fresh zeroed heap array that lives as long as it is referenced.
     */
    public static Tensor empty(DType dtype, int... shape) {
        Workspace ws = Workspace.current();
        return ws != null ? ws.allocate(dtype, shape) : persistent(dtype, shape);
    }

    /** A zeroed contiguous CPU tensor that never comes from a workspace: parameters, gradients, optimizer state. */
    public static Tensor persistent(DType dtype, int... shape) {
        long n = Shape.numel(shape);
        if (n > Integer.MAX_VALUE - 64)
            throw new ShapeException("tensor: " + Shape.str(shape) + " has " + n + " elements, more than a CPU tensor holds");
        return new Tensor(HeapStorage.allocate(dtype, (int) n), 0, shape.clone(), Shape.contiguousStrides(shape));
    }

    private static void checkLength(String op, int length, int[] shape) {
        if (Shape.numel(shape) != length)
            throw new ShapeException(op + ": " + length + " values do not fill shape " + Shape.str(shape));
    }

    // ---- metadata ------------------------------------------------------------------------------------------------

    public Storage storage() { return storage; }
    public int offset() { return offset; }
    /** The shape; do not modify the returned array. */
    public int[] shape() { return shape; }
    /** The strides in elements; do not modify the returned array. */
    public int[] strides() { return strides; }
    public int shape(int axis) { return shape[Shape.axis("shape", axis, shape.length)]; }
    public int stride(int axis) { return strides[Shape.axis("stride", axis, shape.length)]; }
    public int rank() { return shape.length; }
    public int numel() { return (int) Shape.numel(shape); }
    public DType dtype() { return storage.dtype(); }
    public Device device() { return storage.device(); }

    /** The float array behind a CPU F32 tensor (index with {@link #offset()} and {@link #strides()}). */
    public float[] floats() { return ((HeapStorage) storage).floats(); }

    /** The int array behind a CPU I32 tensor. */
    public int[] ints() { return ((HeapStorage) storage).ints(); }

    public boolean isContiguous() {
        int expected = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] != 1 && strides[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }

    /** Throws when this tensor's workspace memory has been recycled since the tensor was made. */
    public Tensor checkAlive() {
        if (storage.generation() != generation)
            throw new IllegalStateException("tensor " + this + " was allocated in a workspace step that has ended;"
                    + " copy it out (e.g. with Tensor.copyOf) before the step closes");
        return this;
    }

    // ---- autodiff state ------------------------------------------------------------------------------------------

    public boolean requiresGrad() { return requiresGrad; }
    public Tensor requiresGrad(boolean value) { this.requiresGrad = value; return this; }
    public Tensor grad() { return grad; }
    public void setGrad(Tensor grad) {
        if (this.grad != null && this.grad.owner != null) this.grad.owner.gradReference(this.grad.block, this.grad.ownerStep, -1);
        this.grad = grad;
        if (grad != null && grad.owner != null) grad.owner.gradReference(grad.block, grad.ownerStep, +1);
    }

    /**
     * True when this tensor is a gradient made by the running backward pass in a workspace and no other gradient
     * refers to its memory, so that autograd may add into it in place (CPU workspace tensors only; false otherwise).
     */
    public boolean isSoleBackwardGradient() { return owner != null && owner.soleBackwardGradient(block, ownerStep); }

    /** True unless the tensor is the output of a recorded op (leaves own persistent gradient buffers). */
    public boolean isLeaf() { return leaf; }

    /** Marks the tensor as the output of a recorded op (called by autograd). */
    public void markNonLeaf() { this.leaf = false; }

    /**
     * From now on this tensor holds {@code src}'s data (PyTorch's {@code param.data = src}): how {@code Module.to}
     * moves parameters and buffers to another device while the layers that hold them keep their references. src must
     * have this shape and outlive workspace steps; the gradient buffer is kept only where it already lives on src's
     * device (else it is dropped, and the next backward pass makes a new one there).
     */
    public void setData(Tensor src) {
        if (!Arrays.equals(src.shape, shape))
            throw new ShapeException("setData: tensor of shape " + Shape.str(shape) + " cannot take data of shape " + Shape.str(src.shape));
        src.checkAlive();
        this.storage = src.storage;
        this.offset = src.offset;
        this.strides = src.strides.clone();
        this.generation = src.generation;
        this.owner = src.owner;
        this.block = src.block;
        this.ownerStep = src.ownerStep;
        if (grad != null && !grad.device().equals(src.device())) grad = null;
    }

    // ---- views (no data copied, not recorded for autodiff: see autograd.Ops for the differentiable versions) -----

    /** This tensor as an allocation of a workspace step (called by the workspace). */
    Tensor ownedBy(Workspace ws, int block, int step) {
        this.owner = ws;
        this.block = block;
        this.ownerStep = step;
        return this;
    }

    /** A view of the same storage with another offset, shape and strides (not bounds-checked beyond the storage). */
    public Tensor view(int offset, int[] shape, int[] strides) {
        return derived(offset, shape.clone(), strides.clone());
    }

    /** A view: same storage, allocation and liveness (a view of an ended step's tensor is ended too). */
    private Tensor derived(int offset, int[] shape, int[] strides) {
        Tensor t = new Tensor(storage, offset, shape, strides);
        t.generation = generation;
        t.owner = owner;
        t.block = block;
        t.ownerStep = ownerStep;
        return t;
    }
    /** A view with a new shape; one dimension may be -1. Needs a contiguous tensor. */
    public Tensor reshape(int... newShape) {
        int[] s = inferShape("reshape", newShape);
        if (!isContiguous())
            throw new ShapeException("reshape: tensor of shape " + Shape.str(shape) + " is not contiguous; make it contiguous first");
        return derived(offset, s, Shape.contiguousStrides(s));
    }

    private int[] inferShape(String op, int[] newShape) {
        int[] s = newShape.clone();
        long known = 1;
        int unknown = -1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (unknown >= 0) throw new ShapeException(op + ": more than one -1 in " + Shape.str(newShape));
                unknown = i;
            } else known *= s[i];
        }
        if (unknown >= 0) {
            if (known == 0 || numel() % known != 0)
                throw new ShapeException(op + ": cannot view " + Shape.str(shape) + " as " + Shape.str(newShape));
            s[unknown] = (int) (numel() / known);
        }
        if (Shape.numel(s) != numel())
            throw new ShapeException(op + ": cannot view " + Shape.str(shape) + " (" + numel() + " elements) as " + Shape.str(newShape));
        return s;
    }

    public Tensor permute(int... axes) {
        if (axes.length != shape.length)
            throw new ShapeException("permute: " + axes.length + " axes given for shape " + Shape.str(shape));
        int[] s = new int[axes.length], st = new int[axes.length];
        boolean[] seen = new boolean[axes.length];
        for (int i = 0; i < axes.length; i++) {
            int a = Shape.axis("permute", axes[i], shape.length);
            if (seen[a]) throw new ShapeException("permute: axis " + a + " repeated in " + Arrays.toString(axes));
            seen[a] = true;
            s[i] = shape[a];
            st[i] = strides[a];
        }
        return derived(offset, s, st);
    }

    public Tensor transpose(int a, int b) {
        int r = shape.length;
        int[] axes = new int[r];
        for (int i = 0; i < r; i++) axes[i] = i;
        a = Shape.axis("transpose", a, r);
        b = Shape.axis("transpose", b, r);
        axes[a] = b;
        axes[b] = a;
        return permute(axes);
    }

    /** Elements {@code start <= i < end} along one axis. */
    public Tensor slice(int axis, int start, int end) {
        int a = Shape.axis("slice", axis, shape.length);
        if (start < 0 || end > shape[a] || start > end)
            throw new ShapeException("slice: range [" + start + ", " + end + ") out of bounds for axis " + a + " of " + Shape.str(shape));
        int[] s = shape.clone();
        s[a] = end - start;
        return derived(offset + start * strides[a], s, strides.clone());
    }

    /** Broadcasts to a larger shape (NumPy rules) with zero strides; no data is copied. */
    public Tensor expand(int... target) {
        if (target.length < shape.length)
            throw new ShapeException("expand: cannot expand " + Shape.str(shape) + " to fewer dims " + Shape.str(target));
        int lead = target.length - shape.length;
        int[] st = new int[target.length];
        for (int i = 0; i < target.length; i++) {
            if (i < lead) { st[i] = 0; continue; }
            int d = shape[i - lead];
            if (d == target[i]) st[i] = strides[i - lead];
            else if (d == 1) st[i] = 0;
            else throw new ShapeException("expand: cannot expand " + Shape.str(shape) + " to " + Shape.str(target));
        }
        return derived(offset, target.clone(), st);
    }

    public Tensor unsqueeze(int axis) {
        int a = Shape.axis("unsqueeze", axis, shape.length + 1);
        int[] s = new int[shape.length + 1], st = new int[shape.length + 1];
        for (int i = 0, j = 0; i < s.length; i++) {
            if (i == a) { s[i] = 1; st[i] = j < shape.length ? strides[j] * shape[j] : 1; }
            else { s[i] = shape[j]; st[i] = strides[j]; j++; }
        }
        return derived(offset, s, st);
    }

    public Tensor squeeze(int axis) {
        int a = Shape.axis("squeeze", axis, shape.length);
        if (shape[a] != 1) throw new ShapeException("squeeze: axis " + a + " of " + Shape.str(shape) + " is not 1");
        int[] s = new int[shape.length - 1], st = new int[shape.length - 1];
        for (int i = 0, j = 0; i < shape.length; i++) {
            if (i == a) continue;
            s[j] = shape[i];
            st[j++] = strides[i];
        }
        return derived(offset, s, st);
    }

    // ---- host access (for I/O and tests; not for hot paths) ------------------------------------------------------

    /** The elements in row-major order, as a new array (int32 values converted). */
    public float[] toFloatArray() {
        checkAlive();
        float[] out = new float[numel()];
        if (isContiguous()) {
            storage.readFloats(offset, out, 0, out.length);
            return out;
        }
        int[] idx = new int[shape.length];
        float[] one = new float[1];
        for (int i = 0; i < out.length; i++) {
            storage.readFloats(elementOffset(idx), one, 0, 1);
            out[i] = one[0];
            increment(idx);
        }
        return out;
    }

    /** The elements in row-major order, as a new int array (float values truncated). */
    public int[] toIntArray() {
        checkAlive();
        int[] out = new int[numel()];
        if (isContiguous()) {
            storage.readInts(offset, out, 0, out.length);
            return out;
        }
        int[] idx = new int[shape.length];
        int[] one = new int[1];
        for (int i = 0; i < out.length; i++) {
            storage.readInts(elementOffset(idx), one, 0, 1);
            out[i] = one[0];
            increment(idx);
        }
        return out;
    }

    /** One element as a float. */
    public float get(int... index) {
        float[] one = new float[1];
        storage.readFloats(elementOffset(index), one, 0, 1);
        return one[0];
    }

    /** The single element of a one-element tensor. */
    public float item() {
        if (numel() != 1) throw new ShapeException("item: tensor of shape " + Shape.str(shape) + " has " + numel() + " elements");
        return get(new int[shape.length]);
    }

    /** A contiguous persistent CPU copy, safe to keep after a workspace step ends. */
    public static Tensor copyOf(Tensor t) {
        if (t.dtype() == DType.F32) return of(t.toFloatArray(), t.shape.clone());
        return ofInts(t.toIntArray(), t.shape.clone());
    }

    private int elementOffset(int[] index) {
        if (index.length != shape.length)
            throw new ShapeException("index: " + index.length + " indices for shape " + Shape.str(shape));
        int o = offset;
        for (int i = 0; i < index.length; i++) {
            if (index[i] < 0 || index[i] >= shape[i])
                throw new IndexOutOfBoundsException("index " + Arrays.toString(index) + " out of bounds for " + Shape.str(shape));
            o += index[i] * strides[i];
        }
        return o;
    }

    private void increment(int[] idx) {
        for (int d = idx.length - 1; d >= 0; d--) {
            if (++idx[d] < shape[d]) return;
            idx[d] = 0;
        }
    }

    @Override public String toString() {
        return "Tensor[" + dtype() + " " + Shape.str(shape) + " " + device() + "]";
    }
}
