// frcnn4j's page: detections on an image, and the paper's pipeline drawn from /v1/explain. Plain JavaScript, no build
// step, nothing fetched from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { token: sessionStorage.getItem("frcnn-token") || "", blob: null, image: null, detect: null,
  explain: null, model: null, ss: null };
const MAX_WIDTH = 860;
const MAX_HEIGHT = 640;

// ---- the service

async function api(method, path, body) {
  const headers = {};
  if (state.token) headers.Authorization = "Bearer " + state.token;
  if (body) headers["Content-Type"] = body.type || "application/octet-stream";
  const response = await fetch(path, { method, headers, body });
  const text = await response.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { /* metrics or an HTML error page */ }
  if (response.status === 401) $("token-row").hidden = false;
  if (!response.ok) throw new Error((json && json.error) || ("HTTP " + response.status));
  return json;
}

function status(text, error) {
  $("status").textContent = text;
  $("status").classList.toggle("error", !!error);
}

async function loadModel() {
  try {
    state.model = await api("GET", "/v1/model");
    const m = state.model;
    $("model-info").textContent = `model: ${m.preset} (${m.backbone}${m.feature_pyramid ? " + FPN" : ""}), `
      + `${m.classes.length} classes, input ${m.input.min_size}/${m.input.max_size} px, `
      + `${m.proposals === "rpn" ? "RPN proposals" : "Selective Search proposals"}`;
    $("nms-iou").textContent = m.rpn.nms_thresh;
  } catch (e) {
    $("model-info").textContent = "model: " + e.message;
  }
}

// ---- choosing an image

function setupInput() {
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) useBlob(e.dataTransfer.files[0]);
  });
  $("file").addEventListener("change", (e) => { if (e.target.files.length) useBlob(e.target.files[0]); });
  for (const name of ["raccoon-146.jpg", "raccoon-105.jpg", "raccoon-57.jpg"]) {
    const b = document.createElement("button");
    b.textContent = name.replace(".jpg", "");
    b.addEventListener("click", async () => {
      const r = await fetch("/samples/" + name);
      useBlob(new File([await r.blob()], name, { type: "image/jpeg" }));
    });
    $("samples").appendChild(b);
  }
  $("token-save").addEventListener("click", () => {
    state.token = $("token").value;
    sessionStorage.setItem("frcnn-token", state.token);
    $("token-row").hidden = true;
    loadModel();
    if (state.blob) useBlob(state.blob);
  });
}

async function useBlob(blob) {
  state.blob = blob;
  state.explain = null;
  state.ss = null;
  status("detecting in " + (blob.name || "the image") + " ...");
  const url = URL.createObjectURL(blob);
  const img = new Image();
  img.onload = async () => {
    state.image = img;
    try {
      state.detect = await api("POST", "/v1/detect?score_thresh=0", blob);
      const ms = Object.values(state.detect.millis).reduce((a, b) => a + b, 0);
      status(`${state.detect.detections.length} detections in ${ms.toFixed(0)} ms`);
      $("tabs").hidden = false;
      showTab(currentTab());
    } catch (e) {
      status(e.message, true);
    }
  };
  img.onerror = async () => {
    // the browser cannot show it; let the server say what is wrong with it
    try {
      await api("POST", "/v1/detect", blob);
      status("the server read this image, but the browser cannot show it", true);
    } catch (e) {
      status(e.message, true);
    }
  };
  img.src = url;
}

// ---- tabs

function currentTab() {
  const active = document.querySelector("#tabs button.active");
  return active ? active.dataset.tab : "detections";
}

function showTab(name) {
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.tab === name);
  $("tab-detections").hidden = name !== "detections";
  $("tab-how").hidden = name !== "how";
  if (name === "detections") drawDetections();
  if (name === "how") explain(-1, 0, 0);
}

// ---- drawing (Draw: draw.js, shared with the training report)

function drawImage(canvas, maxWidth, dim) {
  return Draw.image(canvas, state.image, maxWidth || MAX_WIDTH, MAX_HEIGHT, dim);
}

// ---- the detections tab

