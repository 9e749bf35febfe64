// Try it: a file -> transcript with segments, confidence and latency; or the microphone,
// streamed live through the console to the recognizer's /v1/stream (partials in place,
// finals accumulating). Language and hotwords apply to both.
import { api, ApiError, recognizerPath } from "./api.js";
import { fill, h, number, seconds, section, table } from "./dom.js";

const LANGUAGES = [["", "detect"], ["en", "English"], ["zh", "Chinese"], ["de", "German"], ["fr", "French"], ["es", "Spanish"], ["ja", "Japanese"]];

function optionsForm() {
  const language = h("select", { id: "language" }, LANGUAGES.map(([code, label]) => h("option", { value: code }, label)));
  const hotwords = h("input", { id: "hotwords", type: "text", placeholder: "names, terms", maxlength: 1000 });
  const form = h("div", { class: "options" }, h("label", { for: "language" }, "Language"), language, h("label", { for: "hotwords" }, "Hotwords"), hotwords);
  return { form, values: () => ({ language: language.value, hotwords: hotwords.value.trim() }) };
}

function uploadPanel(ns, name, options, relogin) {
  const file = h("input", { id: "file", type: "file", accept: "audio/*,video/*,.flac,.wav,.mp3,.ogg,.opus,.m4a,.webm" });
  const result = h("div", { id: "upload-result" });
  const button = h("button", { type: "submit", class: "primary", id: "transcribe" }, "Transcribe");
  const form = h("form", { onsubmit: async (event) => {
    event.preventDefault();
    if (!file.files.length) return;
    const query = new URLSearchParams(Object.entries(options.values()).filter(([, v]) => v));
    button.disabled = true;
    fill(result, h("p", { class: "muted" }, "Transcribing…"));
    try {
      const answer = await api(`${recognizerPath(ns, name)}/transcribe?${query}`, { method: "POST", body: file.files[0] });
      fill(result,
        h("p", { class: "transcript", id: "transcript" }, answer.text),
        h("p", { class: "muted" }, `language ${answer.language} · ${number(answer.duration, 1)} s of audio · confidence ${number(answer.confidence, 3)} · answered in ${seconds(answer.latency_seconds)}`),
        table(["Start", "End", "Text", "Confidence"], (answer.segments || []).map((s) => [number(s.start, 2), number(s.end, 2), s.text, number(s.confidence, 3)])),
      );
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return relogin();
      fill(result, h("p", { class: "error", role: "alert" }, err.message));
    } finally {
      button.disabled = false;
    }
  } }, file, button);
  return section("Upload a file", form, result);
}

function microphonePanel(ns, name, options) {
  const finals = h("ol", { id: "finals", class: "finals" });
  const partial = h("p", { id: "partial", class: "partial" });
  const state = h("p", { class: "muted", id: "mic-status" }, "Stopped.");
  const start = h("button", { type: "button", id: "mic-start", class: "primary" }, "Start microphone");
  const stop = h("button", { type: "button", id: "mic-stop", disabled: true }, "Stop");
  let session = null;

  async function begin() {
    start.disabled = true;
    fill(finals);
    partial.textContent = "";
    try {
      session = await openStream(ns, name, options.values(), {
        ready: () => { state.textContent = "Listening…"; stop.disabled = false; },
        partial: (m) => { partial.textContent = m.text; },
        final: (m) => { partial.textContent = ""; if (m.text.trim()) finals.append(h("li", {}, m.text.trim())); },
        error: (m) => { state.textContent = `Error: ${m.message}`; state.className = "error"; },
        busy: (m) => { state.textContent = `The recognizer is full; try again in ${m.retry_after} s.`; },
        closed: () => { state.textContent = "Stopped."; start.disabled = false; stop.disabled = true; session = null; },
      });
    } catch (err) {
      state.textContent = `Microphone unavailable: ${err.message}`;
      state.className = "error";
      start.disabled = false;
    }
  }
  start.addEventListener("click", begin);
  stop.addEventListener("click", () => { stop.disabled = true; state.textContent = "Finishing…"; session && session.finish(); });
  return { node: section("Live microphone", h("div", { class: "actions" }, start, stop), state, partial, finals), leave: () => session && session.abort() };
}

// The microphone -> AudioWorklet (16 kHz PCM16) -> WebSocket; the server's messages -> handlers.
async function openStream(ns, name, chosen, on) {
  const media = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
  const context = new AudioContext({ sampleRate: 16000 });
  await context.audioWorklet.addModule("/static/mic-worklet.js");
  const source = context.createMediaStreamSource(media);
  const capture = new AudioWorkletNode(context, "pcm16-capture");
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}${recognizerPath(ns, name)}/stream`);
  socket.binaryType = "arraybuffer";
  let sending = false;
  const release = () => {
    capture.port.onmessage = null;
    source.disconnect();
    capture.disconnect();
    media.getTracks().forEach((track) => track.stop());
    context.close().catch(() => {});
  };
  socket.onopen = () => {
    const start = { type: "start", sample_rate: 16000, interim_results: true };
    if (chosen.language) start.language = chosen.language;
    if (chosen.hotwords) start.hotwords = chosen.hotwords;
    socket.send(JSON.stringify(start));
  };
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "ready") {
      sending = true;
      on.ready(message);
    } else if (on[message.type]) on[message.type](message);
  };
  socket.onclose = () => { release(); on.closed(); };
  capture.port.onmessage = (event) => { if (sending && socket.readyState === WebSocket.OPEN) socket.send(event.data); };
  source.connect(capture);
  return {
    finish: () => { sending = false; release(); if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "eof" })); },
    abort: () => { sending = false; socket.close(); },
  };
}

export async function tryView({ show, onLeave, relogin }, ns, name) {
  const options = optionsForm();
  const mic = microphonePanel(ns, name, options);
  show(h("div", { class: "try" },
    h("p", {}, h("a", { href: `#/r/${encodeURIComponent(ns)}/${encodeURIComponent(name)}` }, `← ${ns}/${name}`)),
    h("h1", {}, `Try ${ns}/${name}`),
    h("p", { class: "muted" }, "Audio goes through the console to the recognizer and is neither stored nor logged."),
    options.form,
    uploadPanel(ns, name, options, relogin),
    mic.node));
  onLeave(mic.leave);
}
