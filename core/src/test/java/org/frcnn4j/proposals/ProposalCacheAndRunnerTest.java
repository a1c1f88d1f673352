package org.frcnn4j.proposals;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.frcnn4j.data.Annotation;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.model.FasterRcnn;
import org.frcnn4j.model.Presets;
import org.frcnn4j.testing.SharedData;
import org.frcnn4j.train.ExperimentRunner;
import org.frcnn4j.train.TrainConfig;
import org.frcnn4j.train.TrainPresets;
import org.frcnn4j.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProposalCacheAndRunnerTest {
    static Dataset few(String split, int n) {
        Dataset d = Dataset.open(SharedData.bundled("raccoon"), split, null);
        return new Dataset(d.format(), d.classes(), d.images().subList(0, n), List.of());
    }

    @Test
    void cacheComputesOnceAndReadsBackTheSameBoxes(@TempDir Path tmp) throws Exception {
        Annotation a = few("test", 1).images().get(0);
        ProposalCache cache = new ProposalCache(tmp, SelectiveSearch.of(SelectiveSearch.Mode.FAST), 500);
        float[] first = cache.proposals(a);
        assertThat(first.length / 4).isBetween(50, 500);
        // a cache without a search can only read what the first one stored
        float[] again = new ProposalCache(tmp, null, 500).proposals(a);
        assertThat(again).containsExactly(first);
        try (var files = Files.list(tmp)) {
            assertThat(files.map(p -> p.getFileName().toString()).toList()).containsExactly(a.imageId() + ".boxes");
        }
    }

    @Test
    void fastRcnnTrainsOnPrecomputedProposals(@TempDir Path tmp) throws Exception {
        Dataset train = few("train", 2);
        ProposalCache cache = new ProposalCache(tmp.resolve("ss"), SelectiveSearch.of(SelectiveSearch.Mode.FAST), 300);
        TrainConfig c = TrainPresets.of(Presets.TINY).withIterations(3).withImagesPerIteration(1).withIntervals(0, 0);
        List<Trainer.IterationLog> logs = new java.util.ArrayList<>();
        try (NDManager m = NDManager.newBaseManager();
             FasterRcnn model = new Trainer(Presets.TINY.config(train.classes().names()), c, train, null, tmp.resolve("run"),
                     logs::add).withPrecomputedProposals(cache).run(m, false)) {
            assertThat(logs).hasSize(3);
            assertThat(logs.get(0).rpnObjectness()).isNaN(); // the RPN is not trained
            assertThat(logs.get(0).classifier()).isPositive();
            // the model records that its regions come from Selective Search, in memory and in its folder
            assertThat(model.config().proposals()).isEqualTo(org.frcnn4j.model.FasterRcnnConfig.Proposals.SELECTIVE_SEARCH);
            assertThat(org.frcnn4j.model.ModelFiles.readConfig(tmp.resolve("run/model/config.json")).proposals())
                    .isEqualTo(org.frcnn4j.model.FasterRcnnConfig.Proposals.SELECTIVE_SEARCH);
        }
    }

    @Test
    void experimentRunnerTabulatesAndResumes(@TempDir Path tmp) throws Exception {
        Dataset train = few("train", 2);
        Dataset test = few("test", 2);
        TrainConfig c = TrainPresets.of(Presets.TINY).withIterations(2).withImagesPerIteration(1).withIntervals(0, 0);
        List<ExperimentRunner.Setting> settings = List.of(
                new ExperimentRunner.Setting("a", Presets.TINY.config(train.classes().names()), c),
                new ExperimentRunner.Setting("b", Presets.TINY.config(train.classes().names()), c.withSeed(9)));
        List<ExperimentRunner.Result> first = new ExperimentRunner(tmp, train, test, log -> { }).run(settings);
        assertThat(first).extracting(ExperimentRunner.Result::name).containsExactly("a", "b");
        assertThat(Files.readString(tmp.resolve("summary.md"))).contains("| a |").contains("| b |");
        long stamp = Files.getLastModifiedTime(tmp.resolve("a/result.json")).toMillis();
        List<String> messages = new java.util.ArrayList<>();
        Trainer.Listener listener = new Trainer.Listener() {
            @Override
            public void iteration(Trainer.IterationLog log) {
                throw new AssertionError("a finished setting must not train again");
            }

            @Override
            public void message(String text) {
                messages.add(text);
            }
        };
        List<ExperimentRunner.Result> again = new ExperimentRunner(tmp, train, test, listener).run(settings);
        assertThat(again).extracting(ExperimentRunner.Result::mAP).containsExactlyElementsOf(
                first.stream().map(ExperimentRunner.Result::mAP).toList());
        assertThat(Files.getLastModifiedTime(tmp.resolve("a/result.json")).toMillis()).isEqualTo(stamp);
        assertThat(messages).anyMatch(s -> s.contains("done before"));
    }
}
