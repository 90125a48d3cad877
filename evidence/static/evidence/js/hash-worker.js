// Calculates a file's SHA-256 away from the page, a slice at a time, so that a large exhibit never
// has to fit in memory and the page stays responsive.
//
// Started by upload.js as a module worker: new Worker(url, {type: "module"}).
// In:  {file: File}
// Out: {type: "progress", loaded, total}  after every slice (and once at 0)
//      {type: "done", sha256, size}        sha256 as 64 lower-case hex characters
//      {type: "error", message}
//
// Web Crypto's crypto.subtle.digest() only hashes a whole buffer at once, so the incremental hasher
// comes from @noble/hashes (pure JavaScript: no WebAssembly, no change to the content security
// policy). The vendor files are copied there by `npm run build` (portal/assets/copy-vendor.mjs).
import { sha256 } from "../vendor/noble-hashes/sha2.js";
import { bytesToHex } from "../vendor/noble-hashes/utils.js";

const SLICE_BYTES = 4 * 1024 * 1024;

self.addEventListener("message", async (event) => {
  const file = event.data && event.data.file;
  if (!(file instanceof Blob)) {
    self.postMessage({ type: "error", message: "No file was given to the hash worker." });
    return;
  }
  try {
    const hasher = sha256.create();
    const total = file.size;
    const read = (start) => file.slice(start, Math.min(start + SLICE_BYTES, total)).arrayBuffer();
    let loaded = 0;
    self.postMessage({ type: "progress", loaded, total });
    // The browser reads the next slice while this one is hashed: at most two slices in memory.
    let next = total > 0 ? read(0) : null;
    while (loaded < total) {
      const buffer = await next;
      next = loaded + buffer.byteLength < total ? read(loaded + buffer.byteLength) : null;
      hasher.update(new Uint8Array(buffer));
      loaded += buffer.byteLength;
      self.postMessage({ type: "progress", loaded, total });
    }
    self.postMessage({ type: "done", sha256: bytesToHex(hasher.digest()), size: total });
  } catch (error) {
    // For example NotReadableError: the file was changed, moved or deleted after it was chosen.
    self.postMessage({ type: "error", message: (error && error.message) || String(error) });
  }
});
