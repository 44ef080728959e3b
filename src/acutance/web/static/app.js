// The acutance page: upload, follow the job, compare before/after with one zoom for both, download.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { file: null, models: [], job: null, view: { z: 1, x: 0, y: 0 }, split: 0.5, size: null };

// ------------------------------------------------------------------------------ models and options

async function loadModels() {
  const response = await fetch("/api/models");
  const data = await response.json();
  state.models = data.models;
  state.noReference = data.no_reference_metric;
  const groups = {};
  for (const m of data.models) (groups[m.task] ||= []).push(m);
  const select = $("model");
  for (const [task, models] of Object.entries(groups)) {
    const group = document.createElement("optgroup");
    group.label = task;
    for (const m of models) group.append(new Option(m.name, m.name));
    select.append(group);
  }
  select.value = data.models.some((m) => m.name === "raisr-x2") ? "raisr-x2" : data.models[0].name;
  const lim = data.limits;
  const pixels = lim.max_input_pixels ? `, ${(lim.max_input_pixels / 1e6).toFixed(0)} MP` : "";
  $("limits").textContent = `up to ${fmtBytes(lim.max_upload_bytes)}${pixels}`;
  modelChanged();
}

function currentModel() { return state.models.find((m) => m.name === $("model").value); }

function modelChanged() {
  const m = currentModel();
  $("model-summary").textContent = m.summary;
  const scales = m.scales || [1.5, 2, 3, 4];
  const select = $("scale");
  select.replaceChildren(...scales.map((s) => new Option(`×${s}`, s)));
  select.value = String(m.default_scale);
  if (!select.value) select.selectedIndex = 0;
  select.disabled = scales.length === 1;
}

function fmtBytes(n) { return n >= 1e6 ? `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)} MB` : `${Math.round(n / 1e3)} kB`; }

// ------------------------------------------------------------------------------------------- input

function setFile(file) {
  if (!file) return;
  state.file = file;
  $("drop").classList.add("has-file");
  $("drop-text").innerHTML = "";
  const name = document.createElement("strong");
  name.textContent = file.name;
  $("drop-text").append(name, document.createElement("br"), `${fmtBytes(file.size)} · click or drop to change`);
  $("run").disabled = false;
  $("wm-embed").disabled = $("wm-detect").disabled = false;
  document.dispatchEvent(new CustomEvent("acutance:file"));  // other panels (inpaint) follow the chosen file
  setStatus("Ready: choose a model and press Enhance.");
}

function setupDrop() {
  const drop = $("drop");
  $("file").addEventListener("change", (e) => setFile(e.target.files[0]));
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") $("file").click(); });
  for (const type of ["dragenter", "dragover"]) drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
  for (const type of ["dragleave", "drop"]) drop.addEventListener(type, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); setFile(e.dataTransfer.files[0]); });
  // A file dropped anywhere else should not make the browser navigate away from the page.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => { e.preventDefault(); if (e.dataTransfer.files.length) setFile(e.dataTransfer.files[0]); });
}

function setStatus(text, kind = "") {
  $("status").textContent = text;
  $("status").className = `status ${kind}`;
}

function setProgress(fraction, busy = false) {
  $("progress-bar").style.width = `${Math.round(fraction * 100)}%`;
  $("progress-bar").classList.toggle("busy", busy);
}

// --------------------------------------------------------------------------------------------- jobs

async function run() {
  if (!state.file) return;
  const form = new FormData();
  form.append("image", state.file);
  const reference = $("reference").files[0];
  if (reference) form.append("reference", reference);
  form.append("model", $("model").value);
  form.append("scale", $("scale").value);
  form.append("strength", String($("strength").value / 100));
  $("run").disabled = true;
  document.body.dataset.state = "running";
  setProgress(0.01);
  setStatus("Uploading…");
  try {
    const response = await fetch("/api/jobs", { method: "POST", body: form });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(detail(body, response));
    await poll(body.id);
  } catch (error) {
    document.body.dataset.state = "failed";
    setProgress(0);
    setStatus(error.message, "error");
  } finally {
    $("run").disabled = false;
  }
}

function detail(body, response) {
  if (typeof body.detail === "string") return body.detail;
  if (Array.isArray(body.detail)) return body.detail.map((d) => d.msg).join("; ");
  return `${response.status} ${response.statusText}`;
}

