/**
 * The {@code tessella} command ({@link org.tessella.cli.Main}) and its subcommands, each with {@code --help}.
 * Exit codes: 0 success, 2 bad usage, 1 failure with a one-line reason on stderr. {@code --device cuda[:N]} on
 * train-classifier, train-tokenizer, train-ar, sample and bench builds the model on the CPU and moves it there
 * ({@link org.tessella.cli.Main#device} fails in one line when CUDA is unusable). {@link org.tessella.cli.CudaModelChecks}
 * checks the models on a GPU against the CPU (tools/cuda-check); it and CUDA's classes load only when run.
 *
 * <p>Depends on everything.
 */
package org.tessella.cli;
