// callcomp's operator console (served by the API, see crates/server/src/api/console.rs).
//
// The page reads the state with the API's GET routes and follows /v1/events over a WebSocket.
// An event only says what changed, so the console re-reads the resource it names (a call, a
// line, the completion queues), coalescing bursts; a `lagged` message, a reconnection or a
// failed read re-reads everything. Every value from the server is written as text, never as
// markup: display names and URIs come from phones.
"use strict";

const TOKEN_KEY = "callcomp.token";
const EVENTS_PROTOCOL = "callcomp.v1";
const BEARER_PROTOCOL_PREFIX = "callcomp.bearer.";
const TIMELINE_MAX = 200;
const FLUSH_MS = 40;

const state = {
  lines: new Map(), // name -> LineView
  calls: new Map(), // id -> CallView
  completions: [], // CompletionView, callee by callee, queue order
  registrations: new Map(), // line name -> [RegistrationView], for registered lines
  lastSeq: 0,
};
const dirty = { all: false, lines: new Set(), calls: new Set(), queues: false };
const generation = new Map(); // resource key -> number of the newest read issued
const modeChoice = new Map(); // call id -> mode chosen in its select
// Calls that went idle: a read issued before the idle event may still return them, and no later
// event would remove them again. An `appnewcall` for the id takes it out.
const gone = new Set();
const GONE_MAX = 1000;
let socket = null;
let retryMs = 1000;
let flushTimer = null;
let signedIn = false;
let down = false; // the stream was lost and has not come back yet

const $ = (id) => document.getElementById(id);

// ---- the API ---------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : "HTTP " + status);
    this.status = status;
    this.name = body && body.error ? body.error : "HTTP " + status;
  }
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

async function api(method, path, body) {
  const headers = {};
  if (token()) headers["Authorization"] = "Bearer " + token();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  if (response.status === 401) {
    showLogin(token() ? "The token was refused." : "");
    throw new ApiError(401, null);
  }
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, json);
  return json;
}

/// Reads `path` unless a newer read of the same `key` was issued meanwhile (then `null`).
async function read(key, path) {
  const n = (generation.get(key) || 0) + 1;
  generation.set(key, n);
  const value = await api("GET", path);
  return generation.get(key) === n ? { value } : null;
}

// ---- sign-in -----------------------------------------------------------------------------

function showLogin(message) {
  signedIn = false;
  closeSocket();
  $("main").hidden = true;
  $("login").hidden = false;
  $("forget").hidden = true;
  $("login-error").textContent = message;
  setConn("signed-out", "Signed out");
  $("token").focus();
}

async function signIn(event) {
  event.preventDefault();
  const value = $("token").value.trim();
  if (!value) {
    $("login-error").textContent = "Enter the token.";
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, value);
  $("token").value = "";
  await start();
}

function forget() {
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin("");
}

// ---- the event stream ----------------------------------------------------------------------

