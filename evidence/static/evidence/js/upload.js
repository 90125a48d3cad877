// Exhibit uploads on a tasking's exhibits page, as a progressive enhancement of the plain form.
//
// Without this script (or in a browser that cannot run it) the form posts one file as
// multipart/form-data to exhibit_upload, and the page the server returns says what happened.
//
// With it, in a secure context with module Web Workers:
// - the file input takes several files (GOV.UK Frontend's file upload component, started by
//   portal/js/init.js, gives it its drop zone: a button that opens the file picker and takes drops);
// - for each file in turn, hash-worker.js calculates its SHA-256 a slice at a time, then the file is
//   sent as a resumable upload (the tus protocol, evidence/resumable_views.py, with tus-js-client) with
//   the form's other fields and the browser's SHA-256 as JSON in its metadata. The server hashes the
//   whole file once it is all there and refuses it if the two SHA-256 values differ;
// - each file gets a progress bar and a line of text; the role="status" region announces the
//   milestones; problems go in a GOV.UK error summary with the server's own messages;
// - when the batch is finished the "Your exhibits" section is fetched again from the server.
//
// The content security policy allows no inline script or style attribute: this file is loaded with
// <script type="module" src>, and progress widths are set through the CSSOM (element.style), which
// the policy does not restrict.
import { ErrorSummary } from "../../govuk/govuk-frontend.min.js";

// Proxies and gunicorn refuse a header line longer than about 8 KB (gunicorn: 8,190 bytes).
const MAX_METADATA_HEADER = 8000;
// Each request of a resumable upload carries at most this much unless the page says otherwise
// (PORTAL_RESUMABLE_CHUNK_BYTES): small enough for a proxy's body limit and to lose little to a dropped
// connection, large enough that the per-request cost does not show.
const DEFAULT_CHUNK_SIZE = 32 * 1024 * 1024;

const form = document.querySelector("form[data-exhibit-upload]");
if (form && browserCanHash()) {
  enhance(form);
}

function browserCanHash() {
  return (
    window.isSecureContext === true &&
    typeof window.Worker === "function" &&
    typeof window.XMLHttpRequest === "function" &&
    typeof window.tus === "object" &&
    window.tus.isSupported === true &&
    typeof window.DOMParser === "function" &&
    typeof Blob.prototype.arrayBuffer === "function" &&
    supportsModuleWorkers()
  );
}

// A browser that knows module workers reads the `type` option; an invalid URL then makes the
// constructor throw before anything is fetched (so nothing can trip the content security policy).
function supportsModuleWorkers() {
  let supported = false;
  const options = {
    get type() {
      supported = true;
      return "module";
    },
  };
  try {
    new Worker("http://[", options).terminate();
  } catch {
    // Expected: the URL is invalid on purpose.
  }
  return supported;
}

