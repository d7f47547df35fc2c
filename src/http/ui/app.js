// almanac's dashboard: read-only pages over the same API everyone uses (its errors included),
// their state in the URL's hash so a link shows the same picture. Charts are uPlot (vendored);
// series come as columnar JSON; a missing value is null and drawn as a gap.
"use strict";

const page = document.getElementById("page");
const PALETTE = ["#0b57d0", "#b3261e", "#146c2e", "#7a4f01", "#6a1b9a", "#00695c", "#ad1457", "#37474f"];

function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// Where the operator configured API keys, the data routes need one: asked once, kept for the
// browser tab only (sessionStorage), sent as a bearer token.
let asking = null;

async function api(path, retried) {
  const headers = { accept: "application/json" };
  const key = sessionStorage.getItem("almanac-api-key");
  if (key) headers.authorization = `Bearer ${key}`;
  const response = await fetch(path, { headers });
  if (response.status === 401 && !retried) {
    // Requests that fail together ask once.
    asking ??= Promise.resolve().then(() => {
      const asked = window.prompt("This almanac needs an API key for its data (ask its operator):");
      if (asked) sessionStorage.setItem("almanac-api-key", asked.trim());
      asking = null;
      return Boolean(asked);
    });
    if (await asking) return api(path, true);
  }
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const body = await response.json();
      detail = `${body.code}: ${body.detail}`;
    } catch (_) { /* not JSON */ }
    throw new Error(`${response.status} ${detail}`);
  }
  return response.json();
}

function day(offset) {
  return new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const a = Math.abs(seconds);
  const text = a < 3600 ? `${Math.round(a / 60)} min` : a < 172_800 ? `${(a / 3600).toFixed(1)} h` : `${(a / 86_400).toFixed(1)} d`;
  return seconds < 0 ? `${text} ahead` : `${text} ago`;
}

function table(headers, rows) {
  return `<div class="scroll"><table><thead><tr>${headers.map((h) => `<th scope="col">${esc(h)}</th>`).join("")}</tr></thead><tbody>${
    rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("")
  }</tbody></table></div>`;
}

function failed(error) {
  page.innerHTML = `<p class="error" role="alert">${esc(error.message)}</p>`;
}

/// A line chart in `el`: x as epoch seconds, each series `{label, values, color, dash, fill}`.
function chart(el, x, series, title, unit) {
  const width = Math.max(300, el.clientWidth || page.clientWidth - 20);
  const opts = {
    title,
    width,
    height: 320,
    scales: { x: { time: true } },
    axes: [{}, { label: unit || "" }],
    series: [{}].concat(series.map((s, i) => ({
      label: s.label,
      stroke: s.color || PALETTE[i % PALETTE.length],
      width: s.width || 1.5,
      dash: s.dash,
      fill: s.fill,
      spanGaps: false,
      points: { show: s.points || false, size: 7, fill: s.color },
    }))),
  };
  el.innerHTML = "";
  el.setAttribute("role", "img");
  el.setAttribute("aria-label", `${title}: ${series.map((s) => s.label).join(", ")}`);
  return new uPlot(opts, [x].concat(series.map((s) => s.values)), el);
}

const seconds = (times) => times.map((t) => Date.parse(t.length === 10 ? `${t}T00:00:00Z` : t) / 1000);

/// A strip under a chart: each stretch of one source as a coloured span, missing values blank.
function sourceStrip(sources) {
  const names = [...new Set(sources.filter((s) => s))];
  const colour = (s) => (s ? PALETTE[(names.indexOf(s) + 3) % PALETTE.length] : "transparent");
  const spans = [];
  for (let i = 0; i < sources.length;) {
    let j = i;
    while (j < sources.length && sources[j] === sources[i]) j++;
    spans.push(`<span style="flex:${j - i};background:${colour(sources[i])}" title="${esc(sources[i] || "missing")}: ${j - i} steps"></span>`);
    i = j;
  }
  const legend = names.map((n) => `<span><i class="swatch" style="background:${colour(n)}"></i>${esc(n)}</span>`).join("");
  return `<div class="strip" aria-hidden="true">${spans.join("")}</div><div class="legend">sources: ${legend || "none"}</div>`;
}

// ---- Overview ------------------------------------------------------------------------------

