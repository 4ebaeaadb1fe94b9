// The prodcat demo page: predictions, the model registry, trainings and
// retraining schedules, through the JSON API with HTTP Basic credentials kept for the session.
// Everything shown is built with textContent, never innerHTML: model
// names, reasons and categories come from users.
"use strict";

const $ = (sel) => document.querySelector(sel);
const modelName = document.body.dataset.model;
let role = "";
// shownProduction is the version production pointed at when the registry
// was last shown (0: not set); moving is set while an alias move is sent.
let shownProduction = 0;
let moving = false;

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function credentials() {
  return sessionStorage.getItem("prodcat.auth") || "";
}

function encodeBasic(user, password) {
  const bytes = new TextEncoder().encode(user + ":" + password);
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return "Basic " + btoa(s);
}

// showError shows msg in the alert box until it is clicked, another
// message replaces it, or 15 s pass.
let errorTimer = 0;
function showError(msg) {
  const box = $("#error");
  box.textContent = msg;
  box.hidden = !msg;
  clearTimeout(errorTimer);
  if (msg) errorTimer = setTimeout(() => showError(""), 15000);
}

// api calls the JSON API and returns the decoded answer, or throws an
// Error with the API's message.
async function api(method, path, body) {
  // X-Prodcat-Page asks the API not to challenge a 401 with Basic, which
  // would make the browser hold the request for its own login prompt.
  const headers = { "Authorization": credentials(), "X-Prodcat-Page": "1" };
  // The API refuses a POST that does not declare JSON, even an empty one.
  if (method === "POST") headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = data.error || {};
    const err = new Error(`${res.status} ${e.code || ""}: ${e.message || res.statusText}`);
    err.status = res.status;
    throw err;
  }
  return data;
}

function pct(p) {
  return (100 * p).toFixed(1) + " %";
}

function fmt(x) {
  return typeof x === "number" ? x.toFixed(4) : "–";
}

function when(t) {
  return t ? new Date(t).toLocaleString() : "";
}

// ---- sign in

async function signIn(ev) {
  if (ev) ev.preventDefault();
  const user = $("#user").value, password = $("#password").value;
  if (user) sessionStorage.setItem("prodcat.auth", encodeBasic(user, password));
  try {
    const me = await api("GET", "/v1/whoami");
    role = me.role;
    $("#whoami").textContent = `signed in as ${me.user} (${me.role})`;
    document.querySelectorAll(".admin").forEach((e) => { e.hidden = role !== "admin"; });
    showError("");
    $("#prediction").replaceChildren(); // a refusal from before signing in no longer applies
    await Promise.all([loadRegistry(), loadTrainings(), loadFeeds(), loadSchedules()]);
  } catch (e) {
    role = "";
    $("#whoami").textContent = "not signed in";
    if (e.status === 401) sessionStorage.removeItem("prodcat.auth");
    showError(e.message);
  }
}

// ---- predict

async function predict(ev) {
  ev.preventDefault();
  const out = $("#prediction");
  out.replaceChildren(el("p", { className: "muted" }, "classifying…"));
  try {
    const p = await api("POST", "/v1/predict", {
      designation: $("#designation").value,
      description: $("#description").value,
      top_k: Number($("#topk").value),
      explain: 6,
    });
    const bars = el("div", { className: "bars" });
    for (const s of p.top_k) {
      const fill = el("div", { className: "fill" });
      fill.style.width = Math.max(0.5, 100 * s.probability).toFixed(1) + "%";
      bars.append(el("div", { className: "bar", title: s.category_fr },
        el("span", { className: "code" }, s.prdtypecode),
        el("span", { className: "name" }, s.category),
        el("div", { className: "track" }, fill),
        el("span", { className: "prob" }, pct(s.probability))));
    }
    // The words that weigh most, for the class (+) or against it (−).
    const why = el("p", { className: "muted why" }, "Words that weigh most: ",
      ...(p.explanation || []).map((c, i) => el("span", { title: `weight ${c.weight.toFixed(3)}` },
        (i > 0 ? ", " : "") + `${c.text} ${c.weight >= 0 ? "+" : "−"}${Math.abs(c.weight).toFixed(2)}`)));
    out.replaceChildren(
      el("p", { className: "answer" }, el("strong", {}, `${p.prdtypecode} · ${p.category}`),
        ` (${p.category_fr}) with probability ${pct(p.probability)} — ${p.model.name} v${p.model.version}`),
      bars, ...(p.explanation && p.explanation.length ? [why] : []));
  } catch (e) {
    out.replaceChildren(el("p", { className: "error" }, e.message));
  }
}

// ---- registry

