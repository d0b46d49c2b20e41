// rnnkit's page: pick a served model, give it input, see its answer. Plain JavaScript against the
// same JSON API as any client (/v1/models/...); no build step, nothing fetched from elsewhere.
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const models = {};

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text) node.textContent = text;  // text, never HTML: what a model writes is not markup
  return node;
}

function svgElement(tag, attributes = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function showError(message) {
  const box = $("#error");
  box.textContent = message || "";
  box.hidden = !message;
}

async function post(path, body, headers = {"content-type": "application/json"}) {
  const response = await fetch(path, {method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body)});
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try { message = (await response.json()).error || message; } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

function inputLines(panel) {
  return $(".input", panel).value.split("\n").map(line => line.trim()).filter(Boolean);
}

function option(panel, name) {
  const field = $(`[name=${name}]`, panel);
  if (field.type === "checkbox") return field.checked;
  return field.value === "" ? null : Number(field.value);
}

function endpointOf(name) { return models[name].endpoint.split("/").pop(); }

// --- generate: server-sent events, read from a POST's body as they arrive -----------------------
async function generate(panel, name) {
  const out = $(".output", panel);
  const prompt = $(".input", panel).value;
  out.textContent = prompt;
  out.dataset.done = "false";
  const body = {prompt, stream: true};
  for (const key of ["max_tokens", "temperature", "top_k", "top_p", "seed"]) {
    const value = option(panel, key);
    if (value !== null) body[key] = value;
  }
  const response = await post(`/v1/models/${name}/generate`, body);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const {done, value} = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, {stream: true});
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      if (!event.startsWith("data: ")) continue;
      const data = JSON.parse(event.slice(6));
      if (data.error) throw new Error(data.error);
      if (data.text !== undefined) out.textContent += data.text;
      if (data.done) out.dataset.done = "true";
    }
  }
}

// --- classify: a bar per class --------------------------------------------------------------------
async function classify(panel, name) {
  const texts = inputLines(panel);
  const {results} = await (await post(`/v1/models/${name}/classify`, {texts})).json();
  const out = $(".output", panel);
  out.replaceChildren();
  results.forEach((result, i) => {
    const box = element("div", {class: "result"});
    box.append(element("div", {class: "text"}, texts[i]), element("div", {class: "label"}, `${result.label} (${(100 * result.probability).toFixed(1)}%)`));
    const ranked = Object.entries(result.probabilities).sort((a, b) => b[1] - a[1]);
    for (const [label, p] of ranked) {
      const bar = element("div", {class: label === result.label ? "bar best" : "bar", "data-label": label, "data-probability": p});
      const track = element("div", {class: "track"});
      const fill = element("div", {class: "fill"});
      fill.style.width = `${(100 * p).toFixed(1)}%`;
      track.append(fill);
      bar.append(element("span", {class: "name"}, label), track, element("span", {class: "value"}, p.toFixed(3)));
      box.append(bar);
    }
    out.append(box);
  });
}

// --- tag: the sentence with its entities marked ---------------------------------------------------
async function tag(panel, name) {
  const texts = inputLines(panel);
  const {results} = await (await post(`/v1/models/${name}/tag`, {texts})).json();
  const out = $(".output", panel);
  out.replaceChildren();
  results.forEach((result, i) => {
    const text = texts[i];
    const box = element("div", {class: "result sentence"});
    let at = 0;
    for (const span of result.spans) {
      box.append(document.createTextNode(text.slice(at, span.start)));
      box.append(element("mark", {class: "entity", "data-type": span.type}, text.slice(span.start, span.end)));
      at = span.end;
    }
    box.append(document.createTextNode(text.slice(at)));
    out.append(box);
  });
}

// --- translate: the translation, the n best, the attention as a heatmap ---------------------------
async function translate(panel, name) {
  const texts = inputLines(panel);
  const body = {texts, n_best: option(panel, "n_best") || 1, greedy: option(panel, "greedy"),
                attention: Boolean(models[name].attention)};
  const beam = option(panel, "beam_size");
  if (beam !== null) body.beam_size = beam;
  const {results} = await (await post(`/v1/models/${name}/translate`, body)).json();
  const out = $(".output", panel);
  out.replaceChildren();
  results.forEach((result, i) => {
    const box = element("div", {class: "result"});
    box.append(element("div", {class: "source"}, texts[i]), element("div", {class: "translation"}, result.translation));
    if (result.hypotheses.length > 1) {
      const list = element("ol", {class: "n-best"});
      for (const h of result.hypotheses) list.append(element("li", {}, `${h.text}  (${h.score === null ? "-" : h.score.toFixed(3)})`));
      box.append(list);
    }
    if (result.attention) box.append(heatmap(result.attention));
    out.append(box);
  });
}

