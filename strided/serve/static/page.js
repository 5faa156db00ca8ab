"use strict";
// The page: draw or upload -> POST /predict?explain=layers -> prediction, every layer's maps, logits, softmax.
const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const statusLine = document.getElementById("status");
const tooltip = document.getElementById("tooltip");
const PER_PAGE = 32;  // feature maps per page of a layer
let model = null, drawing = false, last = null, timer = null, inFlight = false, pending = null;
let current = null;   // {blob, name, explain}: the input on screen and what the service said about it

function clearPad() { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, pad.width, pad.height); }
clearPad();

function bump(key) { document.body.dataset[key] = String(Number(document.body.dataset[key] || 0) + 1); }

function hover(el, text) {
  el.addEventListener("mousemove", e => {
    tooltip.textContent = typeof text === "function" ? text(e) : text; tooltip.style.display = "block";
    tooltip.style.left = (e.clientX + 12) + "px"; tooltip.style.top = (e.clientY + 12) + "px";
  });
  el.addEventListener("mouseleave", () => { tooltip.style.display = "none"; });
}

// POST the current input with query parameters; the file keeps its own name so errors name it.
async function post(params, input) {
  const form = new FormData();
  form.append("file", input.blob, input.name);
  const res = await fetch(`/predict?${new URLSearchParams(params)}`, { method: "POST", body: form });
  let body;
  try { body = await res.json(); } catch (err) { body = { detail: `HTTP ${res.status}` }; }
  return { res, body };
}

// A failed request must not leave an earlier answer on screen as if it were this input's.
function clearResults() {
  current = null;
  document.getElementById("prediction").textContent = "–";
  document.getElementById("bars").innerHTML = "";
  document.getElementById("layers").innerHTML = '<p class="hint">No prediction: see the message on the left.</p>';
  document.getElementById("clicked").hidden = true;
  document.getElementById("attr-bar").innerHTML = "";
  document.getElementById("attr-note").textContent = "";
  InputView.clear();
}

async function predict(blob, name) {
  if (inFlight) { pending = { blob, name }; return; }  // one request at a time; the latest input wins
  inFlight = true;
  document.body.dataset.busy = "1";  // tests (and impatient readers) can tell a settled page
  const input = { blob, name };
  try {
    const { res, body } = await post({ explain: "layers", top_k: model.classes.length }, input);
    if (!res.ok) {
      clearResults();
      statusLine.textContent = `Error ${res.status}: ${body.detail}`;
      bump("errors");
      return;
    }
    current = { ...input, explain: body.explain };
    showPrediction(body.predictions[0]);
    showLayers(body.explain);
    InputView.show(body.explain.input);
    fillAttributionChoices(body.explain);
    document.getElementById("clicked").hidden = true;
    statusLine.textContent = "";
    bump("predictions");
  } catch (err) {
    clearResults();
    statusLine.textContent = "Request failed: " + err;
    bump("errors");
  } finally {
    inFlight = false;
    if (pending) { const next = pending; pending = null; predict(next.blob, next.name); }
    else if (!timer) document.body.dataset.busy = "0";
  }
}

function showPrediction(pred) {
  document.getElementById("prediction").textContent = `${pred.class}  (${(pred.probability * 100).toFixed(1)}%)`;
  const bars = document.getElementById("bars");
  bars.innerHTML = "";
  const probs = new Array(model.classes.length).fill(0);
  for (const t of pred.top_k) probs[t.index] = t.probability;
  model.classes.forEach((name, i) => {
    const row = document.createElement("div");
    row.className = "bar" + (i === pred.index ? " top" : "");
    row.innerHTML = `<div></div><div class="track"><div class="fill"></div></div><span></span>`;
    row.children[0].textContent = name;
    row.querySelector(".fill").style.width = (probs[i] * 100).toFixed(1) + "%";
    row.children[2].textContent = (probs[i] * 100).toFixed(1) + "%";
    bars.appendChild(row);
  });
}