async function poll(id) {
  for (;;) {
    const response = await fetch(`/api/jobs/${id}`);
    const job = await response.json();
    if (!response.ok) throw new Error(detail(job, response));
    if (job.status === "failed") throw new Error(job.message);
    if (job.status === "done") return showResult(job);
    setProgress(Math.max(job.progress, 0.02), job.stage === "enhancing" && job.progress <= 0.1);
    setStatus(job.status === "queued" ? "Waiting for a free worker…" : `${cap(job.stage)}… ${Math.round(job.progress * 100)}%`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);

async function showResult(job) {
  state.job = job;
  paint.active = false;  // a job's result replaces the inpainting view
  $("mask-canvas").hidden = true;
  setProgress(1);
  setStatus("Loading the comparison…");
  const [w, h] = job.output_size;
  state.size = { w, h };
  await Promise.all([load($("after"), `/api/jobs/${job.id}/preview/result`), load($("before"), `/api/jobs/${job.id}/preview/input`)]);
  for (const img of [$("after"), $("before")]) { img.style.width = `${w}px`; img.style.height = `${h}px`; }
  $("viewer").classList.remove("empty");
  $("divider").hidden = false;
  document.querySelectorAll(".tag").forEach((t) => (t.hidden = false));
  fit();
  const [iw, ih] = job.input_size;
  facts($("facts"), [
    ["Model", `${job.model} ×${job.scale}${job.strength < 1 ? `, ${Math.round(job.strength * 100)}%` : ""}`],
    ["Size", `${iw}×${ih} → ${w}×${h}`],
    ["Time", `${job.seconds.toFixed(2)} s`],
  ]);
  const m = job.metrics, rows = [];
  if (m.psnr !== null) rows.push(["PSNR", `${m.psnr.toFixed(2)} dB`]);
  if (m.ssim !== null) rows.push(["SSIM", m.ssim.toFixed(4)]);
  if (m.niqe !== null) rows.push(["NIQE", `${m.niqe.toFixed(2)} (lower is better)`]);
  if (m.psnr === null && m.ssim === null && !m.notes.some((n) => n.includes("PSNR")))
    rows.push(["PSNR", "add a reference to measure"]);
  if (m.niqe === null) rows.push(["NIQE", m.notes.includes("no-reference score not available") ? "no-reference score not available" : "–"]);
  for (const note of m.notes.filter((n) => n !== "no-reference score not available")) rows.push(["Note", note]);
  facts($("metrics"), rows);
  const link = $("download");
  link.href = `/api/jobs/${job.id}/result`;
  link.download = job.result_name;
  $("download-name").textContent = `${job.result_name} · ${job.result_name.split(".").pop().toUpperCase()}, as the CLI writes it`;
  $("results").hidden = false;
  setStatus(`Done in ${job.seconds.toFixed(2)} s.`, "ok");
  document.body.dataset.state = "done";
}

function load(img, src) {
  return new Promise((resolve, reject) => {
    img.onload = () => resolve();
    img.onerror = () => reject(new Error(`cannot show ${src}`));
    img.src = src;
  });
}

function facts(dl, rows) {
  dl.replaceChildren();
  for (const [k, v] of rows) {
    const dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.textContent = k; dd.textContent = v;
    dl.append(dt, dd);
  }
}

// ---------------------------------------------------------------------------------------- watermark

function wmStatus(text, kind = "") {
  $("wm-status").textContent = text;
  $("wm-status").className = `status ${kind}`;
}

async function watermark(action) {
  if (!state.file) return;
  const form = new FormData();
  form.append("image", state.file);
  form.append("key", $("wm-key").value);
  if (action === "embed") form.append("text", $("wm-text").value);
  wmStatus(action === "embed" ? "Marking…" : "Reading…");
  try {
    const response = await fetch(`/api/watermark/${action}`, { method: "POST", body: form });
    if (!response.ok) throw new Error(detail(await response.json().catch(() => ({})), response));
    if (action === "detect") {
      const r = await response.json();
      wmStatus(r.found ? `Watermark found: “${r.text ?? r.payload_hex}” (p-value ${r.p_value.toExponential(1)})`
                       : "No watermark for this key.", r.found ? "ok" : "");
      return;
    }
    const blob = await response.blob();
    const name = (response.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/)?.[1] || "marked.png";
    const link = $("wm-download");
    if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(blob);
    link.download = name;
    link.hidden = false;
    wmStatus(`Marked: ${name}`, "ok");
  } catch (error) {
    wmStatus(error.message, "error");
  }
}

// ------------------------------------------------------------------------------------------ inpaint
// The mask is a canvas of the image's own size over it, painted in image pixels (the brush's size is on
// screen, so it feels the same at every zoom); it is sent as a PNG whose opaque pixels are the holes.

const paint = { active: false, mode: "brush", last: null, original: null, result: null };

function ipStatus(text, kind = "") {
  $("ip-status").textContent = text;
  $("ip-status").className = `status ${kind}`;
}

function showSingle(url) {
  // Both layers show the same picture while painting: no divider, the canvas on top.
  return Promise.all([load($("after"), url), load($("before"), url)]).then(() => {
    const img = $("after"), w = img.naturalWidth, h = img.naturalHeight;
    for (const el of [$("after"), $("before")]) { el.style.width = `${w}px`; el.style.height = `${h}px`; }
    return { w, h };
  });
}

async function startPainting() {
  if (!state.file) return ipStatus("Choose an image first.");
  if (paint.original && paint.original.file !== state.file) {
    URL.revokeObjectURL(paint.original.url);
    paint.original = null;
  }
  if (!paint.original) {
    const url = URL.createObjectURL(state.file);
    let size;
    try {
      size = await showSingle(url);
    } catch {
      URL.revokeObjectURL(url);
      return ipStatus("This browser cannot show this image; painting needs a PNG, JPEG, WebP or BMP.", "error");
    }
    paint.original = { file: state.file, url, ...size };
    const canvas = $("mask-canvas");
    canvas.width = size.w; canvas.height = size.h;  // a new, empty mask
    canvas.style.width = `${size.w}px`; canvas.style.height = `${size.h}px`;
    state.size = { w: size.w, h: size.h };
    $("viewer").classList.remove("empty");
    fit();
  } else {
    await showSingle(paint.original.url);
    state.size = { w: paint.original.w, h: paint.original.h };
    apply();
  }
  paint.active = true;
  $("mask-canvas").hidden = false;
  $("divider").hidden = true;
  document.querySelectorAll(".tag").forEach((t) => (t.hidden = true));
  $("ip-run").disabled = false;
  ipStatus("Paint over what to remove, then press Remove.");
}

function setTool(mode) {
  paint.mode = mode;
  $("ip-brush").setAttribute("aria-pressed", String(mode === "brush"));
  $("ip-eraser").setAttribute("aria-pressed", String(mode === "eraser"));
  if (!paint.active) startPainting();
}

function strokeTo(e) {
  const canvas = $("mask-canvas"), box = canvas.getBoundingClientRect();
  const point = { x: ((e.clientX - box.left) * canvas.width) / box.width, y: ((e.clientY - box.top) * canvas.height) / box.height };
  const ctx = canvas.getContext("2d");
  ctx.globalCompositeOperation = paint.mode === "eraser" ? "destination-out" : "source-over";
  ctx.strokeStyle = ctx.fillStyle = "rgb(255, 0, 0)";
  ctx.lineWidth = Math.max(1, $("ip-size").value / state.view.z);
  ctx.lineCap = ctx.lineJoin = "round";
  ctx.beginPath();
  const from = paint.last || point;
  ctx.moveTo(from.x, from.y);
  ctx.lineTo(point.x + (from === point ? 0.01 : 0), point.y);
  ctx.stroke();
  paint.last = point;
}

function setupPainting() {
  const canvas = $("mask-canvas");
  canvas.addEventListener("pointerdown", (e) => {
    if (!paint.active || e.button !== 0 || e.shiftKey) return;  // shift-drag or another button pans, as elsewhere
    e.stopPropagation();
    canvas.setPointerCapture(e.pointerId);
    paint.last = null;
    strokeTo(e);
  });
  canvas.addEventListener("pointermove", (e) => { if (paint.last) { e.stopPropagation(); strokeTo(e); } });
  const end = () => { paint.last = null; };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  $("ip-brush").addEventListener("click", () => setTool("brush"));
  $("ip-eraser").addEventListener("click", () => setTool("eraser"));
  $("ip-clear").addEventListener("click", () => {
    canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
    if (!paint.active) startPainting();
  });
  $("ip-size").addEventListener("input", (e) => ($("ip-size-value").textContent = `${e.target.value} px`));
  $("ip-run").addEventListener("click", removePainted);
  $("inpaint").addEventListener("toggle", () => { if ($("inpaint").open && state.file) startPainting(); });
  document.addEventListener("acutance:file", () => {
    paint.active = false;
    $("mask-canvas").hidden = true;
    $("ip-download").hidden = true;
    if ($("inpaint").open) startPainting();
  });
}

function binaryMask(canvas) {
  // The brush's antialiased edge, thresholded here as the server would: the mask sent is the mask painted.
  const copy = document.createElement("canvas");
  copy.width = canvas.width; copy.height = canvas.height;
  const ctx = copy.getContext("2d");
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  let left = canvas.width;  // the painted area's first column: the slider starts there
  for (let i = 3; i < pixels.data.length; i += 4) {
    pixels.data[i] = pixels.data[i] >= 128 ? 255 : 0;
    if (pixels.data[i]) left = Math.min(left, ((i - 3) / 4) % canvas.width);
  }
  ctx.putImageData(pixels, 0, 0);
  return new Promise((resolve) => copy.toBlob((blob) => resolve({ blob, left }), "image/png"));
}

async function removePainted() {
  if (!state.file || !paint.original) return;
  const { blob: mask, left } = await binaryMask($("mask-canvas"));
  const form = new FormData();
  form.append("image", state.file);
  form.append("mask", mask, "mask.png");
  form.append("method", $("ip-method").value);
  $("ip-run").disabled = true;
  ipStatus("Filling…");
  try {
    const response = await fetch("/api/inpaint", { method: "POST", body: form });
    if (!response.ok) throw new Error(detail(await response.json().catch(() => ({})), response));
    const blob = await response.blob();
    if (paint.result) URL.revokeObjectURL(paint.result);
    paint.result = URL.createObjectURL(blob);
    await Promise.all([load($("after"), paint.result), load($("before"), paint.original.url)]);
    paint.active = false;
    $("mask-canvas").hidden = true;
    $("divider").hidden = false;
    document.querySelectorAll(".tag").forEach((t) => (t.hidden = false));
    // The divider just left of the painted area, so the "after" side shows the repair.
    const column = left < paint.original.w ? state.view.x + left * state.view.z - 8 : $("viewer").clientWidth / 2;
    state.split = Math.min(Math.max(column / $("viewer").clientWidth, 0.02), 0.98);
    apply();
    const name = (response.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/)?.[1] || "inpainted.png";
    const link = $("ip-download");
    link.href = paint.result;
    link.download = name;
    link.hidden = false;
    const notice = response.headers.get("X-Acutance-Notice");
    const seconds = Number(response.headers.get("X-Acutance-Seconds") || 0);
    const method = response.headers.get("X-Acutance-Method");
    ipStatus(`Done: ${method} in ${seconds.toFixed(2)} s.${notice ? ` Note: ${notice}.` : " Brush to paint more."}`, "ok");
  } catch (error) {
    ipStatus(error.message, "error");
  } finally {
    $("ip-run").disabled = false;
  }
}

// -------------------------------------------------------------------------------------------- style
// The styled image and its .cube come from two calls with the same fields; the comparison shows the input
// (before) against the result (after) with the shared slider and zoom.

const look = { result: null, cube: null, before: null };

function stStatus(text, kind = "") {
  $("st-status").textContent = text;
  $("st-status").className = `status ${kind}`;
}

function styleReady() { $("st-run").disabled = !(state.file && $("st-ref").files[0]); }

function swapUrl(key, blob) {
  if (look[key]) URL.revokeObjectURL(look[key]);
  look[key] = URL.createObjectURL(blob);
  return look[key];
}

async function applyStyle() {
  const reference = $("st-ref").files[0];
  if (!state.file || !reference) return;
  const form = () => {
    const f = new FormData();
    f.append("image", state.file);
    f.append("reference", reference);
    f.append("strength", String($("st-strength").value / 100));
    return f;
  };
  $("st-run").disabled = true;
  stStatus("Styling…");
  try {
    // One after the other: the server styles `jobs` images at a time and answers 503 beyond that.
    const styled = await fetch("/api/style", { method: "POST", body: form() });
    if (!styled.ok) throw new Error(detail(await styled.json().catch(() => ({})), styled));
    const cube = await fetch("/api/style/cube", { method: "POST", body: form() });
    if (!cube.ok) throw new Error(detail(await cube.json().catch(() => ({})), cube));
    const after = swapUrl("result", await styled.blob()), before = swapUrl("before", state.file);
    await Promise.all([load($("after"), after), load($("before"), before)]);
    paint.active = false;  // the style's result replaces the inpainting view
    $("mask-canvas").hidden = true;
    const w = $("after").naturalWidth, h = $("after").naturalHeight;
    for (const img of [$("after"), $("before")]) { img.style.width = `${w}px`; img.style.height = `${h}px`; }
    state.size = { w, h };
    $("viewer").classList.remove("empty");
    $("divider").hidden = false;
    document.querySelectorAll(".tag").forEach((t) => (t.hidden = false));
    state.split = 0.5;
    fit();
    const name = (response) => (response.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/)?.[1];
    const result = $("st-download"), lut = $("st-cube");
    result.href = after;
    result.download = name(styled) || "styled.png";
    lut.href = swapUrl("cube", await cube.blob());
    lut.download = name(cube) || "look.cube";
    result.hidden = lut.hidden = false;
    const seconds = Number(styled.headers.get("X-Acutance-Seconds") || 0);
    stStatus(`Done in ${seconds.toFixed(2)} s. The .cube holds the same look.`, "ok");
  } catch (error) {
    stStatus(error.message, "error");
  } finally {
    styleReady();
  }
}

function setupStyle() {
  $("st-ref").addEventListener("change", styleReady);
  $("st-strength").addEventListener("input", (e) => ($("st-strength-value").textContent = `${e.target.value}%`));
  $("st-run").addEventListener("click", applyStyle);
  document.addEventListener("acutance:file", () => {
    $("st-download").hidden = $("st-cube").hidden = true;
    styleReady();
  });
}

// ------------------------------------------------------------------- comparison: one view, two images

function apply() {
  if (!state.size) return;
  const { z, x, y } = state.view, viewer = $("viewer");
  $("stage").style.transform = `translate(${x}px, ${y}px) scale(${z})`;
  $("stage").classList.toggle("pixelated", z >= 2);
  const splitX = state.split * viewer.clientWidth;
  // The divider stays where it is on screen; the before layer is cut at the same image column.
  const column = Math.min(Math.max((splitX - x) / z, 0), state.size.w);
  $("before").style.clipPath = `inset(0 ${state.size.w - column}px 0 0)`;
  $("divider").style.left = `${splitX}px`;
  $("split").value = String(state.split * 100);
  $("zoom-label").textContent = `${Math.round(z * 100)}%`;
}

function fit() {
  const viewer = $("viewer"), { w, h } = state.size;
  const z = Math.min(viewer.clientWidth / w, viewer.clientHeight / h);
  state.view = { z, x: (viewer.clientWidth - w * z) / 2, y: (viewer.clientHeight - h * z) / 2 };
  apply();
}

function zoomAt(factor, cx, cy) {
  if (!state.size) return;
  const v = state.view, z = Math.min(Math.max(v.z * factor, 0.05), 32);
  state.view = { z, x: cx - ((cx - v.x) * z) / v.z, y: cy - ((cy - v.y) * z) / v.z };
  apply();
}

function setupViewer() {
  const viewer = $("viewer");
  let drag = null;
  viewer.addEventListener("pointerdown", (e) => {
    if (!state.size) return;
    const onDivider = e.target.closest(".divider");
    drag = { mode: onDivider ? "split" : "pan", x: e.clientX, y: e.clientY, vx: state.view.x, vy: state.view.y };
    viewer.setPointerCapture(e.pointerId);
    if (!onDivider) viewer.classList.add("panning");
  });
  viewer.addEventListener("pointermove", (e) => {
    if (!drag) return;
    if (drag.mode === "split") {
      const box = viewer.getBoundingClientRect();
      state.split = Math.min(Math.max((e.clientX - box.left) / box.width, 0), 1);
    } else {
      state.view.x = drag.vx + e.clientX - drag.x;
      state.view.y = drag.vy + e.clientY - drag.y;
    }
    apply();
  });
  const end = () => { drag = null; viewer.classList.remove("panning"); };
  viewer.addEventListener("pointerup", end);
  viewer.addEventListener("pointercancel", end);
  viewer.addEventListener("wheel", (e) => {
    if (!state.size) return;
    e.preventDefault();
    const box = viewer.getBoundingClientRect();
    zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - box.left, e.clientY - box.top);
  }, { passive: false });
  viewer.addEventListener("dblclick", () => state.size && fit());
  $("split").addEventListener("input", (e) => { state.split = e.target.value / 100; apply(); });
  const centre = () => [viewer.clientWidth / 2, viewer.clientHeight / 2];
  $("zoom-in").addEventListener("click", () => zoomAt(1.5, ...centre()));
  $("zoom-out").addEventListener("click", () => zoomAt(1 / 1.5, ...centre()));
  $("zoom-fit").addEventListener("click", () => state.size && fit());
  $("zoom-1").addEventListener("click", () => zoomAt(1 / state.view.z, ...centre()));
  window.addEventListener("resize", apply);
}

// ------------------------------------------------------------------------------------------- start

$("model").addEventListener("change", modelChanged);
$("strength").addEventListener("input", (e) => ($("strength-value").textContent = `${e.target.value}%`));
$("run").addEventListener("click", run);
$("wm-embed").addEventListener("click", () => watermark("embed"));
$("wm-detect").addEventListener("click", () => watermark("detect"));
setupDrop();
setupViewer();
setupPainting();
setupStyle();
loadModels().catch((error) => setStatus(`Cannot load the models: ${error.message}`, "error"));
