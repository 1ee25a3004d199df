/**
 * Layers: {@link org.tessella.nn.Module} (named parameters and children in PyTorch {@code state_dict} naming, training
 * mode), Linear, Conv2d, Embedding, LayerNorm, RMSNorm, GroupNorm, Dropout, and {@link org.tessella.nn.Init}, PyTorch's
 * default initialisations drawn from a counter-based stream.
 *
 * <p>Depends on {@code autograd} (and through it {@code tensor}, {@code backend}).
 */
package org.tessella.nn;
