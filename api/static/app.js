// A little JavaScript where it helps: upload progress, live grading status, regrade progress.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";

async function api(url, options = {}) {
  const response = await fetch(url, {
    credentials: "same-origin",
    ...options,
    headers: { Accept: "application/json", "X-CSRF-Token": csrf, ...(options.headers || {}) },
  });
  const body = await response.json().catch(() => ({}));
  return { ok: response.ok, status: response.status, body };
}

// Swap a submission's result block in once it is graded (polling its JSON status).
async function watchResult(container, id) {
  for (;;) {
    const { ok, body } = await api(`/api/v1/submissions/${id}`);
    if (ok && (body.status === "graded" || body.status === "error")) break;
    if (ok) {
      const status = container.querySelector(".status strong");
      if (status) status.textContent = body.status;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  const fragment = await fetch(`/submissions/${id}/result`, { credentials: "same-origin" });
  container.innerHTML = await fragment.text();
  const { body } = await api(`/api/v1/submissions/${id}`);
  updateHistoryRow(body);
}

function updateHistoryRow(submission) {
  const row = document.querySelector(`#history tr[data-submission="${submission.id}"]`);
  if (!row) return;
  row.querySelector(".status").textContent = submission.status;
  if (submission.total !== null) {
    const total = submission.adjusted_total ?? submission.total;
    row.querySelector(".score").textContent = `${total}/${submission.max_score}`;
  }
}

function addHistoryRow(created) {
  const body = document.querySelector("#history tbody");
  if (!body) return;
  const row = document.createElement("tr");
  row.dataset.submission = created.id;
  const cells = [`<a href="/submissions/${created.id}">${created.version}</a>`, new Date().toISOString().slice(0, 19).replace("T", " "), "", "queued", ""];
  row.innerHTML = cells.map((cell, i) => `<td${i === 3 ? ' class="status"' : i === 4 ? ' class="num score"' : ""}>${cell}</td>`).join("");
  body.prepend(row);
}

function setupUpload() {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = form.querySelector("input[type=file]");
  const drop = document.getElementById("drop-zone");
  const progress = document.getElementById("upload-progress");
  const message = document.getElementById("upload-message");
  // One key per upload, kept until the server has answered it: a retry after a lost answer or a 503
  // is the same upload, stored once.
  let key = null;
  input.addEventListener("change", () => { key = null; });
  const newKey = () => (window.crypto?.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`);

  ["dragenter", "dragover"].forEach((name) => drop.addEventListener(name, (event) => { event.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((name) => drop.addEventListener(name, () => drop.classList.remove("over")));
  drop.addEventListener("drop", (event) => { event.preventDefault(); input.files = event.dataTransfer.files; key = null; message.textContent = `Ready: ${input.files[0]?.name ?? ""}`; });

  const send = (file, tries) => {
    const data = new FormData();
    data.append("file", file);
    const request = new XMLHttpRequest();
    request.open("POST", form.dataset.api);
    request.setRequestHeader("X-CSRF-Token", csrf);
    request.setRequestHeader("Accept", "application/json");
    request.setRequestHeader("Idempotency-Key", key);
    progress.hidden = false;
    progress.value = 0;
    message.className = "";
    request.upload.onprogress = (e) => {
      if (e.lengthComputable) { progress.value = (100 * e.loaded) / e.total; message.textContent = `Uploading… ${Math.round(progress.value)}%`; }
    };
    request.onload = () => {
      let body = {};
      try { body = JSON.parse(request.responseText); } catch (_) { /* not JSON */ }
      if (request.status === 503 && tries < 5) {
        const wait = Number(request.getResponseHeader("Retry-After") || 5);
        message.textContent = `The server is temporarily unavailable: trying again in ${wait} s…`;
        setTimeout(() => send(file, tries + 1), 1000 * wait);
        return;
      }
      if (request.status === 202) {
        key = null;
        message.textContent = `Uploaded as submission ${body.version}: waiting for the grader…`;
        addHistoryRow(body);
        const latest = document.getElementById("latest-result");
        latest.innerHTML = `<div class="result"><p class="status live" aria-live="polite">Submission ${body.version} is <strong>queued</strong>…</p></div>`;
        watchResult(latest, body.id).then(() => { message.textContent = "Graded."; });
      } else {
        message.className = "error";
        message.textContent = `Upload rejected: ${body.detail ?? request.statusText}`;
      }
      form.reset();
    };
    request.onerror = () => { message.className = "error"; message.textContent = "The upload did not reach the server: check your connection and try again."; };
    request.send(data);
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const file = input.files[0];
    if (!file) { message.textContent = "Choose handin.tar first."; return; }
    key = key ?? newKey();
    send(file, 0);
  });
}

function setupLiveResults() {
  document.querySelectorAll(".result[data-status]").forEach((result) => {
    if (result.dataset.status === "queued" || result.dataset.status === "running") {
      watchResult(result.parentElement, result.dataset.submission);
    }
  });
}

function setupRegrade() {
  document.querySelectorAll("button.regrade").forEach((button) => button.addEventListener("click", async () => {
    const note = button.parentElement.querySelector(".regrade-message");
    const { ok, body } = await api(button.dataset.url, { method: "POST" });
    note.textContent = ok ? "Queued for regrading…" : `Refused: ${body.detail}`;
    if (ok) {
      const container = document.getElementById("latest-result");
      const id = button.dataset.url.split("/").at(-2);
      container.innerHTML = `<div class="result"><p class="status live">Regrading…</p></div>`;
      watchResult(container, id).then(() => { note.textContent = "Regraded."; });
    }
  }));

  const all = document.getElementById("regrade-all");
  if (!all) return;
  all.addEventListener("click", async () => {
    const status = document.getElementById("regrade-status");
    const bar = document.getElementById("regrade-progress");
    if (!confirm("Regrade the counted submission of every student?")) return;
    const { ok, body } = await api(all.dataset.url, { method: "POST" });
    if (!ok) { status.textContent = `Refused: ${body.detail}`; return; }
    const total = body.queued;
    bar.hidden = false;
    for (;;) {
      const counts = (await api(all.dataset.progress)).body;
      const waiting = (counts.queued || 0) + (counts.running || 0);
      const done = Math.max(0, total - waiting);
      bar.value = total ? (100 * done) / total : 100;
      status.textContent = `${done} of ${total} regraded`;
      if (waiting === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    status.textContent = `All ${total} regraded. Reload to see the new scores.`;
  });
}

setupUpload();
setupLiveResults();
setupRegrade();
