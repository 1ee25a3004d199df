/**
 * Evaluation: how good the tokenizers and the generators are, and the CRT study that measures them.
 *
 * <ul>
 *   <li>{@link org.tessella.eval.FashionClassifier} and its training ({@link org.tessella.eval.ClassifierTraining}):
 *       the Fashion-MNIST CNN whose 128-wide penultimate features play Inception's role for the Frechet distance.</li>
 *   <li>{@link org.tessella.eval.FrechetDistance}: feature statistics (mean and unbiased covariance, in double) of a
 *       set of images, the Frechet distance between two such Gaussians, the classifier's features of a batch of
 *       images and the class accuracy of class-conditional samples.</li>
 *   <li>{@link org.tessella.eval.SymmetricEigen}: the project's own double-precision symmetric eigensolver
 *       (Householder tridiagonalisation and implicit QL) and the PSD matrix square root the distance needs.</li>
 *   <li>{@link org.tessella.eval.ImageMetrics}: PSNR ({@code 10 log10(4 / mse)} for [-1, 1] images) and SSIM
 *       (Gaussian 11x11 window, sigma 1.5, valid region; pytorch-msssim's and skimage's numbers) of reconstructions.</li>
 *   <li>{@link org.tessella.eval.CodebookStats}: codebook usage, code entropy in bits and perplexity from a histogram
 *       of code indices.</li>
 *   <li>{@link org.tessella.eval.Evaluation}: every metric of a tokenizer and of a stage-2 model over it on one test
 *       set ({@code tessella eval}'s metrics.json).</li>
 *   <li>{@link org.tessella.eval.GenerationEval}, {@link org.tessella.eval.Study} and
 *       {@link org.tessella.eval.StudyReport}: sampling and scoring a stage-2 model, the CRT trade-off experiment and
 *       its HTML/CSV report.</li>
 *   <li>{@link org.tessella.eval.CacheStudy} and {@link org.tessella.eval.CacheStudyReport}: the Learning-to-Cache
 *       experiment on a trained DiT (DDIM step counts, learned schedules, lambda/theta sweep, caching and dropping
 *       baselines; FD with a bootstrap standard deviation, class accuracy, RMSE to DDIM's samples from the same
 *       noise, time as the median of interleaved rounds, FLOPs) and its report; the DiT may sample on a GPU while
 *       the classifier scores on the CPU, and the times may come from a separate timing run.</li>
 * </ul>
 *
 * <p>All metric code is plain double arithmetic in a fixed order (no threads, {@code StrictMath} for transcendental
 * functions), so a metric is bitwise reproducible; the classifier itself runs on the deterministic CPU kernels.
 *
 * <p>May depend on every model package and on {@code nn}, {@code optim}, {@code io}, {@code data}. The metric classes
 * ({@code SymmetricEigen}, {@code ImageMetrics}, {@code CodebookStats}) use only the JDK and {@code tensor}.
 *
 * <p>{@link org.tessella.eval.TokenProbe}: the tokenizer probe, a gpt-xs trained with a fixed seed for a fixed number
 * of steps on a token file and evaluated in bits per token on its test sequences ({@code probe_bits_per_token} of
 * {@code train-tokenizer}'s metrics.json), so that baseline and CRT tokens of equal size compare.
 */
package org.tessella.eval;
