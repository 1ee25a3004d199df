package org.tessella.cli;

import org.tessella.data.FashionMnist;
import org.tessella.eval.Study;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;

/**
 * {@code tessella quickstart}: the whole pipeline at the smallest scale that still shows something, in minutes: the
 * classifier, a baseline and a CRT tokenizer, gpt-xs on each, samples and the report.
 */
final class QuickstartCommand implements Command {
    @Override public String name() { return "quickstart"; }

    @Override public String summary() { return "the whole pipeline in minutes: tokenizers, stage 2, samples, report"; }

    @Override public String help() {
        return """
                usage: tessella quickstart [--out DIR] [options]
                  Trains the classifier (unless DIR has one), a baseline and a CRT tokenizer (64 tokens, codebook
                  1024), gpt-xs on each tokenizer's tokens, samples, and writes DIR/report.html. Runs again resume.
                options:
                  --out DIR          output directory (default runs/quickstart)
                  --crt-weight L     CRT weight (default %s)
                  --classifier DIR   a trained classifier instead of training one
                  --data DIR         directory with the Fashion-MNIST IDX files
                  --threads N        worker threads (default: all cores)""".formatted(StudyCommand.DEFAULT_CRT_WEIGHT);
    }

    @Override public int run(String[] argv) throws Exception {
        Args a = Args.parse(name(), argv, Set.of("out", "crt-weight", "classifier", "data", "threads"), Set.of());
        Main.configureThreads(a);
        Path out = a.path("out").orElse(Path.of("runs", "quickstart"));
        Optional<Path> data = a.path("data");
        if (data.isEmpty() && !Files.isDirectory(Path.of(FashionMnist.SYSTEM_DIR))) installDataset();
        Study.run(out, Study.Plan.quickstart(StudyCommand.crtWeight(a)), data, a.path("classifier"), System.out::println);
        return 0;
    }

    /** As root, installs the Debian package; otherwise FashionMnist's own error says what to install. */
    private static void installDataset() throws Exception {
        if (!"root".equals(System.getProperty("user.name"))) return;
        System.out.println("quickstart: installing " + FashionMnist.DEBIAN_PACKAGE + " with apt-get (Fashion-MNIST)");
        Process p = new ProcessBuilder("sh", "-c", "apt-get install -y -q " + FashionMnist.DEBIAN_PACKAGE
                + " || (apt-get update -q && apt-get install -y -q " + FashionMnist.DEBIAN_PACKAGE + ")").inheritIO().start();
        if (p.waitFor() != 0) System.out.println("quickstart: apt-get failed; install " + FashionMnist.DEBIAN_PACKAGE + " yourself or pass --data DIR");
    }
}