async function overview() {
  const [status, sources, runs] = await Promise.all([api("/api/v1/status"), api("/api/v1/sources"), api("/api/v1/runs?limit=15")]);
  const fresh = status.data_freshness.map((f) => [
    `<a href="#/explorer?location=${encodeURIComponent(f.location)}&dataset=${f.dataset}">${esc(f.location)}</a>`,
    esc(f.dataset), esc(f.latest_data || "none"),
    `<span class="${f.age_seconds > 86_400 ? "bad" : f.age_seconds > 7_200 ? "warn" : "ok"}">${age(f.age_seconds)}</span>`,
  ]);
  const source = sources.map((s) => [
    esc(s.id), esc(s.dataset), `<span class="${s.circuit === "open" ? "bad" : "ok"}">${esc(s.circuit)}</span>`,
    esc(s.budgets.join(", ")), esc(s.locations.join(", ") || "—"), esc(s.last_success || "—"),
    s.last_failure ? `<span class="bad">${esc(s.last_failure)}</span> ${esc(s.last_error || "")}` : "—",
  ]);
  const run = runs.map((r) => [
    `<a href="/api/v1/runs/${r.id}">${r.id}</a>`, esc(r.operation), esc(r.location || "—"), esc(r.source || ""),
    `<span class="${r.status === "failed" ? "bad" : r.status === "running" ? "warn" : "ok"}">${esc(r.status)}</span>`,
    esc(r.started_at), `${r.counts.inserted}/${r.counts.updated}/${r.counts.rejected}`, esc(r.error || ""),
  ]);
  const ticks = (status.schedule || []).map((s) => [esc(s.job), esc(s.cron), esc(s.next || "off")]);
  page.innerHTML = `
    <h2>Service</h2>
    <div class="cards">
      <div class="card">status<strong class="${status.status === "healthy" ? "ok" : "bad"}">${esc(status.status)}</strong>${esc((status.reasons || []).join("; "))}</div>
      <div class="card">store<strong class="${status.store_up ? "ok" : "bad"}">${status.store_up ? "up" : "down"}</strong></div>
      <div class="card">last processing<strong>${esc(status.processing.last_run ? status.processing.last_run.status : "never")}</strong>${esc(status.processing.last_run ? status.processing.last_run.finished_at : "")}</div>
      <div class="card">models<strong>${Object.keys(status.active_models || {}).length}</strong><a href="#/forecasts">forecasts</a></div>
    </div>
    <h2>Freshness</h2>${table(["location", "dataset", "newest value", "age"], fresh)}
    <h2>Sources</h2>${table(["source", "dataset", "circuit", "budgets", "locations", "last success", "last failure"], source)}
    <h2>Scheduler: next ticks</h2>${ticks.length ? table(["job", "cron", "next"], ticks) : '<p class="muted">The scheduler is off in this process.</p>'}
    <h2>Last runs</h2>${table(["run", "operation", "location", "source", "status", "started", "ins/upd/rej", "error"], run)}`;
}

// ---- Series explorer -----------------------------------------------------------------------

