// smppsim console: polls the control API's JSON endpoints and drives its forms.
// No dependencies. Every value from the API is set with textContent, never as HTML.
"use strict";

const POLL_MS = 1000;
const TOKEN_KEY = "smppsim-token";
const $ = (id) => document.getElementById(id);
let accounts = [];
let lastSample = null; // {at, binds: {id: submits}, accounts: {system_id: submitted}}
let handsetView = null; // GET /handsets/{number} of the handset being replied as

// -- the token: kept for this tab only (sessionStorage), sent as a Bearer header ------------

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

function takeTokenFromFragment() {
  // /#token=... (a fragment never reaches the server): keep it, drop it
  // from the address bar and the history.
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
}

function showTokenState(text) {
  $("token-state").textContent = text || (token() ? "token set" : "no token: read only");
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (token()) headers.Authorization = "Bearer " + token();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  let data = null;
  try {
    data = await resp.json();
  } catch (e) {
    data = null;
  }
  if (resp.status === 401) {
    showTokenState("token needed");
    $("token").focus();
  }
  if (!resp.ok) {
    const detail = data && data.detail !== undefined ? data.detail : resp.statusText;
    throw new Error(resp.status + ": " + (typeof detail === "string" ? detail : JSON.stringify(detail)));
  }
  return data;
}

// -- rendering ----------------------------------------------------------------------------------

function cell(value) {
  const td = document.createElement("td");
  if (value instanceof Node) td.appendChild(value);
  else td.textContent = value === null || value === undefined ? "" : String(value);
  return td;
}

function fill(table, rows, cells) {
  const body = $(table).tBodies[0];
  const out = document.createDocumentFragment();
  for (const row of rows) {
    const tr = document.createElement("tr");
    for (const value of cells(row)) tr.appendChild(cell(value));
    out.appendChild(tr);
  }
  body.replaceChildren(out);
  const empty = $(table + "-empty");
  if (empty) empty.hidden = rows.length > 0;
}

function clock(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleTimeString() : "";
}

function rate(seconds, before, key, value) {
  // Per second since the previous poll (counters only grow, but a reset zeroes them).
  if (!before || !(key in before) || seconds <= 0 || value < before[key]) return "";
  return ((value - before[key]) / seconds).toFixed(1);
}

function limit(v) {
  return v === null || v === undefined ? "none" : v;
}

function faults(b) {
  const on = [];
  if (b.black_hole) on.push("black hole");
  if (b.refuse_binds) on.push("refusing binds");
  if (b.error_probability) on.push("errors " + b.error_probability + " (0x" + b.error_status.toString(16) + ")");
  if (b.nack_probability) on.push("nack " + b.nack_probability);
  if (b.drop_probability) on.push("drop " + b.drop_probability);
  return on.join(", ") || "none";
}

function render(binds, accountList, messages, mo) {
  const now = { at: Date.now(), binds: {}, accounts: {} };
  for (const b of binds) now.binds[b.id] = b.submits;
  for (const a of accountList) now.accounts[a.system_id] = a.submitted;
  const before = lastSample || {};
  const seconds = lastSample ? (now.at - lastSample.at) / 1000 : 0;
  fill("binds", binds, (b) => [
    b.id, b.account || "(not bound)", b.mode || "", b.peer, clock(b.bound_at), b.state,
    b.deliver_sm_in_flight + " / " + b.window, b.owed, b.submits,
    rate(seconds, before.binds, b.id, b.submits), b.throttled, b.pdus_received, b.pdus_sent,
  ]);
  fill("accounts", accountList, (a) => [
    a.system_id, a.binds + " / " + a.max_binds, a.submitted,
    rate(seconds, before.accounts, a.system_id, a.submitted), a.throttled,
    a.deliveries_delivered, a.deliveries_queued, a.deliveries_in_flight, a.deliveries_dropped,
    limit(a.behaviour.tps), limit(a.behaviour.bind_tps), faults(a.behaviour),
  ]);
  fill("messages", messages, (m) => [
    clock(m.submitted_at), m.message_id, m.account, m.source_addr, m.destination_addr,
    m.text === null ? "(binary) " + m.payload_hex : m.text, m.state, receipt(m), replyButton(m),
  ]);
  fill("mo", mo, (d) => [
    clock(d.at), d.account, d.source_addr, d.destination_addr,
    d.text === null ? "(binary)" : d.text, d.result, d.attempts,
  ]);
  lastSample = now;
  const changed = accountList.map((a) => a.system_id).join() !== accounts.map((a) => a.system_id).join();
  accounts = accountList;
  if (changed) {
    fillAccountSelects();
    fillBehaviour();
  }
}

function receipt(m) {
  if (!m.registered_delivery) return "not asked";
  if (!m.receipts_sent) return m.done_at ? "not sent" : "pending";
  return m.receipts_sent + " sent " + clock(m.done_at) + " err:" + m.error;
}

