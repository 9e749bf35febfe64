// The recognizer page's charts of the last minutes (uPlot, bundled: no CDN).
import uPlot from "uplot";

const CHARTS = [
  { title: "Requests/s", series: [["req/s", (p) => p.load.requests_per_second], ["429/s", (p) => p.load.rejected_per_second]] },
  { title: "Latency (s)", series: [["p50", (p) => p.load.latency_p50_seconds], ["p95", (p) => p.load.latency_p95_seconds]] },
  { title: "Real-time factor p50", series: [["RTF", (p) => p.load.realtime_factor_p50]] },
  { title: "Queue, in flight, streams", series: [["queue", (p) => p.load.queue_depth], ["in flight", (p) => p.load.inflight], ["streams", (p) => p.load.active_streams]] },
  { title: "Replicas", series: [["ready", (p) => p.ready_replicas], ["desired", (p) => p.desired_replicas]] },
];
const COLORS = ["#2563eb", "#dc2626", "#16a34a"];

export function drawCharts(container, history) {
  container.replaceChildren();
  const plots = [];
  for (const chart of CHARTS) {
    const box = document.createElement("figure");
    box.className = "chart";
    const caption = document.createElement("figcaption");
    caption.textContent = chart.title;
    box.append(caption);
    container.append(box);
    const data = [history.map((p) => p.time), ...chart.series.map(([, pick]) => history.map((p) => pick(p) ?? null))];
    const options = {
      width: 360,
      height: 160,
      legend: { show: true },
      scales: { x: { time: true } },
      series: [{}, ...chart.series.map(([label], i) => ({ label, stroke: COLORS[i], width: 1.5, spanGaps: false }))],
      axes: [{ space: 60 }, { size: 50 }],
    };
    plots.push(new uPlot(options, data, box));
  }
  return () => plots.forEach((plot) => plot.destroy());
}
