package org.frcnn4j.serve;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.frcnn4j.model.FasterRcnn;
import org.frcnn4j.model.FasterRcnnConfig;
import org.frcnn4j.model.ModelFiles;
import org.frcnn4j.model.Presets;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.interactions.Actions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The page in headless Chromium (Debian's chromium and chromium-driver; .ci/run installs them and sets
 * FRCNN_REQUIRE_BROWSER=1, so that CI fails rather than skips without them): upload a raccoon test image, wait for
 * the boxes, move the threshold slider and see their number change, open "how it works" and click a feature-map
 * cell. Screenshots go to target/page-*.png.
 */
class PageBrowserTest {
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final Path DRIVER = Path.of("/usr/bin/chromedriver");
    private static final Path ROOT = Path.of("").toAbsolutePath().getParent();

    @Test
    void uploadSlideAndExplain(@TempDir Path tmp) throws Exception {
        boolean present = Files.isExecutable(CHROMIUM) && Files.isExecutable(DRIVER);
        if (System.getenv("FRCNN_REQUIRE_BROWSER") != null) {
            assertThat(present).as("chromium and chromedriver in /usr/bin").isTrue();
        }
        Assumptions.assumeTrue(present, "no chromium + chromedriver here (apt-get install chromium chromium-driver)");
        Path model = tmp.resolve("model");
        FasterRcnnConfig c = Presets.TINY.config(List.of("raccoon"));
        c = c.with(c.head().withPostprocess(0f, c.head().nmsThreshold(), c.head().detectionsPerImage()));
        try (NDManager m = NDManager.newBaseManager(); FasterRcnn net = FasterRcnn.create(c, m, 11)) {
            ModelFiles.save(net, model);
        }
        // -Dfrcnn.page.model=DIR: the same walk through with a trained model (the README's screenshots)
        if (System.getProperty("frcnn.page.model") != null) {
            model = Path.of(System.getProperty("frcnn.page.model")).toAbsolutePath();
        }
        ChromeOptions options = options();
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(DRIVER.toFile())
                .usingAnyFreePort().build();
        try (DetectionServer server = DetectionServer.start(ServeOptions.defaults(model).withPort(0))) {
            ChromeDriver browser = new ChromeDriver(service, options);
            try {
                WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(60));
                browser.get("http://127.0.0.1:" + server.port() + "/");
                wait.until(d -> d.findElement(By.id("model-info")).getText().contains("classes"));
                ((JavascriptExecutor) browser).executeScript("document.getElementById('file').hidden = false;");
                browser.findElement(By.id("file")).sendKeys(
                        ROOT.resolve("datasets/raccoon/JPEGImages/raccoon-105.jpg").toString());
                wait.until(d -> d.findElement(By.id("det-canvas")).isDisplayed()
                        && !text(browser, "det-total").equals("0"));
                int total = Integer.parseInt(text(browser, "det-total"));
                assertThat(total).isPositive();
                int atHalf = count(browser);
                slide(browser, "thresh", 0.0);
                int atZero = count(browser);
                assertThat(atZero).isEqualTo(total);
                slide(browser, "thresh", 1.0);
                assertThat(count(browser)).isZero();
                assertThat(atHalf).isLessThanOrEqualTo(total);
                slide(browser, "thresh", 0.3);
                screenshot(browser, "page-detections.png");

                browser.findElement(By.cssSelector("#tabs button[data-tab='how']")).click();
                WebElement window = wait.until(d -> {
                    WebElement w = d.findElement(By.id("window-canvas"));
                    return w.getAttribute("data-cell") != null ? w : null;
                });
                String before = window.getAttribute("data-cell");
                assertThat(browser.findElements(By.cssSelector("#anchor-table tbody tr"))).isNotEmpty();
                // a click near the top-left corner picks another cell than the most object-like one
                new Actions(browser).moveToElement(window, -window.getSize().getWidth() / 2 + 12,
                        -window.getSize().getHeight() / 2 + 12).click().perform();
                wait.until(d -> !before.equals(d.findElement(By.id("window-canvas")).getAttribute("data-cell")));
                assertThat(window.getAttribute("data-cell")).endsWith(",0,0");
                slide(browser, "tw", 0.8);
                screenshot(browser, "page-how-it-works.png");
            } finally {
                browser.quit();
            }
        }
    }

    /**
     * The training report (a run folder's index.html, opened from disk) in the same browser: every test image drawn,
     * the worst first, and the threshold slider changing the counts.
     */
    @Test
    void theReportDrawsEveryImageWorstFirst(@TempDir Path tmp) throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(DRIVER), "no chromium here");
        org.frcnn4j.data.Dataset test = org.frcnn4j.data.Dataset.open(ROOT.resolve("datasets/raccoon"), "test", null);
        List<org.frcnn4j.data.Detection> dets = new java.util.ArrayList<>();
        int i = 0;
        for (org.frcnn4j.data.Annotation a : test.images()) {
            org.frcnn4j.data.GroundTruthBox b = a.objects().get(0);
            if (i++ % 5 != 4) { // every fifth image missed
                dets.add(new org.frcnn4j.data.Detection(a.imageId(), 0, b.x1() + 3, b.y1() + 2, b.x2() - 4, b.y2(), 0.9));
            }
            dets.add(new org.frcnn4j.data.Detection(a.imageId(), 0, 10, 10, 60, 80, 0.1 + 0.005 * i));
        }
        Path run = tmp.resolve("run");
        Files.createDirectories(run);
        Files.writeString(run.resolve("log.csv"), "iteration,step,lr,rpn_objectness,rpn_box,classifier,box_regression,"
                + "total,seconds\n1,1,0.001,0.69,0.1,0.7,0.2,1.69,0.5\n2,1,0.002,0.5,0.05,0.4,0.2,1.15,0.5\n"
                + "3,1,0.002,0.4,0.05,0.3,0.2,0.95,0.5\n");
        Files.writeString(run.resolve("val.csv"), "iteration,voc07_mAP\n1,0.2\n2,0.5\n3,0.6\n");
        try (NDManager m = NDManager.newBaseManager();
             FasterRcnn net = FasterRcnn.create(Presets.TINY.config(test.classes().names()), m, 1)) {
            org.frcnn4j.viz.Report.write(run, net, test, dets, 0.7, 0.7, null);
        }
        ChromeDriver browser = new ChromeDriver(new ChromeDriverService.Builder().usingDriverExecutable(DRIVER.toFile())
                .usingAnyFreePort().build(), options());
        try {
            WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(60));
            browser.get(run.resolve("index.html").toUri().toString());
            wait.until(d -> d.findElements(By.cssSelector("#images figure")).size() == 40);
            List<WebElement> figures = browser.findElements(By.cssSelector("#images figure"));
            assertThat(figures.get(0).getAttribute("class")).contains("bad");
            assertThat(figures.get(0).getText()).contains("2 missed"); // raccoon-168: two boxes, neither found
            assertThat(figures.get(39).getAttribute("class")).doesNotContain("bad");
            String at50 = text(browser, "totals");
            assertThat(at50).contains("32 true positives").contains(" 0 false positives").contains("12 missed");
            slide(browser, "thresh", 0.05);
            assertThat(text(browser, "totals")).contains("32 true positives").contains("40 false positives");
            // the charts were drawn (a canvas with ink on it)
            Object inked = ((JavascriptExecutor) browser).executeScript("const c = document.getElementById('val-chart');"
                    + "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                    + "let n = 0; for (let k = 3; k < d.length; k += 4) if (d[k] > 0) n++; return n;");
            assertThat(((Number) inked).intValue()).isGreaterThan(200);
            screenshot(browser, "report.png");
        } finally {
            browser.quit();
        }
    }

    private static ChromeOptions options() {
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,2600", "--disable-extensions", "--no-first-run", "--allow-file-access-from-files");
        return options;
    }

    private static int count(ChromeDriver browser) {
        return Integer.parseInt(text(browser, "det-count"));
    }

    private static String text(ChromeDriver browser, String id) {
        return browser.findElement(By.id(id)).getDomProperty("textContent").trim();
    }

    private static void slide(ChromeDriver browser, String id, double value) {
        ((JavascriptExecutor) browser).executeScript("const s = document.getElementById(arguments[0]);"
                + "s.value = arguments[1]; s.dispatchEvent(new Event('input'));", id, value);
    }

    private static void screenshot(ChromeDriver browser, String name) throws Exception {
        Path out = Path.of("target", name);
        Files.createDirectories(out.getParent());
        Files.write(out, ((TakesScreenshot) browser).getScreenshotAs(OutputType.BYTES));
    }
}