async function loadRegistry() {
  let m;
  try {
    m = await api("GET", `/v1/models/${encodeURIComponent(modelName)}`);
  } catch (e) {
    $("#aliases").replaceChildren(el("p", { className: "muted" }, e.message));
    return;
  }
  shownProduction = m.aliases.production || 0;
  refreshServed();
  $("#aliases").replaceChildren(...Object.entries(m.aliases).map(([a, v]) =>
    el("span", { className: "alias" }, `${a} → v${v}`)));
  const rows = m.versions.map((v) => {
    const detail = el("button", { type: "button", className: "small", onclick: () => showVersion(v.version) }, "details");
    detail.setAttribute("aria-label", `details of v${v.version}`);
    const actions = el("td", {}, detail);
    if (role === "admin" && !v.aliases.includes("production")) {
      const b = el("button", { type: "button", className: "small", onclick: () => promote(v.version) }, "promote");
      b.setAttribute("aria-label", `promote v${v.version} to production`);
      actions.append(" ", b);
    }
    const tr = el("tr", {},
      el("td", {}, "v" + v.version), el("td", {}, fmt(v.metrics.weighted_f1)), el("td", {}, fmt(v.metrics.macro_f1)),
      el("td", {}, fmt(v.metrics.accuracy)), el("td", {}, v.aliases.join(", ")), el("td", {}, when(v.created_at)),
      el("td", { className: "mono", title: v.dataset_digest }, v.dataset_digest.slice(0, 12)), actions);
    tr.dataset.version = v.version;
    return tr;
  });
  $("#versions tbody").replaceChildren(...rows);
  $("#history tbody").replaceChildren(...m.history.map((h) => el("tr", {},
    el("td", {}, when(h.moved_at)), el("td", {}, h.alias), el("td", {}, h.from ? "v" + h.from : "–"),
    el("td", {}, h.to ? "v" + h.to : "removed"), el("td", {}, h.actor), el("td", {}, h.reason))));
  const prod = m.versions.find((v) => v.aliases.includes("production"));
  if (prod && !$("#x-key").value) prefillTraining(prod.version);
}

async function showVersion(n) {
  const box = $("#version-detail");
  box.replaceChildren(el("p", { className: "muted" }, `loading v${n}…`));
  try {
    const v = await api("GET", `/v1/models/${encodeURIComponent(modelName)}/versions/${n}`);
    const lineage = el("dl", { className: "lineage" });
    const add = (k, val) => lineage.append(el("dt", {}, k), el("dd", {}, val));
    add("workflow", v.workflow_id);
    add("code version", v.code_version);
    if (v.feed) add("data feed", `${v.feed} version ${v.feed_version}`);
    add("data set", `${v.dataset_digest}${v.dataset ? ` (${v.dataset.rows} rows, ${v.dataset.classes} classes, ${v.dataset.rejected} rejected)` : ""}`);
    add("model file", v.artifact_key);
    add("params", JSON.stringify(v.params));
    const parts = [el("h3", {}, `Version ${v.version}`), lineage];
    if (v.moves && v.moves.length) {
      // Why it is (or was) production or challenger, newest first.
      parts.push(el("h4", {}, "Alias moves"), el("ul", { className: "moves" }, ...v.moves.map((m) =>
        el("li", {}, `${m.moved_at ? new Date(m.moved_at).toLocaleString() + ": " : ""}${m.alias} ${m.to === v.version ? `→ v${m.to}` : m.to ? `v${m.from} → v${m.to}` : `v${m.from} removed`}` +
          `${m.actor ? ` by ${m.actor}` : ""}${m.reason ? `: ${m.reason}` : ""}`))));
    }
    if (v.report) {
      const r = v.report.metrics;
      parts.push(el("p", {}, `Holdout of ${r.n} rows: weighted F1 ${fmt(r.weighted_f1)}, macro F1 ${fmt(r.macro_f1)}, accuracy ${fmt(r.accuracy)}`));
      if (r.calibration) {
        parts.push(el("p", {}, `Probabilities: log-loss ${fmt(r.calibration.log_loss)}, expected calibration error ${fmt(r.calibration.ece)}`));
      }
      if (r.confusion) {
        parts.push(el("h4", {}, "Confusion matrix (rows: true class, columns: predicted; shade: share of the row)"));
        parts.push(heatmap(r.labels, r.confusion));
      } else {
        // Past 100 classes the report lists the most frequent mistakes.
        parts.push(el("h4", {}, `Most frequent mistakes (${r.labels.length} classes: too many for a matrix)`));
        parts.push(mistakes(r.confused || []));
      }
    } else {
      parts.push(el("p", { className: "muted" }, v.report_error || "no report"));
    }
    box.replaceChildren(...parts);
  } catch (e) {
    box.replaceChildren(el("p", { className: "error" }, e.message));
  }
}

