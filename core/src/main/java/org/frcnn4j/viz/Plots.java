package org.frcnn4j.viz;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;

/** Line charts as PNG files (written atomically). */
public final class Plots {
    private Plots() {}

    /**
     * @param series name to {xs, ys}
     * @param logX   logarithmic x axis (numbers of proposals)
     */
    public static void lines(Path png, String title, String xTitle, String yTitle, Map<String, double[][]> series,
                             boolean logX) throws IOException {
        XYChart chart = new XYChartBuilder().width(640).height(480).title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideSW);
        chart.getStyler().setYAxisMin(0.0).setYAxisMax(1.0);
        chart.getStyler().setXAxisLogarithmic(logX);
        for (Map.Entry<String, double[][]> e : new LinkedHashMap<>(series).entrySet()) {
            chart.addSeries(e.getKey(), e.getValue()[0], e.getValue()[1]);
        }
        org.frcnn4j.io.AtomicFiles.write(png, out -> BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG));
    }
}
