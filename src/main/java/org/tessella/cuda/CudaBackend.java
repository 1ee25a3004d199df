package org.tessella.cuda;

import org.tessella.backend.Backend;
import org.tessella.backend.Backends;
import org.tessella.backend.BinaryOp;
import org.tessella.backend.ReduceOp;
import org.tessella.backend.UnaryOp;
import org.tessella.tensor.DType;
import org.tessella.tensor.Device;
import org.tessella.tensor.Shape;
import org.tessella.tensor.ShapeException;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;

import java.util.List;
import java.util.function.Supplier;

/**
 * The CUDA backend: tensors live in device memory ({@link DeviceStorage}) and every primitive runs on the GPU, as an
 * NVRTC-compiled kernel of this package's CUDA C sources or a cuBLAS call; data crosses to the host only when it is
 * loaded or read. Each primitive delegates to the class of its concern (Elementwise, Reductions, RowOps, Norms,
 * Indexing, Randomness, Conv, Attention, CublasGemm), as the CPU backend does. All work is queued on the device's one
 * stream, in order; reads wait for it.
 *
 * <p>Every primitive of {@link Backend} is implemented and follows its contract, with results that agree with the
 * CPU backend to float rounding (TF32/BF16 GEMMs to their precision) and repeat bit for bit on one device. Limits
 * that throw {@link UnsupportedOperationException} naming the op: attention head dimensions above 256, and strided
 * views that still need more than 8 dimensions after merging. Tensors hold at most 2^31 - 64 elements, as on the CPU.
 *
 * <p>Created through {@code Backends.of(Device.cuda(i))} (the provider is a ServiceLoader service); creating it loads
 * libcuda, NVRTC and cuBLAS, and fails in one line ({@link CudaUnavailableException}) when any is missing.
 */
public final class CudaBackend implements Backend {
    private static final int THREADS = 256;

    private final Device device;
    private final CudaContext context;
    private final Kernels kernels;
    private final KernelCompiler compiler;
    private final CublasGemm gemm;
    private final Elementwise elementwise = new Elementwise(this);
    private final Reductions reductions = new Reductions(this);
    private final RowOps rowOps = new RowOps(this);
    private final Norms norms = new Norms(this);
    private final Indexing indexing = new Indexing(this);
    private final Randomness randomness = new Randomness(this);
    private final Conv conv = new Conv(this);
    private final Attention attention = new Attention(this);
    private final int maxGrid;

    CudaBackend(Device device) {
        if (device.kind() != Device.Kind.CUDA) throw new IllegalArgumentException("CudaBackend: " + device + " is not a CUDA device");
        this.device = device;
        this.context = CudaContext.of(device.index());
        Nvrtc nvrtc = Nvrtc.get();    // all three libraries now, so a missing one fails at creation, not mid-run
        Cublas cublas = Cublas.get();
        this.compiler = new KernelCompiler(nvrtc, new KernelCache(KernelCache.defaultDirectory()));
        this.kernels = new Kernels(context, compiler);
        this.gemm = new CublasGemm(this, context, cublas, GemmPrecision.fromEnvironment());
        this.maxGrid = context.info().multiprocessors() * 32;
    }

    /** The backend of GPU {@code ordinal} (as {@code Backends.of(Device.cuda(ordinal))}). */
    public static CudaBackend of(int ordinal) { return (CudaBackend) Backends.of(Device.cuda(ordinal)); }

    @Override public Device device() { return device; }

    public DeviceInfo info() { return context.info(); }

    public CudaContext context() { return context; }

    public GemmPrecision matmulPrecision() { return gemm.precision(); }

    public void setMatmulPrecision(GemmPrecision precision) { gemm.precision(precision); }

    /** Whether {@code TESSELLA_CUDA_PROFILE=1} has every kernel and GEMM timed ({@link #profileReport}). */
    public static boolean profiling() { return KernelProfiler.ENABLED; }

    /** Forgets the device times recorded so far (see {@link #profiling()}). */
    public void profileReset() { context.profiler().reset(); }

    /** Device time per kernel since the last reset, the {@code rows} largest, as a table (see {@link #profiling()}). */
    public String profileReport(int rows) { return context.profiler().report(rows); }

    /** Waits for all queued work (for timing; reads wait by themselves). */
    @Override public void synchronize() { context.synchronize(); }

    /** The NVRTC target kernels are compiled for ("sm_90", or "compute_XY" on a GPU newer than NVRTC). */
    public String kernelTarget() { return kernels.target(); }

    public int cublasVersion() { return gemm.version(); }

    KernelCompiler compiler() { return compiler; }

    Elementwise elementwise() { return elementwise; }

    // ---- memory --------------------------------------------------------------------------------------------------

