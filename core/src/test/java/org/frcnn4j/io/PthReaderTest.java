package org.frcnn4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * PyTorch files as torch 1.13 writes them (tools/torchvision/make_pth_fixtures.py) read value for value; hostile
 * pickles refused before anything runs; broken files reported in one line that names them.
 */
class PthReaderTest {
    static final Path DIR = Path.of("src/test/resources/pth");
    /** What evil.pth would create in the working directory if its payload ever ran (see the fixture script). */
    static final Path MARKER = Path.of("pth-fixture-was-executed");
    static JsonNode expected;

    @BeforeAll
    static void load() throws IOException {
        expected = new ObjectMapper().readTree(DIR.resolve("expected.json").toFile());
    }

    @ParameterizedTest
    @ValueSource(strings = {"plain_zip.pth", "plain_legacy.pth", "float16.pth", "bfloat16.pth", "views.pth",
            "views_legacy.pth", "checkpoint.pth", "batchnorm.pth", "dtypes.pth"})
    void everyTensorIsReadExactly(String name) {
        Map<String, PthTensor> sd = PthReader.readStateDict(DIR.resolve(name));
        JsonNode want = expected.get(name).get("tensors");
        List<String> names = new ArrayList<>();
        want.fieldNames().forEachRemaining(names::add);
        assertThat(sd.keySet()).as("names in file order").containsExactlyElementsOf(names);
        for (String key : names) {
            JsonNode w = want.get(key);
            PthTensor t = sd.get(key);
            assertThat(t.dtype()).as(key).isEqualTo(w.get("dtype").asText());
            long[] shape = new long[w.get("shape").size()];
            for (int i = 0; i < shape.length; i++) shape[i] = w.get("shape").get(i).asLong();
            assertThat(t.shape()).as(key).containsExactly(shape);
            assertThat(t.numel()).as(key).isEqualTo((int) Arrays.stream(shape).reduce(1, (a, b) -> a * b));
            if (t.isFloatingPoint()) {
                float[] got = t.floats();
                if (w.has("values")) {
                    assertThat(got).as(key).isEqualTo(floats(w.get("values"))); // bit for bit, -0.0 included
                } else {
                    double sum = 0;
                    for (float f : got) sum += f;
                    assertThat(sum).as(key + " sum").isCloseTo(w.get("sum").asDouble(), within(1e-9));
                    float[] first = floats(w.get("first"));
                    assertThat(Arrays.copyOf(got, first.length)).as(key + " first values").isEqualTo(first);
                }
            } else {
                long[] want64 = new long[w.get("values").size()];
                for (int i = 0; i < want64.length; i++) want64[i] = w.get("values").get(i).asLong();
                assertThat(t.longs()).as(key).containsExactly(want64);
                float[] asFloats = new float[want64.length];
                for (int i = 0; i < want64.length; i++) asFloats[i] = want64[i];
                assertThat(t.floats()).as(key + " as floats").containsExactly(asFloats);
            }
        }
    }

    @Test
    void bothFormatsGiveTheSameTensors() {
        assertThat(PthReader.readStateDict(DIR.resolve("plain_legacy.pth")))
                .isEqualTo(PthReader.readStateDict(DIR.resolve("plain_zip.pth")));
        assertThat(PthReader.readStateDict(DIR.resolve("views_legacy.pth")))
                .isEqualTo(PthReader.readStateDict(DIR.resolve("views.pth")));
    }

    @Test
    void aCheckpointGivesItsModelEntryAndBatchNormCountsAreIntegers() {
        Map<String, PthTensor> sd = PthReader.readStateDict(DIR.resolve("checkpoint.pth"));
        assertThat(sd).containsOnlyKeys("conv.weight", "conv.bias", "fc.weight", "fc.bias"); // no optimizer state
        PthTensor count = PthReader.readStateDict(DIR.resolve("batchnorm.pth")).get("1.num_batches_tracked");
        assertThat(count.dtype()).isEqualTo("int64");
        assertThat(count.shape()).isEmpty();
        assertThat(count.longs()).containsExactly(1L);
        PthTensor weight = sd.get("conv.weight");
        assertThatThrownBy(weight::longs).isInstanceOf(IllegalStateException.class);
        weight.shape()[0] = 99; // a copy
        assertThat(weight.shape()[0]).isEqualTo(2);
    }