const STAGE_TEXT = { "pre-activation": ["pre", "before the activation"], "post-activation": ["post", "after the activation"] };

function layerHeader(layer) {
  const h3 = document.createElement("h3");
  const [c, h, w] = layer.shape;
  h3.innerHTML = `<span></span><small></small>`;
  h3.children[0].textContent = layer.name;
  h3.children[1].textContent = `${layer.label} · ${c}×${h}×${w} · ${layer.params.toLocaleString()} parameters` +
    ` · reads ${layer.reads.join(", ")}`;
  if (layer.stage) {
    const [cls, text] = STAGE_TEXT[layer.stage], tag = document.createElement("span");
    tag.className = `tag ${cls}`; tag.textContent = layer.stage; tag.title = text;
    h3.appendChild(tag);
  } else if (layer.role === "block") {
    const tag = document.createElement("span");
    tag.className = "tag block"; tag.textContent = "block output"; tag.title = "after the block's sum and its final activation";
    h3.appendChild(tag);
  }
  for (const page of layer.docs) h3.appendChild(docsLink(page, "the page of strided's docs that explains this"));
  if (layer.geometry) {
    const b = document.createElement("button");
    b.className = "small"; b.type = "button"; b.textContent = "playground";
    const [, h, w] = layer.input_shape || layer.shape;
    b.addEventListener("click", () => Playground.load(layer.geometry, [h, w], layer.name, layer.shape.slice(1)));
    h3.appendChild(b);
  }
  return h3;
}

// A docs page, served by the service (GET /docs-pages/NAME), in a new tab so the maps stay where they are.
function docsLink(page, title) {
  const a = document.createElement("a");
  a.className = "doc"; a.textContent = "docs/" + page; a.title = title;
  a.href = "/docs-pages/" + encodeURIComponent(page); a.target = "_blank"; a.rel = "noopener";
  return a;
}

function filterCanvas(layer, k, width) {
  // the filter of output channel k: its input planes side by side, on the layer's symmetric filter scale
  const f = layer.filters, [, cin, kh, kw] = f.shape, values = layer._filters;
  const box = document.createElement("div");
  box.style.display = "flex"; box.style.gap = "1px";
  const scale = Math.max(2, Math.floor(width / (cin * kw)) - 1);
  for (let i = 0; i < cin; i++) {
    const cv = valuesCanvas(values, (k * cin + i) * kh * kw, kh, kw, scale, v => diverging(v / layer._filterScale));
    cv.className = "filter";
    hover(cv, `filter of map ${k}, input channel ${i}: ${kh}×${kw} weights`);
    box.appendChild(cv);
  }
  return box;
}

function drawMaps(div, layer) {
  const maps = div.querySelector(".maps"), [, h, w] = layer.shape, q = layer._q, m = layer.maps.scale;
  const c = layer.maps.shape[0], all = layer.shape[0];  // channels sent (a huge layer is cut) and in all
  const scale = h * w <= 4 ? 16 : Math.max(1, Math.round(60 / Math.max(h, w)));
  const first = layer._page * PER_PAGE, end = Math.min(c, first + PER_PAGE);
  maps.innerHTML = "";
  for (let k = first; k < end; k++) {
    const cell = document.createElement("div");
    cell.className = "cell";
    if (layer._filters) cell.appendChild(filterCanvas(layer, k, w * scale));
    const cv = valuesCanvas(q, k * h * w, h, w, scale, v => diverging(v / 127));
    cv.dataset.channel = String(k);
    const at = e => [Math.min(h - 1, Math.floor(e.offsetY / scale)), Math.min(w - 1, Math.floor(e.offsetX / scale))];
    hover(cv, e => { const [i, j] = at(e); return `${layer.name} map ${k} (${i}, ${j}) ≈ ${fmt(q[k * h * w + i * w + j] * m / 127)} · click for the numbers`; });
    cv.addEventListener("click", e => { const [i, j] = at(e); Clicked.show(layer, k, i, j); });
    cell.appendChild(cv);
    maps.appendChild(cell);
  }
  const pager = div.querySelector(".pager");
  pager.querySelector("span").textContent = `maps ${first + 1}–${end} of ${c}` +
    (c < all ? ` (the first ${c} of ${all} sent: the layer is large)` : "");
  pager.querySelector(".prev").disabled = first === 0;
  pager.querySelector(".next").disabled = end >= c;
}