function heatmap({source, target, weights}) {
  const table = element("table", {class: "attention"});
  const head = element("thead");
  const top = element("tr");
  top.append(element("th"));
  for (const token of source) top.append(element("th", {}, token));
  head.append(top);
  table.append(head);
  const body = element("tbody");
  weights.forEach((row, t) => {
    const line = element("tr");
    line.append(element("th", {}, target[t]));
    row.forEach(w => {
      const cell = element("td", {title: w.toFixed(3), "data-weight": w});
      cell.style.background = `rgba(32, 80, 160, ${w.toFixed(3)})`;
      line.append(cell);
    });
    body.append(line);
  });
  table.append(body);
  return table;
}

// --- forecast: history, forecast and its interval band, one chart per target ---------------------
async function forecast(panel, name) {
  const csv = $(".input", panel).value;
  const result = await (await post(`/v1/models/${name}/forecast`, csv, {"content-type": "text/csv"})).json();
  const out = $(".output", panel);
  out.replaceChildren();
  for (const [target, entry] of Object.entries(result.series)) {
    out.append(element("h3", {}, target), chart(result.history[target], entry, result.times));
  }
}

function chart(history, entry, times) {
  const width = 900, height = 300, pad = 40;
  const levels = entry.quantiles ? Object.keys(entry.quantiles).sort((a, b) => Number(a) - Number(b)) : [];
  const low = levels.length ? entry.quantiles[levels[0]] : null;
  const high = levels.length ? entry.quantiles[levels[levels.length - 1]] : null;
  const all = history.concat(entry.point, low || [], high || []);
  const min = Math.min(...all), max = Math.max(...all);
  const n = history.length + entry.point.length;
  const x = i => pad + (i * (width - 2 * pad)) / Math.max(n - 1, 1);
  const y = v => height - pad - ((v - min) * (height - 2 * pad)) / (max - min || 1);
  const path = (values, offset) => values.map((v, i) => `${x(i + offset).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  const svg = svgElement("svg", {class: "chart", viewBox: `0 0 ${width} ${height}`});
  if (low && high) {  // the interval: along the upper quantile, back along the lower one
    const at = (v, i) => `${x(history.length + i).toFixed(1)},${y(v).toFixed(1)}`;
    const points = high.map(at).concat(low.map(at).reverse()).join(" ");
    svg.append(svgElement("polygon", {class: "band", points, "data-levels": `${levels[0]}-${levels[levels.length - 1]}`}));
  }
  svg.append(svgElement("polyline", {class: "history", points: path(history, 0)}));
  const joined = [history[history.length - 1]].concat(entry.point);  // drawn on from the last observation
  svg.append(svgElement("polyline", {class: "forecast", points: path(joined, history.length - 1), "data-steps": entry.point.length}));
  for (const [value, label] of [[max, max.toPrecision(4)], [min, min.toPrecision(4)]]) {
    const text = svgElement("text", {x: 2, y: y(value) + 4});
    text.textContent = label;
    svg.append(text);
  }
  const last = svgElement("text", {x: x(n - 1) - 120, y: height - 8});
  last.textContent = times[times.length - 1];
  svg.append(last);
  return svg;
}

const RUN = {generate, classify, tag, translate, forecast};

function choose(name) {
  const endpoint = endpointOf(name);
  for (const panel of document.querySelectorAll(".panel")) panel.hidden = panel.id !== `panel-${endpoint}`;
  const info = models[name];
  const metrics = Object.entries(info.metrics || {}).slice(0, 3).map(([k, v]) => `${k} ${typeof v === "number" ? v.toFixed(4) : v}`);
  $("#about").textContent = `${info.task}: ${info.model.layer}, ${info.model.parameters.toLocaleString()} parameters`
    + (metrics.length ? `; ${metrics.join(", ")}` : "");
  showError("");
}

async function start() {
  const {models: listing} = await (await fetch("/v1/models")).json();
  const select = $("#model");
  for (const info of listing) {
    models[info.name] = info;
    select.append(element("option", {value: info.name}, `${info.name} (${info.task})`));
  }
  select.addEventListener("change", () => choose(select.value));
  for (const panel of document.querySelectorAll(".panel")) {
    const button = $(".run", panel);
    button.addEventListener("click", async () => {
      showError("");
      button.disabled = true;
      try {
        await RUN[panel.id.slice("panel-".length)](panel, select.value);
      } catch (problem) {
        showError(problem.message);
      } finally {
        button.disabled = false;
      }
    });
  }
  if (listing.length) choose(listing[0].name);
  document.body.dataset.ready = "true";
}

start().catch(problem => showError(problem.message));
