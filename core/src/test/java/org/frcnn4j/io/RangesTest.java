package org.frcnn4j.io;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The range checks every configuration record and flag shares: the message names the setting and the value. */
class RangesTest {
    @Test
    void valuesOutsideTheirRangeAreNamedAsWritten() {
        // a float widened to double is shown as the user wrote it, not as 0.699999988079071
        assertThatThrownBy(() -> Ranges.unitInterval("rpn.nmsThreshold", 1.7f))
                .hasMessage("rpn.nmsThreshold must be between 0 and 1, not 1.7");
        assertThatThrownBy(() -> Ranges.positive("--lr", Double.NaN)).hasMessage("--lr must be a positive number, not NaN");
        assertThatThrownBy(() -> Ranges.positive("--lr", Double.POSITIVE_INFINITY))
                .hasMessage("--lr must be a positive number, not Infinity");
        assertThatThrownBy(() -> Ranges.nonNegative("head.minBoxSize", -0.5)).hasMessage("head.minBoxSize must be zero or positive, not -0.5");
        assertThatThrownBy(() -> Ranges.positive("transform.std", new float[] {1, 1}, 3))
                .hasMessage("transform.std must list 3 values, not 2");
        assertThatThrownBy(() -> Ranges.positive("transform.std", null, 3)).hasMessage("transform.std must list 3 values, not be missing");
        assertThatCode(() -> Ranges.unitInterval("x", 0)).doesNotThrowAnyException();
        assertThatCode(() -> Ranges.unitInterval("x", 1)).doesNotThrowAnyException();
    }

    @Test
    void listsOfCountsAreCheckedElementByElement() {
        assertThatThrownBy(() -> Ranges.atLeast("backbone.resnet.blocks", List.of(3, 0, 6), 1))
                .hasMessage("backbone.resnet.blocks (each) must be at least 1, not 0");
        assertThatThrownBy(() -> Ranges.atLeast("backbone.resnet.blocks", Arrays.asList(3, null), 1))
                .hasMessage("backbone.resnet.blocks (each) is missing");
        assertThatThrownBy(() -> Ranges.atLeast("backbone.fpn.returned", List.of(), 0))
                .hasMessage("backbone.fpn.returned must list at least one value");
        assertThatThrownBy(() -> Ranges.atLeast("backbone.fpn.returned", (List<Integer>) null, 0))
                .hasMessage("backbone.fpn.returned must list at least one value");
        assertThatCode(() -> Ranges.atLeast("backbone.resnet.blocks", List.of(3, 4, 6, 3), 1)).doesNotThrowAnyException();
    }
}
