package org.tessella.cpu;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Implicit-GEMM convolution: {@code out[n] = A @ col(src[n]) (+ bias)} for every image n, where A is m x K and
 * col(src[n]) is the K x P im2col matrix of one source image under a {@link Window}. col is never materialised. A is
 * packed once per call, whole (row-major, as {@link Gemm#kernel} reads it, rows padded with zeros to whole MR-row
 * tiles), and shared read-only by all threads. A unit of work is one image and one panel of NR output pixels; for
 * each KC block of K the panel's B (KC rows of col by NR pixels) is put into a per-thread buffer, packed as
 * {@link Gemm}'s B micro-panels are, and every MR-row tile of A runs {@link Gemm#kernel} against it. B comes from the
 * image in one of three ways:
 * <ul>
 *   <li>when output rows are whole vectors (width a multiple of the vector length): vector copies from a zero-padded
 *       copy of the image that each thread makes for the images it works on, B's vectors at row k found through a
 *       table of offsets. With stride s the copy is split into s x s phases (padded pixel (r, c) in phase (r mod s, c mod s)
 *       at (r / s, c / s)), so that a tap's pixels along an output row are contiguous for any stride;
 *   <li>stride 1, other widths: from a per-thread copy of the image as kw column-shifted planes per channel, each
 *       output-width wide ({@code copy[kj][c][r][x] = padded[c][r][x + kj]}), in which output pixel q of tap
 *       (c, ki, kj) sits at {@code q + (kj*C + c)*hp*wo + ki*wo}: a panel's pixels are contiguous across output rows,
 *       so 8-pixel rows (vq-s at 8x8) and 4-pixel ones (vq-s16) are vector copies too;
 *   <li>otherwise (stride > 1, other widths) each B micro-panel (KC rows of col by NR pixels) is packed from the image
 *       into a per-thread buffer that stays in cache, line segment by line segment.
 * </ul>
 *
 * <p>The forward convolution is A = the weights [O, C*kh*kw] over x; the stride-1 input gradient is a convolution of gy
 * with the weights transposed and flipped (A [C, O*kh*kw], see {@link #packFlipped}) and padding {@code k-1-pad}.
 *
 * <p>Arithmetic has {@link Gemm}'s form (with this class's own KC), whichever way B is read: each output is
 * {@code acc = 0; acc = fma(a, b, acc)} in order of k within a KC block, then stored (first block), {@code acc + bias} (first block with a bias) or
 * {@code acc + out} (later blocks). Units never split K, so the thread count and the vector width change where an
 * output is computed, never how.
 */
final class ConvGemm {
    private ConvGemm() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int VL = S.length();
    private static final int MR = Gemm.MR, NR = Gemm.NR;
    /**
     * Depth of a K block: 128 channels of a 3x3 kernel, so that vq-s's convolutions (K = 576 and 1152) store each tile
     * once instead of adding a second, short block into the output (a constant: the bits never depend on the path).
     */
    private static final int KC = 1152;
    /** Least work (multiply-adds) worth a task of its own. */
    private static final long MIN_TASK_WORK = 1L << 19;

    /**
     * The im2col window over one source image of {@code ch} planes of h x w: kernel kh x kw, stride, padding ph
     * (rows) and pw (columns), output ho x wo. Row k = (channel, ki, kj) of col, column p = (oh, ow) holds
     * src[channel][oh*stride - ph + ki][ow*stride - pw + kj], or 0 off the image.
     */
    record Window(int ch, int h, int w, int kh, int kw, int stride, int ph, int pw, int ho, int wo) {
        int k() { return ch * kh * kw; }
        int p() { return ho * wo; }
        int imageSize() { return ch * h * w; }
    }

    private static final class Scratch {
        float[] a = new float[0];
        final float[] b = new float[KC * NR];
        final float[] tile = new float[MR * NR];
        final int[] segOh = new int[NR], segOw = new int[NR], segLen = new int[NR];
        int[] lo = new int[0], hi = new int[0];
        float[] xp = new float[0];
        long padCall = -1;
        int padImage = -1;
        final int[] pos = new int[NR / VL];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private static int tiles(int m) { return (m + MR - 1) / MR; }

    /** The calling thread's buffer for a packed A of m rows and depth k (contents undefined). */
    private static float[] aBuffer(int m, int k) {
        Scratch sc = SCRATCH.get();
        int len = tiles(m) * MR * k;
        if (sc.a.length < len) sc.a = new float[len];
        return sc.a;
    }

    /**
     * A = the transpose of w viewed as [k, m] (row-major at wOff: A[row][p] = w[p][row]), packed as {@link #packRows}
     * packs: the strided input gradient's {@code w^T} (m = C*kh*kw, k = O), packed once per call.
     */
    static float[] packTransposed(float[] w, int wOff, int m, int k) {
        float[] pa = aBuffer(m, k);
        Arrays.fill(pa, m * k, tiles(m) * MR * k, 0f);
        for (int p = 0; p < k; p++)
            for (int row = 0, src = wOff + p * m; row < m; row++) pa[row * k + p] = w[src + row];
        return pa;
    }

    /** A = w viewed as [m, k] (row-major at wOff), copied as pa[row][k], rows past m (to whole tiles) zero. */
    static float[] packRows(float[] w, int wOff, int m, int k) {
        float[] pa = aBuffer(m, k);
        System.arraycopy(w, wOff, pa, 0, m * k);
        Arrays.fill(pa, m * k, tiles(m) * MR * k, 0f);
        return pa;
    }

    /**
     * A[c][(o, a, b)] = w[o][c][kh-1-a][kw-1-b] for weights w [o, c, kh, kw]: the input gradient of a stride-1
     * convolution is the convolution of gy with this A. Packed as {@link #packRows} does, m = c, k = o*kh*kw.
     */
    static float[] packFlipped(float[] w, int wOff, int o, int c, int kh, int kw) {
        int kk = kh * kw, k = o * kk;
        float[] pa = aBuffer(c, k);
        Arrays.fill(pa, c * k, tiles(c) * MR * k, 0f);
        for (int ch = 0; ch < c; ch++)
            for (int oc = 0; oc < o; oc++)
                for (int tap = 0, d = ch * k + oc * kk; tap < kk; tap++)
                    pa[d + tap] = w[wOff + (oc * c + ch) * kk + kk - 1 - tap];
        return pa;
    }

    /**
     * out[n] (m x P, at outOff + n*m*P) = A @ col(src[n]) (+ bias[row]) for n in [0, images); src image n at
     * srcOff + n * win.imageSize(). pa comes from {@link #packRows} or {@link #packFlipped} on the calling thread.
     */
    static void run(Window win, int images, float[] pa, int m, float[] src, int srcOff, float[] out, int outOff,
                    float[] bias, int biasOff) {
        boolean shifted = win.wo() % VL != 0 && win.stride() == 1;
        boolean direct = win.wo() % VL == 0 || shifted;
        int nr = NR, p = win.p(), k = win.k(), panels = (p + nr - 1) / nr, tiles = tiles(m);
        long units = (long) images * panels;
        if (units > Integer.MAX_VALUE) throw new IllegalArgumentException("conv2d: too many output tiles");
        // Output rows of whole vectors: B is read in place from a zero-padded (for stride > 1 also phase-split) copy
        // of the image, made by each thread for the images it works on, rows of col found through a table of
        // offsets. Stride 1 at other widths reads B in place too, from column-shifted copies (see the class doc).
        // Other widths pack each B panel from the image. All do the same FMAs in the same order.
        // Only the preferred species is used here, as everywhere in the backend: a second vector shape in the same
        // generic Vector API methods pollutes their type profiles, and C2 then compiles hot kernels without the
        // intrinsics (measured: 8x slower decoding after a GEMM-heavy phase, and the reverse).
        int[] off = shifted ? shiftedOffsets(win) : direct ? offsets(win) : null;
        long call = CALLS.incrementAndGet();
        int grain = (int) Math.max(1, MIN_TASK_WORK / ((long) tiles * MR * nr * k));
        WorkerPool.global().parallelFor((int) units, grain, (s, e) -> {
            Scratch sc = SCRATCH.get();
            for (int u = s; u < e; u++) {
                int n = u / panels, p0 = u % panels * nr, cols = Math.min(nr, p - p0);
                int img = srcOff + n * win.imageSize(), dst = outOff + n * m * p + p0;
                int segs = 0;
                if (shifted) {
                    padShifted(win, src, img, sc, call, n);
                    for (int j = 0; j < NR / VL; j++) sc.pos[j] = p0 + j * VL;
                } else if (direct) {
                    pad(win, src, img, sc, call, n);
                    // where each vector of the panel's pixels starts in the padded image (the last one repeated
                    // past the end of a partial panel)
                    int width = VL, wp = phaseCols(win);
                    for (int j = 0; j < NR / width; j++) {
                        int q = p0 + Math.min(j * width, cols - 1) / width * width;
                        sc.pos[j] = q / win.wo() * wp + q % win.wo();
                    }
                } else {
                    segs = segments(win, p0, cols, sc);
                }
                for (int pc = 0; pc < k; pc += KC) {
                    int kc = Math.min(KC, k - pc);
                    if (!direct) packPanel(win, src, img, pc, kc, sc, segs);
                    else if (m > 1) gatherPanel(sc.xp, sc.pos, off, pc, kc, sc.b);
                    for (int t = 0; t < tiles; t++) {
                        int ao = t * MR * k + pc; // row t*MR of A, K block pc; rows k apart
                        if (direct && m - t * MR == 1) {
                            if (VectorSupport.SIXTEEN_REGISTERS) kernelDirect1x2(kc, pa, ao, sc.xp, sc.pos, off, pc, sc.tile);
                            else kernelDirect1(kc, pa, ao, sc.xp, sc.pos, off, pc, sc.tile);
                        } else {
                            Gemm.kernel(kc, pa, ao, k, MR, sc.b, 0, sc.tile, 0, NR);
                        }
                        for (int r = 0, rows = Math.min(MR, m - t * MR); r < rows; r++) {
                            int row = t * MR + r, o = dst + row * p;
                            if (pc > 0) add(sc.tile, r * nr, out, o, cols);
                            else if (bias != null) addBias(sc.tile, r * nr, out, o, cols, bias[biasOff + row]);
                            else System.arraycopy(sc.tile, r * nr, out, o, cols);
                        }
                    }
                }
            }
        });
    }

    /** Lane indices for {@link FloatVector#selectFrom(jdk.incubator.vector.Vector, jdk.incubator.vector.Vector)}: the even floats of two vectors, then the odd ones. */
    private static final float[] UNZIP = new float[2 * VL];
    static {
        for (int i = 0; i < VL; i++) {
            UNZIP[i] = 2 * i;
            UNZIP[VL + i] = 2 * i + 1;
        }
    }

    /** Distinguishes calls, so that a thread knows whether the padded image in its scratch is current. */
    private static final AtomicLong CALLS = new AtomicLong();

    /**
     * The padded image in phases: with stride s, padded pixel (r, col) sits in phase plane (r mod s, col mod s) at
     * (r / s, col / s), so that the pixels one tap reads along an output row are contiguous in every phase. Each
     * channel has s*s planes of {@code hph x wph}; with stride 1 this is just the zero-padded image.
     */
    private static int phaseRows(Window win) { return ceilDiv(win.h() + 2 * win.ph(), win.stride()); }
    private static int phaseCols(Window win) { return ceilDiv(win.w() + 2 * win.pw(), win.stride()); }

    /** off[k] = where row k = (c, ki, kj) of col starts in the phased padded image, for output pixel (0, 0). */
    private static int[] offsets(Window win) {
        int s = win.stride(), hph = phaseRows(win), wph = phaseCols(win), kk = win.kh() * win.kw();
        int[] off = new int[win.k()];
        for (int k = 0; k < off.length; k++) {
            int c = k / kk, ki = k % kk / win.kw(), kj = k % win.kw();
            off[k] = ((c * s + ki % s) * s + kj % s) * hph * wph + ki / s * wph + kj / s;
        }
        return off;
    }

    /** off[k] for row k = (c, ki, kj) of col in the column-shifted copy: {@code (kj*C + c)*hp*wo + ki*wo}. */
    private static int[] shiftedOffsets(Window win) {
        int hp = win.h() + 2 * win.ph(), wo = win.wo(), kk = win.kh() * win.kw();
        int[] off = new int[win.k()];
        for (int k = 0; k < off.length; k++) {
            int c = k / kk, ki = k % kk / win.kw(), kj = k % win.kw();
            off[k] = ((kj * win.ch() + c) * hp + ki) * wo;
        }
        return off;
    }

    /**
     * Makes sc.xp the column-shifted copy of image n (stride 1): plane (kj, c) row r holds padded row r from column kj,
     * wo values, zero off the image; NR floats of slack after the last plane, which a partial last panel may read
     * (into columns that are never stored).
     */
    private static void padShifted(Window win, float[] src, int img, Scratch sc, long call, int n) {
        if (sc.padCall == call && sc.padImage == n) return;
        int h = win.h(), w = win.w(), ph = win.ph(), pw = win.pw(), c = win.ch(), wo = win.wo(), hp = h + 2 * ph;
        int planes = win.kw() * c;
        if (sc.xp.length < planes * hp * wo + NR) sc.xp = new float[planes * hp * wo + NR];
        float[] xp = sc.xp;
        for (int q = 0; q < planes; q++) {
            int kj = q / c, ch = q % c, plane = q * hp * wo;
            // columns x with source column x + kj - pw in [0, w)
            int x0 = Math.min(wo, Math.max(0, pw - kj)), x1 = Math.max(x0, Math.min(wo, w + pw - kj));
            for (int r = 0; r < hp; r++) {
                int d = plane + r * wo, ih = r - ph;
                if (ih < 0 || ih >= h) {
                    Arrays.fill(xp, d, d + wo, 0f);
                    continue;
                }
                Arrays.fill(xp, d, d + x0, 0f);
                System.arraycopy(src, img + (ch * h + ih) * w + x0 + kj - pw, xp, d + x0, x1 - x0);
                Arrays.fill(xp, d + x1, d + wo, 0f);
            }
        }
        sc.padCall = call;
        sc.padImage = n;
    }

    /** Makes sc.xp the phased, zero-padded copy of image n (at src[img]) unless it already is. */
    private static void pad(Window win, float[] src, int img, Scratch sc, long call, int n) {
        if (sc.padCall == call && sc.padImage == n) return;
        int h = win.h(), w = win.w(), ph = win.ph(), pw = win.pw(), s = win.stride();
        int hph = phaseRows(win), wph = phaseCols(win), planes = win.ch() * s * s;
        if (sc.xp.length < planes * hph * wph) sc.xp = new float[planes * hph * wph];
        float[] xp = sc.xp;
        for (int q = 0; q < planes; q++) {
            int c = q / (s * s), a = q / s % s, b = q % s, plane = q * hph * wph;
            for (int i = 0; i < hph; i++) {
                int d = plane + i * wph, ih = i * s + a - ph;
                if (ih < 0 || ih >= h) {
                    Arrays.fill(xp, d, d + wph, 0f);
                    continue;
                }
                int line = img + (c * h + ih) * w;
                if (s == 1) {
                    Arrays.fill(xp, d, d + pw, 0f);
                    System.arraycopy(src, line, xp, d + pw, w);
                    Arrays.fill(xp, d + pw + w, d + wph, 0f);
                } else { // columns j with iw = j*s + b - pw in [0, w)
                    int j0 = Math.min(wph, ceilDiv(pw - b, s)), j1 = Math.max(j0, Math.min(wph, ceilDiv(w + pw - b, s)));
                    int iw0 = j0 * s + b - pw, j = j0;
                    Arrays.fill(xp, d, d + j0, 0f);
                    if (s == 2 && iw0 <= 1 && w % (2 * VL) == 0) {
                        // stride 2, whole vectors of the row: every other float of two vectors at once (the even or
                        // the odd ones, as iw0 says), where the scalar loop copied one float at a time (29% of the
                        // 64-channel 32 x 32 layer's time)
                        FloatVector pick = FloatVector.fromArray(S, UNZIP, iw0 * VL);
                        for (int u = 0; u < w; u += 2 * VL, j += VL)
                            pick.selectFrom(FloatVector.fromArray(S, src, line + u), FloatVector.fromArray(S, src, line + u + VL))
                                    .intoArray(xp, d + j);
                    }
                    for (int iw = j * s + b - pw; j < j1; j++, iw += s) xp[d + j] = src[line + iw];
                    Arrays.fill(xp, d + j1, d + wph, 0f);
                }
            }
        }
        sc.padCall = call;
        sc.padImage = n;
    }


    /**
     * The direct paths' B panel as a packed one: kc rows of NR pixels, vector j of row p from the padded (or
     * column-shifted) image at {@code pos[j] + off[pc + p]}, copied once per panel so that every row tile then runs
     * {@link Gemm#kernel} with B at a constant stride. (Read through the offsets table in the kernel itself, each
     * vector load kept its bounds check: vq-s's stride-2 convolutions ran at about half the FMA peak.)
     */
    private static void gatherPanel(float[] xp, int[] pos, int[] off, int pc, int kc, float[] b) {
        for (int p = 0; p < kc; p++) {
            int o = off[pc + p], d = p * NR;
            for (int j = 0; j < NR / VL; j++) FloatVector.fromArray(S, xp, pos[j] + o).intoArray(b, d + j * VL);
        }
    }

    /** The direct B panel's kernel for a tile with one row of A (a single output channel): the other five would be padding. */
    private static void kernelDirect1(int kc, float[] pa, int ao, float[] xp, int[] pos, int[] off, int pc, float[] t) {
        int q0 = pos[0], q1 = pos[1], q2 = pos[2], q3 = pos[3];
        FloatVector c0 = FloatVector.zero(S), c1 = FloatVector.zero(S), c2 = FloatVector.zero(S), c3 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++) {
            int o = off[pc + p];
            FloatVector x = FloatVector.broadcast(S, pa[ao + p]);
            c0 = x.fma(FloatVector.fromArray(S, xp, q0 + o), c0);
            c1 = x.fma(FloatVector.fromArray(S, xp, q1 + o), c1);
            c2 = x.fma(FloatVector.fromArray(S, xp, q2 + o), c2);
            c3 = x.fma(FloatVector.fromArray(S, xp, q3 + o), c3);
        }
        c0.intoArray(t, 0);
        c1.intoArray(t, VL);
        c2.intoArray(t, 2 * VL);
        c3.intoArray(t, 3 * VL);
    }


    /** {@link #kernelDirect1} two vectors wide (16 registers). */
    private static void kernelDirect1x2(int kc, float[] pa, int ao, float[] xp, int[] pos, int[] off, int pc, float[] t) {
        int q0 = pos[0], q1 = pos[1];
        FloatVector c0 = FloatVector.zero(S), c1 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++) {
            int o = off[pc + p];
            FloatVector x = FloatVector.broadcast(S, pa[ao + p]);
            c0 = x.fma(FloatVector.fromArray(S, xp, q0 + o), c0);
            c1 = x.fma(FloatVector.fromArray(S, xp, q1 + o), c1);
        }
        c0.intoArray(t, 0);
        c1.intoArray(t, VL);
    }

    /** Splits output pixels [p0, p0 + cols) into runs along output rows: (oh, first ow, length); returns the count. */
    private static int segments(Window win, int p0, int cols, Scratch sc) {
        int count = 0;
        for (int q = p0, end = p0 + cols; q < end; count++) {
            int oh = q / win.wo(), ow = q % win.wo(), len = Math.min(win.wo() - ow, end - q);
            sc.segOh[count] = oh;
            sc.segOw[count] = ow;
            sc.segLen[count] = len;
            q += len;
        }
        return count;
    }

    /**
     * Packs rows [pc, pc + kc) of col(image) for the panel's pixels into sc.b as pb[k][NR], zero past the last column
     * and wherever the window is off the image: row by row, each run of pixels along an output row a (strided) copy
     * of one input line.
     */
    private static void packPanel(Window win, float[] src, int img, int pc, int kc, Scratch sc, int segs) {
        float[] pb = sc.b;
        int kk = win.kh() * win.kw(), h = win.h(), w = win.w(), s = win.stride(), ph = win.ph(), pw = win.pw();
        int c = pc / kk, ki = pc % kk / win.kw(), kj = pc % win.kw();
        int cols = 0;
        for (int i = 0; i < segs; i++) cols += sc.segLen[i];
        if (sc.lo.length < win.kw()) {
            sc.lo = new int[win.kw()];
            sc.hi = new int[win.kw()];
        }
        for (int j = 0; j < win.kw(); j++) { // output columns whose input column ow*s - pw + j lies in [0, w)
            sc.lo[j] = Math.max(0, ceilDiv(pw - j, s));
            sc.hi[j] = ceilDiv(w + pw - j, s);
        }
        for (int row = 0; row < kc; row++) {
            int d = row * NR, plane = img + c * h * w, lo = sc.lo[kj], hi = sc.hi[kj];
            for (int i = 0, dc = d; i < segs; i++) {
                int len = sc.segLen[i], ow0 = sc.segOw[i], ih = sc.segOh[i] * s - ph + ki;
                if (ih < 0 || ih >= h) {
                    zero(pb, dc, len);
                } else {
                    // the run's columns [za, zb) fall inside the input line; the rest are padding
                    int za = Math.min(Math.max(lo - ow0, 0), len), zb = Math.max(za, Math.min(hi - ow0, len));
                    int line = plane + ih * w - pw + kj;
                    if (s == 1) copyRun(src, line + ow0, len, za, zb, pb, dc);
                    else for (int j = 0; j < len; j++) pb[dc + j] = j >= za && j < zb ? src[line + (ow0 + j) * s] : 0f;
                }
                dc += len;
            }
            if (cols < NR) zero(pb, d + cols, NR - cols);
            if (++kj == win.kw()) {
                kj = 0;
                if (++ki == win.kh()) {
                    ki = 0;
                    c++;
                }
            }
        }
    }

    /**
     * pb[d + j] = src[from + j] for j in [za, zb), else 0, for j in [0, len). The whole run is copied with plain
     * vector moves (the few values past an edge of the line are still inside src, from the neighbouring line or plane)
     * and then those are zeroed, which is cheaper than masking; a run that would leave src goes element by element.
     */
    private static void copyRun(float[] src, int from, int len, int za, int zb, float[] pb, int d) {
        if (from < 0 || from + len > src.length) {
            for (int j = 0; j < len; j++) pb[d + j] = j >= za && j < zb ? src[from + j] : 0f;
            return;
        }
        if (len == NR) { // a whole panel (Gemm's four vectors) from one line: straight-line code, not a short loop
            FloatVector.fromArray(S, src, from).intoArray(pb, d);
            FloatVector.fromArray(S, src, from + VL).intoArray(pb, d + VL);
            FloatVector.fromArray(S, src, from + 2 * VL).intoArray(pb, d + 2 * VL);
            FloatVector.fromArray(S, src, from + 3 * VL).intoArray(pb, d + 3 * VL);
        } else {
            int j = 0;
            for (; j <= len - VL; j += VL) FloatVector.fromArray(S, src, from + j).intoArray(pb, d + j);
            for (; j < len; j++) pb[d + j] = src[from + j];
        }
        if (za > 0) zero(pb, d, za);
        if (zb < len) zero(pb, d + zb, len - zb);
    }

    /** pb[d, d + len) = 0. */
    private static void zero(float[] pb, int d, int len) {
        int j = 0;
        for (; j <= len - VL; j += VL) FloatVector.zero(S).intoArray(pb, d + j);
        for (; j < len; j++) pb[d + j] = 0f;
    }

    /** {@code out[o + j] = t[to + j] + out[o + j]} (the sum of later K blocks, as Gemm's combine with alpha = beta = 1). */
    private static void add(float[] t, int to, float[] out, int o, int len) {
        int j = 0;
        for (; j <= len - VL; j += VL)
            FloatVector.fromArray(S, t, to + j).add(FloatVector.fromArray(S, out, o + j)).intoArray(out, o + j);
        for (; j < len; j++) out[o + j] = t[to + j] + out[o + j];
    }

    /** {@code out[o + j] = t[to + j] + bias}. */
    private static void addBias(float[] t, int to, float[] out, int o, int len, float bias) {
        int j = 0;
        for (; j <= len - VL; j += VL) FloatVector.fromArray(S, t, to + j).add(bias).intoArray(out, o + j);
        for (; j < len; j++) out[o + j] = t[to + j] + bias;
    }

    static int ceilDiv(int a, int b) {
        return Math.floorDiv(a + b - 1, b);
    }
}