    @Test
    void aForbiddenGlobalIsRefusedByNameAndNothingRuns() throws IOException {
        Files.deleteIfExists(MARKER);
        Path evil = DIR.resolve("evil.pth");
        assertThatThrownBy(() -> PthReader.readStateDict(evil)).isInstanceOf(PthException.class)
                .hasMessage(evil + ": refuses the pickle global '" + expected.get("evil.pth").get("refused").asText()
                        + "': only tensor state dicts are read");
        assertThat(MARKER).doesNotExist();
    }

    @Test
    void handWrittenHostilePicklesAreRefused(@TempDir Path tmp) throws IOException {
        // protocol 4's STACK_GLOBAL, protocol 0's INST and OBJ, a refused class among allowed ones, and a pickle that
        // is the whole file: each names a global and must stop there
        assertRefused(zipped(tmp, "\u0080\u0004" + str("builtins") + str("eval") + "\u0093" + str("1+1") + "\u0085R."),
                "builtins.eval");
        assertRefused(zipped(tmp, "(" + str("id") + "isubprocess\ncheck_output\n."), "subprocess.check_output");
        assertRefused(zipped(tmp, "(cos\nsystem\n" + str("true") + "o."), "os.system");
        assertRefused(zipped(tmp, "}(" + str("x") + "ccollections\nOrderedDict\n)R" + str("y")
                + "cbuiltins\ngetattr\n)Ru."), "builtins.getattr");
        assertRefused(write(tmp, "raw.pth", "cposix\nsystem\n(S'touch " + MARKER + "'\ntR."), "posix.system");
        assertThat(MARKER).doesNotExist();
        // allowed names used in ways torch.save never does
        assertOneLine(zipped(tmp, "}}b."), "sets the state of a dict");
        assertOneLine(zipped(tmp, "ctorch\nFloatStorage\n)R."), "calls 'torch.FloatStorage'");
        assertOneLine(zipped(tmp, "\u0082\u0001."), "opcode 0x82");
        // a few bytes must not demand gigabytes or minutes
        assertOneLine(zipped(tmp, "\u0080\u0002B\u00ff\u00ff\u00ff\u007f."), "runs past the end");
        assertOneLine(zipped(tmp, "L" + "9".repeat(5000) + "\n."), "5000-digit int");
    }

    @Test
    void aTensorPastTheEndOfItsStorageIsRefused(@TempDir Path tmp) throws IOException {
        // a 3-element tensor on a storage the pickle declares with 2 elements
        String tensor = "}" + str("t") + "ctorch._utils\n_rebuild_tensor_v2\n((" + str("storage")
                + "ctorch\nFloatStorage\n" + str("0") + str("cpu") + "K\u0002tQK\u0000K\u0003\u0085K\u0001\u0085\u0089"
                + "ccollections\nOrderedDict\n)RtRs.";
        assertOneLine(zipped(tmp, tensor), "needs 3 elements of storage '0', which has 2");
        // the declared storage is fine but its zip entry is short
        Path cut = rewrite(tmp, DIR.resolve("plain_zip.pth"), "plain_zip/data/0", 100);
        assertOneLine(cut, "has storage plain_zip/data/0 of 100 bytes, but its pickle declares 54 float32 elements");
    }