async function explorer(params) {
  const locations = await api("/api/v1/locations");
  const location = params.get("location") || "madrid";
  const known = locations.find((l) => l.id === location);
  const datasets = known ? Object.keys(known.sources) : [];
  const dataset = params.get("dataset") || datasets[0] || "weather";
  const start = params.get("start") || day(-7);
  const end = params.get("end") || day(-1);
  const resolution = params.get("resolution") || "hour";
  const variables = params.get("variables") || "";
  const option = (v, current, label) => `<option value="${esc(v)}"${v === current ? " selected" : ""}>${esc(label || v)}</option>`;
  page.innerHTML = `
    <h2>Series</h2>
    <form class="controls" id="explore">
      <label>Location<select name="location">${locations.map((l) => option(l.id, location, l.name)).join("")}${known ? "" : option(location, location)}</select></label>
      <label>Dataset<select name="dataset">${["weather", "traffic", "energy_price", "sensor"].map((d) => option(d, dataset)).join("")}</select></label>
      <label>Variables (comma-separated, empty: all)<input name="variables" value="${esc(variables)}" size="24"></label>
      <label>From<input type="date" name="start" value="${esc(start)}" required></label>
      <label>To<input type="date" name="end" value="${esc(end)}" required></label>
      <label>Resolution<select name="resolution">${["raw", "hour", "day"].map((r) => option(r, resolution)).join("")}</select></label>
      <button type="submit">Show</button>
    </form>
    <div id="charts"><p>Loading…</p></div>`;
  document.getElementById("explore").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new URLSearchParams(new FormData(event.target));
    if (!form.get("variables")) form.delete("variables");
    window.location.hash = `#/explorer?${form}`;
  });
  const query = new URLSearchParams({ start, end, resolution });
  if (variables) query.set("variables", variables);
  const charts = document.getElementById("charts");
  let answer;
  try {
    answer = await api(`/api/v1/locations/${encodeURIComponent(location)}/${encodeURIComponent(dataset)}?${query}`);
  } catch (error) {
    charts.innerHTML = `<p class="error" role="alert">${esc(error.message)}</p>`;
    return;
  }
  const x = seconds(answer.time);
  const names = Object.keys(answer.variables);
  if (!names.length || !x.length) {
    charts.innerHTML = `<p class="muted">Nothing stored for ${esc(location)} ${esc(dataset)} in this range.</p>`;
    return;
  }
  // One chart per unit, the variables of that unit together.
  const units = [...new Set(names.map((n) => answer.variables[n].unit))];
  charts.innerHTML = units.map((_, i) => `<div class="chart" id="chart-${i}"></div><div id="strips-${i}"></div>`).join("");
  units.forEach((unit, i) => {
    const of = names.filter((n) => answer.variables[n].unit === unit);
    chart(document.getElementById(`chart-${i}`), x, of.map((n) => ({ label: n, values: answer.variables[n].values })), `${location} ${dataset} (${unit})`, unit);
    document.getElementById(`strips-${i}`).innerHTML = of.map((n) => `<div class="muted">${esc(n)}</div>${sourceStrip(answer.variables[n].sources)}`).join("");
  });
  const missing = names.map((n) => `${esc(n)} ${answer.variables[n].values.filter((v) => v === null).length}`).join(", ");
  charts.insertAdjacentHTML("beforeend", `<p class="muted">${x.length} steps from ${esc(answer.start)} to ${esc(answer.end)}; missing (drawn as gaps): ${missing}.</p>`);
}

// ---- Coverage ------------------------------------------------------------------------------

async function coverage(params) {
  const locations = await api("/api/v1/locations");
  const location = params.get("location") || "madrid";
  const dataset = params.get("dataset") || "weather";
  const start = params.get("start") || day(-90);
  const end = params.get("end") || day(-1);
  const option = (v, current) => `<option${v === current ? " selected" : ""}>${esc(v)}</option>`;
  page.innerHTML = `
    <h2>Coverage</h2>
    <form class="controls" id="cover">
      <label>Location<select name="location">${locations.map((l) => option(l.id, location)).join("")}</select></label>
      <label>Dataset<select name="dataset">${["weather", "traffic", "energy_price", "sensor"].map((d) => option(d, dataset)).join("")}</select></label>
      <label>From<input type="date" name="start" value="${esc(start)}"></label>
      <label>To<input type="date" name="end" value="${esc(end)}"></label>
      <button type="submit">Show</button>
    </form>
    <div id="heat"><p>Loading…</p></div>`;
  document.getElementById("cover").addEventListener("submit", (event) => {
    event.preventDefault();
    window.location.hash = `#/coverage?${new URLSearchParams(new FormData(event.target))}`;
  });
  const heat = document.getElementById("heat");
  try {
    const answer = await api(`/api/v1/locations/${encodeURIComponent(location)}/${encodeURIComponent(dataset)}?${new URLSearchParams({ start, end, resolution: "day" })}`);
    const perDay = Math.max(1, Math.round(86_400 / answer.step_seconds));
    const colour = (share) => share === null ? "#fff" : share >= 0.999 ? "#146c2e" : share >= 0.9 ? "#7cb342" : share >= 0.5 ? "#f9a825" : share > 0 ? "#e65100" : "#a50e0e";
    const names = Object.keys(answer.variables);
    heat.innerHTML = names.length ? names.map((name) => {
      const counts = answer.variables[name].counts || [];
      const cells = answer.time.map((t, i) => {
        const share = counts[i] === undefined ? null : Math.min(1, counts[i] / perDay);
        return `<span style="background:${colour(share)}" title="${esc(t)}: ${counts[i] ?? 0} of ${perDay}"></span>`;
      });
      const full = counts.filter((c) => c >= perDay).length;
      return `<h3>${esc(name)} <span class="muted">${full} of ${answer.time.length} days complete</span></h3><div class="heat" role="img" aria-label="${esc(name)}: ${full} of ${answer.time.length} days complete">${cells.join("")}</div>`;
    }).join("") + `<p class="legend"><span><i class="swatch" style="background:#146c2e"></i>complete</span><span><i class="swatch" style="background:#7cb342"></i>≥ 90 %</span><span><i class="swatch" style="background:#f9a825"></i>≥ 50 %</span><span><i class="swatch" style="background:#e65100"></i>less</span><span><i class="swatch" style="background:#a50e0e"></i>none</span></p>`
      : `<p class="muted">Nothing stored for ${esc(location)} ${esc(dataset)}.</p>`;
  } catch (error) {
    heat.innerHTML = `<p class="error" role="alert">${esc(error.message)}</p>`;
  }
}

