// Bundles the console's front end into the Python package's static/ directory (served by the
// console itself: no CDN, no external fonts). `make console-ui` runs it after `npm ci`.
import { build } from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "asrfleet_operator", "console", "static");

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
const common = { bundle: true, minify: true, target: "es2022", logLevel: "warning", legalComments: "linked" };
await build({ ...common, entryPoints: [join(here, "src", "main.js")], outfile: join(out, "app.js"), format: "esm" });
// The microphone's AudioWorklet runs in its own scope and is loaded by URL.
await build({ ...common, entryPoints: [join(here, "src", "mic-worklet.js")], outfile: join(out, "mic-worklet.js") });
await build({ ...common, entryPoints: [join(here, "src", "style.css")], outfile: join(out, "app.css") });
await copyFile(join(here, "src", "index.html"), join(out, "index.html"));
console.log(`console-ui: built into ${out}`);
