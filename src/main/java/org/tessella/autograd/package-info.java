/**
 * Reverse-mode automatic differentiation, define-by-run. {@link org.tessella.autograd.Ops} (math, reductions, matmul,
 * views) and {@link org.tessella.autograd.Functional} (softmax, losses, norms, convolution, attention, rope, the
 * SwiGLU gate, attention straight from a packed q/k/v projection, dropout)
 * compute through the backend of their inputs' device and record a backward rule on the thread's
 * {@link org.tessella.autograd.Tape}; {@code Tape.backward(loss)} walks it in reverse and accumulates into the
 * {@code grad} of leaf tensors. {@code Tape.noGrad()} opens a scope that records nothing.
 *
 * <p>Ops compute on the device of their inputs (mixing devices is an error that names both); creation helpers make
 * tensors on the device of a given tensor ({@code fullLike}, {@code zerosLike}) or a given {@code Device}
 * ({@code full}, {@code zeros}, {@code rand}, {@code randn}; the CPU when none is given). {@code Ops.to} copies a tensor
 * to a device for the current step (a batch upload), {@code Ops.persistentCopy} for good (parameters, buffers,
 * optimizer state).
 *
 * <p>Depends on {@code tensor} and {@code backend}; never on a concrete backend.
 */
package org.tessella.autograd;
