// socklab watch: the page. Plain JS, no build step, nothing from the internet.
// Fed by server-sent events from scripts/lab watch (lablib/watch/server.py):
//   state  everything (on connect, after a new capture, after a burst)
//   hosts  the lab's containers changed
//   batch  what the newest packets added: arrows, lines, lost requests, changed conversations
"use strict";

const MAX_ARROWS = 300;      // arrows drawn in the ladder (the newest); the rest are counted
const MAX_LINES = 500;       // Follow Stream rows kept
const MAX_CONVS = 300;       // conversations listed (the newest; the server keeps 200)
const UDP_ACTIVE_S = 5;      // a UDP flow draws a line on the map this long after its last datagram
const LATENCY_KEPT = 20000;  // packet-to-screen delays kept for the benchmark (window.watchStats)
const SVG_NS = "http://www.w3.org/2000/svg";

const S = {
  convs: new Map(),    // number -> summary (conversation_json)
  hosts: [],
  selected: null,      // the conversation shown in the ladder
  pinned: false,       // the user picked one; until then the newest is shown
  detail: null,        // {number, arrows, lines, lost:Set, loading}
  total: 0, capture: null, project: "", labError: null, connected: false,
  undrawn: [],         // arrows received and not yet drawn (their delay is measured once drawn)
  names: new Map(),    // "conv:side" -> host name when the conversation was seen (an IP may be reused later)
};
window.watchStats = {latencies: [], batches: 0, arrows: 0};

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const endpoint = (ep) => (ep[0].includes(":") ? `[${ep[0]}]:${ep[1]}` : `${ep[0]}:${ep[1]}`);

// --- the event stream ---------------------------------------------------------------
const events = new EventSource("/events");
events.onopen = () => { S.connected = true; drawStatus(); };
events.onerror = () => { S.connected = false; drawStatus(); };
events.addEventListener("state", (e) => applyState(JSON.parse(e.data)));
events.addEventListener("hosts", (e) => { const d = JSON.parse(e.data); S.hosts = d.hosts; S.labError = d.lab_error; schedule(); });
events.addEventListener("batch", (e) => applyBatch(JSON.parse(e.data)));

function applyState(d) {
  const newCapture = d.capture !== S.capture;
  S.capture = d.capture; S.total = d.total; S.project = d.project; S.hosts = d.hosts; S.labError = d.lab_error;
  S.captureError = d.error;
  S.convs = new Map(d.conversations.map((c) => [c.number, c]));
  if (newCapture) { S.pinned = false; S.selected = null; S.detail = null; S.names = new Map(); }
  choose(true);
  schedule();
}

function applyBatch(b) {
  S.total = b.total;
  for (const c of b.conversations) S.convs.set(c.number, c);
  if (S.convs.size > MAX_CONVS) {  // the server forgets old conversations too (Limits.conversations)
    const keep = new Set([...S.convs.keys()].sort((x, y) => y - x).slice(0, MAX_CONVS));
    for (const n of [...S.convs.keys()]) if (!keep.has(n) && n !== S.selected) S.convs.delete(n);
  }
  const before = S.selected;
  choose(false);
  const d = S.detail;
  if (d && S.selected === before) {
    const last = d.arrows.length ? d.arrows[d.arrows.length - 1].frame : 0;
    for (const a of b.arrows) if (a.conv === d.number && (d.loading || a.frame > last)) d.arrows.push(a);
    for (const l of b.lines) if (l.conv === d.number) d.lines.push(l);
    for (const x of b.lost) if (x.conv === d.number) d.lost.add(x.frame);
    trim(d);
  }
  S.undrawn.push(b.arrows);
  schedule();
}

// Packet-to-screen delay (capture timestamp to the end of the draw that includes it), for the benchmark.
function measure() {
  const st = window.watchStats, now = Date.now() / 1000;
  for (const arrows of S.undrawn) {
    st.batches += 1; st.arrows += arrows.length;
    for (const a of arrows) st.latencies.push(now - a.ts);
  }
  S.undrawn = [];
  if (st.latencies.length > LATENCY_KEPT) st.latencies.splice(0, st.latencies.length - LATENCY_KEPT);
}

