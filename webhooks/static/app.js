// The phone simulator: draws the phones, sends as any of them, and shows what the service sends, live.
"use strict";
const state = { phones: [], byMobile: new Map(), teamAddress: null, messages: new Map(), selected: null,
                unread: new Map(), coordinator: null, maxText: 1600 };
const STATUS_TEXT = { pending: "köad", sending: "skickas", sent: "skickad", delivered: "levererad ✓✓",
                      failed: "misslyckades", unknown: "okänd", received: "" };

const $ = (sel, root = document) => root.querySelector(sel);

function time(iso) {
  return new Date(iso).toLocaleTimeString("sv-SE", { hour: "2-digit", minute: "2-digit" });
}

function bubble(m) {
  const li = document.createElement("li");
  li.className = "msg " + (m.direction === "out" ? "from-service" : "from-phone");
  li.dataset.id = m.id;
  li.textContent = m.body;
  const meta = document.createElement("span");
  meta.className = "meta";
  let text = time(m.at);
  if (m.direction === "out") {
    const waiting = m.status === "pending" && new Date(m.not_before) > new Date();
    const why = m.kind === "team" ? "samlar fler svar" : "tysta timmar";
    text += " · " + (waiting ? "väntar till " + time(m.not_before) + " (" + why + ")" : STATUS_TEXT[m.status] || m.status);
  }
  meta.textContent = text;
  li.appendChild(meta);
  return li;
}

function threadFor(address) {
  return [...state.messages.values()].filter(m => m.address === address).sort((a, b) => a.at.localeCompare(b.at)
    || a.id.localeCompare(b.id));
}

