"use strict";
// The input view (with the receptive field or an attribution drawn over it), the click-a-pixel view and
// the attribution views. Each asks the service (explain=window / saliency / gradcam / occlusion) for the
// current input, so the numbers shown are the ones the model computed.

const InputView = (() => {
  const canvas = document.getElementById("input-view"), g = canvas.getContext("2d");
  let image = null, rf = null, heat = null;  // image: {h, w, canvas}; rf: [r0, r1, c0, c1]; heat: canvas
  function fit() {
    const s = Math.min(canvas.width / image.w, canvas.height / image.h);
    return { s, ox: (canvas.width - image.w * s) / 2, oy: (canvas.height - image.h * s) / 2 };
  }
  function render() {
    g.fillStyle = "#000"; g.fillRect(0, 0, canvas.width, canvas.height);
    if (!image) return;
    const { s, ox, oy } = fit();
    g.imageSmoothingEnabled = false;
    g.globalAlpha = heat ? 0.45 : 1;
    g.drawImage(image.canvas, ox, oy, image.w * s, image.h * s);
    g.globalAlpha = 1;
    if (heat) { g.globalAlpha = 0.7; g.imageSmoothingEnabled = true; g.drawImage(heat, ox, oy, image.w * s, image.h * s); g.globalAlpha = 1; }
    if (rf) {
      const [r0, r1, c0, c1] = rf;
      g.strokeStyle = "#ffb000"; g.lineWidth = 2;
      g.strokeRect(ox + c0 * s, oy + r0 * s, (c1 - c0 + 1) * s, (r1 - r0 + 1) * s);
    }
    canvas.dataset.box = rf ? rf.join(",") : "";
    canvas.dataset.heat = heat ? "1" : "";
  }
  return {
    show(encoded) {
      const [h, w] = encoded.shape, rgb = decodeArray(encoded), c = document.createElement("canvas");
      c.width = w; c.height = h;
      const cg = c.getContext("2d"), img = cg.createImageData(w, h);
      for (let p = 0; p < h * w; p++) img.data.set([rgb[p * 3], rgb[p * 3 + 1], rgb[p * 3 + 2], 255], p * 4);
      cg.putImageData(img, 0, 0);
      image = { h, w, canvas: c }; rf = null; heat = null;
      render();
    },
    box(b) { rf = b; render(); },
    heat(c) { heat = c; render(); },
    clear() { image = null; rf = null; heat = null; render(); },
  };
})();

function numbersTable(rows, padded, digits = 3) {
  const t = document.createElement("table");
  t.className = "numbers";
  rows.forEach((row, i) => {
    const tr = t.insertRow();
    row.forEach((v, j) => {
      const td = tr.insertCell();
      td.textContent = Number(v).toFixed(digits);
      if (padded && padded[i][j]) { td.className = "pad"; td.title = "padding"; }
    });
  });
  return t;
}

function figure(caption, content) {
  const f = document.createElement("figure"), c = document.createElement("figcaption");
  c.textContent = caption;
  f.append(c, content);
  return f;
}

