/**
 * Evaluation: the Fashion-MNIST {@link org.tessella.eval.FashionClassifier} whose penultimate features serve the
 * Frechet distance of generated images, and its training ({@link org.tessella.eval.ClassifierTraining}).
 *
 * <p>May depend on every model package and on {@code nn}, {@code optim}, {@code io}, {@code data}.
 */
package org.tessella.eval;
