// Third half of `npm run build`: copies the browser modules the evidence pages need from npm packages
// into evidence/static/evidence/vendor/ (generated, git-ignored; run `npm run build` after `npm ci`).
//
// @noble/hashes (pure JavaScript, no WebAssembly, so the content security policy needs no
// 'wasm-unsafe-eval'): evidence/static/evidence/js/hash-worker.js imports
//   ../vendor/noble-hashes/sha2.js   (sha256.create(), .update(bytes), .digest())
//   ../vendor/noble-hashes/utils.js  (bytesToHex)
// The package ships plain ES modules that import each other with relative "./x.js" paths; this
// script copies those entry points and everything they import, unchanged apart from a header line.
// It fails the build if a module imports anything that is not a relative path (a bare package name
// cannot be resolved by the browser) or still names a source map (Django's manifest storage fails
// on a reference to a file that is not there).

import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const vendorRoot = path.join(root, "evidence", "static", "evidence", "vendor");

const PACKAGES = [
  {
    name: "@noble/hashes",
    out: "noble-hashes",
    entries: ["sha2.js", "utils.js"],
    licence: "LICENSE",
  },
];

// Classic scripts: a package's self-contained browser build (UMD, sets a global), copied as it is apart
// from its source-map comment. tus-js-client: window.tus, the resumable upload client upload.js uses.
const SCRIPTS = [{ name: "tus-js-client", out: "tus-js-client", file: "dist/tus.min.js", licence: "LICENSE" }];

function fail(message) {
  console.error(`copy-vendor: ${message}`);
  process.exit(1);
}

// Static imports and re-exports (`import ... from "x"`, `import "x"`, `export ... from "x"`) and dynamic
// `import("x")`, looked for in the code with its comments removed (the JSDoc examples import packages).
const IMPORT = /(?:^|[;}\s])(?:import|export)\b[^;"'`]*?\bfrom\s*["']([^"']+)["']|\bimport\s*\(?\s*["']([^"']+)["']/g;
const COMMENTS = /\/\*[\s\S]*?\*\/|(?<![:"'\\])\/\/[^\n]*/g;

await rm(vendorRoot, { recursive: true, force: true });

for (const pkg of PACKAGES) {
  const source = path.join(root, "node_modules", ...pkg.name.split("/"));
  if (!existsSync(source)) {
    fail(`${path.relative(root, source)} is missing: run \`npm ci\` first.`);
  }
  const { version } = JSON.parse(await readFile(path.join(source, "package.json"), "utf8"));
  const out = path.join(vendorRoot, pkg.out);
  await mkdir(out, { recursive: true });

  const queue = [...pkg.entries];
  const done = new Set();
  while (queue.length) {
    const file = queue.shift();
    if (done.has(file)) continue;
    done.add(file);
    const from = path.join(source, file);
    if (!existsSync(from)) {
      fail(`${pkg.name}/${file} does not exist (has the package's layout changed?).`);
    }
    const code = await readFile(from, "utf8");
    if (/sourceMappingURL/.test(code)) {
      fail(`${pkg.name}/${file} names a source map, which is not shipped.`);
    }
    for (const match of code.replace(COMMENTS, "").matchAll(IMPORT)) {
      const spec = match[1] ?? match[2];
      if (!spec.startsWith("./")) {
        fail(`${pkg.name}/${file} imports "${spec}": only relative "./x.js" imports can be served as they are.`);
      }
      queue.push(path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)));
    }
    await mkdir(path.dirname(path.join(out, file)), { recursive: true });
    await writeFile(path.join(out, file), `// ${pkg.name} ${version} (copied by portal/assets/copy-vendor.mjs)\n${code}`);
  }
  await copyFile(path.join(source, pkg.licence), path.join(out, "LICENSE.txt"));
  console.log(`copy-vendor: ${pkg.name} ${version} -> ${path.relative(root, out)}/ (${[...done].sort().join(", ")})`);
}

for (const pkg of SCRIPTS) {
  const source = path.join(root, "node_modules", ...pkg.name.split("/"));
  if (!existsSync(path.join(source, pkg.file))) {
    fail(`${pkg.name}/${pkg.file} is missing: run \`npm ci\` first.`);
  }
  const { version } = JSON.parse(await readFile(path.join(source, "package.json"), "utf8"));
  const code = (await readFile(path.join(source, pkg.file), "utf8")).replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, "\n");
  if (/sourceMappingURL/.test(code)) {
    fail(`${pkg.name}/${pkg.file} still names a source map.`);
  }
  const out = path.join(vendorRoot, pkg.out);
  await mkdir(out, { recursive: true });
  await writeFile(path.join(out, path.basename(pkg.file)), `// ${pkg.name} ${version} (copied by portal/assets/copy-vendor.mjs)\n${code}`);
  await copyFile(path.join(source, pkg.licence), path.join(out, "LICENSE.txt"));
  console.log(`copy-vendor: ${pkg.name} ${version} -> ${path.relative(root, out)}/${path.basename(pkg.file)}`);
}