    @Override public Tensor empty(DType dtype, int... shape) {
        long n = numel(shape);
        Workspace ws = Workspace.current();
        DeviceStorage s = ws != null ? ws.companion(device, () -> new StepArena(context)).allocate(dtype, n)
                : DeviceStorage.allocate(context, dtype, n);
        return new Tensor(s, 0, shape.clone(), Shape.contiguousStrides(shape));
    }

    @Override public Tensor persistent(DType dtype, int... shape) {
        long n = numel(shape);
        DeviceStorage s = DeviceStorage.allocate(context, dtype, n);
        if (n > 0) context.memset32(s.address(), 0, n);
        return new Tensor(s, 0, shape.clone(), Shape.contiguousStrides(shape));
    }

    private static long numel(int[] shape) {
        long n = Shape.numel(shape);
        if (n > Integer.MAX_VALUE - 64)
            throw new ShapeException("tensor: " + Shape.str(shape) + " has " + n + " elements, more than a tensor holds");
        return n;
    }

    // ---- helpers for the op classes -------------------------------------------------------------------------------

    /** The device address of t's first element; t must live on this device. */
    long ptr(Tensor t) {
        if (!(t.storage() instanceof DeviceStorage s) || !t.device().equals(device))
            throw new IllegalArgumentException("CUDA backend " + device + ": " + t + " is not on this device (move it with Ops.to)");
        return s.address(t.offset());
    }

    void requireContiguous(String op, Tensor... ts) {
        for (Tensor t : ts)
            if (!t.isContiguous())
                throw new IllegalArgumentException(op + ": needs contiguous tensors, got strides " + Shape.str(t.strides())
                        + " for shape " + Shape.str(t.shape()));
    }

    /**
     * A temporary for one op's own use, to be given back with {@link #release} as soon as the op has queued its last
     * use of it: the stream runs work in order, so whatever gets the block next runs after that use. (Not from the
     * workspace: an op's temporaries should not live until the step ends.)
     */
    Tensor scratch(DType dtype, int... shape) {
        DeviceStorage s = DeviceStorage.allocate(context, dtype, numel(shape));
        return new Tensor(s, 0, shape.clone(), Shape.contiguousStrides(shape));
    }

    void release(Tensor scratch) { ((DeviceStorage) scratch.storage()).release(); }

    /** t when it is contiguous, else a contiguous scratch copy; give it back with {@link #releaseCopy}. */
    Tensor contiguous(Tensor t) {
        if (t.isContiguous()) return t;
        Tensor c = scratch(t.dtype(), t.shape());
        elementwise.copy(t, c);
        return c;
    }

    void releaseCopy(Tensor maybeCopy, Tensor original) { if (maybeCopy != original) release(maybeCopy); }

    DeviceStatus status(int... initial) { return new DeviceStatus(context, initial); }

    /** One int32 element of a contiguous device tensor, read to the host (for error messages). */
    int readInt(Tensor t, int index) {
        int[] one = new int[1];
        t.storage().readInts(t.offset() + (long) index, one, 0, 1);
        return one[0];
    }

    Kernels.Kernel kernel(String module, String name) { return kernels.get(module, name); }

    /** k with its launches allowed {@code sharedBytes} of dynamic shared memory. */
    Kernels.Kernel kernel(String module, String name, int sharedBytes) {
        Kernels.Kernel k = kernels.get(module, name);
        kernels.allowShared(k, sharedBytes);
        return k;
    }

    /** A grid-stride kernel over n elements. */
    void launch(Kernels.Kernel k, int n, KernelArgs args) {
        if (n <= 0) return;
        kernels.launch(k, (int) Math.min((n + (long) THREADS - 1) / THREADS, maxGrid), THREADS, 0, args);
    }

    /** A block-per-row kernel (rows loop over the grid). */
    void launchRows(Kernels.Kernel k, int rows, int threads, KernelArgs args) {
        if (rows <= 0) return;
        kernels.launch(k, Math.min(rows, 1 << 20), threads, 0, args);
    }

    void launchGrid(Kernels.Kernel k, int grid, int threads, KernelArgs args) { kernels.launch(k, grid, threads, 0, args); }

    /** A gridX x gridY grid of blocks with {@code sharedBytes} of dynamic shared memory each. */
    void launch(Kernels.Kernel k, int gridX, int gridY, int threads, int sharedBytes, KernelArgs args) {
        kernels.launch(k, gridX, gridY, threads, sharedBytes, args);
    }

    /** As above, named {@code label} in the profiler (built only when profiling: see {@link #profiling()}). */
    void launch(Kernels.Kernel k, int gridX, int gridY, int threads, int sharedBytes, KernelArgs args,
                Supplier<String> label) {
        kernels.launch(k, gridX, gridY, threads, sharedBytes, args, KernelProfiler.ENABLED ? label.get() : null);
    }

