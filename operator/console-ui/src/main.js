// The console's single page: a hash router over the fleet, recognizer and Try-it views, and
// the login form when the API answers 401.
import { api, ApiError, setCsrf } from "./api.js";
import { fill, h } from "./dom.js";
import { fleetView } from "./fleet.js";
import { recognizerView } from "./recognizer.js";
import { tryView } from "./tryit.js";

const view = () => document.getElementById("view");
let session = null;
let leave = () => {};

function loginView(message) {
  const input = h("input", { id: "token", type: "password", name: "token", autocomplete: "current-password", required: true });
  const error = h("p", { class: "error", role: "alert" }, message || "");
  const form = h(
    "form",
    { class: "login", onsubmit: async (event) => {
      event.preventDefault();
      try {
        await api("/api/login", { method: "POST", json: { token: input.value } });
        await route();
      } catch (err) {
        error.textContent = err.message;
      }
    } },
    h("h1", {}, "Log in"),
    h("p", {}, "The console's token is in the Secret the chart created (see the chart's NOTES); with per-user access (console.auth: kubernetes), your own Kubernetes token (kubectl create token ...)."),
    h("label", { for: "token" }, "Token"),
    input,
    h("button", { type: "submit", class: "primary" }, "Log in"),
    error,
  );
  fill(view(), form);
  input.focus();
}

async function loadSession() {
  session = await api("/api/session");
  setCsrf(session.csrf_token);
  const mode = document.getElementById("mode");
  const badges = [session.user ? `signed in as ${session.user}` : "", session.read_only ? "read-only" : ""];
  mode.textContent = badges.filter(Boolean).join(" · ");
  mode.hidden = !mode.textContent;
  document.getElementById("logout").hidden = false;
}

async function route() {
  leave();
  leave = () => {};
  try {
    if (!session) await loadSession();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return loginView();
    fill(view(), h("p", { class: "error", role: "alert" }, err.message));
    return;
  }
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const target = view();
  const show = (node) => fill(target, node);
  const context = { session, show, onLeave: (fn) => (leave = fn), relogin: () => { session = null; loginView("Your session ended: log in again."); } };
  if (parts[0] === "r" && parts.length >= 3) return recognizerView(context, parts[1], parts[2]);
  if (parts[0] === "try" && parts.length >= 3) return tryView(context, parts[1], parts[2]);
  return fleetView(context);
}

// A token in the fragment (#token=..., as `make demo` prints) logs in once and is removed
// from the address bar; fragments never reach the server or its logs.
async function start() {
  const match = location.hash.match(/^#token=(.+)$/);
  if (match) {
    history.replaceState(null, "", location.pathname + "#/");
    try {
      await api("/api/login", { method: "POST", json: { token: decodeURIComponent(match[1]) } });
    } catch {
      /* the login form will say so */
    }
  }
  document.getElementById("logout").addEventListener("click", async () => {
    await api("/api/logout", { method: "POST" }).catch(() => {});
    session = null;
    document.getElementById("logout").hidden = true;
    loginView();
  });
  window.addEventListener("hashchange", route);
  await route();
}

start();
