// Recognizer: conditions with reasons and times, recent events, pods, load charts, the spec
// as YAML, and the actions (scale, suspend/resume) unless the console is read-only.
import { api, ApiError, recognizerPath } from "./api.js";
import { drawCharts } from "./charts.js";
import { confirmAction, fill, h, phaseBadge, section, table, when } from "./dom.js";

function actions(ns, name, summary, refresh) {
  const note = h("p", { class: "muted", role: "status", id: "action-status" });
  const run = async (text, path, json) => {
    if (!(await confirmAction(text))) return;
    try {
      await api(`${recognizerPath(ns, name)}/${path}`, { method: "POST", json });
      note.textContent = "Done: the SpeechRecognizer was patched; the operator rolls it out.";
      note.className = "ok";
      await refresh();
    } catch (err) {
      note.textContent = err.message;
      note.className = "error";
    }
  };
  const replicas = h("input", { id: "replicas", type: "number", min: 0, max: 1000, value: summary.replicas ?? 1 });
  const scale = h("form", { class: "inline", onsubmit: (event) => {
    event.preventDefault();
    const count = Number.parseInt(replicas.value, 10);
    run(`Scale ${ns}/${name} to ${count} replica(s)?`, "scale", { replicas: count });
  } }, h("label", { for: "replicas" }, "Replicas"), replicas, h("button", { type: "submit", id: "scale" }, "Scale"));
  const suspend = summary.suspended
    ? h("button", { type: "button", id: "resume", onclick: () => run(`Resume ${ns}/${name}?`, "suspend", { suspend: false }) }, "Resume")
    : h("button", { type: "button", id: "suspend", class: "danger", onclick: () => run(`Suspend ${ns}/${name}? Its servers scale to zero.`, "suspend", { suspend: true }) }, "Suspend");
  return section("Actions", h("div", { class: "actions" }, summary.autoscaling ? h("p", { class: "muted" }, "Autoscaled: the HorizontalPodAutoscaler sets the size.") : scale, suspend), note);
}

export async function recognizerView({ session, show, onLeave, relogin }, ns, name) {
  const head = h("div", { class: "head" });
  const body = h("div", { class: "body" });
  const charts = h("div", { class: "charts", id: "charts" });
  const actionBox = h("div");
  const tryLink = h("a", { href: `#/try/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`, class: "button", id: "try-link" }, "Try it");
  show(h("div", { class: "recognizer" }, h("p", {}, h("a", { href: "#/" }, "← Fleet")), head, tryLink, actionBox, section("Load (last minutes)", charts), body));
  let timer = null;
  let stopped = false;
  let destroyCharts = () => {};
  let actionsFor = "";
  async function refresh() {
    clearTimeout(timer);
    let detail;
    try {
      detail = await api(recognizerPath(ns, name));
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return relogin();
      fill(head, h("h1", {}, `${ns}/${name}`), h("p", { class: "error", role: "alert" }, err.message));
      if (!stopped) timer = setTimeout(refresh, session.scrape_seconds * 1000);
      return;
    }
    const s = detail.summary;
    fill(head,
      h("h1", {}, `${s.namespace}/${s.name}`),
      s.description ? h("p", { class: "description" }, s.description) : null,
      h("p", {}, phaseBadge(s.phase), " ", h("span", { class: "reason" }, `${s.reason}${s.message ? `: ${s.message}` : ""}`)),
      h("p", { class: "muted" }, `${s.model} (${s.engine}) · ${s.ready_replicas}/${s.desired_replicas} ready · ${s.url || "no URL yet"}`),
    );
    const state = `${s.suspended}/${s.autoscaling ? 1 : 0}/${detail.may.act}`;
    if (state !== actionsFor) {
      actionsFor = state;
      fill(actionBox, detail.may.act ? actions(ns, name, s, refresh) : null);
    }
    tryLink.hidden = !detail.may.try;
    destroyCharts();
    destroyCharts = drawCharts(charts, detail.history);
    fill(body,
      section("Conditions", table(["Type", "Status", "Reason", "Message", "Since"],
        detail.conditions.map((c) => [c.type, c.status, c.reason, c.message, when(c.last_transition_time)]))),
      section("Events", detail.events.length
        ? table(["Type", "Reason", "Object", "Message", "Count", "Last seen"],
            detail.events.map((e) => [e.type, e.reason, e.object, e.message, e.count, when(e.last_seen)]))
        : h("p", { class: "muted" }, "No recent events.")),
      section("Pods", detail.pods.length
        ? table(["Pod", "Phase", "Ready", "Restarts", "Node", "IP", "Started"],
            detail.pods.map((p) => [p.name, p.phase, p.ready ? "yes" : "no", p.restarts, p.node, p.ip, when(p.started)]))
        : h("p", { class: "muted" }, "No pods.")),
      section("Annotations", Object.keys(detail.annotations).length
        ? table(["Key", "Value"], Object.entries(detail.annotations))
        : h("p", { class: "muted" }, "None.")),
      section("Spec", h("pre", { class: "yaml" }, detail.spec_yaml)),
    );
    if (!stopped) timer = setTimeout(refresh, session.scrape_seconds * 1000);
  }
  onLeave(() => {
    stopped = true;
    clearTimeout(timer);
    destroyCharts();
  });
  await refresh();
}