function base64url(text) {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function openSocket() {
  closeSocket();
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const protocols = [EVENTS_PROTOCOL];
  if (token()) protocols.push(BEARER_PROTOCOL_PREFIX + base64url(token()));
  const ws = new WebSocket(scheme + "//" + location.host + "/v1/events", protocols);
  socket = ws;
  setConn("connecting", "Connecting…");
  ws.onopen = () => {
    retryMs = 1000;
    setConn("live", "Live");
    if (down) {
      down = false;
      timeline({ event: "reconnected" });
    }
    // Events from now on arrive on the socket; read the state they apply to. Ids seen idle
    // before may be new calls now (a restarted server numbers its calls again).
    gone.clear();
    markAll();
  };
  ws.onmessage = (message) => {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch (e) {
      return;
    }
    onEvent(event);
  };
  ws.onclose = () => {
    if (socket !== ws) return;
    socket = null;
    if (!signedIn) return;
    if (!down) {
      down = true;
      timeline({ event: "disconnected" });
    }
    const seconds = Math.round(retryMs / 1000);
    setConn("down", "Disconnected; retrying in " + seconds + " s");
    setTimeout(() => {
      if (signedIn && socket === null) start();
    }, retryMs);
    retryMs = Math.min(retryMs * 2, 15000);
  };
}

function closeSocket() {
  if (socket) {
    const ws = socket;
    socket = null;
    ws.close();
  }
}

function setConn(kind, text) {
  const conn = $("conn");
  conn.dataset.state = kind;
  conn.textContent = text;
}

function onEvent(event) {
  if (event.event === "lagged") {
    showLagged(event.missed);
    timeline(event);
    markAll();
    return;
  }
  state.lastSeq = event.seq || state.lastSeq;
  timeline(event);
  if (event.line && !state.lines.has(event.line)) dirty.all = true;
  if (event.line) dirty.lines.add(event.line);
  switch (event.event) {
    case "appnewcall":
    case "callstate":
    case "callinfo":
      if (event.event === "appnewcall") gone.delete(event.call_id);
      if (event.event === "callstate" && event.state === "idle") {
        // Idle calls are gone from the API: nothing to read.
        state.calls.delete(event.call_id);
        dirty.calls.delete(event.call_id);
        modeChoice.delete(event.call_id);
        gone.add(event.call_id);
        if (gone.size > GONE_MAX) gone.delete(gone.values().next().value);
        render();
      } else {
        dirty.calls.add(event.call_id);
      }
      break;
    case "linedevstate": {
      const line = state.lines.get(event.line);
      if (line && event.state === "inservice") line.status.registered = true;
      if (line && event.state === "outofservice") line.status.registered = false;
      if (line) line.status.num_call_completions = event.num_call_completions;
      dirty.queues = true;
      render();
      break;
    }
    case "reply":
    case "completion":
      dirty.queues = true;
      if (event.target) dirty.lines.add(event.target);
      break;
  }
  scheduleFlush();
}

function showLagged(missed) {
  const at = clock(Date.now());
  $("lagged-text").textContent =
    "The console fell behind and missed " + missed + " event" + (missed === 1 ? "" : "s") +
    "; the state was read again at " + at + ".";
  $("lagged").hidden = false;
}

function markAll() {
  dirty.all = true;
  scheduleFlush();
}

// One flush at a time: a read issued after the previous one finished cannot return an older
// state than it, so a slow full read never overwrites a newer single read.
let flushing = false;

function scheduleFlush() {
  if (flushTimer === null && !flushing) flushTimer = setTimeout(flush, FLUSH_MS);
}

function isDirty() {
  return dirty.all || dirty.lines.size > 0 || dirty.calls.size > 0 || dirty.queues;
}

async function flush() {
  flushTimer = null;
  flushing = true;
  try {
    await flushOnce();
  } finally {
    flushing = false;
    if (isDirty()) scheduleFlush();
  }
}

/// Re-reads what the events since the last flush touched.
async function flushOnce() {
  const all = dirty.all;
  const lines = [...dirty.lines];
  const calls = [...dirty.calls];
  const queues = dirty.queues;
  dirty.all = false;
  dirty.lines.clear();
  dirty.calls.clear();
  dirty.queues = false;
  try {
    if (all) {
      await readAll();
      return;
    }
    const reads = [];
    for (const name of lines) reads.push(readLine(name));
    for (const id of calls) reads.push(readCall(id));
    if (queues) reads.push(readQueues());
    await Promise.all(reads);
  } catch (e) {
    if (e.status === 401) return;
    // A failed partial read leaves the view unsure: read everything again soon.
    console.warn("callcomp console: re-reading after", e);
    setTimeout(markAll, 1000);
  }
  render();
}

async function readAll() {
  const [lines, calls, completions] = await Promise.all([
    read("lines", "/v1/lines"),
    read("calls", "/v1/calls"),
    read("queues", "/v1/completions"),
  ]);
  if (lines) state.lines = new Map(lines.value.map((l) => [l.name, l]));
  if (calls) state.calls = new Map(calls.value.filter((c) => !gone.has(c.id)).map((c) => [c.id, c]));
  if (completions) state.completions = completions.value;
  render();
  await readContacts([...state.lines.keys()]);
  render();
}

/// Reads the contacts of the registered lines among `names` (and forgets the others').
async function readContacts(names) {
  await Promise.all(names.map(async (name) => {
    const line = state.lines.get(name);
    if (!line || line.status.registered !== true) {
      state.registrations.delete(name);
      return;
    }
    try {
      const got = await read("reg:" + name, "/v1/lines/" + encodeURIComponent(name) + "/registrations");
      if (got) state.registrations.set(name, got.value);
    } catch (e) {
      if (e.status !== 404) throw e;
      state.registrations.delete(name);
    }
  }));
}

async function readLine(name) {
  try {
    const got = await read("line:" + name, "/v1/lines/" + encodeURIComponent(name));
    if (got) state.lines.set(name, got.value);
    await readContacts([name]);
  } catch (e) {
    if (e.status !== 404) throw e;
    state.lines.delete(name);
  }
}

async function readCall(id) {
  try {
    const got = await read("call:" + id, "/v1/calls/" + id);
    if (got && !gone.has(id)) state.calls.set(id, got.value);
  } catch (e) {
    // An idle call is gone from the API.
    if (e.status !== 404) throw e;
    state.calls.delete(id);
  }
}

async function readQueues() {
  const got = await read("queues", "/v1/completions");
  if (got) state.completions = got.value;
}

// ---- actions -----------------------------------------------------------------------------

async function act(what, method, path, body) {
  try {
    const answer = await api(method, path, body);
    announce(what + ": done" + (answer && answer.completion_id ? " (completion " + answer.completion_id + ")" : "") + ".");
    return answer;
  } catch (e) {
    if (e.status !== 401) announce(what + " failed: " + e.name + ": " + e.message, true);
    return null;
  } finally {
    markAll();
  }
}

function completeCall(call) {
  const mode = modeChoice.get(call.id) || call.completion_modes[0];
  const body = { mode };
  if (mode === "message") {
    const select = document.querySelector('[data-key="message-' + call.id + '"]');
    body.message_id = select ? Number(select.value) : 0;
  }
  act("Complete call " + call.id + " (" + mode + ")", "POST", "/v1/calls/" + call.id + "/complete", body);
}

function dropCall(call) {
  act("Drop call " + call.id, "DELETE", "/v1/calls/" + call.id);
}

function cancelCompletion(c) {
  act(
    "Cancel completion " + c.completion_id,
    "DELETE",
    "/v1/lines/" + encodeURIComponent(c.line) + "/completions/" + c.completion_id,
  );
}

async function dial(event) {
  event.preventDefault();
  const line = $("dial-line").value;
  const to = $("dial-to").value.trim();
  if (!line || !to) {
    announce("Choose a line and a destination.", true);
    return;
  }
  const call = await act("Call from " + line + " to " + to, "POST", "/v1/lines/" + encodeURIComponent(line) + "/calls", { to });
  if (call) $("dial-to").value = "";
}

let toastTimer = null;
function announce(text, error) {
  $("announce").textContent = text;
  const toast = $("toast");
  toast.textContent = text;
  toast.dataset.kind = error ? "error" : "ok";
  toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (toast.hidden = true), 6000);
}

