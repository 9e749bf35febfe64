// Fleet: every SpeechRecognizer the console may see, with health and live load, refreshed
// every scrape round. Degraded rows stand out with their reason.
import { api, ApiError } from "./api.js";
import { fill, h, number, phaseBadge, seconds, table } from "./dom.js";

function scaling(summary) {
  const a = summary.autoscaling;
  return a ? `${a.min_replicas}–${a.max_replicas}` : "off";
}

function row(item) {
  const s = item.summary;
  const load = item.load || {};
  const link = h("a", { href: `#/r/${encodeURIComponent(s.namespace)}/${encodeURIComponent(s.name)}`, class: "name" }, s.name);
  const reason = s.phase === "Degraded" || s.phase === "Unknown"
    ? h("div", { class: "reason" }, `${s.reason}${s.message ? `: ${s.message}` : ""}`)
    : null;
  const unanswered = load.servers_failed
    ? h("div", { class: "reason warn" }, `/metrics: ${load.servers_failed} of ${load.servers_failed + load.servers_scraped} server(s) did not answer`)
    : null;
  return [
    s.namespace,
    h("div", {}, link, s.description ? h("div", { class: "description" }, s.description) : null),
    `${s.model} (${s.engine})`,
    h("div", {}, phaseBadge(s.phase), reason, unanswered),
    `${s.ready_replicas}/${s.desired_replicas}`,
    scaling(s),
    number(load.requests_per_second, 2),
    seconds(load.latency_p50_seconds),
    seconds(load.latency_p95_seconds),
    number(load.realtime_factor_p50, 3),
    number(load.queue_depth, 0),
    number(load.inflight, 0),
    number(load.active_streams, 0),
    number(load.rejected_per_second, 2),
  ];
}

const HEADERS = ["Namespace", "Name", "Model (engine)", "Phase", "Ready/desired", "Autoscaling",
  "Req/s", "p50", "p95", "RTF p50", "Queue", "In flight", "Streams", "429/s"];

export async function fleetView({ session, show, onLeave, relogin }) {
  const body = h("div", { id: "fleet-table" });
  const status = h("p", { class: "muted", id: "fleet-status" });
  show(h("div", { class: "fleet" }, h("h1", {}, "Fleet"), status, body));
  let timer = null;
  let stopped = false;
  async function refresh() {
    try {
      const snapshot = await api("/api/fleet");
      const items = snapshot.rows;
      fill(body,
        items.length
          ? table(HEADERS, items.map(row), (i) => ({
              class: items[i].summary.phase === "Degraded" ? "degraded" : "",
              "data-recognizer": `${items[i].summary.namespace}/${items[i].summary.name}`,
            }))
          : h("p", {}, "No SpeechRecognizer is visible to the console."),
      );
      const stamp = new Date(snapshot.time * 1000).toLocaleTimeString();
      status.textContent = snapshot.error
        ? `Listing failed (${snapshot.error}); showing the rows of ${stamp}.`
        : `${items.length} recognizer(s), updated ${stamp}; refreshed every ${session.scrape_seconds} s.`;
      status.className = snapshot.error ? "error" : "muted";
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return relogin();
      status.textContent = err.message;
      status.className = "error";
    }
    if (!stopped) timer = setTimeout(refresh, session.scrape_seconds * 1000);
  }
  onLeave(() => {
    stopped = true;
    clearTimeout(timer);
  });
  await refresh();
}
