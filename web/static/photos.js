// Progressive enhancement for the photos page: drag-and-drop, one request per file with upload
// progress, then live statuses until every photo is checked: each finished row links to its
// photo and new photos join the grid below. Without JavaScript the form works.
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) return;
  const input = document.getElementById("files");
  const zone = document.getElementById("dropzone");
  const list = document.getElementById("upload-progress");
  const grid = document.getElementById("photo-grid");
  const filter = list.dataset.filter || "";
  const csrf = form.querySelector("input[name=csrf_token]").value;
  const statusUrl = form.action.replace(/\/photos$/, "/photos.json");
  const rows = new Map(); // media id -> progress row parts

  function row(name) {
    const li = document.createElement("li");
    const label = document.createElement("span");
    label.textContent = name;
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", "Upload of " + name);
    const state = document.createElement("span");
    state.className = "small";
    state.textContent = "waiting";
    li.append(label, bar, state);
    list.append(li);
    return { li, label, bar, state };
  }

  function finish(ui, photo) {
    ui.state.textContent = photo.label;
    if (!photo.final || ui.linked) return;
    const link = document.createElement("a");
    link.href = photo.url;
    link.textContent = "Open " + photo.filename;
    ui.li.append(link);
    ui.bar.remove();
    ui.linked = true;
  }

  function gridItem(photo) {
    if (!grid || document.querySelector('#photo-grid [data-status-of="' + photo.id + '"]')) return;
    if (filter && filter !== photo.status) return;
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = photo.url;
    if (photo.thumb) {
      const img = document.createElement("img");
      img.src = photo.thumb;
      img.alt = photo.filename;
      img.width = 180;
      a.append(img);
    } else {
      const none = document.createElement("span");
      none.className = "no-thumb";
      none.textContent = "no picture";
      a.append(none);
    }
    const tag = document.createElement("span");
    tag.className = "status-tag media-" + photo.status;
    tag.dataset.statusOf = photo.id;
    tag.textContent = photo.status.replace("_", " ");
    const name = document.createElement("span");
    name.className = "small";
    name.textContent = photo.filename;
    a.append(tag, name);
    li.append(a);
    grid.prepend(li);
    const empty = document.getElementById("no-photos");
    if (empty) empty.remove();
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
          ui.state.textContent = (result.detail || result.status.replace("_", " ")) + (result.duplicate ? " (already uploaded)" : "");
          rows.set(result.id, ui);
        } catch (err) {
          ui.state.textContent = "upload failed (" + xhr.status + ")";
        }
        resolve();
      };
      xhr.onerror = () => { ui.state.textContent = "upload failed"; resolve(); };
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
          document.querySelectorAll('#photo-grid [data-status-of="' + p.id + '"]').forEach((el) => {
            el.textContent = p.status.replace("_", " ");
            el.className = "status-tag media-" + p.status;
          });
          const ui = rows.get(p.id);
          if (ui) {
            finish(ui, p);
            gridItem(p);
          }
          if (!p.final) busy = true;
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
  if (document.querySelector("#photo-grid [data-status-of]")) poll();
})();