function replyButton(m) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "reply";
  button.textContent = "Reply";
  button.title = "Answer from the handset " + m.destination_addr;
  button.addEventListener("click", () => {
    const form = $("inject-form");
    form.elements.account.value = m.account;
    form.elements.source_addr.value = m.destination_addr;
    form.elements.destination_addr.value = m.source_addr;
    const handset = $("handset-form");
    handset.elements.number.value = m.destination_addr;
    handset.elements.to.value = m.source_addr;
    loadHandset();
    handset.elements.text.focus();
  });
  return button;
}

// -- replying as a handset --------------------------------------------------------------------

const ASKS = {
  choice: "a choice",
  score: "a scale",
  yes_no: "a yes/no question",
  question: "a question wanting words",
  offer: "an offer",
  other: "a notice",
};

function describePrompt(p) {
  if (!p) return "No MT to this number yet: type the ESME address to send to.";
  let text = "Its last MT reads as " + ASKS[p.ask];
  if (p.ask === "score") text += " from " + p.low + " to " + p.high;
  if (p.options.length) text += ": " + p.options.join(", ");
  return text + ".";
}

function renderHandset(view) {
  handsetView = view;
  const form = $("handset-form");
  form.elements.to.placeholder = view.reply_to ? view.reply_to.address : "the ESME address";
  $("handset-prompt").textContent = describePrompt(view.prompt);
  const options = (view.prompt && view.prompt.options) || [];
  $("handset-options").replaceChildren(
    ...options.map((key, i) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "option";
      button.textContent = key;
      button.title = view.prompt.labels[i] || key;
      button.addEventListener("click", () => {
        form.elements.text.value = key;
        form.elements.text.focus();
      });
      return button;
    }),
  );
  const items = view.messages.map((m) => {
    const li = document.createElement("li");
    li.className = m.direction;
    const meta = document.createElement("small");
    meta.textContent = clock(m.at) + " " + (m.direction === "mt" ? "from " + m.from : "to " + m.to + " (" + m.result + ")");
    li.append(meta, m.text === null ? "(binary)" : m.text);
    return li;
  });
  $("handset-thread").replaceChildren(...items);
}

async function loadHandset() {
  const number = $("handset-form").elements.number.value.trim();
  if (!number) {
    handsetView = null;
    $("handset-thread").replaceChildren();
    $("handset-options").replaceChildren();
    $("handset-prompt").textContent = "Pick a handset to see its messages.";
    return;
  }
  try {
    const view = await api("GET", "handsets/" + encodeURIComponent(number) + "?limit=50");
    if ($("handset-form").elements.number.value.trim() === number) renderHandset(view);
  } catch (e) {
    $("handset-prompt").textContent = e.message;
  }
}

function fillHandsetNumbers(list) {
  $("handset-numbers").replaceChildren(
    ...list.map((h) => new Option((h.text || "").slice(0, 40) + " (from " + h.from + ")", h.number)),
  );
}

function onHandsetReply(event) {
  event.preventDefault();
  const f = event.target.elements;
  const number = f.number.value.trim();
  const view = handsetView && handsetView.number === number ? handsetView : null;
  const to = f.to.value.trim() || (view && view.reply_to ? view.reply_to.address : "");
  if (!to) {
    $("handset-result").textContent = "no MT to " + number + " yet: type the ESME address (To)";
    $("handset-result").className = "error";
    return;
  }
  const body = { source_addr: number, destination_addr: to, text: f.text.value };
  if (view && view.reply_to && to === view.reply_to.address) body.account = view.reply_to.account;
  const sent = api("POST", "inject", body).then((d) => {
    f.text.value = "";
    loadHandset();
    return d;
  });
  report("handset-result", sent, (d) => "sent as MO from " + number + " to " + to + " in " + d.parts + " part(s)");
}

function fillAccountSelects() {
  for (const select of document.querySelectorAll(".account-select")) {
    const keep = select.value;
    select.replaceChildren(...accounts.map((a) => new Option(a.system_id, a.system_id)));
    if (keep) select.value = keep;
  }
  const scope = $("scope");
  const keep = scope.value;
  scope.replaceChildren(new Option("every account", ""), ...accounts.map((a) => new Option(a.system_id, a.system_id)));
  scope.value = keep;
}

function fillBehaviour() {
  // The current values of the chosen account (of the first for "every account"), except
  // in fields being edited.
  const form = $("behaviour-form");
  const chosen = accounts.find((a) => a.system_id === form.elements.scope.value) || accounts[0];
  if (!chosen) return;
  const b = chosen.behaviour;
  for (const input of form.querySelectorAll("input, select:not(#scope)")) {
    if (input.dataset.dirty || !(input.name in b)) continue;
    const value = b[input.name];
    if (input.type === "checkbox") input.checked = Boolean(value);
    else if (input.name === "error_status") input.value = statusName(value, input);
    else if (input.name === "outcomes") input.value = value.map(([k, w]) => k + "=" + w).join(",");
    else if (typeof value === "number") input.value = String(value);
    else if (value === null) input.value = "";
    else {
      // A distribution: shown, not flattened into the field.
      const { kind, ...params } = value;
      input.value = "";
      input.placeholder = kind + " " + Object.entries(params).map(([k, v]) => k + "=" + v).join(" ");
      input.title = input.placeholder;
    }
  }
}