function mistakes(list) {
  if (!list.length) return el("p", { className: "muted" }, "no mistakes on the holdout");
  const table = el("table", { id: "mistakes" });
  table.append(el("thead", {}, el("tr", {}, el("th", {}, "true class"), el("th", {}, "predicted"), el("th", {}, "rows"))));
  table.append(el("tbody", {}, ...list.map((m) => el("tr", {}, el("td", {}, m.true), el("td", {}, m.predicted), el("td", {}, String(m.count))))));
  return table;
}

function heatmap(labels, m) {
  const table = el("table", { id: "confusion", className: "heatmap" });
  const head = el("tr", {}, el("th", {}, "true \\ predicted"));
  for (const l of labels) head.append(el("th", { className: "col" }, el("span", {}, l)));
  table.append(el("thead", {}, head));
  const body = el("tbody");
  m.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    const tr = el("tr", {}, el("th", {}, labels[i]));
    row.forEach((n, j) => {
      const share = n / total;
      const td = el("td", { title: `true ${labels[i]}, predicted ${labels[j]}: ${n} (${pct(share)} of the row)` }, n || "");
      td.style.backgroundColor = i === j
        ? `rgba(26, 127, 55, ${0.1 + 0.9 * share})`
        : `rgba(207, 34, 46, ${n ? 0.1 + 0.9 * share : 0})`;
      if (share > 0.6) td.style.color = "#fff";
      tr.append(td);
    });
    body.append(tr);
  });
  table.append(body);
  return table;
}

// moveProduction sends one alias move at a time, on condition that
// production still points where the page showed it: a double click, or
// someone else's move since, is refused instead of undoing the first move.
async function moveProduction(body) {
  if (moving) return;
  moving = true;
  try {
    await api("POST", `/v1/models/${encodeURIComponent(modelName)}/aliases/production`,
      { ...body, expected_version: shownProduction });
  } catch (e) {
    showError(e.message);
  } finally {
    moving = false;
    await loadRegistry();
    // The API loads the new production model within a second or two.
    setTimeout(refreshServed, 1500);
    setTimeout(refreshServed, 5000);
  }
}

// refreshServed shows the model the API serves, which follows production
// once it has loaded it.
async function refreshServed() {
  try {
    const r = await api("GET", "/readyz");
    $("#served").textContent = `${r.model.name} v${r.model.version}` + (r.alias_version ? ` (production is v${r.alias_version}, which could not be loaded)` : "");
  } catch (e) {
    if (e.status === 503) $("#served").textContent = e.message.replace(/^503 [a-z_]*: /, "");
  }
}

function promote(version) {
  const reason = $("#alias-reason").value.trim() || `promoted v${version} from the demo page`;
  return moveProduction({ version, reason });
}

function rollback() {
  const reason = $("#alias-reason").value.trim() || "rolled back from the demo page";
  return moveProduction({ rollback: true, reason });
}

// ---- trainings

async function prefillTraining(version) {
  try {
    const v = await api("GET", `/v1/models/${encodeURIComponent(modelName)}/versions/${version}`);
    const keys = (v.dataset && v.dataset.source_keys) || [];
    if (keys.length === 2) {
      $("#x-key").value = keys[0];
      $("#y-key").value = keys[1];
    }
  } catch (e) {
    // The form stays empty; nothing else depends on it.
  }
}

async function loadFeeds() {
  try {
    const f = await api("GET", "/v1/feeds");
    const keep = $("#feed").value;
    $("#feed").replaceChildren(el("option", { value: "" }, "— the files below —"),
      ...f.feeds.map((v) => el("option", { value: v.feed }, `${v.feed} (v${v.version}, ${when(v.created_at)})`)));
    $("#feed").value = keep;
  } catch (e) {
    // Without feeds the form still trains on files.
  }
}

function feedChosen() {
  const feed = $("#feed").value;
  $("#x-key").disabled = $("#y-key").disabled = feed !== "";
}

async function loadTrainings() {
  try {
    const t = await api("GET", `/v1/trainings?limit=15&model=${encodeURIComponent(modelName)}`);
    $("#trainings tbody").replaceChildren(...t.trainings.map((r) => {
      const status = el("td", { className: "status-" + r.status }, r.status);
      if (r.status !== "completed") showStatus(status, r);
      return el("tr", {},
        el("td", {}, el("a", { href: r.ui_url, target: "_blank", rel: "noopener" }, r.workflow_id)),
        status,
        el("td", {}, when(r.start_time)),
        el("td", {}, r.model_version ? "v" + r.model_version : ""),
        el("td", {}, r.weighted_f1 !== undefined ? fmt(r.weighted_f1) : ""),
        el("td", {}, r.promoted === undefined ? "" : (r.promoted ? "yes" : "no")));
    }));
  } catch (e) {
    $("#trainings tbody").replaceChildren(el("tr", {}, el("td", { colSpan: 6, className: "muted" }, e.message)));
  }
}