function trim(d) {
  if (d.arrows.length > MAX_ARROWS * 2) d.arrows.splice(0, d.arrows.length - MAX_ARROWS);
  if (d.lines.length > MAX_LINES * 2) d.lines.splice(0, d.lines.length - MAX_LINES);
}

// The newest conversation until the user picks one, so the ladder is never empty while the lab talks.
function choose(force) {
  let want = S.selected;
  if (!S.pinned || !S.convs.has(want)) want = S.convs.size ? Math.max(...S.convs.keys()) : null;
  if (want !== S.selected || force) select(want, S.pinned);
}

function select(number, pinned) {
  S.selected = number; S.pinned = pinned;
  $("follow-newest").hidden = !pinned;
  if (number === null) { S.detail = null; schedule(); return; }
  const d = {number, arrows: [], lines: [], lost: new Set(), loading: true};
  S.detail = d;
  $("ladder").dataset.key = ""; $("stream").dataset.key = "";
  fetch(`/api/conversations/${number}`).then((r) => (r.ok ? r.json() : null)).then((full) => {
    if (S.detail !== d) return;
    d.loading = false;
    if (full) {
      const last = full.arrows.length ? full.arrows[full.arrows.length - 1].frame : 0;
      const lastLine = full.lines.length ? full.lines[full.lines.length - 1].frame : 0;
      d.arrows = full.arrows.concat(d.arrows.filter((a) => a.frame > last));
      d.lines = full.lines.concat(d.lines.filter((l) => l.frame > lastLine));
      for (const a of full.arrows) if (a.style === "lost") d.lost.add(a.frame);
      trim(d);
      $("ladder").dataset.key = ""; $("stream").dataset.key = "";  // redrawn whole with what was fetched
    }
    schedule();
  });
  schedule();
}

$("follow-newest").onclick = () => { S.pinned = false; choose(true); };
$("conversations").querySelector("tbody").onclick = (e) => {
  const row = e.target.closest("tr[data-n]");
  if (row) select(Number(row.dataset.n), true);
};

// --- drawing (at most once per animation frame) -----------------------------------------
let pending = false;
function schedule() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    drawStatus(); drawMap(); drawList(); drawLadder(); drawStream();
    measure();
  });
}

function drawStatus() {
  const el = $("status");
  const parts = [`project ${S.project || "?"}`, S.capture ? `capture ${S.capture}` : "waiting for the lab's capture (scripts/lab up)", `${S.total} packets`];
  if (!S.connected) parts.push("disconnected from scripts/lab watch: retrying");
  if (S.labError) parts.push(S.labError);
  if (S.captureError) parts.push(S.captureError);
  el.textContent = parts.join(" · ");
  el.classList.toggle("bad", !S.connected || Boolean(S.labError || S.captureError));
}

function hostByIp() {
  const m = new Map();
  for (const h of S.hosts) if (h.ip) m.set(h.ip, h);
  return m;
}

// A conversation's hosts are named as they were while it ran: a `run` client's address goes to the next one.
function convHost(c, side) {
  const key = `${c.number}:${side}`;
  if (!S.names.has(key)) {
    const h = hostByIp().get(c[side][0]);
    if (!h) return c[side][0];
    S.names.set(key, h.name);
  }
  return S.names.get(key);
}

function activeConvs() {
  const now = Date.now() / 1000;
  return [...S.convs.values()].filter((c) => (c.proto === "tcp" ? !c.closed : now - c.last < UDP_ACTIVE_S));
}

