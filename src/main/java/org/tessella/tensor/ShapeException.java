package org.tessella.tensor;

/** A shape that does not fit an op; the message names the op and the shapes involved. */
public final class ShapeException extends IllegalArgumentException {
    public ShapeException(String message) { super(message); }
}