const Clicked = (() => {
  const section = document.getElementById("clicked"), body = document.getElementById("clicked-body");
  const CHANNELS_PER_PAGE = 4;

  function convDetail(r, start) {
    const box = document.createElement("div");
    const end = Math.min(r.channels.length, start + CHANNELS_PER_PAGE);
    for (let i = start; i < end; i++) {
      const products = r.window[i].map((row, a) => row.map((v, b) => v * r.weights[i][a][b]));
      const grids = document.createElement("div");
      grids.className = "grids";
      grids.append(figure(`input channel ${r.channels[i]}: window`, numbersTable(r.window[i], r.padded[i])),
        figure("× filter", numbersTable(r.weights[i], null)),
        figure(`= products, sum ${fmt(r.partial_sums[i])}`, numbersTable(products, r.padded[i])));
      box.appendChild(grids);
    }
    if (r.channels.length > CHANNELS_PER_PAGE) {
      const pager = document.createElement("div");
      pager.className = "pager";
      pager.innerHTML = `<button type="button" class="prev">◀</button><span></span><button type="button" class="next">▶</button>`;
      pager.querySelector("span").textContent = `input channels ${start + 1}–${end} of ${r.channels.length}`;
      pager.querySelector(".prev").disabled = start === 0;
      pager.querySelector(".next").disabled = end >= r.channels.length;
      pager.querySelector(".prev").onclick = () => box.replaceWith(convDetail(r, start - CHANNELS_PER_PAGE));
      pager.querySelector(".next").onclick = () => box.replaceWith(convDetail(r, start + CHANNELS_PER_PAGE));
      box.prepend(pager);
    }
    return box;
  }

  function render(layer, r) {
    body.innerHTML = "";
    const head = document.createElement("p");
    head.innerHTML = `<b></b>`;
    head.firstChild.textContent = `${r.layer} · map ${r.channel} · row ${r.row}, column ${r.col} = ${fmt(r.value)}`;
    body.appendChild(head);
    const [r0, r1, c0, c1] = r.receptive_field;
    const rfLine = document.createElement("p");
    rfLine.className = "hint";
    rfLine.textContent = `Receptive field on the input: rows ${r0}–${r1}, columns ${c0}–${c1} ` +
      `(${r1 - r0 + 1}×${c1 - c0 + 1} pixels, outlined on the left): every input pixel this value can depend on (`;
    rfLine.append(docsLink("receptive_fields.md", "how receptive fields grow with depth"), ").");
    body.appendChild(rfLine);
    const sum = document.createElement("p");
    sum.className = "sum";
    if (r.kind === "conv") {
      const [w0, w1, v0, v1] = r.box;
      const what = document.createElement("p");
      what.className = "hint";
      what.textContent = `It reads rows ${w0}–${w1}, columns ${v0}–${v1} of ${layer.reads.join(", ")} ` +
        `(grey: padding, zeros) in ${r.channels.length} channel(s): one dot product of the window with the filter.`;
      body.appendChild(what);
      body.appendChild(convDetail(r, 0));
      const terms = r.partial_sums.length <= 6 ? r.partial_sums.map(fmt).join(" + ")
        : `${r.partial_sums.slice(0, 3).map(fmt).join(" + ")} + … (${r.partial_sums.length} channel sums)`;
      sum.textContent = `${terms} + bias ${fmt(r.bias)} = ${fmt(r.result)}  (the layer computed ${fmt(r.value)})`;
    } else if (r.kind === "max" || r.kind === "mean") {
      const [w0, w1, v0, v1] = r.box;
      body.appendChild(figure(`window rows ${w0}–${w1}, columns ${v0}–${v1} of map ${r.channel} of ${layer.reads.join(", ")}`,
        numbersTable(r.window[0] ?? r.window, r.padded[0] ?? r.padded)));
      sum.textContent = `${r.kind} of the window = ${fmt(r.result)}  (the layer computed ${fmt(r.value)})`;
    } else if (r.kind === "elementwise") {
      const x = fmt(r.input);
      sum.textContent = r.formula === undefined
        ? `${layer.label} maps the value ${x} at the same place in ${r.reads} to ${fmt(r.value)}, value by value.`
        : r.mean !== undefined
          ? `${r.formula} = ${fmt(r.gamma)} × (${x} − ${fmt(r.mean)}) / √(${fmt(r.var)} + ${r.eps}) + ${fmt(r.beta)} ` +
            `= ${fmt(r.result)}  (the layer computed ${fmt(r.value)}; x from ${r.reads}, same place)`
          : `${r.formula} = max(0, ${x}) = ${fmt(r.result)}  (the layer computed ${fmt(r.value)}; x from ${r.reads})`;
    } else {
      sum.textContent = layer.role === "block"
        ? `${layer.label}: the sum of its branches (main path and shortcut) after its final activation; click ` +
          `the convolutions inside it for their dot products. Its receptive field unites its branches'.`
        : `${layer.label} works value by value: this one is computed from the value at the same place in ` +
          `${layer.reads.join(", ")} alone, so its receptive field is that value's.`;
    }
    body.appendChild(sum);
    InputView.heat(null);
    InputView.box(r.receptive_field);
    section.hidden = false;
    section.scrollIntoView({ block: "nearest" });
    document.body.dataset.clicked = `${r.layer}:${r.channel}:${r.row}:${r.col}`;
  }

  return {
    async show(layer, channel, row, col) {
      if (!current) return;
      const { res, body: answer } = await post(
        { explain: "window", layer: layer.name, channel, row, col, top_k: 1 }, current);
      if (!res.ok) { statusLine.textContent = `Error ${res.status}: ${answer.detail}`; return; }
      render(layer, answer.explain);
    },
  };
})();

const Attribution = (() => {
  const note = document.getElementById("attr-note"), bar = document.getElementById("attr-bar");
  function heatCanvas(values, h, w, colour) {
    return valuesCanvas(values, 0, h, w, 1, colour);
  }
  return {
    async run() {
      if (!current) { note.textContent = "Draw or upload an image first."; return; }
      const method = document.getElementById("attr-method").value;
      const params = { explain: method, top_k: 1 };
      const target = document.getElementById("attr-class").value;
      if (target !== "") params.target = target;
      if (method === "gradcam") params.layer = document.getElementById("attr-layer").value;
      note.textContent = "Computing…";
      const { res, body } = await post(params, current);
      if (!res.ok) { note.textContent = `Error ${res.status}: ${body.detail}`; return; }
      const e = body.explain, name = current.explain.classes[e.target] ?? String(e.target);
      let encoded, signed = false, text;
      if (method === "saliency") {
        encoded = e.saliency;
        text = `Saliency of "${name}": max over channels of |d score / d input|, by strided's backward.`;
      } else if (method === "gradcam") {
        encoded = e.heatmap;
        text = `Grad-CAM of "${name}" at ${e.layer}: relu(Σ_k a_k A_k), a_k = mean of d score / d A_k; upsampled.`;
      } else {
        encoded = e.sensitivity; signed = true;
        text = `Occlusion for "${name}": drop of its probability (${(e.probability * 100).toFixed(1)}%) when a ` +
          `${e.patch}×${e.patch} patch of the mean colour hides each place (${e.occluded_count} forwards). Red: it mattered.`;
      }
      const values = decodeArray(encoded), [h, w] = encoded.shape;
      const m = Math.max(1e-12, ...Array.from(values, Math.abs));
      InputView.box(null);
      InputView.heat(heatCanvas(values, h, w, signed ? v => diverging(v / m) : v => sequential(v / m)));
      bar.innerHTML = "";
      bar.appendChild(signed ? colourBar(-m, m, diverging, true) : colourBar(0, m, sequential, false));
      note.textContent = text;
      document.body.dataset.attribution = method;
    },
  };
})();
