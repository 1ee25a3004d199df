/**
 * The {@code tessella} command ({@link org.tessella.cli.Main}) and its subcommands, each with {@code --help}.
 * Exit codes: 0 success, 2 bad usage, 1 failure with a one-line reason on stderr.
 *
 * <p>Depends on everything.
 */
package org.tessella.cli;
