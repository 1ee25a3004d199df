package org.tessella.cli;

/** One subcommand of {@code tessella}. */
public interface Command {
    String name();

    /** One line for the command list. */
    String summary();

    /** The full --help text. */
    String help();

    /** Runs the command; returns the exit code (0 on success). Throws {@link UsageException} on bad usage. */
    int run(String[] args) throws Exception;
}