// ---- rendering ---------------------------------------------------------------------------

/// An element with attributes and children (strings become text nodes).
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    el.append(typeof c === "string" || typeof c === "number" ? String(c) : c);
  }
  return el;
}

// The roles are explicit because the phone layout turns table parts into blocks, and some
// screen readers drop the table semantics of restyled tables.
function cell(label, ...children) {
  return h("td", { "data-label": label, role: "cell" }, ...children);
}

function rowHeader(label, ...children) {
  return h("th", { scope: "row", role: "rowheader", "data-label": label }, ...children);
}

function clock(ms) {
  const d = new Date(ms);
  return d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

/// A span whose text is kept current by `tick`: time left until, or elapsed since, `ms`.
function relative(ms, kind) {
  const span = h("time", { datetime: new Date(ms).toISOString(), title: new Date(ms).toLocaleString(), "data-rel": kind, "data-ms": ms });
  span.textContent = relText(ms, kind);
  return span;
}

function relText(ms, kind) {
  const s = Math.round(Math.abs(ms - Date.now()) / 1000);
  const text = s < 60 ? s + " s" : s < 3600 ? Math.floor(s / 60) + " min " + (s % 60) + " s" : Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  if (kind === "since") return text + " ago";
  return ms >= Date.now() ? "in " + text : "due";
}

function tick() {
  for (const el of document.querySelectorAll("[data-rel]")) {
    el.textContent = relText(Number(el.dataset.ms), el.dataset.rel);
  }
}

/// Re-renders every table, keeping the keyboard focus on the control that had it.
function render() {
  const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.key : null;
  renderLines();
  renderCalls();
  renderQueues();
  renderDialLines();
  if (focused) {
    const again = document.querySelector('[data-key="' + CSS.escape(focused) + '"]');
    if (again) again.focus();
  }
}

function fill(tableId, rows, emptyFor) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren(...rows);
  $(tableId).hidden = rows.length === 0;
  document.querySelector('[data-empty-for="' + emptyFor + '"]').hidden = rows.length !== 0;
}

function renderLines() {
  const rows = [...state.lines.values()].map((l) => {
    const reg = l.status.registered;
    const caps = l.caps;
    return h(
      "tr",
      { "data-line": l.name, role: "row" },
      rowHeader("Line", h("span", { class: "name" }, l.name), h("span", { class: "addr" }, l.address)),
      cell(
        "Registered",
        h("span", { class: "badge", "data-kind": reg === true ? "ok" : reg === false ? "off" : "unknown" }, reg === true ? "registered" : reg === false ? "not registered" : "unknown"),
        ...(state.registrations.get(l.name) || []).map(contactLine),
      ),
      cell("In call", l.status.in_call ? "yes" : "no"),
      cell("Calls", l.status.num_calls),
      cell("Completions", l.status.num_call_completions + " / " + caps.max_call_completions),
      cell("Modes", caps.call_completion_modes.join(", ") || "none"),
    );
  });
  fill("lines", rows, "lines");
}