function drawDetections() {
  if (!state.detect) return;
  const threshold = parseFloat($("thresh").value);
  $("thresh-value").textContent = threshold.toFixed(2);
  const canvas = $("det-canvas");
  const scale = drawImage(canvas);
  const g = canvas.getContext("2d");
  const shown = state.detect.detections.filter((d) => d.score >= threshold);
  const list = $("det-list");
  list.innerHTML = "";
  for (const d of shown) {
    Draw.box(g, d.box, scale, Draw.classColour(d.category_id), { label: `${d.category_name} ${d.score.toFixed(2)}` });
    const li = document.createElement("li");
    li.innerHTML = `<span class="swatch" style="background:${Draw.classColour(d.category_id)}"></span>`;
    li.appendChild(document.createTextNode(`${d.category_name} ${d.score.toFixed(3)} [${d.box.map((v) => v.toFixed(0)).join(", ")}]`));
    list.appendChild(li);
  }
  $("det-count").textContent = shown.length;
  $("det-total").textContent = state.detect.detections.length;
  canvas.dataset.boxes = shown.length;
  bars($("det-times"), state.detect.millis, false);
}

/** The stage times as bars (with a total, and an extra row such as Selective Search's time). */
function bars(element, millis, log, extra) {
  const names = { backbone: "conv layers" };
  const rows = Object.entries(millis).filter(([k, v]) => v > 0 || k !== "proposals").map(([k, v]) => [names[k] || k, v]);
  rows.push(["total", rows.reduce((a, [, v]) => a + v, 0)]);
  if (extra) rows.push(extra);
  Draw.bars(element, rows, log);
}

// ---- the "how it works" tab

async function explain(level, row, col) {
  if (!state.blob) return;
  status("explaining ...");
  try {
    state.explain = await api("POST", `/v1/explain?level=${level}&row=${row}&col=${col}`, state.blob);
    status("");
    drawHow();
  } catch (e) {
    status(e.message, true);
  }
}

function drawHow() {
  const e = state.explain;
  if (!e) return;
  const select = $("level");
  if (select.options.length !== e.levels.length) {
    select.innerHTML = "";
    e.levels.forEach((l, i) => select.add(new Option(`${l.name} (${l.rows}x${l.cols}, stride ${l.stride_x})`, i)));
  }
  select.value = e.cell.level;
  const level = e.levels[e.cell.level];
  $("fm-size").textContent = `${level.rows}×${level.cols}`;
  $("fm-stride").textContent = level.stride_x;
  $("fm-k").textContent = e.cell.anchors.length;
  drawWindow(e, level);
  setupExplorer(e, level);
  drawHeat(e, level);
  drawProposals(e);
  drawRois(e);
  bars($("time-chart"), e.millis, true, state.ss ? ["Selective Search", state.ss.millis] : null);
  drawLoss();
}

function drawWindow(e, level) {
  const canvas = $("window-canvas");
  const scale = drawImage(canvas, 560, 0.25);
  const g = canvas.getContext("2d");
  // the grid, when its cells are big enough to see
  if (level.cell_width * scale >= 6) {
    g.strokeStyle = "rgba(255,255,255,0.18)";
    g.lineWidth = 1;
    for (let c = 0; c <= level.cols; c++) {
      g.beginPath(); g.moveTo(c * level.cell_width * scale, 0); g.lineTo(c * level.cell_width * scale, canvas.height); g.stroke();
    }
    for (let r = 0; r <= level.rows; r++) {
      g.beginPath(); g.moveTo(0, r * level.cell_height * scale); g.lineTo(canvas.width, r * level.cell_height * scale); g.stroke();
    }
  }
  const c = e.cell;
  canvas.dataset.cell = `${c.level},${c.row},${c.col}`;
  g.fillStyle = "rgba(255,255,255,0.25)";
  const [wx1, wy1, wx2, wy2] = c.window.map((v) => v * scale);
  g.fillRect(wx1, wy1, wx2 - wx1, wy2 - wy1);
  Draw.box(g, c.window, scale, "#ffffff", { width: 2 });
  for (const a of c.anchors) {
    Draw.box(g, a.anchor, scale, Draw.heat(a.objectness), { dashed: true, width: 1, alpha: 0.8 });
    Draw.box(g, a.box, scale, Draw.heat(a.objectness), { width: 2 });
  }
  const body = document.querySelector("#anchor-table tbody");
  body.innerHTML = "";
  for (const a of c.anchors) {
    const tr = document.createElement("tr");
    tr.innerHTML = `<td>${a.size}</td><td>${a.ratio}</td><td style="color:${Draw.heat(a.objectness)}">`
      + `${a.objectness.toFixed(3)}</td>` + a.deltas.map((d) => `<td>${d.toFixed(3)}</td>`).join("");
    body.appendChild(tr);
  }
  canvas.onclick = (ev) => {
    const rect = canvas.getBoundingClientRect();
    const x = (ev.clientX - rect.left) * canvas.width / rect.width / scale;
    const y = (ev.clientY - rect.top) * canvas.height / rect.height / scale;
    explain(c.level, Math.floor(y / level.cell_height), Math.floor(x / level.cell_width));
  };
}

