package org.frcnn4j.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/** Finds the project's bundled data and the optional ../shared/data beside the checkout. */
public final class SharedData {
    private SharedData() {}

    /** The repository root (the folder with the parent pom), from the module's working directory. */
    public static Path repoRoot() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("datasets"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("cannot find the repository's datasets/ folder above " + Path.of("").toAbsolutePath());
        }
        return p;
    }

    /** {@code datasets/<name>} in the repository. */
    public static Path bundled(String name) {
        return repoRoot().resolve("datasets").resolve(name);
    }
}
