// The training report: REPORT (report-data.js, written by org.frcnn4j.viz.Report) drawn with draw.js, the served
// page's drawing code.
"use strict";

const COLOURS = { truth: "#1b8a3a", tp: "#0b6bcb", fp: "#c2352b", fn: "#e08a00" };
const R = REPORT;

function header() {
  document.getElementById("title").textContent = `${R.preset} on ${R.classes.join(", ")}`;
  const s = document.getElementById("summary");
  s.innerHTML = "";
  const b = document.createElement("b");
  const fixed = (v) => Number.isFinite(v) ? v.toFixed(4) : "n/a";
  b.textContent = `VOC07 mAP ${fixed(R.voc07_mAP)}`;
  s.append(b, ` (11-point), area AP ${fixed(R.area_mAP)}, on ${R.test_images} test images`);
  if (R.loss && R.loss.iteration) s.append(`, after ${R.loss.iteration[R.loss.iteration.length - 1]} iterations`);
}

function lossChart() {
  const canvas = document.getElementById("loss-chart");
  if (!R.loss || !R.loss.iteration) { canvas.replaceWith("no log.csv in the run folder"); return; }
  const names = { total: "total", rpn_objectness: "RPN objectness", rpn_box: "RPN box", classifier: "classifier",
    box_regression: "box regression" };
  const series = Object.keys(names).filter((k) => R.loss[k]).map((k, i) => ({ name: names[k],
    colour: k === "total" ? "#1d2733" : Draw.paletteColour(i), x: R.loss.iteration, y: smooth(R.loss[k], 15),
    width: k === "total" ? 2.5 : 1.5 }));
  Draw.lines(canvas, series, { yMin: 0, xLabel: "iteration" });
  const note = document.getElementById("loss-note");
  note.textContent = "Moving average over 15 logged points.";
  if (R.loss_png) {
    const a = document.createElement("a");
    a.href = R.loss_png;
    a.textContent = " The same as a picture.";
    note.appendChild(a);
  }
}

function smooth(values, window) {
  const out = [];
  let sum = 0, n = 0;
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i])) { sum += values[i]; n++; }
    if (i >= window && Number.isFinite(values[i - window])) { sum -= values[i - window]; n--; }
    out.push(n ? sum / n : NaN);
  }
  return out;
}

function validationChart() {
  const canvas = document.getElementById("val-chart");
  if (!R.validation || !R.validation.iteration.length) {
    canvas.replaceWith("not measured in this run (train --val-split S --validate-every N measures it)");
    return;
  }
  const xMax = R.loss && R.loss.iteration ? R.loss.iteration[R.loss.iteration.length - 1] : undefined;
  Draw.lines(canvas, [{ name: "VOC07 mAP", colour: "#0b6bcb", x: R.validation.iteration, y: R.validation.voc07_mAP,
    points: true }], { yMin: 0, yMax: 1, xMin: 0, xMax, xLabel: "iteration" });
}

function precisionRecall() {
  const box = document.getElementById("pr");
  for (const c of R.precision_recall) {
    const fig = document.createElement("figure");
    const canvas = document.createElement("canvas");
    canvas.width = 340; canvas.height = 240;
    const cap = document.createElement("figcaption");
    cap.textContent = `${c.name}: AP ${Number.isFinite(c.ap) ? c.ap.toFixed(4) : "n/a"} `
      + `(${c.positives} boxes, ${c.detections} detections)`;
    fig.append(canvas, cap);
    box.appendChild(fig);
    if (c.recall.length) {
      Draw.lines(canvas, [{ name: c.name, colour: "#0b6bcb", x: c.recall, y: c.precision }],
        { xMin: 0, xMax: 1, yMin: 0, yMax: 1, xLabel: "recall" });
    }
  }
}

/** Per image at a threshold: the detections shown with their kind, and the missed boxes. */
function judge(img, threshold) {
  const shown = img.detections.filter((d) => d.score >= threshold);
  const found = new Set(shown.filter((d) => d.match >= 0).map((d) => d.match));
  const missed = img.truth.map((t, i) => i).filter((i) => !img.truth[i].difficult && !found.has(i));
  const tp = shown.filter((d) => d.match >= 0).length;
  const fp = shown.filter((d) => d.match === -1).length;
  return { shown, missed, tp, fp, fn: missed.length };
}

const loaded = new Map();

function gallery() {
  const threshold = parseFloat(document.getElementById("thresh").value);
  document.getElementById("thresh-value").textContent = threshold.toFixed(2);
  const judged = R.images.map((img) => ({ img, j: judge(img, threshold) }));
  judged.sort((a, b) => (b.j.fp + b.j.fn) - (a.j.fp + a.j.fn) || a.img.id.localeCompare(b.img.id));
  const totals = judged.reduce((t, { j }) => ({ tp: t.tp + j.tp, fp: t.fp + j.fp, fn: t.fn + j.fn }),
    { tp: 0, fp: 0, fn: 0 });
  document.getElementById("totals").textContent = `At ${threshold.toFixed(2)}: ${totals.tp} true positives, `
    + `${totals.fp} false positives, ${totals.fn} missed boxes (IoU 0.5, VOC rules: a box matched twice counts once, `
    + `difficult boxes neither way).`;
  const box = document.getElementById("images");
  box.innerHTML = "";
  for (const { img, j } of judged) {
    const fig = document.createElement("figure");
    fig.dataset.id = img.id;
    if (j.fp + j.fn > 0) fig.classList.add("bad");
    const canvas = document.createElement("canvas");
    const cap = document.createElement("figcaption");
    const name = document.createElement("b");
    name.textContent = img.id + " ";
    cap.appendChild(name);
    for (const [cls, text] of [["count", `${img.truth.length} box${img.truth.length === 1 ? "" : "es"}`], ["tp", `${j.tp} TP`], ["fp", `${j.fp} FP`],
      ["fn", `${j.fn} missed`]]) {
      const span = document.createElement("span");
      span.className = "count " + (cls !== "count" && (cls === "tp" || j[cls] > 0) ? cls : "");
      span.textContent = text;
      cap.append(span, " ");
    }
    fig.append(canvas, cap);
    box.appendChild(fig);
    draw(canvas, img, j);
  }
}

function draw(canvas, img, j) {
  const paint = (picture) => {
    const scale = Draw.image(canvas, picture, 340, 280);
    const g = canvas.getContext("2d");
    img.truth.forEach((t, i) => {
      const missed = j.missed.includes(i);
      Draw.box(g, t.box, scale, missed ? COLOURS.fn : COLOURS.truth, { width: 2, dashed: missed || t.difficult });
    });
    for (const d of j.shown) {
      const kind = d.match >= 0 ? "tp" : d.match === -1 ? "fp" : "truth";
      Draw.box(g, d.box, scale, COLOURS[kind], { width: 2, label: `${R.classes[d.label]} ${d.score.toFixed(2)}` });
    }
  };
  if (loaded.has(img.file)) {
    paint(loaded.get(img.file));
    return;
  }
  const picture = new Image();
  picture.onload = () => { loaded.set(img.file, picture); paint(picture); };
  picture.src = img.file;
}

header();
lossChart();
validationChart();
precisionRecall();
gallery();
document.getElementById("thresh").addEventListener("input", gallery);
