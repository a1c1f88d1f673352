package org.frcnn4j.viz;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** The training curves of a run ({@code log.csv}) as a PNG: the four losses and the total, smoothed. */
public final class LossCurve {
    private static final String[] SERIES = {"rpn_objectness", "rpn_box", "classifier", "box_regression", "total"};

    private LossCurve() {}

    /** Reads {@code log.csv} and writes the chart to {@code png} (atomically). */
    public static void write(Path logCsv, Path png) throws IOException {
        List<String> lines = Files.readAllLines(logCsv);
        List<Double> x = new ArrayList<>();
        List<List<Double>> ys = new ArrayList<>();
        for (int i = 0; i < SERIES.length; i++) {
            ys.add(new ArrayList<>());
        }
        for (String line : lines.subList(1, lines.size())) {
            String[] t = line.split(",", -1);
            if (t.length < 8) {
                continue;
            }
            x.add(Double.parseDouble(t[0]));
            for (int i = 0; i < SERIES.length; i++) {
                String v = t[3 + i];
                ys.get(i).add(v.isEmpty() ? Double.NaN : Double.parseDouble(v));
            }
        }
        XYChart chart = new XYChartBuilder().width(900).height(500).title("Training losses")
                .xAxisTitle("iteration").yAxisTitle("loss (moving average of 20)").build();
        chart.getStyler().setMarkerSize(0);
        for (int i = 0; i < SERIES.length; i++) {
            List<Double> fx = new ArrayList<>();
            List<Double> fy = new ArrayList<>();
            for (int k = 0; k < x.size(); k++) {
                if (!Double.isNaN(ys.get(i).get(k))) { // a loss the schedule's step does not train
                    fx.add(x.get(k));
                    fy.add(ys.get(i).get(k));
                }
            }
            List<Double> smoothX = new ArrayList<>();
            List<Double> smoothY = new ArrayList<>();
            double sum = 0;
            for (int k = 0; k < fy.size(); k++) {
                sum += fy.get(k);
                if (k >= 20) {
                    sum -= fy.get(k - 20);
                }
                smoothX.add(fx.get(k));
                smoothY.add(sum / Math.min(k + 1, 20));
            }
            if (!smoothX.isEmpty()) {
                chart.addSeries(SERIES[i], smoothX, smoothY).setMarker(SeriesMarkers.NONE);
            }
        }
        org.frcnn4j.io.AtomicFiles.write(png, out -> BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG));
    }
}