function enhance(form) {
  const input = form.querySelector('input[type="file"]');
  const button = form.querySelector('button[type="submit"]');
  const progress = document.querySelector("[data-exhibit-upload-progress]");
  const status = document.querySelector("[data-exhibit-upload-status]");
  const errorSlot = document.querySelector("[data-exhibit-upload-errors]");
  if (!input || !button || !progress || !status || !errorSlot) {
    return;
  }
  const list = progress.querySelector("ul");
  const uploadsUrl = form.dataset.uploadsUrl;
  const workerUrl = form.dataset.hashWorker;
  const pageUrl = form.dataset.pageUrl || window.location.pathname;
  const maxBytes = Number(form.dataset.maxBytes) || Infinity;
  const chunkSize = Number(form.dataset.chunkBytes) || DEFAULT_CHUNK_SIZE;
  const maxSize = form.dataset.maxSize || "";
  const fileFieldId = input.id;
  let busy = false;
  let enhanced = true;

  // Several files at once, only with this script: the multipart form keeps one file per post.
  input.multiple = true;
  const zone = dropZone(input);
  const label = form.querySelector(`label[for="${fileFieldId}"]`);
  if (label) {
    label.textContent = "Files";
    const hint = element("div", { class: "govuk-hint", id: `${fileFieldId}-hint` }, [
      "You can choose more than one file, or drag them into the box. Each file becomes an exhibit of its own, with the " +
        "details below. Your browser calculates each file's SHA-256 before sending it, and the portal " +
        "checks it matches what arrives. If the connection drops, the upload carries on where it stopped; " +
        "if you close this page, choose the same file again to continue it.",
    ]);
    label.after(hint);
    addToken(input, "aria-describedby", hint.id);
  }

  form.addEventListener("submit", (event) => {
    if (!enhanced) {
      return; // the plain form post
    }
    if (busy) {
      event.preventDefault();
      return;
    }
    const files = Array.from(input.files || []);
    if (files.length === 0) {
      return; // the server answers "Choose a file to upload." on the page, as without JavaScript
    }
    event.preventDefault();
    uploadAll(files);
  });

  window.addEventListener("beforeunload", (event) => {
    if (busy) {
      event.preventDefault();
      event.returnValue = ""; // older browsers need a value to ask before leaving
    }
  });

  async function uploadAll(files) {
    clearErrors();
    const metadata = formMetadata();
    const token = form.elements.namedItem("csrfmiddlewaretoken")?.value || "";
    const problems = []; // {text, href}: the error summary's lines
    const fieldErrors = {};
    const received = [];
    let stopReason = "";
    let unconfirmed = false; // a connection lost mid-way: the portal may have stored the file

    setBusy(true);
    list.replaceChildren();
    const rows = files.map((file, index) => fileRow(file, index));
    progress.hidden = false;
    announce(files.length === 1 ? `Checking and uploading ${files[0].name}.` : `Checking and uploading ${files.length} files, one at a time.`);

    // Upload-Metadata carries the details (JSON) and the file's name, each base64-encoded.
    const base64Length = (text) => Math.ceil(new TextEncoder().encode(text).length / 3) * 4;
    const longestName = Math.max(0, ...files.map((file) => base64Length(file.name)));
    const header = base64Length(JSON.stringify({ ...metadata, browser_sha256: "0".repeat(64) })) + longestName + 100;
    if (header > MAX_METADATA_HEADER) {
      fieldErrors.description = ["The details are too long to send with the files. Shorten the description and try again."];
      stopReason = "Not uploaded: shorten the details first.";
    }

    for (const [index, file] of files.entries()) {
      const row = rows[index];
      if (stopReason) {
        row.fail(stopReason);
        continue;
      }
      if (file.size > maxBytes) {
        const message = `The file is larger than the ${maxSize} limit for an exhibit. Nothing was stored. If it is a long video, ask your supervising officer how to hand it over.`;
        row.fail(message);
        problems.push({ text: `${file.name}: ${message}`, href: `#${fileFieldId}` });
        continue;
      }

      let sha256;
      try {
        sha256 = await hashFile(file, (percent) => row.progress("Checking file…", percent));
      } catch (error) {
        if (error.workerDidNotStart && files.length === 1) {
          // This browser cannot run the checking script after all: send the file the plain way.
          enhanced = false;
          setBusy(false);
          progress.hidden = true;
          announce("Uploading the file.");
          form.requestSubmit ? form.requestSubmit(button) : form.submit();
          return;
        }
        if (error.workerDidNotStart) {
          enhanced = false;
          input.multiple = false;
          stopReason = "Not uploaded.";
        }
        const message = error.workerDidNotStart
          ? "Your browser could not check the files before sending them. Nothing was stored. Choose one file and upload it again: it will be sent without the check in your browser, and the portal still calculates its SHA-256."
          : `Your browser could not read this file (${error.message}). Nothing was stored. Check the file is still there and choose it again.`;
        row.fail(message);
        problems.push({ text: `${file.name}: ${message}`, href: `#${fileFieldId}` });
        continue;
      }

      announce(`Uploading ${file.name}.`);
      const answer = await send(
        file,
        { ...metadata, browser_sha256: sha256 },
        token,
        (percent) => row.progress("Uploading…", percent),
        () => row.waiting(),
      );
      if ((answer.status === 200 || answer.status === 201) && answer.body && answer.body.reference) {
        row.received(answer.body);
        received.push(answer.body.reference);
        announce(`${file.name} received as ${answer.body.reference}.`);
        continue;
      }

      const errors = (answer.body && answer.body.errors) || null;
      if (errors) {
        const general = errors.__all__ || [];
        const fields = Object.entries(errors).filter(([name]) => name !== "__all__");
        for (const [name, messages] of fields) {
          fieldErrors[name] = messages; // the same details go with every file: fix them once
        }
        const message = general.length ? general.join(" ") : "Nothing was stored: check the details you entered.";
        row.fail(message);
        for (const text of general) {
          problems.push({ text: `${file.name}: ${text}`, href: `#${fileFieldId}` });
        }
        if (answer.status === 401) {
          stopReason = "Not uploaded: you have been signed out. Reload the page, sign in, and choose this file again.";
        } else if (answer.status === 507) {
          // The portal's disk is full: the next files would meet the same answer after a whole upload each.
          stopReason = "Not uploaded: the portal has no room to store files now. Choose this file again later.";
        } else if (fields.length || answer.status === 403) {
          stopReason = "Not uploaded, because of the problem listed at the top of the page. Choose this file again once it is fixed.";
        }
      } else {
        const { message, stop } = unexpectedAnswer(answer);
        unconfirmed ||= answer.status === 0;
        row.fail(message);
        problems.push({ text: `${file.name}: ${message}`, href: `#${fileFieldId}` });
        if (stop) {
          stopReason = "Not uploaded.";
        }
      }
      announce(`${file.name} was not stored.`);
    }

    // Start again with an empty file input (every chosen file has been dealt with above).
    setBusy(false);
    input.value = "";
    input.dispatchEvent(new Event("change"));
    if (received.length || unconfirmed) {
      await refreshExhibitList();
    }
    const failed = files.length - received.length;
    if (problems.length || Object.keys(fieldErrors).length) {
      showErrors(problems, fieldErrors);
    } else {
      clearDetails(); // as after the plain form's successful post
    }
    announce(
      failed === 0
        ? `Finished. ${plural(received.length, "exhibit")} received: ${received.join(", ")}.`
        : `Finished. ${received.length} of ${plural(files.length, "file")} received; ${failed} not stored. The problems are listed at the top of the page.`,
    );
  }

  function formMetadata() {
    const metadata = {};
    for (const field of form.elements) {
      const skip =
        !field.name ||
        field.disabled ||
        field.type === "file" ||
        field.type === "submit" ||
        field.name === "csrfmiddlewaretoken" ||
        field.name === "browser_sha256";
      if (skip || (field.type === "radio" && !field.checked)) {
        continue;
      }
      metadata[field.name] = field.type === "checkbox" ? field.checked : field.value;
    }
    return metadata;
  }

  function clearDetails() {
    for (const field of form.elements) {
      if (field.type === "checkbox" || field.type === "radio") {
        field.checked = false;
      } else if (field.tagName === "TEXTAREA" || ["text", "url", "email", "tel", "search"].includes(field.type)) {
        field.value = "";
      }
    }
  }

  function setBusy(on) {
    busy = on;
    input.disabled = on;
    zone.classList.toggle("app-drop-zone--disabled", on);
    if (on) {
      button.setAttribute("aria-disabled", "true");
      button.classList.add("govuk-button--disabled");
    } else {
      button.removeAttribute("aria-disabled");
      button.classList.remove("govuk-button--disabled");
    }
  }

  // The native input, unchanged, inside a box that also takes files dragged onto it.
  function dropZone(input) {
    const zone = element("div", { class: "app-drop-zone" });
    input.before(zone);
    zone.append(input, element("p", { class: "govuk-body app-drop-zone__instruction" }, ["or drag and drop files into this box"]));
    const carriesFiles = (event) => Array.from(event.dataTransfer?.types || []).includes("Files");
    for (const type of ["dragenter", "dragover"]) {
      zone.addEventListener(type, (event) => {
        if (!carriesFiles(event)) {
          return;
        }
        event.preventDefault(); // accept the drop
        event.dataTransfer.dropEffect = busy ? "none" : "copy";
        zone.classList.toggle("app-drop-zone--dragging", !busy);
      });
    }
    zone.addEventListener("dragleave", (event) => {
      if (!zone.contains(event.relatedTarget)) {
        zone.classList.remove("app-drop-zone--dragging");
      }
    });
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("app-drop-zone--dragging");
      const files = event.dataTransfer?.files;
      if (busy || !files || files.length === 0) {
        return;
      }
      input.files = files;
      input.dispatchEvent(new Event("change", { bubbles: true }));
      const names = Array.from(files, (file) => file.name).join(", ");
      announce(`${plural(files.length, "file")} chosen: ${names}.`);
    });
    // A file dropped just outside the box would otherwise be opened by the browser, leaving the page.
    for (const type of ["dragover", "drop"]) {
      document.addEventListener(type, (event) => {
        if (carriesFiles(event) && !zone.contains(event.target)) {
          event.preventDefault();
          if (type === "dragover") {
            event.dataTransfer.dropEffect = "none";
          }
        }
      });
    }
    return zone;
  }

  function announce(text) {
    status.textContent = text;
  }

  function hashFile(file, onProgress) {
    return new Promise((resolve, reject) => {
      let worker;
      let started = false;
      const fail = (message) => {
        const error = new Error(message);
        error.workerDidNotStart = !started;
        worker?.terminate();
        reject(error);
      };
      try {
        worker = new Worker(workerUrl, { type: "module", name: "exhibit-hash" });
      } catch (error) {
        fail(error.message || String(error));
        return;
      }
      worker.addEventListener("message", ({ data }) => {
        started = true;
        if (data.type === "progress") {
          onProgress(data.total ? Math.floor((100 * data.loaded) / data.total) : 100);
        } else if (data.type === "done") {
          worker.terminate();
          resolve(data.sha256);
        } else {
          fail(data.message || "unknown error");
        }
      });
      worker.addEventListener("error", (event) => {
        event.preventDefault();
        fail(event.message || "the checking script could not run");
      });
      worker.addEventListener("messageerror", () => fail("the file could not be passed to the checking script"));
      worker.postMessage({ file });
    });
  }

  // Resumable upload (the tus protocol, tus-js-client loaded before this module): the file goes in pieces of
  // chunkSize, each request starting where the portal's copy ends. A dropped connection, a restarted
  // server or a laptop closed mid-way costs a retry, not the upload: the client asks the portal how much it
  // holds and sends the rest. The upload's address is kept in this browser (localStorage) until it
  // completes, so choosing the same file again after a reload continues it instead of starting over.
  function send(file, metadata, token, onProgress, onSent) {
    return new Promise((resolve) => {
      const answer = (response) => {
        let body = null;
        for (const text of [response.getBody(), response.getHeader("X-Exhibit")]) {
          try {
            body = JSON.parse(text);
            break;
          } catch {
            // Not JSON: a proxy's error page, or nothing. A HEAD answer (the upload had already become an
            // exhibit when this browser asked again) carries the exhibit in its X-Exhibit header.
          }
        }
        resolve({ status: response.getStatus(), body, url: "" });
      };
      const upload = new window.tus.Upload(file, {
        endpoint: uploadsUrl,
        chunkSize,
        retryDelays: [0, 1000, 3000, 5000, 10000, 20000, 30000, 60000, 60000, 60000],
        metadata: { filename: file.name, filetype: file.type || "", exhibit: JSON.stringify(metadata) },
        headers: { "X-CSRFToken": token },
        storeFingerprintForResuming: true,
        removeFingerprintOnSuccess: true,
        onShouldRetry(error) {
          // Retry what time can mend (no answer, 409/423, 5xx); not a refusal, nor a full disk.
          const status = error.originalResponse ? error.originalResponse.getStatus() : 0;
          if (status === 507) return false;
          return !(status >= 400 && status < 500 && status !== 409 && status !== 423);
        },
        onProgress(sent, total) {
          onProgress(total ? Math.floor((100 * sent) / total) : 100);
          if (sent === total) onSent();
        },
        onSuccess({ lastResponse }) {
          answer(lastResponse);
        },
        onError(error) {
          if (error.originalResponse && error.originalResponse.getStatus()) {
            answer(error.originalResponse);
          } else {
            resolve({ status: 0, body: null, url: "" });
          }
        },
      });
      onProgress(0);
      upload
        .findPreviousUploads()
        .then((previous) => {
          if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
        })
        .catch(() => {})
        .finally(() => upload.start());
    });
  }

  function unexpectedAnswer({ status, url }) {
    if (status === 0) {
      return {
        message:
          "The connection was lost before the portal confirmed this file. Check the list of your exhibits below. If it is not there, choose the same file again: the upload continues from where it stopped.",
        stop: false,
      };
    }
    if (/\/accounts\/login\//.test(url) || status === 401 || status === 403) {
      return {
        message: "You have been signed out, or the page is out of date. Nothing was stored. Reload the page, sign in if asked, and upload the file again.",
        stop: true,
      };
    }
    if (status === 413) {
      return { message: `The file is larger than the ${maxSize} limit for an exhibit. Nothing was stored.`, stop: false };
    }
    return {
      message: `The portal could not accept the file (error ${status}). Nothing was stored. Try again, and tell your supervising officer if it keeps happening.`,
      stop: false,
    };
  }

  // --- The progress display: one list item per file ------------------------------------------------

  function fileRow(file, index) {
    const id = `exhibit-upload-${index + 1}`;
    const name = element("p", { class: "govuk-body govuk-!-font-weight-bold govuk-!-margin-bottom-2 app-upload-progress__name", id: `${id}-name` }, [
      `${file.name} (${formatSize(file.size)})`,
    ]);
    const fill = element("div", { class: "app-progress__value" });
    const bar = element(
      "div",
      {
        class: "app-progress",
        role: "progressbar",
        "aria-labelledby": `${id}-name`,
        "aria-valuemin": "0",
        "aria-valuemax": "100",
        "aria-valuenow": "0",
        "aria-valuetext": "Waiting",
      },
      [fill],
    );
    const text = element("p", { class: "govuk-body app-upload-progress__text", id: `${id}-text` }, ["Waiting…"]);
    bar.setAttribute("aria-describedby", text.id);
    list.append(element("li", { class: "app-upload-progress__item" }, [name, bar, text]));
    let shown = "";

    const setValue = (percent) => {
      bar.setAttribute("aria-valuenow", String(percent));
      fill.style.width = `${percent}%`; // CSSOM: allowed by the content security policy
    };
    const show = (label, percent) => {
      if (label === shown) {
        return; // progress events come faster than whole percentages change
      }
      shown = label;
      setValue(percent);
      bar.setAttribute("aria-valuetext", label);
      text.textContent = label;
    };
    return {
      progress(phase, percent) {
        show(`${phase} ${percent}%`, percent);
      },
      waiting() {
        show("Uploaded 100%. Waiting for the portal to confirm…", 100);
      },
      received({ reference, sha256 }) {
        setValue(100);
        bar.classList.add("app-progress--done");
        bar.setAttribute("aria-valuetext", `Received as ${reference}`);
        text.replaceChildren(`Received as ${reference} — SHA-256 `, element("span", { class: "app-hash" }, [sha256]));
      },
      fail(message) {
        bar.classList.add("app-progress--error");
        bar.setAttribute("aria-valuetext", "Not stored");
        text.classList.add("app-upload-progress__text--error");
        text.replaceChildren(element("span", { class: "govuk-visually-hidden" }, ["Error: "]), message);
      },
    };
  }

  // --- Errors: the GOV.UK error summary and messages on the fields ---------------------------------

  function showErrors(problems, fieldErrors) {
    const items = [...problems];
    for (const [name, messages] of Object.entries(fieldErrors)) {
      const href = markField(name, messages);
      for (const text of messages) {
        items.push({ text, href });
      }
    }
    const listItems = items.map(({ text, href }) =>
      element("li", {}, [href ? element("a", { href }, [text]) : text]),
    );
    const summary = element("div", { class: "govuk-error-summary", "data-module": "govuk-error-summary" }, [
      element("div", { role: "alert" }, [
        element("h2", { class: "govuk-error-summary__title" }, ["There is a problem"]),
        element("div", { class: "govuk-error-summary__body" }, [
          element("ul", { class: "govuk-list govuk-error-summary__list" }, listItems),
        ]),
      ]),
    ]);
    errorSlot.replaceChildren(summary);
    if (!document.title.startsWith("Error: ")) {
      document.title = `Error: ${document.title}`;
    }
    try {
      new ErrorSummary(summary); // moves focus to the summary; its links focus the field they name
    } catch {
      summary.setAttribute("tabindex", "-1");
      summary.focus();
    }
  }

  // Shows a field's error the way includes/field.html does; returns the link for the error summary.
  function markField(name, messages) {
    const field = form.elements.namedItem(name);
    if (!(field instanceof HTMLElement) || field.type === "hidden" || !field.id) {
      return null;
    }
    const group = field.closest(".govuk-form-group");
    const errorId = `${field.id}-error`;
    const message = element("p", { class: "govuk-error-message", id: errorId }, [
      element("span", { class: "govuk-visually-hidden" }, ["Error:"]),
      ` ${messages.join(" ")}`,
    ]);
    if (field.type === "checkbox") {
      (field.closest(".govuk-checkboxes") || field).before(message);
    } else {
      field.before(message);
      field.classList.add(field.tagName === "TEXTAREA" ? "govuk-textarea--error" : "govuk-input--error");
    }
    group?.classList.add("govuk-form-group--error");
    addToken(field, "aria-describedby", errorId);
    return `#${field.id}`;
  }

  function clearErrors() {
    errorSlot.replaceChildren();
    // A summary the server rendered after an earlier plain post is out of date too.
    for (const summary of document.querySelectorAll(".govuk-error-summary")) {
      summary.remove();
    }
    for (const message of form.querySelectorAll(".govuk-error-message")) {
      for (const described of form.querySelectorAll(`[aria-describedby~="${message.id}"]`)) {
        removeToken(described, "aria-describedby", message.id);
      }
      message.remove();
    }
    for (const name of [
      "govuk-form-group--error",
      "govuk-input--error",
      "govuk-textarea--error",
      "govuk-select--error",
      "govuk-file-upload--error", // the server marks the file input after a plain post it refused
    ]) {
      for (const node of form.querySelectorAll(`.${name}`)) {
        node.classList.remove(name);
      }
    }
    document.title = document.title.replace(/^Error: /, "");
  }

  // --- The exhibit table comes from the server -----------------------------------------------------

  async function refreshExhibitList() {
    const current = document.getElementById("exhibit-list");
    if (!current) {
      return;
    }
    try {
      const response = await fetch(pageUrl, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!response.ok) {
        return;
      }
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById("exhibit-list");
      if (fresh) {
        current.replaceWith(document.importNode(fresh, true));
      }
    } catch {
      // The results above still say what was received; reloading the page shows the table.
    }
  }
}

// --- Small helpers -----------------------------------------------------------------------------------

function element(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

function addToken(node, attribute, token) {
  const tokens = (node.getAttribute(attribute) || "").split(/\s+/).filter(Boolean);
  if (!tokens.includes(token)) {
    tokens.push(token);
  }
  node.setAttribute(attribute, tokens.join(" "));
}

function removeToken(node, attribute, token) {
  const tokens = (node.getAttribute(attribute) || "").split(/\s+/).filter((t) => t && t !== token);
  if (tokens.length) {
    node.setAttribute(attribute, tokens.join(" "));
  } else {
    node.removeAttribute(attribute);
  }
}

function formatSize(bytes) {
  const units = ["KB", "MB", "GB", "TB"];
  if (bytes < 1024) {
    return bytes === 1 ? "1 byte" : `${bytes} bytes`;
  }
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
