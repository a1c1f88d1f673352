// frcnn4j's drawing code, shared by the served page (frcnn serve) and the training report (index.html of a run):
// images with boxes, colours, bar and line charts on <canvas>. Plain JavaScript, no modules, so that a report opened
// from disk (file://) runs it too.
"use strict";

const Draw = (() => {
  const PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324",
    "#469990", "#800000", "#808000", "#000075", "#bfef45", "#fabed4", "#dcbeff", "#ffd8b1"];

  /**
   * Sizes the canvas to the image (at most maxWidth x maxHeight, never enlarged beyond 1.5x), draws it, dimmed by
   * `dim` (0..1) when given; returns the scale from image pixels to canvas pixels.
   */
  function image(canvas, img, maxWidth, maxHeight, dim) {
    const scale = Math.min(1.5, maxWidth / img.naturalWidth, maxHeight / img.naturalHeight);
    canvas.width = Math.round(img.naturalWidth * scale);
    canvas.height = Math.round(img.naturalHeight * scale);
    const g = canvas.getContext("2d");
    g.drawImage(img, 0, 0, canvas.width, canvas.height);
    if (dim) {
      g.fillStyle = `rgba(0,0,0,${dim})`;
      g.fillRect(0, 0, canvas.width, canvas.height);
    }
    return scale;
  }

  /** A box [x1, y1, x2, y2] in image pixels; options: width, alpha, dashed, label. */
  function box(g, b, scale, color, options) {
    const o = options || {};
    const [x1, y1, x2, y2] = b.map((v) => v * scale);
    g.save();
    g.strokeStyle = color;
    g.lineWidth = o.width || 2;
    g.globalAlpha = o.alpha === undefined ? 1 : o.alpha;
    if (o.dashed) g.setLineDash([5, 4]);
    g.strokeRect(x1, y1, x2 - x1, y2 - y1);
    if (o.label) {
      g.setLineDash([]);
      g.font = "12px system-ui, sans-serif";
      const w = g.measureText(o.label).width + 6;
      const ty = y1 > 16 ? y1 - 16 : y1;
      g.fillStyle = color;
      g.fillRect(x1, ty, w, 16);
      g.fillStyle = "#fff";
      g.fillText(o.label, x1 + 3, ty + 12);
    }
    g.restore();
  }

  function classColour(id) {
    return PALETTE[((id % PALETTE.length) + PALETTE.length) % PALETTE.length];
  }

  function paletteColour(i) {
    return PALETTE[i % PALETTE.length];
  }

  /** Objectness 0..1 as a colour from blue-green (background) through yellow to red (object). */
  function heat(p, alpha) {
    const r = Math.round(255 * Math.min(1, 2 * p));
    const gr = Math.round(255 * Math.min(1, 2 * (1 - p)));
    const b = Math.round(255 * Math.max(0, 1 - 3 * p));
    return `rgba(${r},${gr},${b},${alpha === undefined ? 1 : alpha})`;
  }

  /** Horizontal bars of [name, milliseconds] rows into `element`, linear or log scale; rows named "Selective..." red. */
  function bars(element, rows, log) {
    element.innerHTML = "";
    const max = Math.max(...rows.map(([, v]) => v));
    const width = (v) => log ? 100 * Math.log10(1 + v) / Math.log10(1 + max) : 100 * v / max;
    for (const [name, v] of rows) {
      const row = document.createElement("div");
      row.className = "bar" + (name.startsWith("Selective") ? " old" : "");
      const label = document.createElement("span");
      label.className = "name";
      label.textContent = name;
      const fill = document.createElement("span");
      fill.className = "fill";
      fill.style.width = width(v).toFixed(1) + "%";
      const value = document.createElement("span");
      value.className = "value";
      value.textContent = v.toFixed(1) + " ms";
      row.append(label, fill, value);
      element.appendChild(row);
    }
  }

  /**
   * Line chart of series [{name, colour, x: [...], y: [...]}] on a canvas, axes from the data (or options.xMax,
   * options.yMax, options.yMin), with a legend; options.xLabel names the x axis.
   */
  function lines(canvas, series, options) {
    const o = options || {};
    const g = canvas.getContext("2d");
    const w = canvas.width, h = canvas.height, left = 46, right = 12, top = 14, bottom = 34;
    g.clearRect(0, 0, w, h);
    const xs = series.flatMap((s) => s.x), ys = series.flatMap((s) => s.y).filter(Number.isFinite);
    const xMin = o.xMin !== undefined ? o.xMin : Math.min(...xs), xMax = o.xMax !== undefined ? o.xMax : Math.max(...xs);
    const yMin = o.yMin !== undefined ? o.yMin : Math.min(0, ...ys), yMax = o.yMax !== undefined ? o.yMax : Math.max(...ys);
    const X = (x) => left + (x - xMin) / ((xMax - xMin) || 1) * (w - left - right);
    const Y = (y) => h - bottom - (y - yMin) / ((yMax - yMin) || 1) * (h - top - bottom);
    g.strokeStyle = "#bbb"; g.lineWidth = 1;
    g.beginPath(); g.moveTo(left, top); g.lineTo(left, h - bottom); g.lineTo(w - right, h - bottom); g.stroke();
    g.fillStyle = "#555"; g.font = "11px system-ui, sans-serif";
    for (let k = 0; k <= 4; k++) {
      const yv = yMin + (yMax - yMin) * k / 4, xv = xMin + (xMax - xMin) * k / 4;
      g.textAlign = "left";
      g.fillText(yv.toFixed(yMax - yMin < 5 ? 2 : 0), 4, Y(yv) + 4);
      g.textAlign = k === 0 ? "left" : k === 4 ? "right" : "center"; // the last label ends at the axis' end
      g.fillText(xv.toFixed(xMax - xMin < 5 ? 2 : 0), X(xv), h - bottom + 14);
    }
    g.textAlign = "left";
    if (o.xLabel) g.fillText(o.xLabel, w / 2 - 20, h - 6);
    series.forEach((s, i) => {
      g.strokeStyle = s.colour; g.lineWidth = s.width || 2;
      g.beginPath();
      let started = false;
      for (let k = 0; k < s.x.length; k++) {
        if (!Number.isFinite(s.y[k])) continue;
        const px = X(s.x[k]), py = Y(Math.min(yMax, Math.max(yMin, s.y[k])));
        started ? g.lineTo(px, py) : g.moveTo(px, py);
        started = true;
      }
      g.stroke();
      if (s.points) {
        g.fillStyle = s.colour;
        for (let k = 0; k < s.x.length; k++) {
          g.beginPath(); g.arc(X(s.x[k]), Y(s.y[k]), 3, 0, 2 * Math.PI); g.fill();
        }
      }
      g.fillStyle = s.colour;
      g.font = "12px system-ui, sans-serif";
      g.fillText(s.name, left + 8 + (o.legendRight ? w / 2 : 0), top + 12 + 14 * i);
    });
    return { X, Y };
  }

  return { image, box, classColour, paletteColour, heat, bars, lines };
})();
