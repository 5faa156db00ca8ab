"use strict";
// The hyperparameter playground, two axes as in PyTorch (kernel_size=(3, 5), stride=(1, 2), ...): for
// rows (H) and columns (W) apart, input size n, padding p, kernel k, stride s, dilation d -> output size
// floor((n + 2p - d(k-1) - 1) / s) + 1, with the numbers filled in for each axis, and the window sliding
// over the padded (possibly rectangular) input, one output position at a time.

const Playground = (() => {
  const KNOBS = ["n", "p", "k", "s", "d"], AXES = ["h", "w"];
  const field = (knob, axis) => document.getElementById(`pg-${knob}-${axis}`);
  const formula = document.getElementById("pg-formula"), canvas = document.getElementById("pg-canvas");
  const g = canvas.getContext("2d");
  const STEP_MS = 700;  // one output position per step: slow enough to follow the window
  let step = 0, timer = null, layer = null;  // layer: {name, out: [H, W]} when loaded from a layer

  // {n, p, k, s, d} of one axis, each within its field's bounds (an empty field reads as its minimum)
  function axis(a) {
    return Object.fromEntries(KNOBS.map(knob => {
      const f = field(knob, a);
      return [knob, Math.min(Number(f.max), Math.max(Number(f.min), Math.floor(Number(f.value)) || 0))];
    }));
  }

  function outputSize({ n, p, k, s, d }) { return Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1; }

  // One axis' line: the formula with its numbers, and what is special about the result.
  function axisLine(name, unit, v) {
    const o = outputSize(v), top = v.n + 2 * v.p - v.d * (v.k - 1) - 1, span = v.d * (v.k - 1) + 1;
    let text = `${name}: ⌊(${v.n} + 2·${v.p} − ${v.d}·(${v.k} − 1) − 1) / ${v.s}⌋ + 1 = ⌊${top} / ${v.s}⌋ + 1 = ${o}`;
    if (o < 1) text += `  → no output: the window spans ${span}, the padded input only ${v.n + 2 * v.p}`;
    else if (top % v.s !== 0) text += `  (the last ${top % v.s} ${unit} of the padded input never read)`;
    return { o, text };
  }

  function describe(h, w) {
    const rows = axisLine("H", "row(s)", h), cols = axisLine("W", "column(s)", w);
    const line = (text, id = "") => Object.assign(document.createElement("p"), { textContent: text, id });
    const lines = [line("out = ⌊(n + 2p − d(k − 1) − 1) / s⌋ + 1, per axis"),
      line(rows.text, "pg-formula-h"), line(cols.text, "pg-formula-w")];
    if (layer) {
      lines.unshift(line(`${layer.name}: input ${h.n}×${w.n} → output ${rows.o}×${cols.o}`));
      if (rows.o !== layer.out[0] || cols.o !== layer.out[1]) {
        lines.push(line(`(the layer itself gives ${layer.out[0]}×${layer.out[1]}: it pads unevenly ('same' with ` +
          `an even window) or rounds up (ceil_mode), which this formula does not show)`));
      }
    }
    formula.replaceChildren(...lines);
    Object.assign(formula.dataset, { outH: String(rows.o), outW: String(cols.o), out: `${rows.o}×${cols.o}` });
    return [rows.o, cols.o];
  }

  // A grid of rows×cols cells of `size` pixels; below GRID_MIN pixels a cell has no room for its gap line,
  // and the grid is drawn as one block (a 224×224 input is 50,000 cells: 1 ms as a block, ~20 ms as cells).
  const GRID_MIN = 3;
  function cells(x0, y0, rows, cols, size, colour) {
    if (size < GRID_MIN) { g.fillStyle = colour(-1, -1); g.fillRect(x0, y0, cols * size, rows * size); return; }
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        g.fillStyle = colour(r, c);
        g.fillRect(x0 + c * size, y0 + r * size, size - 1, size - 1);
      }
    }
  }
  const gap = size => (size < GRID_MIN ? 0 : 1);

  function draw() {
    const h = axis("h"), w = axis("w"), [oh, ow] = describe(h, w);
    const rows = h.n + 2 * h.p, cols = w.n + 2 * w.p;  // the padded input
    const room = canvas.height * 0.62;  // the padded input on top, the output map below it
    const cell = Math.min(canvas.width / cols, room / rows, 24);
    g.clearRect(0, 0, canvas.width, canvas.height);
    const positions = Math.max(oh, 0) * Math.max(ow, 0), at = positions ? step % positions : 0;
    const oi = positions ? Math.floor(at / ow) : 0, oj = positions ? at % ow : 0;
    if (cell < GRID_MIN) {  // too small for a grid: the padding as a frame around the input
      g.fillStyle = "#e6e8ee"; g.fillRect(0, 0, cols * cell, rows * cell);
      g.fillStyle = "#b9c6e4"; g.fillRect(w.p * cell, h.p * cell, w.n * cell, h.n * cell);
    } else {
      cells(0, 0, rows, cols, cell, (r, c) =>
        r < h.p || c < w.p || r >= h.p + h.n || c >= w.p + w.n ? "#e6e8ee" : "#b9c6e4");
    }
    if (positions) {
      g.fillStyle = "rgba(224, 112, 47, 0.85)";  // the kh×kw window, its taps d apart on each axis
      const tap = Math.max(1, cell - gap(cell));
      for (let a = 0; a < h.k; a++) {
        for (let b = 0; b < w.k; b++) g.fillRect((oj * w.s + b * w.d) * cell, (oi * h.s + a * h.d) * cell, tap, tap);
      }
      const top = rows * cell + 8;
      const small = Math.min(cell, (canvas.height - top) / oh, canvas.width / ow);
      cells(0, top, oh, ow, small, () => "#d5dbe8");
      g.fillStyle = "#e0702f";
      g.fillRect(oj * small, top + oi * small, Math.max(1, small - gap(small)), Math.max(1, small - gap(small)));
    }
    Object.assign(canvas.dataset, { out: `${oh}×${ow}`, padded: `${rows}×${cols}`, at: `${oi},${oj}` });
    canvas.title = `padded input ${rows}×${cols} (grey: padding); orange: the ${h.k}×${w.k} window (dilation ` +
      `${h.d}×${w.d}) for output (${oi}, ${oj}) of ${oh}×${ow}`;
  }

  function restart() {
    clearInterval(timer);
    step = 0;
    draw();
    timer = setInterval(() => { step++; draw(); }, STEP_MS);
  }

  for (const knob of KNOBS) {
    for (const a of AXES) field(knob, a).addEventListener("input", () => { layer = null; restart(); });
  }

  return {
    // Both axes from a layer: its (kernel, stride, padding, dilation) pairs, its input's H and W, and its
    // own output size to check the formula against. Without a name: an example, not a layer.
    load(geometry, inputHW, name, outputHW) {
      const pairs = { n: inputHW, p: geometry.padding, k: geometry.kernel, s: geometry.stride, d: geometry.dilation };
      for (const knob of KNOBS) {
        AXES.forEach((a, i) => {
          const f = field(knob, a);
          f.max = Math.max(Number(f.max), pairs[knob][i]);  // a layer's own numbers are never cut
          f.value = pairs[knob][i];
        });
      }
      layer = name ? { name, out: outputHW } : null;
      restart();
      if (name) document.getElementById("playground").scrollIntoView({ block: "nearest" });
    },
    outputSize,
  };
})();