    /** Threads for a block that reduces rows of d elements: a power of two from 32 to 512. */
    static int rowThreads(int d) {
        if (d >= 2048) return 512;
        if (d >= 256) return 256;
        return Math.max(32, Integer.highestOneBit(Math.max(1, d - 1)) << 1);
    }

    // ---- data movement -------------------------------------------------------------------------------------------

    @Override public void fill(Tensor out, float value) { elementwise.fill(out, value); }

    /** Also copies host tensors into device ones (loading a checkpoint into device parameters). */
    @Override public void copy(Tensor src, Tensor dst) {
        boolean srcHere = src.device().equals(device), dstHere = dst.device().equals(device);
        if (srcHere && dstHere) {
            elementwise.copy(src, dst);
        } else if (dstHere) { // host -> device: src is a (maybe broadcast) view of dst's shape
            Tensor staged = dst.isContiguous() && dst.dtype() == src.dtype() ? dst : scratch(src.dtype(), dst.shape());
            if (src.dtype() == DType.F32) {
                float[] host = src.toFloatArray();
                staged.storage().writeFloats(staged.offset(), host, 0, host.length);
            } else {
                int[] host = src.toIntArray();
                staged.storage().writeInts(staged.offset(), host, 0, host.length);
            }
            if (staged != dst) {
                elementwise.copy(staged, dst);
                release(staged);
            }
        } else if (srcHere) { // device -> host
            Tensor host = src.dtype() == DType.F32 ? Tensor.of(src.toFloatArray(), src.shape().clone())
                    : Tensor.ofInts(src.toIntArray(), src.shape().clone());
            Backends.of(dst.device()).copy(host, dst);
        } else {
            throw new IllegalArgumentException("copy: neither " + src + " nor " + dst + " is on " + device);
        }
    }

    // ---- elementwise ---------------------------------------------------------------------------------------------

    @Override public void unary(UnaryOp op, Tensor x, Tensor out) { elementwise.unary(op, x, out); }

    @Override public void unaryBackward(UnaryOp op, Tensor x, Tensor y, Tensor gy, Tensor gx) {
        elementwise.unaryBackward(op, x, y, gy, gx);
    }

    @Override public void binary(BinaryOp op, Tensor a, Tensor b, Tensor out) { elementwise.binary(op, a, b, out); }

    @Override public void affine(Tensor x, float scale, float shift, Tensor out) { elementwise.affine(x, scale, shift, out); }

    @Override public void powScalar(Tensor x, float exponent, Tensor out) { elementwise.powScalar(x, exponent, out); }

    @Override public void clamp(Tensor x, float lo, float hi, Tensor out) { elementwise.clamp(x, lo, hi, out); }

    @Override public void where(Tensor cond, Tensor a, Tensor b, Tensor out) { elementwise.where(cond, a, b, out); }

    // ---- reductions ----------------------------------------------------------------------------------------------

    @Override public void reduce(ReduceOp op, Tensor x, Tensor out) { reductions.reduce(op, x, out); }

    @Override public double sumOfSquares(Tensor x) { return reductions.sumOfSquares(x); }

    @Override public double sumOfSquares(List<Tensor> xs) { return reductions.sumOfSquares(xs); }

    @Override public void argmax(Tensor x, Tensor out) { reductions.argmax(x, out); }

    @Override public void topk(Tensor x, int k, Tensor values, Tensor indices) { reductions.topk(x, k, values, indices); }

    // ---- linear algebra ------------------------------------------------------------------------------------------

    @Override public void matmul(Tensor a, boolean transA, Tensor b, boolean transB, Tensor c, float alpha, float beta) {
        requireContiguous("matmul", a, b, c);
        gemm.matmul(a, transA, b, transB, c, alpha, beta);
    }

    // ---- fused row ops -------------------------------------------------------------------------------------------

    @Override public void softmax(Tensor x, Tensor out) { rowOps.softmax(x, out); }

    @Override public void softmaxBackward(Tensor y, Tensor gy, Tensor gx) { rowOps.softmaxBackward(y, gy, gx); }

    @Override public void logSoftmax(Tensor x, Tensor out) { rowOps.logSoftmax(x, out); }

    @Override public void logSoftmaxBackward(Tensor y, Tensor gy, Tensor gx) { rowOps.logSoftmaxBackward(y, gy, gx); }

    @Override public int crossEntropy(Tensor logits, Tensor targets, int ignoreIndex, Tensor losses, Tensor dlogits) {
        return rowOps.crossEntropy(logits, targets, ignoreIndex, losses, dlogits);
    }

    // ---- normalisation -------------------------------------------------------------------------------------------

    @Override public void layerNorm(Tensor x, Tensor weight, Tensor bias, float eps, Tensor y, Tensor mean, Tensor rstd) {
        norms.layerNorm(x, weight, bias, eps, y, mean, rstd);
    }