function layerRow(layer) {
  const div = document.createElement("div");
  div.className = `layer role-${layer.role}`;
  div.dataset.name = layer.name;
  div.appendChild(layerHeader(layer));
  if (layer.identity) {
    const note = document.createElement("p");
    note.className = "note";
    note.textContent = `Identity here: ${layer.label} turns its ${layer.shape[1]}×${layer.shape[2]} input into the ` +
      `same ${layer.shape[1]}×${layer.shape[2]} output, every value unchanged, so its maps are not drawn again. ` +
      `On other input sizes it resizes the maps for the classifier.`;
    div.appendChild(note);
    return div;
  }
  layer._q = decodeArray(layer.maps);
  layer._page = 0;
  if (layer.filters) {
    layer._filters = decodeArray(layer.filters);
    layer._filterScale = Math.max(1e-12, ...Array.from(layer._filters, Math.abs));
  }
  const m = layer.maps.scale;
  div.appendChild(colourBar(-m, m, diverging, true));
  const pager = document.createElement("div");
  pager.className = "pager";
  pager.innerHTML = `<button type="button" class="prev">◀</button><span></span><button type="button" class="next">▶</button>`;
  pager.querySelector(".prev").addEventListener("click", () => { layer._page--; drawMaps(div, layer); });
  pager.querySelector(".next").addEventListener("click", () => { layer._page++; drawMaps(div, layer); });
  div.appendChild(pager);
  const maps = document.createElement("div");
  maps.className = "maps";
  div.appendChild(maps);
  drawMaps(div, layer);
  return div;
}

function logitsRow(explain) {
  const div = document.createElement("div");
  div.className = "layer role-logits";
  const m = explain.logits.scale || 1;
  div.innerHTML = `<h3>logits <small>the classifier's scores, before softmax · ${explain.classes.length} classes</small></h3>`;
  div.appendChild(colourBar(-m, m, diverging, true));
  explain.logits.values.forEach((v, i) => {
    const row = document.createElement("div");
    row.className = "logit-row";
    row.innerHTML = `<span></span><div class="logit-track"><div class="fill"></div><div class="zero"></div></div><span></span>`;
    row.children[0].textContent = explain.classes[i] ?? String(i);
    const fill = row.querySelector(".fill"), half = 50 * Math.abs(v) / m, [r, g, b] = diverging(v / m);
    fill.style.left = (v < 0 ? 50 - half : 50) + "%"; fill.style.width = half + "%";
    fill.style.background = `rgb(${r},${g},${b})`;
    row.children[2].textContent = fmt(v);
    div.appendChild(row);
  });
  return div;
}

function softmaxRow(explain) {
  const div = document.createElement("div");
  div.className = "layer role-softmax";
  div.innerHTML = `<h3>softmax <small>p_i = exp(z_i) / Σ_j exp(z_j): the logits made probabilities</small></h3>`;
  explain.softmax.forEach((p, i) => {
    const row = document.createElement("div");
    row.className = "bar";
    row.innerHTML = `<div></div><div class="track"><div class="fill"></div></div><span></span>`;
    row.children[0].textContent = explain.classes[i] ?? String(i);
    row.querySelector(".fill").style.width = (p * 100).toFixed(1) + "%";
    row.children[2].textContent = (p * 100).toFixed(1) + "%";
    div.appendChild(row);
  });
  return div;
}

