package org.frcnn4j.nn;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.frcnn4j.nn.ConvCheck.Errors;
import org.frcnn4j.nn.ConvCheck.Gradients;
import org.frcnn4j.nn.ConvGuard.Verdict;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Verdicts kept between runs: per machine fingerprint, read back as written, damaged lines checked again. */
class ConvVerdictsTest {
    private String cacheBefore;

    @BeforeEach
    void remember() {
        cacheBefore = System.getProperty("frcnn.cache");
    }

    @AfterEach
    void restore() {
        if (cacheBefore == null) {
            System.clearProperty("frcnn.cache");
        } else {
            System.setProperty("frcnn.cache", cacheBefore);
        }
        System.clearProperty("frcnn.conv.cache");
    }

    @Test
    void aKeptVerdictIsReadBackByTheNextRun(@TempDir Path tmp) throws Exception {
        System.setProperty("frcnn.cache", tmp.toString());
        ConvShape odd = ConvShape.of(72, 192, 5, 2, 2);
        ConvShape even = ConvShape.of(64, 64, 3, 1, 1);
        ConvVerdicts first = ConvVerdicts.forThisMachine();
        assertThat(first).isNotNull();
        assertThat(first.get(odd, Gradients.BOTH, Precision.FP32, MemoryLayout.NCHW, false, ConvGuard.ROUTES)).isNull();
        first.put(new Verdict(odd, Gradients.BOTH, Precision.FP32, MemoryLayout.NCHW, false, ConvGuard.ROUTES.get(1), new Errors(0.17, 0.08, 3e-7),
                new Errors(3e-7, 1e-6, 3e-7)), ConvGuard.ROUTES);
        first.put(new Verdict(even, Gradients.NONE, Precision.FP32, MemoryLayout.NCHW, false, ConvGuard.ROUTES.get(0), new Errors(1e-7, -1, -1),
                new Errors(1e-7, -1, -1)), ConvGuard.ROUTES);

        ConvVerdicts second = ConvVerdicts.forThisMachine();
        assertThat(second.file()).isEqualTo(first.file()).exists();
        Verdict v = second.get(odd, Gradients.BOTH, Precision.FP32, MemoryLayout.NCHW, false, ConvGuard.ROUTES);
        assertThat(v.route()).isEqualTo(new ConvRoute.PaddedChannels(16));
        assertThat(v.directErrors().forward()).isEqualTo(0.17);
        assertThat(v.workaround()).isTrue();
        assertThat(second.get(odd, Gradients.NONE, Precision.FP32, MemoryLayout.NCHW, false, ConvGuard.ROUTES)).isNull(); // other gradients: not known
        assertThat(second.get(even, Gradients.NONE, Precision.FP32, MemoryLayout.NCHW, false, ConvGuard.ROUTES).route()).isEqualTo(new ConvRoute.Direct());
        // bfloat16's verdicts are kept apart from float32's, with their own route list
        List<ConvRoute> bf16 = ConvGuard.routes(Precision.BF16, MemoryLayout.NCHW, false);
        assertThat(second.get(even, Gradients.NONE, Precision.BF16, MemoryLayout.NCHW, false, bf16)).isNull();
        second.put(new Verdict(even, Gradients.NONE, Precision.BF16, MemoryLayout.NCHW, false, bf16.get(0), new Errors(4e-3, -1, -1),
                new Errors(4e-3, -1, -1)), bf16);
        Verdict b = ConvVerdicts.forThisMachine().get(even, Gradients.NONE, Precision.BF16, MemoryLayout.NCHW, false, bf16);
        assertThat(b.route()).isEqualTo(new ConvRoute.Bfloat16());
        assertThat(b.workaround()).isFalse();
        assertThat(ConvVerdicts.forThisMachine().get(even, Gradients.NONE, Precision.FP32, MemoryLayout.NCHW, false, ConvGuard.ROUTES).route())
                .isEqualTo(new ConvRoute.Direct());

        // Winograd's verdicts (large maps at inference) are kept apart from the engine's for the same shape
        List<ConvRoute> fast = ConvGuard.routes(Precision.FP32, MemoryLayout.NCHW, true);
        assertThat(fast.get(0)).isEqualTo(EngineFacts.winogradRoute());
        second.put(new Verdict(even, Gradients.NONE, Precision.FP32, MemoryLayout.NCHW, true, fast.get(1), new Errors(0.3, -1, -1),
                new Errors(1e-7, -1, -1)), fast);
        Verdict w = ConvVerdicts.forThisMachine().get(even, Gradients.NONE, Precision.FP32, MemoryLayout.NCHW, true, fast);
        assertThat(w.route()).isEqualTo(new ConvRoute.Direct());
        assertThat(w.winograd()).isTrue();
        assertThat(w.workaround()).isTrue();
        assertThat(ConvVerdicts.forThisMachine().get(even, Gradients.NONE, Precision.FP32, MemoryLayout.NCHW, false, ConvGuard.ROUTES)
                .workaround()).isFalse();

        // a damaged file: its lines are ignored (the shapes are checked again), never trusted
        Files.writeString(second.file(), "72 192 5 2 2 1 1 0 BOTH\tx 1 2\ngarbage\n");
        assertThat(ConvVerdicts.forThisMachine().get(odd, Gradients.BOTH, Precision.FP32, MemoryLayout.NCHW, false, ConvGuard.ROUTES)).isNull();
    }

    @Test
    void theFileBelongsToThisEngineCpuAndSettings() throws Exception {
        String f = ConvVerdicts.fingerprint();
        assertThat(f).contains("engine ").contains("threads ").contains("flags").contains("model name")
                .contains("v" + ConvVerdicts.VERSION);
    }

    @Test
    void offWhenAskedTo(@TempDir Path tmp) {
        System.setProperty("frcnn.cache", tmp.toString());
        System.setProperty("frcnn.conv.cache", "false");
        assertThat(ConvVerdicts.forThisMachine()).isNull();
    }
}