// ---- Network -------------------------------------------------------------------------------

async function network(params) {
  const nodes = await api("/api/v1/nodes");
  if (!nodes.length) {
    page.innerHTML = '<h2>Network</h2><p class="muted">No network is configured.</p>';
    return;
  }
  const node = params.get("node") || nodes[0].node_id;
  const [efficiency, history, anomalies] = await Promise.all([
    api("/api/v1/network/efficiency?time_window=1day"),
    api(`/api/v1/nodes/${encodeURIComponent(node)}/history?time_window=1hour`),
    api(`/api/v1/anomalies?hours=720&node_id=${encodeURIComponent(node)}&limit=500`),
  ]);
  const withheld = efficiency.windows.filter((w) => w.withheld);
  page.innerHTML = `
    <h2>${esc(efficiency.name)}: efficiency</h2>
    <div class="chart" id="efficiency"></div>
    ${withheld.length ? `<p>Withheld days (a node below ${efficiency.min_completeness * 100} % complete):</p><ul>${withheld.map((w) => `<li>${esc(w.window_start)}: ${esc(typeof w.withheld === "string" ? w.withheld : JSON.stringify(w.withheld))}</li>`).join("")}</ul>` : '<p class="muted">No day withheld.</p>'}
    <h2>Nodes</h2>
    ${table(["node", "name", "role", "time zone"], nodes.map((n) => [`<a href="#/network?node=${encodeURIComponent(n.node_id)}">${esc(n.node_id)}</a>`, esc(n.node_name), esc(n.node_type), esc(n.timezone)]))}
    <h2>${esc(node)}: hourly flow and pressure, anomalies marked</h2>
    <div class="chart" id="flow"></div><div class="chart" id="pressure"></div>
    <h2>${esc(node)}: anomalies (30 days)</h2>
    ${table(["when", "variable", "value", "expected", "method", "severity"], anomalies.slice(0, 50).map((a) => [esc(a.ts), esc(a.variable), esc(a.value), esc(a.expected.toFixed(2)), esc(a.method), `<span class="${a.severity === "critical" ? "bad" : "warn"}">${esc(a.severity)}</span>`]))}`;
  chart(document.getElementById("efficiency"), seconds(efficiency.windows.map((w) => w.window_start)),
    [{ label: "efficiency %", values: efficiency.windows.map((w) => w.efficiency_percentage), points: true }], "delivered / supplied, per day", "%");
  const x = seconds(history.map((h) => h.window_start));
  const marks = (variable, field) => {
    const at = new Map(anomalies.filter((a) => a.variable.startsWith(variable)).map((a) => [Math.floor(Date.parse(a.ts) / 3_600_000) * 3600, true]));
    return history.map((h, i) => (at.has(x[i]) ? h[field] : null));
  };
  chart(document.getElementById("flow"), x, [
    { label: "flow (mean)", values: history.map((h) => h.avg_flow_rate) },
    { label: "anomaly", values: marks("flow", "avg_flow_rate"), color: "#a50e0e", width: 0, points: true },
  ], `${node} flow`, "");
  chart(document.getElementById("pressure"), x, [
    { label: "pressure (mean)", values: history.map((h) => h.avg_pressure) },
    { label: "anomaly", values: marks("pressure", "avg_pressure"), color: "#a50e0e", width: 0, points: true },
  ], `${node} pressure`, "");
}

// ---- Forecasts -----------------------------------------------------------------------------

