/**
 * Files in and out: {@link org.tessella.io.Safetensors} (read and write, F32/I32, plus BF16/F16 read as F32),
 * {@link org.tessella.io.Checkpoint} (one safetensors file with weights, optimizer state and string metadata),
 * {@link org.tessella.io.Png} (8-bit grey/RGB writer and reader from {@code java.base}, sample grids),
 * {@link org.tessella.io.Json} (a small JSON reader/writer with typed field access), {@link org.tessella.io.Csv},
 * {@link org.tessella.io.AtomicFile} (temporary file, fsync, atomic rename: a crash never leaves a half-written file),
 * {@link org.tessella.io.TrainingLog} (the progress line and run log), the report pieces {@link org.tessella.io.HtmlPage},
 * {@link org.tessella.io.SvgPlot} (line plots) and {@link org.tessella.io.SvgHeatMap} (matrices), and
 * {@link org.tessella.io.TessellaIOException},
 * the unchecked one-line error, naming the file, for anything missing, corrupt or truncated.
 *
 * <p>Depends on the JDK and {@code org.tessella.tensor} only.
 */
package org.tessella.io;