function showLayers(explain) {
  const box = document.getElementById("layers");
  box.innerHTML = "";
  for (const layer of explain.layers) box.appendChild(layerRow(layer));
  box.appendChild(logitsRow(explain));
  box.appendChild(softmaxRow(explain));
  applyFilters();
}

function applyFilters() {
  const norm = document.getElementById("show-norm").checked, act = document.getElementById("show-act").checked;
  for (const div of document.querySelectorAll("#layers .layer")) {
    div.hidden = (!norm && div.classList.contains("role-norm")) || (!act && div.classList.contains("role-activation"));
  }
}
document.getElementById("show-norm").addEventListener("change", applyFilters);
document.getElementById("show-act").addEventListener("change", applyFilters);

function fillAttributionChoices(explain) {
  const cls = document.getElementById("attr-class"), chosen = cls.value;
  if (cls.options.length !== explain.classes.length + 1) {
    cls.innerHTML = '<option value="">predicted class</option>';
    explain.classes.forEach((name, i) => cls.add(new Option(`${i}: ${name}`, String(i))));
  }
  cls.value = chosen;
  const sel = document.getElementById("attr-layer"), keep = sel.value;
  const spatial = explain.layers.filter(l => l.shape[1] * l.shape[2] > 1).map(l => l.name);
  sel.innerHTML = "";
  spatial.forEach(name => sel.add(new Option(`Grad-CAM at ${name}`, name)));
  sel.value = spatial.includes(keep) ? keep : spatial[spatial.length - 1];
}

function schedule() {
  clearTimeout(timer);
  document.body.dataset.busy = "1";
  timer = setTimeout(() => { timer = null; pad.toBlob(blob => predict(blob, "drawing.png"), "image/png"); }, 120);
}

function point(e) {
  const r = pad.getBoundingClientRect();
  return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
}
pad.addEventListener("pointerdown", e => { drawing = true; last = point(e); pad.setPointerCapture(e.pointerId); });
pad.addEventListener("pointermove", e => {
  if (!drawing) return;
  const p = point(e);
  ctx.strokeStyle = "#fff"; ctx.lineWidth = 22; ctx.lineCap = "round"; ctx.lineJoin = "round";
  ctx.beginPath(); ctx.moveTo(...last); ctx.lineTo(...p); ctx.stroke();
  last = p;
  schedule();
});
["pointerup", "pointercancel"].forEach(t => pad.addEventListener(t, () => { drawing = false; }));
document.getElementById("clear").addEventListener("click", clearPad);
document.getElementById("upload").addEventListener("change", e => {
  const file = e.target.files[0];
  if (!file) return;
  const img = new Image();
  img.onload = () => {
    clearPad();
    const s = Math.min(pad.width / img.width, pad.height / img.height);
    ctx.drawImage(img, (pad.width - img.width * s) / 2, (pad.height - img.height * s) / 2, img.width * s, img.height * s);
    URL.revokeObjectURL(img.src);
  };
  img.onerror = () => { clearPad(); URL.revokeObjectURL(img.src); };
  img.src = URL.createObjectURL(file);
  predict(file, file.name);
  e.target.value = "";  // choosing the same file again is a new upload
});
document.getElementById("attr-run").addEventListener("click", () => Attribution.run());
document.getElementById("clicked-close").addEventListener("click", () => {
  document.getElementById("clicked").hidden = true; InputView.box(null);
});

fetch("/v1/model").then(r => r.json()).then(m => {
  model = m;
  const [c, h, w] = m.input_shape;
  document.getElementById("model-line").textContent =
    `${m.name} · ${m.classes.length} classes · input ${c}×${h}×${w} (${c === 1 ? "grey" : "colour"}) · ` +
    `${m.parameters.toLocaleString()} parameters`;
  Playground.load({ kernel: [3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1] }, [Math.min(h, 9), Math.min(w, 12)]);
  document.body.dataset.ready = "1";
}).catch(err => { document.getElementById("model-line").textContent = "Could not load the model: " + err; });