const explorer = { sizes: null, ratios: null };

function setupExplorer(e, level) {
  const key = level.sizes.join() + "|" + level.ratios.join();
  const box = $("explorer-toggles");
  if (box.dataset.key !== key) {
    box.dataset.key = key;
    explorer.sizes = new Set(level.sizes.slice(Math.floor(level.sizes.length / 2), Math.floor(level.sizes.length / 2) + 1));
    explorer.ratios = new Set(level.ratios);
    box.innerHTML = "";
    for (const [name, values, set] of [["scales", level.sizes, explorer.sizes], ["ratios", level.ratios, explorer.ratios]]) {
      const fs = document.createElement("fieldset");
      fs.innerHTML = `<legend>${name}</legend>`;
      for (const v of values) {
        const label = document.createElement("label");
        const input = document.createElement("input");
        input.type = "checkbox";
        input.checked = set.has(v);
        input.addEventListener("change", () => { input.checked ? set.add(v) : set.delete(v); drawExplorer(); });
        label.appendChild(input);
        label.appendChild(document.createTextNode(" " + v + " "));
        fs.appendChild(label);
      }
      box.appendChild(fs);
    }
  }
  drawExplorer();
}

function drawExplorer() {
  const e = state.explain;
  if (!e) return;
  const t = {};
  for (const id of ["tx", "ty", "tw", "th"]) {
    t[id] = parseFloat($(id).value);
    $(id).nextElementSibling.textContent = t[id].toFixed(2);
  }
  const canvas = $("explorer-canvas");
  const scale = drawImage(canvas, 560, 0.35);
  const g = canvas.getContext("2d");
  for (const a of e.cell.anchors) {
    if (!explorer.sizes.has(a.size) || !explorer.ratios.has(a.ratio)) continue;
    const [x1, y1, x2, y2] = a.anchor;
    const wa = x2 - x1, ha = y2 - y1, xa = x1 + wa / 2, ya = y1 + ha / 2;
    // the paper's equation 2, inverted: from the anchor and t to the box
    const x = xa + t.tx * wa, y = ya + t.ty * ha, w = wa * Math.exp(t.tw), h = ha * Math.exp(t.th);
    const colour = Draw.paletteColour(e.cell.anchors.indexOf(a));
    Draw.box(g, a.anchor, scale, colour, { dashed: true, width: 1 });
    Draw.box(g, [x - w / 2, y - h / 2, x + w / 2, y + h / 2], scale, colour,
      { width: 2, label: `${a.size}, ${a.ratio}` });
  }
}

function drawHeat(e, level) {
  const canvas = $("heat-canvas");
  const scale = drawImage(canvas, 560, 0.55);
  const g = canvas.getContext("2d");
  const cw = level.cell_width * scale, ch = level.cell_height * scale;
  for (let r = 0; r < level.rows; r++) {
    for (let c = 0; c < level.cols; c++) {
      const p = level.objectness[r * level.cols + c];
      g.fillStyle = Draw.heat(p, 0.15 + 0.6 * p);
      g.fillRect(c * cw, r * ch, Math.ceil(cw), Math.ceil(ch));
    }
  }
}