/// One binding: where requests go (the REGISTER's source) and, when the phone wrote another
/// address in its Contact (NAT, or a phone listening elsewhere), that one too.
function contactLine(b) {
  const contactHost = (b.contact.match(/^sips?:(?:[^@;>]*@)?([^;>?]+)/) || [])[1] || b.contact;
  const differs = b.source && contactHost !== b.source;
  return h(
    "span",
    { class: "contact", title: (b.user_agent ? b.user_agent + " — " : "") + b.contact },
    (b.transport || "") + " " + (b.source || b.contact),
    differs ? h("span", { class: "differs" }, " contact " + contactHost) : null,
    " · ",
    relative(b.expires_ms, "until"),
  );
}

function stateText(call) {
  return call.state + (call.mode ? " (" + call.mode + ")" : "");
}

function renderCalls() {
  const calls = [...state.calls.values()].sort((a, b) => a.id - b.id);
  const rows = calls.map((c) => {
    const actions = h("div", { class: "actions" });
    if (c.completion_modes.length > 0) {
      const chosen = c.completion_modes.includes(modeChoice.get(c.id)) ? modeChoice.get(c.id) : c.completion_modes[0];
      const select = h(
        "select",
        { "aria-label": "Completion mode for call " + c.id, "data-key": "mode-" + c.id, onchange: (e) => { modeChoice.set(c.id, e.target.value); render(); } },
        ...c.completion_modes.map((m) => h("option", { value: m, selected: m === chosen }, m)),
      );
      actions.append(select);
      const messages = (state.lines.get(c.line) || { caps: { completion_messages: [] } }).caps.completion_messages;
      if (chosen === "message" && messages.length > 0) {
        actions.append(h("select", { "aria-label": "Message for call " + c.id, "data-key": "message-" + c.id }, ...messages.map((text, i) => h("option", { value: i }, text))));
      }
      actions.append(h("button", { type: "button", "data-key": "complete-" + c.id, "aria-label": "Complete call " + c.id, onclick: () => completeCall(c) }, "Complete"));
    }
    actions.append(h("button", { type: "button", class: "danger", "data-key": "drop-" + c.id, "aria-label": "Drop call " + c.id, onclick: () => dropCall(c) }, "Drop"));
    return h(
      "tr",
      { "data-call-id": c.id, "data-state": c.state, role: "row" },
      rowHeader("Call", String(c.id)),
      cell("Line", c.line + " (" + c.direction + ")"),
      cell("Remote", h("span", { class: "uri" }, c.remote)),
      cell("State", h("span", { class: "badge", "data-kind": c.state }, stateText(c))),
      cell("Reason", c.reason + (c.completion_id ? " #" + c.completion_id : "")),
      cell("Since", relative(c.state_since_ms, "since")),
      cell("Offer window", c.offer_until_ms ? relative(c.offer_until_ms, "until") : "–"),
      cell("Actions", actions),
    );
  });
  fill("calls", rows, "calls");
}

function renderQueues() {
  const byTarget = new Map();
  for (const c of state.completions) {
    if (!byTarget.has(c.target)) byTarget.set(c.target, []);
    byTarget.get(c.target).push(c);
  }
  const groups = [...byTarget.entries()].map(([target, list]) => {
    const id = "queue-" + target.replace(/[^A-Za-z0-9_-]/g, "_");
    const rows = list.map((c) =>
      h(
        "tr",
        { "data-completion-id": c.completion_id, "data-state": c.state, role: "row" },
        rowHeader("Position", c.queue_position ? String(c.queue_position) : "message"),
        cell("Completion", String(c.completion_id)),
        cell("Caller", c.line),
        cell("Mode", c.mode + (c.mode === "message" && c.message_id !== null ? " #" + c.message_id : "")),
        cell("Condition", c.condition),
        cell("State", h("span", { class: "badge", "data-kind": c.state }, c.state)),
        cell("Availability", c.availability),
        cell("Expires", relative(c.expires_ms, "until")),
        cell("Recall until", c.recall_until_ms ? relative(c.recall_until_ms, "until") : "–"),
        cell("Actions", h("button", { type: "button", class: "danger", "data-key": "cancel-" + c.completion_id, "aria-label": "Cancel completion " + c.completion_id, onclick: () => cancelCompletion(c) }, "Cancel")),
      ),
    );
    return h(
      "div",
      { class: "queue", "data-target": target },
      h("h3", { id }, "Waiting on " + target),
      h(
        "table",
        { class: "grid", role: "table", "aria-labelledby": id },
        h("thead", { role: "rowgroup" }, h("tr", { role: "row" }, ...["Position", "Completion", "Caller", "Mode", "Condition", "State", "Availability", "Expires", "Recall until", "Actions"].map((t) => h("th", { scope: "col", role: "columnheader" }, t)))),
        h("tbody", { role: "rowgroup" }, ...rows),
      ),
    );
  });
  $("queues").replaceChildren(...groups);
  document.querySelector('[data-empty-for="queues"]').hidden = groups.length !== 0;
}

