"use strict";
// Colour scales and the decoding of the service's base64 arrays, shared by the page's scripts.

// Diverging (signed values): blue for negative, white at zero, red for positive (ColorBrewer RdBu).
const DIVERGING = [[33, 102, 172], [103, 169, 207], [209, 229, 240], [247, 247, 247],
                   [253, 219, 199], [239, 138, 98], [178, 24, 43]];
// Sequential (magnitudes): black -> red -> yellow -> white ("hot").
const SEQUENTIAL = [[0, 0, 0], [140, 20, 10], [230, 90, 20], [250, 200, 60], [255, 255, 230]];

function interpolate(stops, t) {
  t = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(Math.floor(t), stops.length - 2), f = t - i;
  return stops[i].map((c, k) => Math.round(c + (stops[i + 1][k] - c) * f));
}
// v in [-1, 1] -> RGB on the diverging scale; v in [0, 1] -> RGB on the sequential one.
const diverging = v => interpolate(DIVERGING, (v + 1) / 2);
const sequential = v => interpolate(SEQUENTIAL, v);

function bytesOf(encoded) {
  const raw = atob(encoded.data), bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}
// {shape, dtype: int8|float32|uint8, data, scale?} -> a typed array of values (int8 is rescaled later)
function decodeArray(encoded) {
  const bytes = bytesOf(encoded);
  if (encoded.dtype === "float32") return new Float32Array(bytes.buffer);
  if (encoded.dtype === "int8") return new Int8Array(bytes.buffer);
  return bytes;
}

// A canvas of h x w values drawn with colour(value) and shown at `scale` CSS pixels per value.
function valuesCanvas(values, offset, h, w, scale, colour) {
  const c = document.createElement("canvas");
  c.width = w; c.height = h; c.style.width = (w * scale) + "px"; c.style.height = (h * scale) + "px";
  const g = c.getContext("2d"), img = g.createImageData(w, h);
  for (let p = 0; p < h * w; p++) {
    const [r, gg, b] = colour(values[offset + p]);
    img.data[p * 4] = r; img.data[p * 4 + 1] = gg; img.data[p * 4 + 2] = b; img.data[p * 4 + 3] = 255;
  }
  g.putImageData(img, 0, 0);
  return c;
}

// A colour bar: the gradient with its numbers at both ends and the middle.
function colourBar(low, high, colourOf, signed) {
  const div = document.createElement("div");
  div.className = "scale";
  const c = document.createElement("canvas");
  c.width = 160; c.height = 1;
  const g = c.getContext("2d"), img = g.createImageData(160, 1);
  for (let x = 0; x < 160; x++) {
    const t = x / 159, [r, gg, b] = signed ? colourOf(2 * t - 1) : colourOf(t);
    img.data.set([r, gg, b, 255], x * 4);
  }
  g.putImageData(img, 0, 0);
  const left = document.createElement("span"), right = document.createElement("span");
  left.textContent = fmt(low); right.textContent = fmt(high);
  div.append(left, c, right);
  if (signed) div.title = `0 is white; ${fmt(low)} darkest blue, ${fmt(high)} darkest red`;
  div.dataset.low = String(low); div.dataset.high = String(high);
  return div;
}

function fmt(v) {
  if (!isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? v.toExponential(2) : v.toFixed(a < 1 ? 4 : 3);
}