function drawMap() {
  const byIp = hostByIp();
  const active = activeConvs();
  const nodes = S.hosts.filter((h) => h.kind !== "capture" && h.ip).map((h) => ({...h}));
  for (const c of active) for (const ep of [c.client, c.server]) {
    if (!byIp.has(ep[0]) && !nodes.some((n) => n.ip === ep[0])) nodes.push({name: ep[0], ip: ep[0], kind: "ghost", protocol: "not a lab container", state: "seen"});
  }
  const rows = [nodes.filter((n) => n.kind === "server"), nodes.filter((n) => n.kind !== "server")];
  const W = 640, boxW = 122, boxH = 62, ys = [24, 236];
  const at = new Map();
  rows.forEach((row, r) => row.forEach((n, i) => {
    const x = Math.round(((i + 0.5) * W) / Math.max(row.length, 1)) - boxW / 2;
    at.set(n.ip, {x, y: ys[r], n});
  }));
  const out = [];
  for (const c of active) {
    const a = at.get(c.client[0]), b = at.get(c.server[0]);
    if (!a || !b) continue;
    const x1 = a.x + boxW / 2, y1 = a.y + (a.y > b.y ? 0 : boxH), x2 = b.x + boxW / 2, y2 = b.y + (b.y > a.y ? 0 : boxH);
    const sel = c.number === S.selected ? " selected" : "";
    out.push(`<line class="edge ${c.proto}${sel}" x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" data-conv="${c.number}"/>`);
    out.push(`<text class="edge-label" x="${(x1 + x2) / 2 + 4}" y="${(y1 + y2) / 2}">${esc(c.service || c.proto)}</text>`);
  }
  const capture = S.hosts.find((h) => h.kind === "capture");
  if (capture) out.push(`<text x="8" y="322">capture: tcpdump on the lab bridge (${esc(capture.state)})</text>`);
  for (const {x, y, n} of at.values()) {
    const down = n.state !== "running" && n.kind !== "ghost" ? " down" : "";
    const role = n.kind === "ghost" ? n.protocol : `${n.protocol} ${n.kind}`;
    out.push(`<g class="node ${n.kind}${down}" data-ip="${esc(n.ip)}"><title>${esc(n.status || n.state)}</title>` +
      `<rect x="${x}" y="${y}" width="${boxW}" height="${boxH}"/>` +
      `<text class="name" x="${x + 6}" y="${y + 15}">${esc(n.name.slice(0, 17))}</text>` +
      `<text x="${x + 6}" y="${y + 29}">${esc(n.ip)}</text>` +
      `<text x="${x + 6}" y="${y + 43}">${esc(role)}</text>` +
      `<text class="state ${esc(n.state)}" x="${x + 6}" y="${y + 56}">${esc(n.state)}</text></g>`);
  }
  if (!nodes.length) out.push(`<text x="20" y="160">no hosts yet: start the lab with scripts/lab up</text>`);
  $("map").innerHTML = out.join("");
}

function drawList() {
  const rows = [...S.convs.values()].sort((a, b) => b.number - a.number).slice(0, 200).map((c) => {
    const state = c.proto === "tcp" ? (c.closed ? "closed" : "open") : `${Math.round(Date.now() / 1000 - c.last)} s ago`;
    const sel = c.number === S.selected ? ' class="selected"' : "";
    return `<tr data-n="${c.number}"${sel}><td>${c.number}</td><td>${c.proto.toUpperCase()} ${esc(c.service || "")}</td>` +
      `<td>${esc(convHost(c, "client"))} → ${esc(convHost(c, "server"))}</td><td>${c.packets}</td><td>${state}</td>` +
      `<td class="latest" title="${esc(c.notes.join("\n"))}">${esc(c.notes[c.notes.length - 1] || "")}</td></tr>`;
  });
  $("conversations").querySelector("tbody").innerHTML = rows.join("");
}

const LADDER = {W: 760, xc: 150, xs: 610, top: 70, step: 58};
const COLORS = {handshake: "#0969da", data: "#1a7f37", udp: "#8250df", lost: "#cf222e", teardown: "#cf222e", ack: "#afb8c1", retrans: "#bc4c00"};
const MARKERS = Object.entries(COLORS).map(([k, col]) => `<marker id="h-${k}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${col}"/></marker>`).join("");

function arrowSvg(d, a, i) {
  const {xc, xs, top, step} = LADDER;
  const y = top + i * step, style = d.lost.has(a.frame) ? "lost" : a.style;
  const [x1, x2] = a.from_client ? [xc, xs] : [xs, xc];
  const label = (style === "lost" && a.style !== "lost" ? "lost? no reply " : "") + a.label;
  const note = a.notes.length ? `<text class="note" x="${(xc + xs) / 2}" y="${y + 38}" text-anchor="middle">${esc(a.notes.join("; "))}</text>` : "";
  return `<g class="arrow" data-frame="${a.frame}" data-style="${style}">` +
    `<text class="time" x="4" y="${y + 12}">+${a.t.toFixed(6)}</text>` +
    `<line class="a-${style}" x1="${x1}" y1="${y + 2}" x2="${x2}" y2="${y + 14}" stroke-width="1.6" marker-end="url(#h-${style})"/>` +
    `<text class="label t-${style}" x="${(xc + xs) / 2}" y="${y - 3}" text-anchor="middle">${esc(label)}</text>` +
    `<text class="detail" x="${(xc + xs) / 2}" y="${y + 27}" text-anchor="middle">${esc(a.detail)}</text>${note}</g>`;
}

