// Progressive enhancement for the photos page: drag-and-drop, one request per file with upload
// progress, then live statuses until every photo is checked. Without JavaScript the form works.
(function () {
  const form = document.getElementById("upload-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) return;
  const input = document.getElementById("files");
  const zone = document.getElementById("dropzone");
  const list = document.getElementById("upload-progress");
  const csrf = form.querySelector("input[name=csrf_token]").value;
  const statusUrl = form.action.replace(/\/photos$/, "/photos.json");

  function row(name) {
    const li = document.createElement("li");
    const label = document.createElement("span");
    label.textContent = name;
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    const state = document.createElement("span");
    state.className = "small";
    state.textContent = " waiting";
    li.append(label, " ", bar, state);
    list.append(li);
    return { bar, state };
  }

  function send(file) {
    const ui = row(file.name);
    return new Promise((resolve) => {
      const data = new FormData();
      data.append("csrf_token", csrf);
      data.append("files", file);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) ui.bar.value = (100 * e.loaded) / e.total; };
      xhr.onload = () => {
        ui.bar.value = 100;
        try {
          const [result] = JSON.parse(xhr.responseText);
          ui.state.textContent = " " + (result.detail || result.status.replace("_", " ")) + (result.duplicate ? " (already uploaded)" : "");
          ui.state.dataset.statusOf = result.id;
        } catch (err) {
          ui.state.textContent = " upload failed (" + xhr.status + ")";
        }
        resolve();
      };
      xhr.onerror = () => { ui.state.textContent = " upload failed"; resolve(); };
      xhr.send(data);
    });
  }

  async function upload(files) {
    for (const file of files) await send(file);
    poll();
  }

  function poll() {
    fetch(statusUrl, { headers: { Accept: "application/json" } })
      .then((r) => r.json())
      .then((body) => {
        let busy = false;
        for (const p of body.photos) {
          document.querySelectorAll('[data-status-of="' + p.id + '"]').forEach((el) => {
            el.textContent = " " + p.status.replace("_", " ");
          });
          if (p.status === "pending" || p.status === "processing") busy = true;
        }
        for (const [status, n] of Object.entries(body.counts)) {
          const el = document.querySelector('[data-count="' + status + '"]');
          if (el) el.textContent = n;
        }
        if (busy) setTimeout(poll, 1500);
      })
      .catch(() => setTimeout(poll, 5000));
  }

  form.addEventListener("submit", (e) => {
    if (!input.files.length) return;
    e.preventDefault();
    upload(Array.from(input.files));
    form.reset();
  });
  ["dragenter", "dragover"].forEach((t) => zone.addEventListener(t, (e) => { e.preventDefault(); zone.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => zone.addEventListener(t, (e) => { e.preventDefault(); zone.classList.remove("over"); }));
  zone.addEventListener("drop", (e) => upload(Array.from(e.dataTransfer.files)));
  if (document.querySelector('[data-status-of]')) poll();
})();
