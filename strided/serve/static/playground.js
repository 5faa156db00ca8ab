"use strict";
// The hyperparameter playground: input size n, padding p, kernel k, stride s, dilation d (one axis,
// square maps) -> output size floor((n + 2p - d(k-1) - 1) / s) + 1 with the numbers filled in, and
// the window sliding over the padded input, one output position at a time.

const Playground = (() => {
  const ids = ["n", "p", "k", "s", "d"], knobs = Object.fromEntries(ids.map(i => [i, document.getElementById("pg-" + i)]));
  const formula = document.getElementById("pg-formula"), canvas = document.getElementById("pg-canvas");
  const g = canvas.getContext("2d");
  let step = 0, timer = null, source = "";

  function values() { return Object.fromEntries(ids.map(i => [i, Math.max(Number(knobs[i].min), Number(knobs[i].value) || 0)])); }

  function outputSize({ n, p, k, s, d }) { return Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1; }

  function describe(v) {
    const o = outputSize(v), span = v.d * (v.k - 1) + 1;
    const top = v.n + 2 * v.p - v.d * (v.k - 1) - 1;
    let text = `out = ⌊(n + 2p − d(k − 1) − 1) / s⌋ + 1 = ⌊(${v.n} + 2·${v.p} − ${v.d}·(${v.k} − 1) − 1) / ${v.s}⌋ + 1` +
      ` = ⌊${top} / ${v.s}⌋ + 1 = ${o}`;
    if (o < 1) text += `  → no output: the window spans ${span} pixels, the padded input only ${v.n + 2 * v.p}`;
    else if ((top % v.s) !== 0) text += `  (the last ${top % v.s} row(s) of the padded input are never read)`;
    if (source) text = `${source}: ` + text;
    formula.textContent = text;
    formula.dataset.out = String(o);
    return o;
  }

  function draw() {
    const v = values(), o = describe(v), total = v.n + 2 * v.p;
    const cell = Math.max(3, Math.floor(Math.min(canvas.width, canvas.height * 0.7) / Math.max(total, 1)));
    g.clearRect(0, 0, canvas.width, canvas.height);
    const positions = Math.max(o, 0) ** 2, at = positions ? step % positions : 0;
    const oi = Math.floor(at / Math.max(o, 1)), oj = at % Math.max(o, 1);
    for (let r = 0; r < total; r++) {
      for (let c = 0; c < total; c++) {
        const padded = r < v.p || c < v.p || r >= v.p + v.n || c >= v.p + v.n;
        g.fillStyle = padded ? "#e6e8ee" : "#b9c6e4";
        g.fillRect(c * cell, r * cell, cell - 1, cell - 1);
      }
    }
    if (positions) {
      g.fillStyle = "rgba(224, 112, 47, 0.85)";
      for (let a = 0; a < v.k; a++) {
        for (let b = 0; b < v.k; b++) {
          g.fillRect((oj * v.s + b * v.d) * cell, (oi * v.s + a * v.d) * cell, cell - 1, cell - 1);
        }
      }
      const small = Math.max(3, Math.min(cell, Math.floor((canvas.height - total * cell - 8) / Math.max(o, 1))));
      const top = total * cell + 6;
      for (let i = 0; i < o; i++) {
        for (let j = 0; j < o; j++) {
          g.fillStyle = i === oi && j === oj ? "#e0702f" : "#d5dbe8";
          g.fillRect(j * small, top + i * small, small - 1, small - 1);
        }
      }
    }
    canvas.dataset.out = String(o);
    canvas.title = `padded input ${total}×${total} (grey: padding); orange: the ${v.k}×${v.k} window (dilation ${v.d}) ` +
      `for output (${oi}, ${oj}) of ${o}×${o}`;
  }

  function restart() {
    clearInterval(timer);
    step = 0;
    draw();
    timer = setInterval(() => { step++; draw(); }, 700);
  }

  ids.forEach(i => knobs[i].addEventListener("input", () => { source = ""; restart(); }));

  return {
    // from a layer: its kernel, stride, padding and dilation (first axis) and its input size
    load(geometry, n, name) {
      knobs.n.value = n; knobs.k.value = geometry.kernel[0]; knobs.s.value = geometry.stride[0];
      knobs.p.value = geometry.padding[0]; knobs.d.value = geometry.dilation[0];
      source = name;
      restart();
      if (name) document.getElementById("playground").scrollIntoView({ block: "nearest" });
    },
    outputSize,
  };
})();
