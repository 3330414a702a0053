// The demo chart: a pretend EHR that fires real CDS Hooks calls at this server and renders the cards
// the way EHRs do. Every call goes to the real endpoints with a real signed JWT of the development
// client (fetched per URL from /demo/token, because a JWT's `aud` is the exact URL it is sent to).
"use strict";

const INDICATOR_ORDER = { critical: 0, warning: 1, info: 2 };
// pendingOrders: RxNorm codes of suggestions accepted in this chart session (the EHR's draft orders)
const state = { patient: null, pendingOrders: [], feedbackSent: 0, busy: false };

async function token(url) {
  const response = await fetch(`/demo/token?url=${encodeURIComponent(url)}`);
  if (!response.ok) throw new Error(`no development token (HTTP ${response.status}): is CDS_DEV_CLIENT on, and is this browser on the server's machine?`);
  return (await response.json()).token;
}

async function callAs(url, init = {}) {
  const absolute = new URL(url, window.location.origin).href;
  const headers = Object.assign({}, init.headers || {}, { Authorization: `Bearer ${await token(absolute)}` });
  return fetch(absolute, Object.assign({}, init, { headers }));
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

// --- a small GitHub-flavoured Markdown subset: paragraphs, **bold**, `code`, [links](https://…), tables.
// Built as DOM nodes from text, never as HTML, so a card cannot inject markup; links must be http(s).
function inline(text) {
  const out = document.createDocumentFragment();
  const pattern = /(\*\*[^*]+\*\*|`[^`]+`|\[[^\]]+\]\([^)\s]+\))/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    out.append(text.slice(last, match.index));
    const part = match[0];
    if (part.startsWith("**")) out.append(el("strong", {}, part.slice(2, -2)));
    else if (part.startsWith("`")) out.append(el("code", {}, part.slice(1, -1)));
    else {
      const [, label, href] = part.match(/^\[([^\]]+)\]\(([^)\s]+)\)$/);
      out.append(/^https?:\/\//.test(href) ? el("a", { href, target: "_blank", rel: "noopener" }, label) : label);
    }
    last = match.index + part.length;
  }
  out.append(text.slice(last));
  return out;
}

function markdown(source) {
  const container = el("div", { class: "detail" });
  for (const block of source.split(/\n\s*\n/)) {
    const lines = block.trim().split("\n");
    if (lines.length >= 2 && lines[0].startsWith("|") && /^\|[-| :]+\|$/.test(lines[1].trim())) {
      const cells = (line) => line.trim().replace(/^\||\|$/g, "").split("|").map((c) => c.trim());
      const table = el("table", {}, el("tr", {}, cells(lines[0]).map((c) => el("th", {}, inline(c)))));
      for (const row of lines.slice(2)) table.append(el("tr", {}, cells(row).map((c) => el("td", {}, inline(c)))));
      container.append(table);
    } else if (block.trim()) {
      container.append(el("p", {}, inline(block.trim())));
    }
  }
  return container;
}

function setStatus(text) {
  document.getElementById("status").textContent = text;
}

// --- patients and chart ---
async function loadPatients() {
  const patients = await (await fetch("/demo/patients")).json();
  const select = document.getElementById("patient");
  select.replaceChildren(...patients.map((p) => el("option", { value: p.id }, `${p.name} (${p.gender}, ${p.age}) — ${p.profile}`)));
  select.addEventListener("change", () => showPatient(select.value));
  await showPatient(select.value);
}

async function showPatient(id) {
  state.patient = await (await fetch(`/demo/patients/${encodeURIComponent(id)}`)).json();
  state.pendingOrders = [];
  const p = state.patient;
  document.getElementById("chart").replaceChildren(
    el("h2", {}, p.name),
    el("p", { class: "who" }, `${p.gender}, ${p.age} years · born ${p.birthDate}`),
    el("h3", {}, "Latest results"),
    el("table", { class: "results" }, p.latest.map((o) => el("tr", {}, el("th", {}, o.label), el("td", { class: "num" }, o.value), el("td", { class: "date" }, o.date)))),
    el("h3", {}, "Problems"),
    el("ul", {}, p.conditions.map((c) => el("li", {}, c.display))),
    el("h3", {}, "Medications"),
    el("ul", {}, p.medications.length ? p.medications.map((m) => el("li", {}, m.display)) : [el("li", { class: "pending" }, "none active")]),
  );
  renderOrders();
  document.getElementById("cards").replaceChildren(el("p", { class: "pending" }, "Open the chart or choose an order to ask the services."));
  setStatus("");
}

function renderOrders() {
  const orders = document.getElementById("orders");
  const options = document.getElementById("drug").options;
  const names = state.pendingOrders.map((code) => [...options].find((o) => o.value === code)?.text || code);
  orders.replaceChildren(...(names.length ? [el("p", { class: "orders" }, "Pending orders: ", names.join(", "))] : []));
}

