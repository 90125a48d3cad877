// Second half of `npm run build` (the first half compiles portal/assets/scss/portal.scss with Sass).
//
// 1. Copies GOV.UK Frontend's ES module bundle into portal/static/govuk/, with its trailing
//    sourceMappingURL comment removed: the map names source files that are never shipped, and
//    Django's manifest storage fails on a reference to a file that is not there.
// 2. Reads every url(...) left in the compiled portal.css, copies any GOV.UK Frontend asset it
//    points to into portal/static/govuk/assets/, and fails the build if a reference would
//    still be missing (WhiteNoise's CompressedManifestStaticFilesStorage would otherwise fail
//    later, at collectstatic time).
// 3. Fails the build if the brand-restricted "GDS Transport" typeface slipped into the CSS.
//
// Everything written here is generated and git-ignored; run `npm run build` after `npm ci`.

import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const govukDist = path.join(root, "node_modules", "govuk-frontend", "dist", "govuk");
const staticRoot = path.join(root, "portal", "static");
const govukOut = path.join(staticRoot, "govuk");
const cssFile = path.join(staticRoot, "portal", "css", "portal.css");

function fail(message) {
  console.error(`copy-govuk: ${message}`);
  process.exit(1);
}

if (!existsSync(govukDist)) {
  fail(`${path.relative(root, govukDist)} is missing: run \`npm ci\` first.`);
}
if (!existsSync(cssFile)) {
  fail(`${path.relative(root, cssFile)} is missing: Sass must run before this script.`);
}

// Start clean so files from an older GOV.UK Frontend version never linger.
await rm(govukOut, { recursive: true, force: true });
await mkdir(govukOut, { recursive: true });

// 1. The JavaScript bundle, without its source map reference.
const jsName = "govuk-frontend.min.js";
const js = await readFile(path.join(govukDist, jsName), "utf8");
const strippedJs = js.replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, "\n");
if (/sourceMappingURL/.test(strippedJs)) {
  fail(`could not strip the sourceMappingURL comment from ${jsName}.`);
}
await writeFile(path.join(govukOut, jsName), strippedJs);

// 2. Assets referenced by the compiled CSS.
const css = await readFile(cssFile, "utf8");
const assetsOut = path.join(govukOut, "assets");
const copied = [];
for (const match of css.matchAll(/url\(\s*(["']?)([^"')]+)\1\s*\)/g)) {
  const ref = match[2].trim();
  if (/^(data:|https?:|\/\/|#)/i.test(ref)) {
    continue; // Inline or external: nothing to copy (the CSP only allows 'self' and data: anyway).
  }
  const cleanRef = ref.split(/[?#]/)[0];
  const target = cleanRef.startsWith("/")
    ? path.join(staticRoot, cleanRef.replace(/^\/static\//, ""))
    : path.resolve(path.dirname(cssFile), cleanRef);
  if (existsSync(target)) {
    continue;
  }
  const relToAssets = path.relative(assetsOut, target);
  const source = path.join(govukDist, "assets", relToAssets);
  if (relToAssets.startsWith("..") || !existsSync(source)) {
    fail(`portal.css references ${ref}, which is neither in portal/static nor in GOV.UK Frontend's assets.`);
  }
  await mkdir(path.dirname(target), { recursive: true });
  await copyFile(source, target);
  copied.push(path.relative(root, target));
}

// 3. Brand check.
if (/GDS Transport/i.test(css)) {
  fail('portal.css mentions "GDS Transport": keep $govuk-font-family set to system fonts.');
}

console.log(`copy-govuk: wrote ${path.relative(root, path.join(govukOut, jsName))}`);
for (const file of copied) {
  console.log(`copy-govuk: copied ${file}`);
}
