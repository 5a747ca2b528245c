// The dashboard: reads /v1/stream (server-sent events) with the token the user gives, through
// fetch, because EventSource cannot send an Authorization header. Everything is drawn here from
// each event; the equity and drawdown curves grow with the events of this tab.
"use strict";

const history = { time: [], equity: [], drawdown: [] };
let reader = null;

function text(id, value) {
  document.getElementById(id).textContent = value;
}

function money(value) {
  return value === null || value === undefined ? "-" : Number(value).toLocaleString("en-US", { maximumFractionDigits: 2 });
}

// the session's clock (ISO, UTC) as the page shows it, and as Plotly reads dates (no offset)
function utc(clock) {
  return `${clock.slice(0, 16).replace("T", " ")} UTC`;
}

function plotTime(clock) {
  return clock.slice(0, 19).replace("T", " ");
}

function pct(value) {
  return value === null || value === undefined ? "-" : `${Number(value).toFixed(2)} %`;
}

function table(id, head, rows) {
  const element = document.getElementById(id);
  element.replaceChildren();
  const header = element.insertRow();
  head.forEach((name) => {
    const cell = document.createElement("th");
    cell.textContent = name;
    header.appendChild(cell);
  });
  rows.forEach((row) => {
    const line = element.insertRow();
    row.forEach((value) => {
      const cell = line.insertCell();
      if (value && typeof value === "object") {
        cell.textContent = value.text;
        cell.className = value.className;
      } else {
        cell.textContent = value;
      }
    });
  });
}

function against(value, limit) {
  return { text: `${pct(value)} of ${pct(limit)}`, className: value > limit ? "over" : "ok" };
}

function draw(snapshot) {
  const progress = snapshot.progress;
  const risk = snapshot.risk;
  const limits = snapshot.limits;
  text("clock", progress.clock ? utc(progress.clock) : "-");
  text("steps", progress.steps);
  text("equity", money(risk.equity));
  text("state", risk.safe_mode ? `${risk.state} (SAFE_MODE)` : risk.state);
  text("orders", `${progress.orders} / ${progress.fills}`);
  text("llm", snapshot.llm ? `$${snapshot.llm.day_usd.toFixed(4)} of $${snapshot.llm.daily_usd}` : "no router");

  const equity = Number(risk.equity);
  const gross = equity > 0 ? (100 * Number(risk.gross_exposure)) / equity : 0;
  table("risk", ["limit", "now"], [
    ["gross exposure", against(gross, limits.max_gross_exposure_pct)],
    ["daily drawdown", against(risk.daily_drawdown_pct || 0, limits.daily_drawdown_pct)],
    ["monthly drawdown", against(risk.monthly_drawdown_pct || 0, limits.monthly_drawdown_pct)],
    ["open positions", risk.open_positions],
    ["orders in flight", risk.orders_in_flight],
  ]);
  table("positions", ["symbol", "quantity", "exposure"],
    snapshot.positions.positions.map((p) => [p.symbol, p.quantity, money(p.exposure)]));
  const newestFirst = (rows) => [...(rows || [])].reverse();
  table("orders-table", ["time (UTC)", "client order id", "symbol", "side", "quantity", "status"],
    newestFirst(progress.recent_orders).map((o) => [utc(o.time), o.client_order_id, o.symbol, o.side, o.quantity, o.status]));
  table("fills-table", ["time (UTC)", "client order id", "symbol", "side", "quantity", "price", "fee"],
    newestFirst(progress.recent_fills).map((f) => [utc(f.time), f.client_order_id, f.symbol, f.side, f.quantity, f.price, f.fee]));
  table("signals", ["symbol", "bar", "direction", "confidence", "reasons", "components"],
    Object.entries(snapshot.signals).map(([symbol, s]) => s ? [
      symbol, s.bar_time, s.direction, Number(s.confidence).toFixed(2),
      s.reasons.join("; "),
      Object.entries(s.components || {}).map(([k, v]) => `${k} ${Number(v).toFixed(2)}`).join(", "),
    ] : [symbol, "-", "-", "-", "-", "-"]));
  table("actors", ["actor", "ok", "latency ms"],
    Object.entries(snapshot.health.actors).map(([name, a]) => [
      name, { text: a.ok ? "ok" : "failing", className: a.ok ? "ok" : "failing" },
      a.latency_ms === undefined ? "-" : Number(a.latency_ms).toFixed(1),
    ]));

  // Plotly.react redraws only what changed by reference: hand it fresh arrays
  if (progress.clock && history.time[history.time.length - 1] !== plotTime(progress.clock)) {
    history.time.push(plotTime(progress.clock));
    history.equity.push(equity);
    history.drawdown.push(-(risk.daily_drawdown_pct || 0));
    Plotly.react("equity-chart", [{ x: [...history.time], y: [...history.equity], name: "equity" }],
      { title: "Equity (UTC)", margin: { t: 30, l: 60, r: 10, b: 40 } });
    Plotly.react("drawdown-chart", [{ x: [...history.time], y: [...history.drawdown], fill: "tozeroy", name: "drawdown", line: { color: "#d62728" } }],
      { title: "Daily drawdown (%)", margin: { t: 30, l: 60, r: 10, b: 40 } });
  }
}

function setStatus(message, className) {
  const status = document.getElementById("status");
  status.textContent = message;
  status.className = `status ${className}`;
}

async function listen(token) {
  const answer = await fetch("/v1/stream", { headers: { Authorization: `Bearer ${token}` } });
  if (!answer.ok) {
    setStatus(`refused: HTTP ${answer.status}`, "error");
    return;
  }
  document.getElementById("login").hidden = true;
  document.getElementById("dashboard").hidden = false;
  setStatus("live", "live");
  reader = answer.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const message = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (message.startsWith("data: ")) draw(JSON.parse(message.slice(6)));
    }
  }
  setStatus("reconnecting", "");
  setTimeout(() => listen(token), 1000);
}

document.getElementById("login").addEventListener("submit", (submitted) => {
  submitted.preventDefault();
  const token = document.getElementById("token").value.trim();
  sessionStorage.setItem("raytrader-token", token);
  listen(token).catch((error) => setStatus(`error: ${error}`, "error"));
});

const saved = sessionStorage.getItem("raytrader-token");
if (saved) listen(saved).catch((error) => setStatus(`error: ${error}`, "error"));
