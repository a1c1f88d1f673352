package org.frcnn4j.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class CpuStealTest {
    @Test
    void stolenShareOfTheBusyTime() {
        // user nice system idle iowait irq softirq steal guest guest_nice
        CpuSteal.Snapshot a = CpuSteal.parse("cpu  100 0 20 5000 7 1 2 30 0 0").orElseThrow();
        CpuSteal.Snapshot b = CpuSteal.parse("cpu  160 0 30 9000 9 1 2 70 0 0").orElseThrow();
        assertThat(a.busy()).isEqualTo(100 + 20 + 1 + 2 + 30);
        // between them: 60 user + 10 system + 40 stolen of 110 busy ticks; idle and iowait do not count
        assertThat(CpuSteal.share(a, b)).isCloseTo(40.0 / 110, within(1e-12));
        assertThat(CpuSteal.share(a, a)).isNaN();
    }

    @Test
    void otherLinesAndOldKernelsGiveNothing() {
        assertThat(CpuSteal.parse("cpu0 1 2 3 4 5 6 7 8")).isEmpty();
        assertThat(CpuSteal.parse("cpu  1 2 3 4 5 6 7")).isEmpty(); // before Linux 2.6.11: no steal column
    }

    @Test
    void thisMachineReadsWhereLinux() {
        if (java.nio.file.Files.isReadable(java.nio.file.Path.of("/proc/stat"))) {
            CpuSteal.Snapshot s = CpuSteal.now().orElseThrow();
            assertThat(s.busy()).isGreaterThan(0);
            assertThat(s.steal()).isBetween(0L, s.busy());
        }
    }
}
