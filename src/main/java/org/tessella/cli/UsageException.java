package org.tessella.cli;

/** Bad command-line usage: exit code 2, with the message on stderr. */
public final class UsageException extends RuntimeException {
    public UsageException(String message) { super(message); }
}
