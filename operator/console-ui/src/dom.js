// DOM helpers. Every value from the cluster goes through text nodes (never innerHTML), so an
// annotation holding HTML shows as text.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

// Replaces an element's children; absent ones (null, undefined, false) are left out, where
// the DOM's own replaceChildren would show them as the text "null".
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function table(headers, rows, rowAttrs = () => ({})) {
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, headers.map((title) => h("th", { scope: "col" }, title)))),
    h("tbody", {}, rows.map((row, i) => h("tr", rowAttrs(i), row.map((cell) => h("td", {}, cell))))),
  );
}

export function section(title, ...children) {
  return h("section", { "aria-label": title }, h("h2", {}, title), ...children);
}

export function phaseBadge(phase) {
  return h("span", { class: `phase phase-${String(phase).toLowerCase()}` }, phase);
}

export function number(value, digits = 2, unit = "") {
  if (value === null || value === undefined) return "–";
  return `${Number(value).toFixed(digits)}${unit}`;
}

export function seconds(value) {
  if (value === null || value === undefined) return "–";
  return value < 1 ? `${Math.round(value * 1000)} ms` : `${value.toFixed(2)} s`;
}

export function when(stamp) {
  if (!stamp) return "–";
  const date = new Date(stamp);
  return Number.isNaN(date.getTime()) ? String(stamp) : date.toLocaleString();
}

const dialog = () => document.getElementById("confirm");

// A confirmation in the page (a <dialog>), resolving to true when confirmed.
export function confirmAction(text) {
  const box = dialog();
  document.getElementById("confirm-text").textContent = text;
  box.returnValue = "";
  box.showModal();
  return new Promise((resolve) => {
    box.addEventListener("close", () => resolve(box.returnValue === "ok"), { once: true });
  });
}