    @Override public void layerNormBackward(Tensor x, Tensor weight, Tensor mean, Tensor rstd, Tensor gy, Tensor gx,
                                            Tensor gWeight, Tensor gBias) {
        norms.layerNormBackward(x, weight, mean, rstd, gy, gx, gWeight, gBias);
    }

    @Override public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor y, Tensor rstd) {
        norms.rmsNorm(x, weight, eps, y, rstd);
    }

    @Override public void rmsNormBackward(Tensor x, Tensor weight, Tensor rstd, Tensor gy, Tensor gx, Tensor gWeight) {
        norms.rmsNormBackward(x, weight, rstd, gy, gx, gWeight);
    }

    @Override public void groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps, Tensor y, Tensor mean,
                                    Tensor rstd) {
        norms.groupNorm(x, groups, weight, bias, eps, y, mean, rstd);
    }

    @Override public void groupNormBackward(Tensor x, int groups, Tensor weight, Tensor mean, Tensor rstd, Tensor gy,
                                            Tensor gx, Tensor gWeight, Tensor gBias) {
        norms.groupNormBackward(x, groups, weight, mean, rstd, gy, gx, gWeight, gBias);
    }

    // ---- images ------------------------------------------------------------------------------------------------

    @Override public void conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padding, Tensor y) {
        conv.conv2d(x, w, bias, stride, padding, y);
    }

    @Override public void conv2dBackwardInput(Tensor gy, Tensor w, int stride, int padding, Tensor gx) {
        conv.conv2dBackwardInput(gy, w, stride, padding, gx);
    }

    @Override public void conv2dBackwardWeight(Tensor gy, Tensor x, int stride, int padding, Tensor gw, Tensor gBias) {
        conv.conv2dBackwardWeight(gy, x, stride, padding, gw, gBias);
    }

    @Override public void upsampleNearest(Tensor x, int factor, Tensor y) { conv.upsampleNearest(x, factor, y); }

    @Override public void upsampleNearestBackward(Tensor gy, int factor, Tensor gx) {
        conv.upsampleNearestBackward(gy, factor, gx);
    }

    @Override public void avgPool2d(Tensor x, int kernel, int stride, Tensor y) { conv.avgPool2d(x, kernel, stride, y); }

    @Override public void avgPool2dBackward(Tensor gy, int kernel, int stride, Tensor gx) {
        conv.avgPool2dBackward(gy, kernel, stride, gx);
    }

    // ---- indexing ------------------------------------------------------------------------------------------------

    @Override public void embedding(Tensor table, Tensor idx, Tensor out) { indexing.embedding(table, idx, out); }

    @Override public void embeddingBackward(Tensor g, Tensor idx, Tensor gTable) { indexing.embeddingBackward(g, idx, gTable); }

    @Override public void gather(Tensor x, int axis, Tensor idx, Tensor out) { indexing.gather(x, axis, idx, out); }

    @Override public void scatterAdd(Tensor g, int axis, Tensor idx, Tensor gx) { indexing.scatterAdd(g, axis, idx, gx); }

    // ---- attention -----------------------------------------------------------------------------------------------

    @Override public void attention(Tensor q, Tensor k, Tensor v, boolean causal, float scale, Tensor out, Tensor lse) {
        attention.attention(q, k, v, causal, scale, out, lse);
    }

    @Override public void attentionBackward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor gOut,
                                            boolean causal, float scale, Tensor gq, Tensor gk, Tensor gv) {
        attention.attentionBackward(q, k, v, out, lse, gOut, causal, scale, gq, gk, gv);
    }

    @Override public void rope(Tensor x, Tensor cos, Tensor sin, boolean inverse, Tensor out) {
        attention.rope(x, cos, sin, inverse, out);
    }

    // ---- randomness ----------------------------------------------------------------------------------------------

    @Override public void randomUniform(Tensor out, long seed, long offset) { randomness.uniform(out, seed, offset); }

    @Override public void randomNormal(Tensor out, long seed, long offset, float mean, float std) {
        randomness.normal(out, seed, offset, mean, std);
    }

    // ---- optimizer -----------------------------------------------------------------------------------------------

    @Override public void adamw(List<Tensor> params, List<Tensor> grads, List<Tensor> m, List<Tensor> v, float lr,
                                float beta1, float beta2, float eps, float[] weightDecay, float c1, float c2) {
        elementwise.adamwAll(params, grads, m, v, lr, beta1, beta2, eps, weightDecay, c1, c2);
    }

    @Override public void scale(List<Tensor> xs, float s) { elementwise.scaleAll(xs, s); }

    @Override public void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2,
                                float eps, float weightDecay, float c1, float c2) {
        elementwise.adamw(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, c1, c2);
    }

    @Override public String toString() { return "CudaBackend[" + context.info() + "]"; }
}
