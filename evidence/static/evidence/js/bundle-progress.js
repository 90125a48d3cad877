// Polls the bundle's status every two seconds and updates the progress bar, its text (aria-live)
// and, when done, the download link or the failure reason with its retry button.
const root = document.getElementById("bundle-progress");
if (root && !["ready", "failed", "withdrawn"].includes(root.dataset.state)) {
  const bar = root.querySelector(".app-progress");
  const native = root.querySelector("progress"); // a native progress bar: its role and value are announced
  const stage = document.getElementById("bundle-stage");
  // The page updates itself: the advice to refresh by hand is for browsers without JavaScript.
  const refresh = document.getElementById("bundle-refresh");
  if (refresh) refresh.hidden = true;
  const timer = setInterval(async () => {
    let status;
    try {
      const response = await fetch(root.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      status = await response.json();
    } catch {
      return; // a dropped request: try again on the next tick
    }
    native.value = status.percent;
    native.textContent = `${status.percent}%`;
    stage.textContent = `${status.percent}% — ${status.stage}`;
    if (status.state === "ready") {
      clearInterval(timer);
      bar.classList.add("app-progress--done");
      const download = document.getElementById("bundle-download");
      if (status.package) {
        download.querySelector("a").textContent =
          "Download the bundle package (ZIP: the signed PDF and the files too large to embed)";
      }
      const sensitive = document.getElementById("bundle-sensitive");
      if (sensitive && status.sensitive_url) {
        sensitive.querySelector("a").href = status.sensitive_url;
        sensitive.hidden = false;
      }
      download.hidden = false;
    } else if (status.state === "withdrawn") {
      // An exhibit it was to hold was disposed of meanwhile: the page itself says so, and offers nothing.
      clearInterval(timer);
      window.location.reload();
    } else if (status.state === "failed") {
      clearInterval(timer);
      bar.classList.add("app-progress--error");
      document.getElementById("bundle-error").textContent = status.error;
      document.getElementById("bundle-failed").hidden = false;
    }
  }, 2000);
}
