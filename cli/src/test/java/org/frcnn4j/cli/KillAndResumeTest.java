package org.frcnn4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * No work is lost: training in a child JVM killed with SIGKILL at any moment (during an iteration, during a checkpoint
 * write) resumes with {@code --resume} to weights bit-identical to a run never interrupted; SIGTERM stops it cleanly
 * (exit 143, a checkpoint of the last iteration, no JVM crash file).
 */
class KillAndResumeTest {
    static final Path ROOT = Path.of("").toAbsolutePath().getParent();
    static final int ITERATIONS = 14;

    @TempDir
    static Path shared;
    static Path reference;

    /** The uninterrupted run every interrupted one must end equal to. */
    @BeforeAll
    static void uninterrupted() throws Exception {
        Path dir = shared.resolve("reference");
        Process p = start(dir, train(dir));
        assertThat(p.waitFor(300, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(log(dir)).isZero();
        reference = dir.resolve("model/weights.safetensors");
    }

    static List<String> train(Path out) {
        return List.of("train", "--data", ROOT.resolve("datasets/raccoon").toString(), "--train-split", "train",
                "--preset", "tiny", "--iterations", "" + ITERATIONS, "--checkpoint-every", "3", "--seed", "7",
                "--out", out.toString());
    }

    @Test
    void killedAtAnyMomentResumesToTheSameWeights(@TempDir Path tmp) throws Exception {
        // seeds of when to kill: after n logged iterations, or the moment a checkpoint is being written
        String[] moments = {"iteration:2", "checkpoint", "iteration:7", "checkpoint", "start"};
        Path dir = tmp.resolve("run");
        int kills = 0;
        for (String moment : moments) {
            List<String> args = new ArrayList<>(train(dir));
            if (kills > 0) {
                args.add("--resume");
            }
            Process p = start(dir, args);
            boolean killed = waitAndKill(p, dir, moment);
            p.waitFor(60, TimeUnit.SECONDS);
            if (!killed) {
                break; // it finished before the moment came
            }
            kills++;
        }
        assertThat(kills).as("the child was killed mid-run").isGreaterThanOrEqualTo(3);
        if (!Files.exists(dir.resolve("model/weights.safetensors"))) {
            Process p = start(dir, List.of("train", "--resume", "--out", dir.toString())); // settings from the run folder
            assertThat(p.waitFor(300, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as(log(dir)).isZero();
        }
        assertThat(differingWeights(dir.resolve("model/weights.safetensors"), reference)).as("weights after %d kills", kills)
                .isEmpty();
        assertThat(crashFiles(dir)).isEmpty();
    }

    @Test
    void sigtermStopsCleanlyWithACheckpointAndResumes(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("run");
        Process p = start(dir, train(dir));
        awaitIterations(dir, 4, p);
        p.destroy(); // SIGTERM
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(log(dir)).isEqualTo(143);
        String out = Files.readString(dir.resolveSibling("run.out"));
        assertThat(out).containsPattern("stopped after iteration \\d+, of which a checkpoint was written")
                .contains("continue with: frcnn train --resume --out " + dir);
        int stopped = Integer.parseInt(out.replaceAll("(?s).*stopped after iteration (\\d+).*", "$1"));
        assertThat(Files.readString(dir.resolve("checkpoints/latest.json"))).contains("\"iteration\":" + stopped);
        assertThat(crashFiles(dir)).isEmpty();
        Process resumed = start(dir, List.of("train", "--resume", "--out", dir.toString()));
        assertThat(resumed.waitFor(300, TimeUnit.SECONDS)).isTrue();
        assertThat(resumed.exitValue()).as(log(dir)).isZero();
        assertThat(differingWeights(dir.resolve("model/weights.safetensors"), reference)).isEmpty();
    }

    /** Names of the weights whose values are not bit for bit the same in the two files (and names in one only). */
    static List<String> differingWeights(Path a, Path b) throws IOException {
        try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager()) {
            Map<String, float[]> x = read(m, a);
            Map<String, float[]> y = read(m, b);
            List<String> out = new ArrayList<>();
            for (String name : new java.util.TreeSet<>(x.keySet())) {
                float[] u = x.get(name);
                float[] v = y.get(name);
                boolean same = v != null && u.length == v.length;
                for (int i = 0; same && i < u.length; i++) {
                    same = Float.floatToRawIntBits(u[i]) == Float.floatToRawIntBits(v[i]);
                }
                if (!same) {
                    out.add(name);
                }
            }
            y.keySet().stream().filter(n -> !x.containsKey(n)).forEach(out::add);
            return out;
        }
    }

    static Map<String, float[]> read(ai.djl.ndarray.NDManager m, Path file) throws IOException {
        Map<String, float[]> out = new java.util.HashMap<>();
        try (java.io.InputStream in = Files.newInputStream(file)) {
            for (ai.djl.ndarray.NDArray arr : ai.djl.ndarray.NDList.decode(m, in)) {
                out.put(arr.getName(), arr.toFloatArray());
            }
        }
        return out;
    }

    /** Kills {@code p} with SIGKILL at the moment named; false when it ended before. */
    static boolean waitAndKill(Process p, Path dir, String moment) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (p.isAlive() && System.nanoTime() < deadline) {
            boolean now = switch (moment.split(":")[0]) {
                case "start" -> Files.exists(dir.resolve("log.csv"));
                case "iteration" -> loggedIterations(dir) >= Integer.parseInt(moment.split(":")[1]);
                default -> writingCheckpoint(dir);
            };
            if (now) {
                p.destroyForcibly(); // SIGKILL
                p.waitFor(30, TimeUnit.SECONDS);
                return true;
            }
            Thread.sleep(moment.equals("checkpoint") ? 1 : 20);
        }
        return false;
    }

    static void awaitIterations(Path dir, int n, Process p) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (p.isAlive() && loggedIterations(dir) < n && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
    }

    static int loggedIterations(Path dir) throws IOException {
        Path log = dir.resolve("log.csv");
        return Files.exists(log) ? (int) Files.readAllLines(log).stream().filter(l -> l.matches("\\d+,.*")).count() : 0;
    }

    static boolean writingCheckpoint(Path dir) throws IOException {
        Path cp = dir.resolve("checkpoints");
        if (!Files.isDirectory(cp)) {
            return false;
        }
        try (Stream<Path> s = Files.list(cp)) {
            return s.anyMatch(f -> f.getFileName().toString().contains(".writing-"));
        } catch (java.nio.file.NoSuchFileException e) {
            return false;
        }
    }

    static List<Path> crashFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir.getParent())) {
            return s.filter(f -> f.getFileName().toString().startsWith("hs_err")).toList();
        }
    }

    /** The CLI in a child JVM with the launcher's settings, output to {@code <dir>.out} and {@code <dir>.err}. */
    static Process start(Path dir, List<String> args) throws IOException {
        Files.createDirectories(dir.getParent());
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx2g", "-Dai.djl.offline=true", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.getParent().toFile())
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolveSibling(dir.getFileName() + ".out").toFile()))
                .redirectError(ProcessBuilder.Redirect.appendTo(dir.resolveSibling(dir.getFileName() + ".err").toFile()));
        Map<String, String> env = pb.environment();
        env.put("OMP_WAIT_POLICY", "PASSIVE");
        env.put("TORCH_CPP_LOG_LEVEL", "ERROR");
        env.putAll(org.frcnn4j.nn.EngineFacts.ALLOCATOR);
        return pb.start();
    }

    static String log(Path dir) throws IOException {
        Path err = dir.resolveSibling(dir.getFileName() + ".err");
        Path out = dir.resolveSibling(dir.getFileName() + ".out");
        return (Files.exists(out) ? Files.readString(out) : "") + (Files.exists(err) ? Files.readString(err) : "");
    }
}