// showStatus fills a training's status cell from the run itself, which
// the list does not carry: the stage under way, a wait for a data slot and
// the stages being retried while it runs; why it failed once it has.
async function showStatus(cell, r) {
  let d;
  try {
    d = await api("GET", `/v1/trainings/${encodeURIComponent(r.workflow_id)}?run_id=${encodeURIComponent(r.run_id)}`);
  } catch (e) {
    return; // the list's status stands
  }
  const lines = [];
  if (d.progress) {
    lines.push(`${d.progress.stage} ${d.progress.percent} %${d.progress.waiting_for_data_slot ? ", waiting for a data slot" : ""}`);
  }
  for (const q of d.no_worker || []) lines.push(`waiting: no worker polls task queue ${q}`);
  for (const a of d.retrying || []) lines.push(`retrying ${a.activity} (attempt ${a.attempt}): ${a.last_error}`);
  if (d.error) lines.push(d.error);
  cell.className = "status-" + d.status;
  cell.replaceChildren(d.status, ...lines.map((l) => el("div", { className: "muted" }, l)));
}

async function startTraining(ev) {
  ev.preventDefault();
  const out = $("#train-result");
  out.textContent = "starting…";
  try {
    const feed = $("#feed").value;
    const source = feed ? { feed } : { x_key: $("#x-key").value.trim(), y_key: $("#y-key").value.trim() };
    const t = await api("POST", "/v1/trainings", { source });
    out.replaceChildren("started ", el("a", { href: t.ui_url, target: "_blank", rel: "noopener" }, t.workflow_id));
    await loadTrainings();
  } catch (e) {
    out.textContent = e.message;
  }
}

// ---- schedules

// runLink links a schedule's run to its page in the Temporal UI.
function runLink(run) {
  const href = `${document.body.dataset.temporalUi}/${encodeURIComponent(run.workflow_id)}/${encodeURIComponent(run.run_id)}`;
  return el("a", { href, target: "_blank", rel: "noopener", title: run.workflow_id }, when(run.started_at));
}

// loadSchedules lists the schedules; fresh, when given, is one just read
// on its own, which the list (from Temporal's visibility store, a moment
// behind) may not show yet.
async function loadSchedules(fresh) {
  try {
    const s = await api("GET", "/v1/schedules");
    $("#schedules tbody").replaceChildren(...s.schedules.map((x) => {
      const last = x.recent_runs.at(-1);
      if (fresh && fresh.id === x.id) x = fresh;
      const actions = role !== "admin" ? [] : [
        el("button", { type: "button", className: "small", onclick: () => scheduleAction(x.id, x.paused ? "unpause" : "pause") }, x.paused ? "resume" : "pause"),
        el("button", { type: "button", className: "small", onclick: () => scheduleAction(x.id, "trigger") }, "run now"),
      ];
      actions.forEach((b) => b.setAttribute("aria-label", `${b.textContent} schedule ${x.id}`));
      const row = el("tr", {},
        el("td", { className: "mono" }, x.id),
        el("td", {}, x.spec),
        el("td", { className: x.paused ? "status-paused" : "status-completed" }, x.paused ? "paused" : "active",
          x.note ? el("div", { className: "muted" }, x.note) : ""),
        el("td", {}, x.next_runs.length && !x.paused ? when(x.next_runs[0]) : ""),
        el("td", {}, last ? runLink(last) : ""),
        el("td", {}, ...actions));
      row.dataset.id = x.id;
      return row;
    }));
  } catch (e) {
    $("#schedules tbody").replaceChildren(el("tr", {}, el("td", { colSpan: 6, className: "muted" }, e.message)));
  }
}

// scheduleAction pauses, resumes or triggers a schedule. The API notes who
// paused or resumed it.
async function scheduleAction(id, action) {
  let fresh;
  try {
    await api("POST", `/v1/schedules/${encodeURIComponent(id)}/${action}`);
    showError("");
    fresh = await api("GET", `/v1/schedules/${encodeURIComponent(id)}`);
  } catch (e) {
    showError(e.message);
  }
  await Promise.all([loadSchedules(fresh), loadTrainings()]);
}

document.addEventListener("DOMContentLoaded", () => {
  $("#login").addEventListener("submit", signIn);
  $("#predict-form").addEventListener("submit", predict);
  $("#train-form").addEventListener("submit", startTraining);
  $("#feed").addEventListener("change", feedChosen);
  $("#rollback-btn").addEventListener("click", rollback);
  $("#refresh-registry").addEventListener("click", loadRegistry);
  $("#refresh-trainings").addEventListener("click", loadTrainings);
  $("#refresh-schedules").addEventListener("click", () => loadSchedules());
  $("#error").addEventListener("click", () => showError(""));
  if (credentials()) signIn();
});