function drawProposals(e) {
  const n = parseInt($("prop-n").value, 10);
  $("prop-n-value").textContent = n;
  $("prop-n").max = Math.max(1, e.before_nms.scores.length);
  $("before-count").textContent = e.before_nms.scores.length;
  $("after-count").textContent = e.after_nms.scores.length;
  for (const [id, set] of [["before-canvas", e.before_nms], ["after-canvas", e.after_nms]]) {
    const canvas = $(id);
    const scale = drawImage(canvas, 420, 0.3);
    const g = canvas.getContext("2d");
    for (let i = Math.min(n, set.scores.length) - 1; i >= 0; i--) {
      Draw.box(g, set.boxes[i], scale, Draw.heat(set.scores[i]), { width: 1, alpha: 0.9 });
    }
  }
}

function drawRois(e) {
  const canvas = $("roi-canvas");
  const scale = drawImage(canvas, 560, 0.3);
  const g = canvas.getContext("2d");
  for (const b of e.after_nms.boxes) Draw.box(g, b, scale, "#cccccc", { width: 1, alpha: 0.35 });
  const threshold = parseFloat($("thresh").value);
  for (const d of e.detections.filter((x) => x.score >= threshold)) {
    const roi = e.after_nms.boxes[d.proposal];
    const colour = Draw.classColour(d.label);
    if (roi) {
      Draw.box(g, roi, scale, colour, { dashed: true, width: 1 });
      g.save();
      g.strokeStyle = colour;
      g.beginPath();
      g.moveTo((roi[0] + roi[2]) / 2 * scale, (roi[1] + roi[3]) / 2 * scale);
      g.lineTo((d.box[0] + d.box[2]) / 2 * scale, (d.box[1] + d.box[3]) / 2 * scale);
      g.stroke();
      g.restore();
    }
    Draw.box(g, d.box, scale, colour, { width: 2, label: `${d.category_name} ${d.score.toFixed(2)}` });
  }
}

function drawLoss() {
  const x = [], l2 = [], smooth = [];
  for (let k = 0; k <= 200; k++) {
    const v = -3 + 6 * k / 200;
    x.push(v);
    l2.push(v * v / 2);
    smooth.push(Math.abs(v) < 1 ? v * v / 2 : Math.abs(v) - 0.5);
  }
  Draw.lines($("loss-canvas"), [
    { name: "L2: x²/2", colour: "#c2352b", x, y: l2, width: 2.5 },
    { name: "smooth L1: x²/2 if |x| < 1, else |x| − ½", colour: "#0b6bcb", x, y: smooth, width: 2.5 }],
    { yMin: 0, yMax: 4.5, xLabel: "x (a regression error)" });
}

// ---- wiring

function setup() {
  setupInput();
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => showTab(b.dataset.tab));
  $("thresh").addEventListener("input", drawDetections);
  $("level").addEventListener("change", () => {
    const l = state.explain.levels[parseInt($("level").value, 10)];
    let best = 0;
    l.objectness.forEach((p, i) => { if (p > l.objectness[best]) best = i; });
    explain(parseInt($("level").value, 10), Math.floor(best / l.cols), best % l.cols);
  });
  for (const id of ["tx", "ty", "tw", "th"]) $(id).addEventListener("input", drawExplorer);
  $("explorer-reset").addEventListener("click", () => {
    for (const id of ["tx", "ty", "tw", "th"]) $(id).value = 0;
    drawExplorer();
  });
  $("prop-n").addEventListener("input", () => state.explain && drawProposals(state.explain));
  $("run-ss").addEventListener("click", async () => {
    status("running Selective Search (fast mode) ...");
    try {
      state.ss = await api("POST", "/v1/selective-search", state.blob);
      status(`Selective Search: ${state.ss.count} boxes in ${state.ss.millis.toFixed(0)} ms`);
      drawHow();
    } catch (e) {
      status(e.message, true);
    }
  });
  drawLoss();
  loadModel();
}

setup();