// --- hooks ---
async function fire(hook) {
  if (state.busy || !state.patient) return;
  state.busy = true;
  const cards = document.getElementById("cards");
  setStatus(`calling ${hook} services…`);
  try {
    const discovery = await callAs("/cds-services");
    if (!discovery.ok) throw new Error(`discovery answered HTTP ${discovery.status}`);
    const services = (await discovery.json()).services.filter((s) => s.hook === hook);
    const params = new URLSearchParams({ hook });
    if (hook !== "patient-view") {
      for (const code of [document.getElementById("drug").value, ...state.pendingOrders]) params.append("drug", code);
    }
    const answers = await Promise.all(services.map((service) => callService(service, params)));
    const rendered = answers.flat().sort((a, b) => a.rank - b.rank).map((item) => item.node);
    cards.replaceChildren(...(rendered.length ? rendered : [el("p", { class: "pending" }, "No cards: nothing to say for this patient.")]));
    setStatus(`${hook}: ${services.length} service${services.length === 1 ? "" : "s"} called, ${rendered.length} card${rendered.length === 1 ? "" : "s"}`);
  } catch (error) {
    cards.replaceChildren(el("div", { class: "card error" }, el("div", { class: "summary" }, `The call failed: ${error.message}`)));
    setStatus("");
  } finally {
    state.busy = false;
  }
}

async function callService(service, params) {
  params.set("service", service.id);
  const request = await (await fetch(`/demo/patients/${encodeURIComponent(state.patient.id)}/request?${params}`)).json();
  const started = performance.now();
  const response = await callAs(`/cds-services/${service.id}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(request),
  });
  const elapsed = Math.round(performance.now() - started);
  const body = await response.json();
  if (!response.ok) {
    const issues = (body.issue || []).map((i) => (i.details && i.details.text) || i.code).join("; ");
    return [{ rank: -1, node: el("div", { class: "card error", "data-service": service.id },
      el("div", { class: "summary" }, `${service.title || service.id}: HTTP ${response.status}`),
      el("p", {}, issues || "no details")) }];
  }
  return body.cards.map((card) => ({ rank: INDICATOR_ORDER[card.indicator] ?? 3, node: renderCard(service, card, elapsed) }));
}

function renderCard(service, card, elapsed) {
  const node = el("article", { class: `card ${card.indicator}`, "data-service": service.id, "data-card": card.uuid });
  const source = card.source.url ? el("a", { href: card.source.url, target: "_blank", rel: "noopener" }, card.source.label) : card.source.label;
  node.append(
    el("div", { class: "summary" }, el("span", { class: `indicator ${card.indicator}` }, card.indicator), " ", card.summary),
    el("div", { class: "source" }, "Source: ", source, ` · answered in ${elapsed} ms`),
  );
  if (card.detail) node.append(markdown(card.detail));
  const actions = el("div", { class: "actions" });
  for (const suggestion of card.suggestions || []) {
    actions.append(el("button", { type: "button", class: "accept", onclick: () => accept(service, card, suggestion, node) },
      `Accept: ${suggestion.label}`));
  }
  for (const link of card.links || []) {
    actions.append(el("a", { class: "link", href: link.url, target: "_blank", rel: "noopener" }, link.label));
  }
  const reasons = el("select", { class: "reason", "aria-label": "Reason for dismissing" }, el("option", { value: "" }, "Reason for dismissing…"),
    (card.overrideReasons || []).map((r) => el("option", { value: r.code }, r.display)));
  actions.append(el("span", { class: "dismissal" }, reasons,
    el("button", { type: "button", class: "dismiss", onclick: () => dismiss(service, card, reasons.value, node) }, "Dismiss")));
  node.append(actions);
  return node;
}

async function sendFeedback(service, item, node, done) {
  for (const control of node.querySelectorAll("button, select")) control.disabled = true;
  const response = await callAs(`/cds-services/${service.id}/feedback`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ feedback: [item] }),
  });
  node.classList.add(response.ok ? "answered" : "feedback-failed");
  node.append(el("div", { class: "feedback-status", role: "status" }, response.ok ? done : `Feedback failed: HTTP ${response.status}`));
  if (response.ok) state.feedbackSent += 1;
  else for (const control of node.querySelectorAll("button, select")) control.disabled = false;
}

function accept(service, card, suggestion, node) {
  // what an EHR does with an accepted "create" suggestion: the resource joins the draft orders
  for (const action of suggestion.actions || []) {
    const coding = (action.resource?.medicationCodeableConcept?.coding || []).find((c) => c.code);
    if (action.type === "create" && coding && !state.pendingOrders.includes(coding.code)) state.pendingOrders.push(coding.code);
  }
  renderOrders();
  return sendFeedback(service, {
    card: card.uuid,
    outcome: "accepted",
    acceptedSuggestions: [{ id: suggestion.uuid }],
    outcomeTimestamp: new Date().toISOString(),
  }, node, `Accepted: ${suggestion.label} (added to the pending orders; feedback sent)`);
}

function dismiss(service, card, reasonCode, node) {
  const item = { card: card.uuid, outcome: "overridden", outcomeTimestamp: new Date().toISOString() };
  const reason = (card.overrideReasons || []).find((r) => r.code === reasonCode);
  item.overrideReason = reason ? { reason } : { userComment: "Dismissed in the demo chart without a reason" };
  return sendFeedback(service, item, node, `Dismissed${reason ? `: ${reason.display}` : ""} (feedback sent)`);
}

window.addEventListener("DOMContentLoaded", () => {
  document.getElementById("patient-view").addEventListener("click", () => fire("patient-view"));
  document.getElementById("order-select").addEventListener("click", () => fire("order-select"));
  document.getElementById("order-sign").addEventListener("click", () => fire("order-sign"));
  loadPatients().catch((error) => setStatus(`Could not load the demo patients: ${error.message}`));
});