function renderThread(list, address) {
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren(...threadFor(address).map(bubble));
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function renderPeople() {
  const ul = $("#assistant-list");
  ul.replaceChildren(...state.phones.filter(p => p.role !== "coordinator").map(p => {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.mobile = p.mobile || "";
    b.setAttribute("aria-current", String(p.mobile && p.mobile === state.selected));
    const name = document.createElement("span");
    name.textContent = p.name + (p.role === "supervisor" ? " (arbetsledare)" : "");
    if (!p.mobile) { name.className = "nomobile"; name.textContent += " – saknar mobil"; b.disabled = true; }
    b.appendChild(name);
    const n = state.unread.get(p.mobile) || 0;
    if (n) { const badge = document.createElement("span"); badge.className = "badge"; badge.textContent = n;
             badge.setAttribute("aria-label", n + " olästa"); b.appendChild(badge); }
    b.addEventListener("click", () => select(p.mobile));
    li.appendChild(b);
    return li;
  }));
}

function select(mobile) {
  state.selected = mobile;
  state.unread.set(mobile, 0);
  const p = state.byMobile.get(mobile);
  const phone = $("#assistant-phone");
  $(".who", phone).textContent = p.name;
  $(".number", phone).textContent = p.display;
  phone.querySelectorAll("input, button").forEach(el => el.disabled = false);
  renderThread($(".thread", phone), mobile);
  renderPeople();
}

function render() {
  if (state.coordinator) renderThread($("#coordinator-phone .thread"), state.coordinator.mobile);
  if (state.selected) renderThread($("#assistant-phone .thread"), state.selected);
  if (state.teamAddress) renderThread($("[data-testid=team-chat] .thread"), state.teamAddress);
  renderPeople();
}

function notify(phoneEl, text) {
  const notice = $(".notice", phoneEl);
  notice.textContent = text || "";
  notice.hidden = !text;
}

// Characters as the server counts them (code points, so an emoji is one).
const length = text => [...text].length;

// Send as `from`; true when the service took the text. A refusal is told on the phone, in Swedish.
async function send(phoneEl, from, text) {
  if (length(text) > state.maxText) {
    notify(phoneEl, "Texten är för lång: " + length(text).toLocaleString("sv-SE") + " tecken, högst " +
           state.maxText.toLocaleString("sv-SE") + " går att skicka. Korta den och skicka igen – inget skickades.");
    return false;
  }
  let response;
  try {
    response = await fetch("/simulator/api/send", { method: "POST", headers: { "Content-Type": "application/json" },
                                                    body: JSON.stringify({ from, text }) });
  } catch (e) {
    notify(phoneEl, "Kunde inte nå tjänsten – kör paminn serve? Texten finns kvar, försök igen.");
    return false;
  }
  if (!response.ok) {
    const detail = await response.json().catch(() => ({}));
    notify(phoneEl, "Skickades inte (" + response.status + "): " + (detail.error || "okänt fel") +
           ". Texten finns kvar.");
    return false;
  }
  notify(phoneEl, "");
  setTimeout(loadStatus, 600);
  return true;
}

function wire(phoneEl, getFrom) {
  const input = $("input", phoneEl);
  input.addEventListener("input", () => { if (length(input.value) <= state.maxText) notify(phoneEl, ""); });
  $("form", phoneEl).addEventListener("submit", async ev => {
    ev.preventDefault();
    const text = input.value.trim();
    // Cleared only once the service took it: a refused text stays to be fixed.
    if (text && getFrom() && await send(phoneEl, getFrom(), text) && input.value.trim() === text) input.value = "";
  });
  phoneEl.querySelectorAll(".quick button").forEach(b => b.addEventListener("click", () => {
    if (getFrom()) send(phoneEl, getFrom(), b.dataset.text);
  }));
}

async function loadStatus() {
  const data = await (await fetch("/simulator/api/status")).json();
  if (!data.month) return;
  $("#status-month").textContent = data.label;
  const panel = $("#status-panel");
  const done = document.createElement("p");
  done.className = "muted";
  done.textContent = data.done + " har redan rapporterat allt.";
  panel.replaceChildren(done, ...data.groups.filter(g => g.names.length).map(g => {
    const div = document.createElement("div");
    div.dataset.reason = g.reason;
    const h = document.createElement("h3");
    h.textContent = g.label.charAt(0).toUpperCase() + g.label.slice(1) + " ";
    const c = document.createElement("span"); c.className = "count"; c.textContent = "(" + g.names.length + ")";
    h.appendChild(c);
    const ul = document.createElement("ul");
    ul.replaceChildren(...g.names.map(n => { const li = document.createElement("li"); li.textContent = n; return li; }));
    div.append(h, ul);
    return div;
  }));
}

// The month's funnel: reminded → delivered → acknowledged → still unfinished, per round and for the month.
const FUNNEL_STAGES = [["reminded", "påminda"], ["delivered", "levererade"], ["acknowledged", "bekräftade"],
                       ["unfinished_now", "ännu inte klara"]];
let funnelTimer = null, funnelAsked = 0;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// One line of counts: "4 påminda → 4 levererade → 1 bekräftade → 3 ännu inte klara".
function funnelSteps(counts) {
  const ol = el("ol", "steps");
  ol.replaceChildren(...FUNNEL_STAGES.map(([stage, label]) => {
    const li = el("li");
    li.dataset.stage = stage;
    li.append(el("strong", "count", String(counts[stage])), " " + label);
    return li;
  }));
  return ol;
}

// A person in a round: confirmed (answered OK) is marked so; the rest say where they are.
function funnelPerson(p) {
  const li = el("li", p.acknowledged ? "confirmed" : "");
  li.dataset.name = p.name;
  li.dataset.confirmed = String(p.acknowledged);
  li.append(el("span", "name", p.name));
  const marks = el("span", "marks");
  marks.append(el("span", "mark", p.delivered ? "levererad" : p.reminded ? "skickad" : "inte skickad än"));
  marks.append(p.acknowledged ? el("span", "mark ok", "✓ bekräftad") : el("span", "mark", "inte bekräftad"));
  if (p.unfinished_now) marks.append(el("span", "mark left", "ännu inte klar"));
  li.append(marks);
  return li;
}

function renderFunnel(data) {
  $("#funnel-month").textContent = data.label || "";
  const panel = $("#funnel-panel");
  if (!data.rounds.length) {
    panel.replaceChildren(el("p", "muted", "Inga påminnelser skickade för " + data.label + " än."));
    return;
  }
  const month = el("div", "part");
  month.dataset.part = "month";
  const head = el("h3", "", "Hela månaden ");
  head.append(el("span", "muted", "(" + data.rounds.length + (data.rounds.length === 1 ? " omgång)" : " omgångar)")));
  const names = el("dl", "names");
  for (const [stage, label] of FUNNEL_STAGES) {
    const who = data.names[stage];
    if (!who.length) continue;
    const dt = el("dt", "", label.charAt(0).toUpperCase() + label.slice(1) + " (" + who.length + ")");
    const dd = el("dd", "", who.map(n => stage === "acknowledged" ? "✓ " + n : n).join(", "));
    dt.dataset.stage = dd.dataset.stage = stage;
    names.append(dt, dd);
  }
  month.append(head, funnelSteps(data.counts), names);
  const rounds = data.rounds.map((r, i) => {
    const div = el("div", "part");
    div.dataset.round = r.id;
    const h = el("h3", "", "Omgång " + (i + 1) + " ");
    h.append(el("span", "muted", r.started + " · " + (r.requested_by || "automatisk") + (r.scope ? " · " + r.scope : "")));
    const people = el("ul", "funnel-people");
    people.replaceChildren(...r.people.map(funnelPerson));
    div.append(h, funnelSteps(r.counts), people);
    return div;
  });
  panel.replaceChildren(month, ...rounds);
}

async function loadFunnel() {
  const asked = ++funnelAsked;
  let data;
  try {
    data = await (await fetch("/simulator/api/funnel")).json();
  } catch (e) {
    return;  // the next update of the feed asks again
  }
  if (asked !== funnelAsked || !data.month) return;  // a newer answer is on its way, or nothing to show
  renderFunnel(data);
}

// Asked again whenever the feed brings something (a round, a delivery, an OK), a burst of it once.
function refreshFunnel() {
  clearTimeout(funnelTimer);
  funnelTimer = setTimeout(loadFunnel, 300);
}

async function start() {
  const data = await (await fetch("/simulator/api/state")).json();
  if (!data.organisation) { $("#org").textContent = "Ingen organisation – kör paminn demo-data"; return; }
  $("#org").textContent = data.organisation.name;
  state.maxText = data.max_text || state.maxText;
  state.phones = data.phones;
  state.phones.forEach(p => p.mobile && state.byMobile.set(p.mobile, p));
  state.teamAddress = data.team_address;
  state.coordinator = data.phones.find(p => p.role === "coordinator" && p.mobile);
  if (state.coordinator) {
    $("#coordinator-phone .who").textContent = state.coordinator.name;
    $("#coordinator-phone .number").textContent = state.coordinator.display;
  }
  wire($("#coordinator-phone"), () => state.coordinator && state.coordinator.mobile);
  wire($("#assistant-phone"), () => state.selected);
  renderPeople();
  loadStatus();
  loadFunnel();
  const events = new EventSource("/simulator/api/events");
  events.onmessage = ev => {
    const { messages, initial } = JSON.parse(ev.data);
    for (const m of messages) {
      const isNew = !state.messages.has(m.id);
      state.messages.set(m.id, m);
      if (!initial && isNew && m.direction === "out" && m.address !== state.selected && state.byMobile.has(m.address)
          && m.address !== (state.coordinator && state.coordinator.mobile)) {
        state.unread.set(m.address, (state.unread.get(m.address) || 0) + 1);
      }
    }
    render();
    refreshFunnel();
  };
}

start();