    @Test
    void brokenAndForeignFilesGiveOneLineNamingTheFile(@TempDir Path tmp) throws IOException {
        assertOneLine(tmp.resolve("missing.pth"), "no such file");
        assertOneLine(write(tmp, "empty.pth", ""), "is empty");
        assertOneLine(tmp, "is a folder");
        byte[] png = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
        assertOneLine(Files.write(tmp.resolve("image.png"), png), "not a PyTorch file");
        assertOneLine(write(tmp, "text.pth", "hello\n"), "not a PyTorch file");
        assertOneLine(zipped(tmp, "]."), "holds a list, not a state dict");
        assertOneLine(zipped(tmp, "}" + str("epoch") + "K\u0003s."), "holds no tensors where a state dict should be");
        assertOneLine(zip(tmp, "nodata.pth", Map.of("archive/version", "3\n")), "without ARCHIVE/data.pkl");
        Path big = zip(tmp, "big.pth", Map.of("big/data.pkl", "}.", "big/byteorder", "big"));
        assertOneLine(big, "big-endian");
        for (String name : List.of("plain_zip.pth", "plain_legacy.pth", "views_legacy.pth", "checkpoint.pth")) {
            byte[] whole = Files.readAllBytes(DIR.resolve(name));
            for (int length : new int[] {1, 3, 15, 40, 200, whole.length / 2, whole.length - 30, whole.length - 1}) {
                Path cut = Files.write(tmp.resolve(length + "-" + name), Arrays.copyOf(whole, length));
                assertOneLine(cut, "");
            }
        }
    }

    // ---- helpers

    private static float[] floats(JsonNode values) {
        float[] out = new float[values.size()];
        for (int i = 0; i < out.length; i++) out[i] = (float) values.get(i).asDouble();
        return out;
    }

    private static void assertRefused(Path file, String global) {
        assertThatThrownBy(() -> PthReader.readStateDict(file)).isInstanceOf(PthException.class)
                .hasMessage(file + ": refuses the pickle global '" + global + "': only tensor state dicts are read");
    }

    private static void assertOneLine(Path file, String contains) {
        assertThatThrownBy(() -> PthReader.readStateDict(file)).isExactlyInstanceOf(PthException.class)
                .hasMessageStartingWith(file + ": ").hasMessageContaining(contains)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n", "\r"))
                .satisfies(e -> assertThat(((PthException) e).file()).isEqualTo(file));
    }

    /** A SHORT_BINUNICODE string: the opcode, one length byte, the characters (ASCII here). */
    private static String str(String s) {
        return "\u008c" + (char) s.length() + s;
    }

    private static Path write(Path dir, String name, String latin1) throws IOException {
        return Files.write(dir.resolve(name), latin1.getBytes(StandardCharsets.ISO_8859_1));
    }

    private static int zips;

    /** A zip holding only a data.pkl made of these bytes (one char per byte). */
    private static Path zipped(Path dir, String pickle) throws IOException {
        String name = "hand" + zips++;
        return zip(dir, name + ".pth", Map.of(name + "/data.pkl", pickle, name + "/version", "3\n"));
    }

    private static Path zip(Path dir, String name, Map<String, String> entries) throws IOException {
        Path file = dir.resolve(name);
        try (ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(file))) {
            for (Map.Entry<String, String> e : entries.entrySet()) {
                out.putNextEntry(new ZipEntry(e.getKey()));
                out.write(e.getValue().getBytes(StandardCharsets.ISO_8859_1));
                out.closeEntry();
            }
        }
        return file;
    }

    /** A copy of a zip with one entry cut to its first bytes. */
    private static Path rewrite(Path dir, Path source, String entry, int keep) throws IOException {
        Path file = dir.resolve("rewritten-" + source.getFileName());
        try (ZipFile in = new ZipFile(source.toFile());
                ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(file))) {
            for (Iterator<? extends ZipEntry> it = in.entries().asIterator(); it.hasNext(); ) {
                ZipEntry e = it.next();
                byte[] data = in.getInputStream(e).readAllBytes();
                out.putNextEntry(new ZipEntry(e.getName()));
                out.write(e.getName().equals(entry) ? Arrays.copyOf(data, keep) : data);
                out.closeEntry();
            }
        }
        return file;
    }
}
