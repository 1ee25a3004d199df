/**
 * Tensors and their memory: {@link org.tessella.tensor.Tensor} (shape, strides, offset over a
 * {@link org.tessella.tensor.Storage}), {@link org.tessella.tensor.Shape} helpers, {@link org.tessella.tensor.DType},
 * {@link org.tessella.tensor.Device}, the per-step {@link org.tessella.tensor.Workspace} (a first-fit allocator
 * over reused chunks that takes back a backward pass's memory as its gradients are consumed) and the counter-based generator {@link org.tessella.tensor.Philox}.
 *
 * <p>Depends on the JDK only.
 *
 * <h2>Why CPU storage is a Java array</h2>
 * CPU tensors live in {@code float[]} / {@code int[]} ({@link org.tessella.tensor.HeapStorage}), viewed as heap
 * {@link java.lang.foreign.MemorySegment}s for bulk I/O. Measured on this project's machines (JDK 25, AVX-512, a
 * 4096-float dot product and axpy in Vector API loops, C2-compiled): {@code FloatVector.fromArray} ran 3.7x faster
 * than {@code fromMemorySegment} over a native segment for the dot product and 3.3x for axpy, and heap segments were
 * slower still (bench/ has the JMH version: {@code StorageBench}). Native segments remain the right thing for memory
 * mapped files and pinned buffers of GPU copies, which the I/O and CUDA code use at the boundary.
 *
 * <h2>Memory lifetimes</h2>
 * Parameters, gradients and optimizer state are persistent ({@link org.tessella.tensor.Tensor#persistent}).
 * Activations and temporaries come from the thread's open {@link org.tessella.tensor.Workspace}, recycled when the
 * step closes; a tensor used after its step is caught by {@link org.tessella.tensor.Tensor#checkAlive()}. Memory
 * allocated during a backward pass is released as soon as no pending gradient refers to it: each workspace tensor
 * knows its allocation (views share it) and {@link org.tessella.tensor.Tensor#setGrad} counts the gradients that
 * refer to it; the tape asks the workspace to release after every backward rule.
 * {@link org.tessella.tensor.Tensor#setData} points a tensor at other storage in place (a parameter moving to another
 * device: PyTorch's {@code param.data = ...}); shape, autodiff state and identity stay.
 */
package org.tessella.tensor;