// New packets are appended to the drawing; it is redrawn whole only when the conversation, its
// first kept arrow, a lost mark or a host name changes (a busy conversation costs no full redraw per batch).
function drawLadder() {
  const d = S.detail, c = d && S.convs.get(d.number);
  const svg = $("ladder");
  if (!c) { svg.innerHTML = ""; svg.dataset.key = ""; $("download").hidden = true; return; }
  $("ladder-title").textContent = `Ladder: #${c.number} ${c.title}${S.pinned ? "" : " (newest)"}`;
  const dl = $("download");
  dl.hidden = false; dl.href = `/api/conversations/${c.number}/pcap`;
  const hidden = c.packets - d.arrows.length;
  $("ladder-note").textContent = hidden > 0 ? `${hidden} earlier packets not drawn` : "";
  const {W, xc, xs, top, step} = LADDER;
  const h = top + step * d.arrows.length + 20;
  const names = [convHost(c, "client"), convHost(c, "server")];
  const key = [d.number, d.lost.size, d.arrows.length ? d.arrows[0].frame : 0, ...names].join("|");
  const drawn = Number(svg.dataset.drawn || 0);
  if (svg.dataset.key === key && drawn <= d.arrows.length) {
    if (drawn === d.arrows.length) return;
    svg.insertAdjacentHTML("beforeend", d.arrows.slice(drawn).map((a, i) => arrowSvg(d, a, drawn + i)).join(""));
    for (const life of svg.querySelectorAll(".life")) life.setAttribute("y2", h);
  } else {
    const out = [`<defs>${MARKERS}</defs>`];
    [[xc, "client", c.client], [xs, "server", c.server]].forEach(([x, role, ep], i) => {
      out.push(`<text class="host" x="${x}" y="18" text-anchor="middle">${esc(names[i])}</text>`,
        `<text class="role" x="${x}" y="32" text-anchor="middle">${role} ${esc(endpoint(ep))}</text>`,
        `<line class="life" x1="${x}" y1="40" x2="${x}" y2="${h}"/>`);
    });
    out.push(...d.arrows.map((a, i) => arrowSvg(d, a, i)));
    svg.innerHTML = out.join("");
    svg.dataset.key = key;
  }
  svg.dataset.drawn = d.arrows.length;
  svg.setAttribute("height", h);
  svg.setAttribute("viewBox", `0 0 ${W} ${h}`);
  const wrap = svg.parentElement;
  if (!S.pinned) wrap.scrollTop = wrap.scrollHeight;  // follow the newest packet
}

function lineHtml(l) {
  const dir = l.from_client ? "c" : "s", arrow = l.from_client ? "C → S" : "S → C";
  const note = l.note && l.kind !== "line" ? `  <span class="m">[${esc(l.note)}]</span>` : "";
  const cut = l.complete ? "" : "  [no LF yet]";
  return `<span class="${dir}">+${l.t.toFixed(3)}  ${arrow}  ${esc(l.text)}${cut}</span>${note}\n`;
}

function drawStream() {
  const d = S.detail;
  const pre = $("stream");
  if (!d) { pre.textContent = ""; pre.dataset.key = ""; return; }
  const key = `${d.number}|${d.lines.length ? d.lines[0].frame : 0}`;
  const drawn = Number(pre.dataset.drawn || 0);
  if (pre.dataset.key === key && drawn <= d.lines.length) {
    if (drawn === d.lines.length) return;
    pre.insertAdjacentHTML("beforeend", d.lines.slice(drawn).map(lineHtml).join(""));
  } else {
    pre.innerHTML = d.lines.map(lineHtml).join("");
    pre.dataset.key = key;
  }
  pre.dataset.drawn = d.lines.length;
  if (!S.pinned) pre.scrollTop = pre.scrollHeight;
}

setInterval(schedule, 1000);  // UDP flows go quiet, "s ago" moves on