const STATUS = { 0x08: "ESME_RSYSERR", 0x58: "ESME_RTHROTTLED", 0x14: "ESME_RMSGQFUL", 0x0b: "ESME_RINVDSTADR", 0x45: "ESME_RSUBMITFAIL", 0x64: "ESME_RX_T_APPN" };

function statusName(value, select) {
  const name = STATUS[value];
  if (!name) {
    const option = new Option("0x" + value.toString(16), String(value));
    select.appendChild(option);
    return option.value;
  }
  return name;
}

// -- polling -------------------------------------------------------------------------------------

async function poll() {
  try {
    const [binds, accountList, messages, mo, handsets] = await Promise.all([
      api("GET", "binds"),
      api("GET", "accounts"),
      api("GET", "messages?limit=50"),
      api("GET", "mo?limit=50"),
      api("GET", "handsets?limit=20"),
    ]);
    render(binds, accountList, messages, mo);
    fillHandsetNumbers(handsets);
    if ($("handset-form").elements.number.value.trim()) await loadHandset();
    document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
    $("status").textContent = "updated " + new Date().toLocaleTimeString();
    $("status").className = "status ok";
  } catch (e) {
    $("status").textContent = "cannot reach the control API: " + e.message;
    $("status").className = "status error";
  }
  setTimeout(poll, document.hidden ? POLL_MS * 5 : POLL_MS);
}

// -- forms ---------------------------------------------------------------------------------------

function report(id, promise, ok) {
  const out = $(id);
  out.textContent = "…";
  out.className = "";
  promise.then(
    (data) => {
      out.textContent = ok(data);
      out.className = "ok";
    },
    (e) => {
      out.textContent = e.message;
      out.className = "error";
    },
  );
}

function onInject(event) {
  event.preventDefault();
  const f = event.target.elements;
  const body = {
    source_addr: f.source_addr.value,
    destination_addr: f.destination_addr.value,
    text: f.text.value,
  };
  if (f.account.value) body.account = f.account.value;
  report("inject-result", api("POST", "inject", body), (d) => "queued in " + d.parts + " part(s)");
}

function behaviourPatch(form) {
  // Only the fields changed since the last apply: an untouched field keeps its value
  // (a receipt delay distribution is not flattened to a number).
  const patch = {};
  for (const input of form.querySelectorAll("[data-dirty]")) {
    const name = input.name;
    if (input.type === "checkbox") patch[name] = input.checked;
    else if (input.type === "number") patch[name] = input.value === "" ? null : Number(input.value);
    else if (/^[0-9]+$/.test(input.value)) patch[name] = Number(input.value); // a status by number
    else patch[name] = input.value;
  }
  return patch;
}

function onBehaviour(event) {
  event.preventDefault();
  const form = event.target;
  const patch = behaviourPatch(form);
  if (!Object.keys(patch).length) {
    $("behaviour-result").textContent = "nothing changed";
    return;
  }
  const scope = form.elements.scope.value;
  const path = scope ? "accounts/" + encodeURIComponent(scope) + "/behaviour" : "behaviour";
  const done = api("PATCH", path, patch).then((d) => {
    for (const input of form.querySelectorAll("[data-dirty]")) delete input.dataset.dirty;
    return d;
  });
  report("behaviour-result", done, (d) => "applied to " + Object.keys(d).join(", "));
}

function onReset() {
  if (!confirm("Forget every message, queued delivery and timer?")) return;
  report("behaviour-result", api("POST", "reset"), () => "reset");
}

function onToken(event) {
  event.preventDefault();
  const value = $("token").value.trim();
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  $("token").value = "";
  showTokenState();
}

function start() {
  takeTokenFromFragment();
  showTokenState();
  $("token-form").addEventListener("submit", onToken);
  $("token-forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showTokenState();
  });
  $("inject-form").addEventListener("submit", onInject);
  const handset = $("handset-form");
  handset.addEventListener("submit", onHandsetReply);
  handset.elements.number.addEventListener("change", loadHandset);
  handset.elements.number.addEventListener("input", () => {
    handset.elements.to.value = ""; // another handset: its own MT's sender, unless typed again
    loadHandset();
  });
  const behaviour = $("behaviour-form");
  behaviour.addEventListener("submit", onBehaviour);
  for (const type of ["input", "change"]) {
    behaviour.addEventListener(type, (e) => {
      if (e.target.name && e.target.name !== "scope") e.target.dataset.dirty = "1";
    });
  }
  $("scope").addEventListener("change", fillBehaviour);
  $("reset").addEventListener("click", onReset);
  poll();
}

start();
