package org.tessella.nn;

import org.tessella.tensor.Tensor;

/**
 * A named trainable tensor. {@code decay} says whether AdamW's weight decay applies: by convention matrices and
 * convolution kernels decay, while biases, norm weights and embeddings do not (set per parameter by its layer).
 */
public record Parameter(String name, Tensor tensor, boolean decay) {}
