/**
 * Layers: {@link org.tessella.nn.Module} (named parameters and children in PyTorch {@code state_dict} naming, training
 * mode), Linear, Conv2d, Embedding, LayerNorm, RMSNorm, GroupNorm, Dropout, and {@link org.tessella.nn.Init}, PyTorch's
 * default initialisations drawn from a counter-based stream.
 *
 * <p>Devices, one mechanism: models are built on the CPU (a seed gives the same weights everywhere) and
 * {@code Module.to(device)} moves their parameters and registered buffers (e.g. RoPE tables) there in place
 * ({@code Tensor.setData}), so the layers that hold them need no change; model entry points take inputs on any device
 * and bring them to the model's with {@code onDevice} (the identity when they are there), so a host batch is uploaded
 * once per call; everything else is made by ops on the device of their inputs. {@code Module.device()} says where a
 * model lives.
 *
 * <p>Depends on {@code autograd} (and through it {@code tensor}, {@code backend}).
 */
package org.tessella.nn;
