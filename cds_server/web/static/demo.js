// The demo chart: a pretend EHR that fires real CDS Hooks calls at this server and renders the cards
// the way EHRs do. Every call goes to the real endpoints with a real signed JWT of the development
// client (fetched per URL from /demo/token, because a JWT's `aud` is the exact URL it is sent to).
"use strict";

const state = { patient: null, services: [], feedbackSent: 0 };

async function token(url) {
  const response = await fetch(`/demo/token?url=${encodeURIComponent(url)}`);
  if (!response.ok) throw new Error(`no development token (${response.status}): is CDS_DEV_CLIENT on?`);
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

// --- a small GitHub-flavoured Markdown subset: paragraphs, **bold**, `code`, tables (no raw HTML) ---
function inline(text) {
  const out = document.createDocumentFragment();
  const pattern = /(\*\*[^*]+\*\*|`[^`]+`)/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    out.append(text.slice(last, match.index));
    const token = match[0];
    out.append(token.startsWith("**") ? el("strong", {}, token.slice(2, -2)) : el("code", {}, token.slice(1, -1)));
    last = match.index + token.length;
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

// --- patients and chart ---
async function loadPatients() {
  const patients = await (await fetch("/demo/patients")).json();
  const select = document.getElementById("patient");
  select.replaceChildren(...patients.map((p) => el("option", { value: p.id }, `${p.name} (${p.gender}, ${p.age}) — ${p.profile}`)));
  select.addEventListener("change", () => showPatient(select.value));
  await showPatient(select.value);
}

async function showPatient(id) {
  state.patient = await (await fetch(`/demo/patients/${id}`)).json();
  const p = state.patient;
  const chart = document.getElementById("chart");
  chart.replaceChildren(
    el("h2", {}, `${p.name}`),
    el("p", { class: "who" }, `${p.gender}, ${p.age} years, born ${p.birthDate} · Patient/${p.id}`),
    el("div", { class: "columns" },
      el("section", {}, el("h3", {}, "Latest results"),
        el("table", {}, p.latest.map((o) => el("tr", {}, el("td", {}, o.label), el("td", {}, o.value), el("td", { class: "date" }, o.date))))),
      el("section", {}, el("h3", {}, "Problems"), el("ul", {}, p.conditions.map((c) => el("li", {}, c.display)))),
      el("section", {}, el("h3", {}, "Medications"), el("ul", {}, p.medications.length ? p.medications.map((m) => el("li", {}, m.display)) : [el("li", {}, "none active")])),
    ),
  );
  document.getElementById("cards").replaceChildren();
}

// --- hooks ---
async function fire(hook) {
  const cards = document.getElementById("cards");
  cards.replaceChildren(el("p", { class: "pending" }, `Calling ${hook} services…`));
  const discovery = await (await callAs("/cds-services")).json();
  const services = discovery.services.filter((s) => s.hook === hook);
  const drug = document.getElementById("drug").value;
  const rendered = [];
  for (const service of services) {
    const request = await (await fetch(`/demo/patients/${state.patient.id}/request?service=${service.id}&hook=${hook}&drug=${drug}`)).json();
    const started = performance.now();
    const response = await callAs(`/cds-services/${service.id}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(request),
    });
    const elapsed = Math.round(performance.now() - started);
    const body = await response.json();
    if (!response.ok) {
      rendered.push(el("div", { class: "card error", "data-service": service.id },
        el("div", { class: "summary" }, `${service.title || service.id}: HTTP ${response.status}`),
        el("pre", {}, JSON.stringify(body.issue ? body.issue.map((i) => i.details && i.details.text) : body, null, 1))));
      continue;
    }
    for (const card of body.cards) rendered.push(renderCard(service, card, elapsed));
  }
  cards.replaceChildren(...(rendered.length ? rendered : [el("p", { class: "pending" }, "No cards: nothing to say for this patient.")]));
}

function renderCard(service, card, elapsed) {
  const node = el("div", { class: `card ${card.indicator}`, "data-service": service.id, "data-card": card.uuid });
  const source = card.source.url ? el("a", { href: card.source.url, target: "_blank" }, card.source.label) : card.source.label;
  node.append(
    el("div", { class: "summary" }, card.summary),
    el("div", { class: "source" }, "Source: ", source, ` · ${elapsed} ms`),
  );
  if (card.detail) node.append(markdown(card.detail));
  const actions = el("div", { class: "actions" });
  for (const suggestion of card.suggestions || []) {
    actions.append(el("button", { class: "accept", onclick: () => accept(service, card, suggestion, node) }, suggestion.label));
  }
  for (const link of card.links || []) actions.append(el("a", { class: "link", href: link.url, target: "_blank" }, link.label));
  const reasons = el("select", { class: "reason" }, el("option", { value: "" }, "Dismiss: reason…"),
    (card.overrideReasons || []).map((r) => el("option", { value: r.code }, r.display)));
  actions.append(reasons, el("button", { class: "dismiss", onclick: () => dismiss(service, card, reasons.value, node) }, "Dismiss"));
  node.append(actions);
  return node;
}

async function sendFeedback(service, item, node) {
  const response = await callAs(`/cds-services/${service.id}/feedback`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ feedback: [item] }),
  });
  node.classList.add(response.ok ? "answered" : "feedback-failed");
  node.append(el("div", { class: "feedback-status" }, response.ok ? `Feedback sent: ${item.outcome}` : `Feedback failed: HTTP ${response.status}`));
  if (response.ok) state.feedbackSent += 1;
}

function accept(service, card, suggestion, node) {
  return sendFeedback(service, {
    card: card.uuid,
    outcome: "accepted",
    acceptedSuggestions: [{ id: suggestion.uuid }],
    outcomeTimestamp: new Date().toISOString(),
  }, node);
}

function dismiss(service, card, reasonCode, node) {
  const item = { card: card.uuid, outcome: "overridden", outcomeTimestamp: new Date().toISOString() };
  const reason = (card.overrideReasons || []).find((r) => r.code === reasonCode);
  item.overrideReason = reason ? { reason } : { userComment: "Dismissed in the demo chart" };
  return sendFeedback(service, item, node);
}

window.addEventListener("DOMContentLoaded", () => {
  document.getElementById("patient-view").addEventListener("click", () => fire("patient-view"));
  document.getElementById("order-select").addEventListener("click", () => fire("order-select"));
  document.getElementById("order-sign").addEventListener("click", () => fire("order-sign"));
  loadPatients();
});