function renderDialLines() {
  const select = $("dial-line");
  const names = [...state.lines.keys()];
  const current = select.value;
  if ([...select.options].map((o) => o.value).join("\n") === names.join("\n")) return;
  select.replaceChildren(...names.map((n) => h("option", { value: n, selected: n === current }, n)));
}

function summary(e) {
  switch (e.event) {
    case "appnewcall":
      return "call " + e.call_id + " on " + e.line + ": " + e.direction + " " + (e.direction === "out" ? "to " : "from ") + e.remote + " (" + e.reason + (e.completion_id ? " #" + e.completion_id : "") + ")";
    case "callstate":
      return "call " + e.call_id + " on " + e.line + ": " + e.state + (e.mode ? " (" + e.mode + ")" : "") + (e.reason !== "direct" ? ", " + e.reason : "");
    case "callinfo":
      return "call " + e.call_id + " on " + e.line + ": " + (e.changed || []).join(", ") + " changed";
    case "reply":
      return e.line + ": " + e.request + " accepted, completion " + e.completion_id;
    case "linedevstate":
      return e.line + ": " + e.state + (e.completion_id ? " completion " + e.completion_id : "") + (e.cause ? " (" + e.cause + ")" : "") + ", " + e.num_call_completions + " outstanding";
    case "completion":
      return "completion " + e.completion_id + " " + e.line + " → " + e.target + " " + e.mode + "/" + e.condition + ": " + e.state + (e.position ? " at " + e.position : "") + (e.cause ? " (" + e.cause + ")" : "");
    case "lagged":
      return "missed " + e.missed + " events; state read again";
    case "disconnected":
      return "the event stream was lost; reconnecting";
    case "reconnected":
      return "the event stream is back; state read again";
    default:
      return JSON.stringify(e);
  }
}

function timeline(e) {
  const list = $("timeline");
  const at = e.at_ms || Date.now();
  const item = h(
    "li",
    { "data-event": e.event, "data-kind": e.seq ? e.state || "" : "local" },
    h("time", { datetime: new Date(at).toISOString() }, clock(at)),
    h("span", { class: "seq" }, e.seq ? "#" + e.seq : "—"),
    h("span", { class: "kind" }, e.event),
    h("span", { class: "what" }, summary(e)),
  );
  item.hidden = !matchesFilter(item);
  list.prepend(item);
  while (list.children.length > TIMELINE_MAX) list.lastElementChild.remove();
}

function matchesFilter(item) {
  const words = $("timeline-filter").value.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const text = item.textContent.toLowerCase();
  return words.every((w) => text.includes(w));
}

function filterTimeline() {
  let shown = 0;
  for (const item of $("timeline").children) {
    item.hidden = !matchesFilter(item);
    if (!item.hidden) shown += 1;
  }
  $("timeline-count").textContent = $("timeline-filter").value.trim()
    ? shown + " of " + $("timeline").children.length + " events match"
    : "";
}

// ---- start -------------------------------------------------------------------------------

async function start() {
  try {
    await readAll();
  } catch (e) {
    if (e.status === 401) return;
    setConn("down", "Cannot reach the API: " + e.message + "; retrying");
    setTimeout(start, 3000);
    return;
  }
  signedIn = true;
  $("login").hidden = true;
  $("main").hidden = false;
  $("forget").hidden = !token();
  openSocket();
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", signIn);
  $("forget").addEventListener("click", forget);
  $("dial").addEventListener("submit", dial);
  $("lagged-dismiss").addEventListener("click", () => ($("lagged").hidden = true));
  $("timeline-filter").addEventListener("input", filterTimeline);
  setInterval(tick, 1000);
  // A phone refreshing its registration sends no event: re-read the contacts now and then.
  setInterval(() => {
    if (signedIn) readContacts([...state.registrations.keys()]).then(render, () => {});
  }, 60000);
  start();
});