async function forecasts(params) {
  const list = await api("/api/v1/models");
  if (!list.models.length) {
    page.innerHTML = '<h2>Forecasts</h2><p class="muted">No model is configured.</p>';
    return;
  }
  const id = params.get("model") || list.models[0].id;
  const model = list.models.find((m) => m.id === id);
  if (!model) throw new Error(`no model \`${id}\``);
  const detail = await api(`/api/v1/models/${encodeURIComponent(id)}`);
  const pick = list.models.map((m) => `<a href="#/forecasts?model=${encodeURIComponent(m.id)}"${m.id === id ? ' aria-current="true"' : ""}>${esc(m.id)}</a>`).join(" · ");
  const metrics = model.champion ? model.champion.metrics : null;
  const figure = (v) => (typeof v === "number" ? v.toFixed(3) : "—");
  page.innerHTML = `
    <h2>Forecasts</h2><p>${pick}</p>
    <h3>${esc(id)}: ${esc(model.location)} ${esc(model.dataset)} ${esc(model.variable)}, ${model.horizon_hours} h, ${esc(model.family)}</h3>
    <div class="chart" id="forecast"><p>Loading…</p></div>
    ${metrics ? table(["MAE", "RMSE", "MASE", "against", "80 % coverage", "95 % coverage", "pairs"], [[figure(metrics.mae), figure(metrics.rmse), figure(metrics.mase), esc(metrics.baseline), figure(metrics.coverage_80), figure(metrics.coverage_95), esc(metrics.test_samples)]]) : '<p class="muted">No champion yet.</p>'}
    <h3>Versions</h3>
    ${table(["version", "status", "family", "trained", "MASE", "reason"], (detail.all_versions || []).map((v) => [esc(v.version), esc(v.status), esc(v.family), esc(v.created_at), figure(v.metrics && v.metrics.mase), esc(v.reason || "")]))}`;
  const holder = document.getElementById("forecast");
  let forecast;
  try {
    forecast = await api(`/api/v1/locations/${encodeURIComponent(model.location)}/${encodeURIComponent(model.dataset)}/forecast?variable=${encodeURIComponent(model.variable)}`);
  } catch (error) {
    holder.innerHTML = `<p class="error" role="alert">${esc(error.message)}</p>`;
    return;
  }
  // The actuals of the last three days beside the forecast, on one time axis.
  const from = day(-3);
  const to = day(0);
  let actual = { time: [], variables: {} };
  try {
    actual = await api(`/api/v1/locations/${encodeURIComponent(model.location)}/${encodeURIComponent(model.dataset)}?start=${from}&end=${to}&variables=${encodeURIComponent(model.variable)}&resolution=${model.resolution === "day" ? "day" : "hour"}`);
  } catch (_) { /* no actuals: the forecast alone */ }
  const past = seconds(actual.time);
  const ahead = seconds(forecast.time);
  const x = [...new Set(past.concat(ahead))].sort((a, b) => a - b);
  const along = (times, values) => {
    const at = new Map(times.map((t, i) => [t, values[i]]));
    return x.map((t) => (at.has(t) ? at.get(t) : null));
  };
  const observed = actual.variables[model.variable];
  chart(holder, x, [
    { label: "actual", values: along(past, observed ? observed.values : []), color: "#111" },
    { label: "forecast", values: along(ahead, forecast.value), color: "#0b57d0", width: 2 },
    { label: "80 % low", values: along(ahead, forecast.lower_80), color: "#0b57d0", dash: [4, 4], width: 1 },
    { label: "80 % high", values: along(ahead, forecast.upper_80), color: "#0b57d0", dash: [4, 4], width: 1 },
    { label: "95 % low", values: along(ahead, forecast.lower_95), color: "#7a9fd9", dash: [2, 4], width: 1 },
    { label: "95 % high", values: along(ahead, forecast.upper_95), color: "#7a9fd9", dash: [2, 4], width: 1 },
  ], `${id}: issued ${forecast.issued_at} by version ${forecast.version}`, forecast.unit);
}

// ---- Routing -------------------------------------------------------------------------------

const PAGES = { overview, explorer, coverage, network, forecasts };

async function route() {
  const [path, query] = (window.location.hash.replace(/^#\/?/, "") || "overview").split("?");
  const name = PAGES[path] ? path : "overview";
  for (const a of document.querySelectorAll("nav a")) {
    if (a.getAttribute("href") === `#/${name}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.title = `almanac: ${name}`;
  page.setAttribute("aria-busy", "true");
  try {
    await PAGES[name](new URLSearchParams(query || ""));
  } catch (error) {
    failed(error);
  } finally {
    page.setAttribute("aria-busy", "false");
    page.dataset.page = name;
  }
}

window.addEventListener("hashchange", route);
route();
