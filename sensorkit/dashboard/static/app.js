/* sensorkit live dashboard.
 *
 * One WebSocket; the server sends a snapshot, then (at a fixed rate) the latest state of the
 * runners that changed. Everything here is bounded so a tablet can stay open for hours: history
 * per runner (cfg.history_s of 1 s points), the cue feed (MAX_FEED list items), one tile per
 * runner. Text from the server only ever goes into textContent, never into HTML.
 */
"use strict";
(() => {
  const SERIES = ["cadence_spm", "contact_time_ms", "impact_g", "trunk_lean_deg", "fatigue_score"];
  const LABELS = {
    cadence_spm: "cadence (spm)", contact_time_ms: "contact time (ms)", impact_g: "impact (g)",
    trunk_lean_deg: "trunk lean (deg)", fatigue_score: "fatigue score",
  };
  const DETAIL_FIELDS = [
    ["cadence_spm", "cadence", "spm", 0], ["contact_time_ms", "contact", "ms", 0],
    ["flight_time_ms", "flight", "ms", 0], ["duty_factor", "duty factor", "", 2],
    ["impact_g", "impact", "g", 1], ["loading_rate_gps", "loading rate", "g/s", 0],
    ["vertical_oscillation_cm", "vertical osc.", "cm", 1], ["live_lean_deg", "trunk lean (live)", "deg", 1],
    ["trunk_lean_deg", "trunk lean (avg)", "deg", 1], ["lateral_lean_deg", "lateral lean", "deg", 1],
    ["balance_left_pct", "balance left", "%", 1], ["speed_mps", "speed", "m/s", 2],
    ["distance_m", "distance", "m", 0], ["steps", "steps in window", "", 0],
  ];
  const MAX_FEED = 50;
  const MAX_DETAIL_CUES = 20;
  const SEARCH_BACK = 64;
  const ALERT_WINDOW_S = 60;
  const CHART_PERIOD_MS = 500;
  const cfg = { history_s: 600, stale_after_s: 10, watch_score: 30, fading_score: 50 };
  const runners = new Map();
  let feed = [];
  let lastCueId = 0;
  let newestX = 0;
  let messages = 0;
  let chartsDirty = true;
  let teamChart = null;
  let teamKey = "";
  let detailCharts = [];
  let detailName = null;
  let system = {};

  const $ = (id) => document.getElementById(id);
  const fmt = (v, digits) => (v === null || v === undefined || Number.isNaN(v) ? "–" : Number(v).toFixed(digits));
  const colour = (i) => `hsl(${(i * 137.5) % 360}, 70%, 62%)`;
  const hhmmss = (unix) => (unix ? new Date(unix * 1000).toLocaleTimeString([], { hour12: false }) : "");

  function h(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c);
    return e;
  }

  function setText(node, text) {
    if (node && node.textContent !== text) node.textContent = text;
  }

  /* History of one runner: time-ordered 1 s points, at most cap (+ a small slack) kept. */
  class History {
    constructor(cap) {
      this.cap = cap;
      this.x = [];
      this.y = SERIES.map(() => []);
    }
    put(row) {
      const x = row[0];
      const n = this.x.length;
      let at = n;
      for (let i = n - 1, k = 0; i >= 0 && k < SEARCH_BACK; i--, k++) {
        if (this.x[i] === x) {
          for (let s = 0; s < SERIES.length; s++) if (row[s + 1] !== null) this.y[s][i] = row[s + 1];
          return;
        }
        if (this.x[i] < x) break;
        at = i;
      }
      if (at < n && n - at >= SEARCH_BACK) return; // far older than what we show: ignore
      this.x.splice(at, 0, x);
      for (let s = 0; s < SERIES.length; s++) this.y[s].splice(at, 0, row[s + 1]);
      if (this.x.length > this.cap + 64) {
        const drop = this.x.length - this.cap;
        this.x.splice(0, drop);
        for (const ys of this.y) ys.splice(0, drop);
      }
    }
    lastX() {
      return this.x.length ? this.x[this.x.length - 1] : 0;
    }
    since(x0) {
      let i = this.x.length;
      while (i > 0 && this.x[i - 1] >= x0) i--;
      return i;
    }
  }

  /* ---------------------------------------------------------------- runners and tiles */

  function runner(name) {
    let r = runners.get(name);
    if (r) return r;
    const node = $("tile-template").content.firstElementChild.cloneNode(true);
    node.dataset.runner = name;
    const link = node.querySelector(".name");
    link.textContent = name;
    link.href = `#/runner/${encodeURIComponent(name)}`;
    r = {
      name, index: runners.size, el: node, tile: {}, sensors: [], queues: [], gateway: "", online: true,
      stopped: false, cues: 0, unix_s: null, seenAt: Date.now(), history: new History(cfg.history_s),
      sparkDirty: true, nums: {},
    };
    for (const n of node.querySelectorAll(".num")) r.nums[n.dataset.key] = n;
    runners.set(name, r);
    const tiles = $("tiles");
    const after = [...tiles.children].find((t) => t.dataset.runner.localeCompare(name, undefined, { numeric: true }) > 0);
    tiles.insertBefore(node, after || null);
    $("empty").hidden = true;
    document.body.dataset.dense = String(runners.size > 12);
    return r;
  }

  function fatigueLevel(r) {
    const f = r.tile.fatigue;
    return f ? f.level : "warmup";
  }

  function fatigueText(r) {
    const f = r.tile.fatigue;
    if (!f) return "no fatigue data";
    if (!f.baseline_ready) return "baseline…";
    return `fatigue ${fmt(f.score, 0)}`;
  }

  function strikeText(t) {
    if (t.rearfoot_pct !== null && t.rearfoot_pct !== undefined) {
      return `${fmt(t.rearfoot_pct, 0)} / ${fmt(t.midfoot_pct, 0)} / ${fmt(t.forefoot_pct, 0)}`;
    }
    return t.strike && t.strike !== "unknown" ? t.strike : "–";
  }

  function healthParts(r) {
    const s = r.sensors;
    const up = s.filter((x) => x.connected).length;
    const batteries = s.map((x) => x.battery_pct).filter((b) => b !== null && b !== undefined);
    const sum = (k) => s.reduce((a, x) => a + (x[k] || 0), 0);
    const drops = sum("queue_drops") + r.queues.reduce((a, q) => a + (q.dropped || 0), 0);
    const battery = batteries.length ? Math.min(...batteries) : null;
    return [
      [`sensors ${up}/${s.length}`, up < s.length ? "bad" : ""],
      [`battery ${fmt(battery, 0)}%`, battery !== null && battery < 20 ? "warn" : ""],
      [`lost ${sum("lost_samples")}`, sum("lost_samples") ? "warn" : ""],
      [`reconnects ${sum("reconnects")}`, sum("reconnects") ? "warn" : ""],
      [`drops ${drops}`, drops ? "warn" : ""],
    ];
  }

  function renderTile(r) {
    const t = r.tile;
    setText(r.nums.cadence, fmt(t.cadence_spm, 0));
    setText(r.nums.contact, fmt(t.contact_time_ms, 0));
    setText(r.nums.impact, fmt(t.impact_g, 1));
    setText(r.nums.lean, fmt(t.trunk_lean_deg ?? t.live_lean_deg, 1));
    setText(r.nums.strike, strikeText(t));
    const level = fatigueLevel(r);
    if (r.el.dataset.fatigue !== level) r.el.dataset.fatigue = level;
    setText(r.el.querySelector(".fatigue-badge"), fatigueText(r));
    const where = r.gateway ? `@${r.gateway}` : "";
    const state = r.stopped ? "stopped" : (r.online ? "" : "offline");
    setText(r.el.querySelector(".gateway"), [where, state].filter(Boolean).join(" · "));
    const cue = t.last_cue;
    const alert = !!cue && r.unix_s !== null && r.unix_s - cue.unix_s <= ALERT_WINDOW_S;
    r.el.dataset.alert = String(alert);
    setText(r.el.querySelector(".last-cue"), cue ? `${alert ? "⚠ " : ""}${cue.text}` : "");
    const footer = r.el.querySelector(".health");
    footer.replaceChildren(...healthParts(r).flatMap(([text, cls], i) =>
      [...(i ? [" · "] : []), h("span", { class: cls, text })]));
  }

  function applyRunner(j, isSnapshot) {
    const r = runner(j.name);
    r.tile = j.tile || {};
    r.gateway = j.gateway || "";
    r.online = j.online !== false;
    r.stopped = !!j.stopped;
    r.cues = j.cues || 0;
    r.unix_s = j.unix_s;
    r.seenAt = Date.now();
    if (j.sensors) r.sensors = j.sensors;
    if (j.queues) r.queues = j.queues;
    if (j.history) {
      for (const row of j.history) r.history.put(row);
      r.sparkDirty = true;
      chartsDirty = true;
    }
    if (r.unix_s && r.unix_s > newestX) newestX = r.unix_s;
    renderTile(r);
    if (detailName === r.name) renderDetailValues(r);
    if (isSnapshot) r.el.dataset.stale = "false";
  }

  /* ---------------------------------------------------------------- cue feed */

  function cueItem(c, fresh) {
    return h("li", { class: fresh ? "fresh" : "", "data-kind": c.kind, "data-runner": c.runner },
      h("span", { class: "t", text: hhmmss(c.unix_s) }),
      h("span", { class: "who", text: c.runner }),
      h("span", { class: "text", text: c.text }));
  }

  function addCues(cues) {
    const list = $("cues");
    for (const c of cues) {
      if (c.id <= lastCueId) continue;
      lastCueId = c.id;
      feed.push(c);
      list.prepend(cueItem(c, true));
    }
    if (feed.length > MAX_FEED) feed = feed.slice(-MAX_FEED);
    while (list.children.length > MAX_FEED) list.lastElementChild.remove();
    if (detailName) renderDetailCues();
  }

  /* ---------------------------------------------------------------- messages */

  function handle(msg) {
    messages++;
    document.body.dataset.messages = String(messages);
    if (msg.type === "snapshot") {
      Object.assign(cfg, msg.config || {});
      for (const r of runners.values()) r.el.remove();
      runners.clear();
      document.body.dataset.dense = "false";
      feed = [];
      lastCueId = 0;
      $("cues").replaceChildren();
      teamKey = "";
      setText($("title"), msg.title || "");
      setText($("mode"), msg.mode === "team" ? "team (MQTT)" : "");
      for (const j of msg.runners) applyRunner(j, true);
      addCues(msg.cues || []);
      $("empty").hidden = runners.size > 0;
    } else if (msg.type === "update") {
      for (const j of msg.runners) applyRunner(j, false);
      addCues(msg.cues || []);
    } else {
      return;
    }
    if (msg.system) {
      system = msg.system;
      renderSystem();
    }
    document.body.dataset.version = String(msg.version);
    setText($("clock"), hhmmss(newestX));
    if (detailName) renderDetail();
  }

  function renderSystem() {
    const parts = [];
    const q = system.queues || [];
    if (q.length) {
      const fill = Math.max(...q.map((c) => (c.maxsize ? c.fill / c.maxsize : 0)));
      const dropped = q.reduce((a, c) => a + (c.dropped || 0), 0);
      parts.push(`queues: max fill ${fmt(100 * fill, 0)}%, dropped ${dropped}`);
    }
    const errors = Object.values(system.errors || {}).reduce((a, b) => a + b, 0);
    if (system.errors) parts.push(`errors survived ${errors}`);
    if (system.blocks_joined) parts.push(`backlog taken in larger blocks: ${system.blocks_joined} joined`);
    if (system.dashboard) parts.push(`browsers ${system.dashboard.clients}`);
    const m = system.mqtt;
    if (m) {
      const rejected = Object.values(m.rejected || {}).reduce((a, b) => a + b, 0);
      parts.push(`MQTT ${m.broker}: ${m.connected ? "connected" : "not connected"}, ${m.messages} messages, ` +
        `${rejected} rejected`);
      const gws = Object.entries(m.gateways || {});
      const gwText = ([g, s]) => {
        const p = s.publisher;
        const dropped = p ? p.messages_dropped + p.cues_dropped_full + p.cues_dropped_stale : 0;
        return `${g} (${s.online ? "online" : "offline"}${dropped ? `, ${dropped} dropped` : ""})`;
      };
      if (gws.length) parts.push(`gateways: ${gws.map(gwText).join(", ")}`);
    }
    if (system.ignored_runners) parts.push(`runners not shown (limit): ${system.ignored_runners}`);
    setText($("system"), parts.join("  ·  "));
  }

  /* ---------------------------------------------------------------- charts */

  function chartOpts(title, series, width, height, syncKey, legend = true) {
    const axis = { stroke: "#8b98a5", grid: { stroke: "#253040", width: 1 }, ticks: { stroke: "#253040" } };
    const clock = (u, splits) => splits.map((x) => hhmmss(x));
    return {
      title, width, height, scales: { x: { time: true } },
      series: [{ value: (u, x) => hhmmss(x) }, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 1.6,
        spanGaps: true, points: { show: false } }))],
      axes: [{ ...axis, values: clock, space: 70 }, { ...axis, size: 50 }],
      cursor: syncKey ? { sync: { key: syncKey } } : {},
      legend: { show: legend, live: false },
    };
  }

  function teamData(metric, windowS) {
    const s = SERIES.indexOf(metric);
    const names = [...runners.keys()].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
    const x1 = Math.floor(newestX);
    const oldest = Math.min(...names.map((name) => runners.get(name).history.x[0] ?? x1));
    const x0 = Math.max(x1 - windowS, Math.min(oldest, x1 - 60));
    const n = x1 - x0 + 1;
    const xs = Array.from({ length: n }, (_, i) => x0 + i);
    const ys = names.map((name) => {
      const r = runners.get(name);
      const out = new Array(n).fill(null);
      const hx = r.history.x;
      const hy = r.history.y[s];
      for (let i = hx.length - 1; i >= 0 && hx[i] >= x0; i--) {
        const k = hx[i] - x0;
        if (k < n && hy[i] !== null) out[k] = hy[i];
      }
      return out;
    });
    return { names, data: [xs, ...ys] };
  }

  function drawTeamChart() {
    const target = $("team-chart");
    if (!window.uPlot || !target.clientWidth) return;
    const metric = $("metric").value;
    const windowS = Number($("window").value);
    const { names, data } = teamData(metric, windowS);
    const key = `${metric}|${names.join("|")}`;
    if (key !== teamKey || !teamChart) {
      if (teamChart) teamChart.destroy();
      const series = names.map((n) => ({ label: n, stroke: colour(runners.get(n).index) }));
      teamChart = new uPlot(chartOpts(LABELS[metric], series, target.clientWidth, 260, null), data, target);
      teamKey = key;
    } else {
      teamChart.setData(data);
    }
  }

  function drawSpark(r) {
    const canvas = r.el.querySelector(".spark");
    const w = canvas.clientWidth || 300;
    const hgt = canvas.clientHeight || 36;
    const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(w * dpr)) { canvas.width = Math.round(w * dpr); canvas.height = Math.round(hgt * dpr); }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, hgt);
    const hist = r.history;
    const x1 = hist.lastX();
    const x0 = x1 - 300;
    const i0 = hist.since(x0);
    const fatigue = hist.y[4].slice(i0);
    const useFatigue = fatigue.some((v) => v !== null);
    const ys = useFatigue ? fatigue : hist.y[0].slice(i0);
    const vals = ys.filter((v) => v !== null);
    if (!vals.length) return;
    let lo = useFatigue ? 0 : Math.min(...vals) - 2;
    let hi = useFatigue ? 100 : Math.max(...vals) + 2;
    if (hi - lo < 1) { lo -= 1; hi += 1; }
    const px = (x) => ((x - x0) / 300) * w;
    const py = (v) => hgt - 2 - ((v - lo) / (hi - lo)) * (hgt - 4);
    if (useFatigue) {
      ctx.strokeStyle = "#5a4210";
      ctx.beginPath(); ctx.moveTo(0, py(cfg.watch_score)); ctx.lineTo(w, py(cfg.watch_score)); ctx.stroke();
      ctx.strokeStyle = "#6e2a2a";
      ctx.beginPath(); ctx.moveTo(0, py(cfg.fading_score)); ctx.lineTo(w, py(cfg.fading_score)); ctx.stroke();
    }
    ctx.strokeStyle = useFatigue ? "#f0883e" : "#58a6ff";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    let pen = false;
    for (let i = 0; i < ys.length; i++) {
      const v = ys[i];
      if (v === null) continue;
      const X = px(hist.x[i0 + i]);
      const Y = py(v);
      if (pen) ctx.lineTo(X, Y); else { ctx.moveTo(X, Y); pen = true; }
    }
    ctx.stroke();
  }

  function drawCharts() {
    if (document.hidden || !chartsDirty) return;
    chartsDirty = false;
    if (detailName) {
      drawDetailCharts();
      return;
    }
    for (const r of runners.values()) {
      if (r.sparkDirty) { drawSpark(r); r.sparkDirty = false; }
    }
    drawTeamChart();
  }

  /* ---------------------------------------------------------------- detail view */

  function renderDetailValues(r) {
    const box = $("detail-values");
    const t = r.tile;
    box.replaceChildren(...DETAIL_FIELDS.map(([k, label, unit, d]) =>
      h("div", { class: "v" }, h("span", { class: "num", text: fmt(t[k], d) }),
        h("span", { class: "unit", text: unit }), h("span", { class: "label", text: label }))),
      h("div", { class: "v" }, h("span", { class: "num small", text: strikeText(t) }),
        h("span", { class: "label", text: "strike R/M/F %" })),
      h("div", { class: "v" }, h("span", { class: "num small", text: t.strike || "–" }),
        h("span", { class: "label", text: "last strike" })));
    const badge = $("detail-fatigue");
    badge.dataset.fatigue = fatigueLevel(r);
    setText(badge, fatigueText(r));
    setText($("detail-gateway"), r.gateway ? `gateway ${r.gateway}` : (r.stopped ? "stopped" : ""));
    const comps = (t.fatigue && t.fatigue.components) || {};
    $("components").replaceChildren(...Object.entries(comps).map(([k, v]) => {
      const bar = h("span");
      bar.style.width = `${Math.max(0, Math.min(100, v || 0))}%`;
      return h("li", {}, h("span", { text: k }), h("div", { class: "bar" }, bar), h("span", { text: fmt(v, 0) }));
    }));
  }

  function renderDetailCues() {
    const mine = feed.filter((c) => c.runner === detailName).slice(-MAX_DETAIL_CUES).reverse();
    $("detail-cues").replaceChildren(...mine.map((c) => cueItem(c, false)));
  }

  function renderDetail() {
    const r = runners.get(detailName);
    if (!r) return;
    renderDetailValues(r);
    const cell = (v, cls) => h("td", cls ? { class: cls, text: v } : { text: v });
    $("sensors").tBodies[0].replaceChildren(...r.sensors.map((s) => h("tr", {},
      cell(`${s.sensor_id} (${s.placement})`), cell(s.connected ? "up" : "down", s.connected ? "" : "down"),
      cell(fmt(s.battery_pct, 0)), cell(String(s.packets ?? "–")), cell(String(s.lost_samples ?? "–")),
      cell(String(s.gaps ?? "–")), cell(String(s.reconnects ?? "–")), cell(String(s.decode_errors ?? "–")),
      cell(String(s.queue_drops ?? "–")), cell(fmt(s.clock_residual_ms, 1)))));
    $("queues").tBodies[0].replaceChildren(...r.queues.map((q) => h("tr", {},
      cell(q.name), cell(String(q.fill)), cell(String(q.max_fill)), cell(String(q.maxsize)), cell(String(q.dropped)))));
  }

  function drawDetailCharts() {
    const r = runners.get(detailName);
    const box = $("detail-charts");
    if (!r || !window.uPlot || !box.clientWidth) return;
    const i0 = r.history.since(r.history.lastX() - cfg.history_s);
    const xs = r.history.x.slice(i0);
    if (!detailCharts.length) {
      box.replaceChildren();
      detailCharts = SERIES.map((s, k) => {
        const div = h("div");
        box.append(div);
        return new uPlot(chartOpts(LABELS[s], [{ label: r.name, stroke: colour(k + 3) }], box.clientWidth, 140, "detail", false),
          [xs, r.history.y[k].slice(i0)], div);
      });
    } else {
      detailCharts.forEach((c, k) => c.setData([xs, r.history.y[k].slice(i0)]));
    }
  }

  function route() {
    const m = location.hash.match(/^#\/runner\/(.+)$/);
    const name = m ? decodeURIComponent(m[1]) : null;
    for (const c of detailCharts) c.destroy();
    detailCharts = [];
    detailName = name;
    $("overview").hidden = !!name;
    $("detail").hidden = !name;
    document.body.dataset.view = name ? "detail" : "overview";
    if (name) {
      setText($("detail-name"), name);
      renderDetail();
      renderDetailCues();
    } else if (teamChart) {
      teamChart.destroy();
      teamChart = null;
      for (const r of runners.values()) r.sparkDirty = true;
    }
    chartsDirty = true;
    drawCharts();
  }

  /* ---------------------------------------------------------------- connection */

  let backoffMs = 500;
  function setConnected(up) {
    document.body.dataset.connected = String(up);
    setText($("conn"), up ? "live" : "reconnecting…");
  }

  async function checkSignedIn() {
    try {
      const resp = await fetch("/api/snapshot", { method: "HEAD", cache: "no-store" });
      if (resp.status === 401) location.reload(); // shows the sign-in page
    } catch (_) { /* server away: keep retrying */ }
  }

  function connect() {
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
    let opened = false;
    ws.onopen = () => { opened = true; backoffMs = 500; setConnected(true); };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (_) { return; }
      handle(msg);
    };
    ws.onclose = () => {
      setConnected(false);
      if (!opened) checkSignedIn();
      setTimeout(connect, backoffMs);
      backoffMs = Math.min(backoffMs * 2, 10000);
    };
  }

  function markStale() {
    const now = Date.now();
    for (const r of runners.values()) {
      const stale = !r.online || r.stopped || now - r.seenAt > cfg.stale_after_s * 1000;
      if (r.el.dataset.stale !== String(stale)) r.el.dataset.stale = String(stale);
    }
  }

  window.addEventListener("hashchange", route);
  window.addEventListener("resize", () => {
    if (teamChart) teamChart.setSize({ width: $("team-chart").clientWidth, height: 260 });
    for (const c of detailCharts) c.setSize({ width: $("detail-charts").clientWidth, height: 140 });
    for (const r of runners.values()) r.sparkDirty = true;
    chartsDirty = true;
  });
  for (const id of ["metric", "window"]) $(id).addEventListener("change", () => { teamKey = ""; chartsDirty = true; drawCharts(); });
  setInterval(drawCharts, CHART_PERIOD_MS);
  setInterval(markStale, 1000);
  route();
  connect();
})();
