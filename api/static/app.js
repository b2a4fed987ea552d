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

// Swap a submission's result block in once it is graded (polling its JSON status); resolves to the
// final JSON of the submission.
async function watchResult(container, id) {
  let body = {};
  for (;;) {
    const answer = await api(`/api/v1/submissions/${id}`);
    body = answer.body;
    if (answer.ok && (body.status === "graded" || body.status === "error")) break;
    if (answer.ok) {
      const status = container.querySelector(".status strong");
      if (status) status.textContent = body.status;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  const fragment = await fetch(`/submissions/${id}/result`, { credentials: "same-origin" });
  container.innerHTML = await fragment.text();
  await refreshLive();
  return body;
}

// What a finished grading says in the status line: the score, unless staff have not released it.
function outcome(submission) {
  if (submission.status === "error") return `Submission ${submission.version}: grading failed on our side (it does not count against you).`;
  if (!submission.released) return `Submission ${submission.version} graded: scores are released by course staff later.`;
  return `Submission ${submission.version} graded: ${submission.adjusted_total}/${submission.max_score}.`;
}

// The usage line, the closed notice and the history table, as the server renders them now (the
// counted marker, the late badge and "N of M used" move with each upload and grading).
async function refreshLive() {
  const live = document.getElementById("live");
  if (!live) return;
  const response = await fetch(live.dataset.url, { credentials: "same-origin" });
  if (!response.ok) return;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  for (const id of ["usage", "history-wrap"]) {
    const current = document.getElementById(id);
    const replacement = fresh.getElementById(id);
    if (current && replacement) current.replaceWith(replacement);
  }
  if (document.getElementById("usage")?.dataset.open === "false") {
    const form = document.getElementById("upload-form");
    if (form) {
      form.hidden = true;
      const hint = form.nextElementSibling;
      if (hint?.classList.contains("hint")) hint.hidden = true;
    }
  }
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
        refreshLive();
        const latest = document.getElementById("latest-result");
        latest.innerHTML = `<div class="result"><p class="status live">Submission ${body.version} is <strong>queued</strong>…</p></div>`;
        watchResult(latest, body.id).then((done) => { message.textContent = outcome(done); });
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

// Deadlines show in the course's time zone; add the viewer's own time where it differs, and keep the
// countdowns current.
function setupTimes() {
  const mine = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const format = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
  document.querySelectorAll("time[data-zone]").forEach((time) => {
    if (!mine || time.dataset.zone === mine || time.nextElementSibling?.classList.contains("local")) return;
    const local = document.createElement("span");
    local.className = "local";
    local.textContent = ` (your time: ${format.format(new Date(time.dateTime))})`;
    time.after(local);
  });
  const duration = (seconds) => {
    const minutes = Math.floor(seconds / 60);
    const days = Math.floor(minutes / 1440), hours = Math.floor((minutes % 1440) / 60), rest = minutes % 60;
    if (days) return `${days} day${days !== 1 ? "s" : ""} ${hours} h`;
    if (hours) return `${hours} h ${rest} min`;
    return `${seconds > 0 ? Math.max(rest, 1) : 0} min`;
  };
  const tick = () => document.querySelectorAll("[data-countdown]").forEach((span) => {
    const seconds = (new Date(span.dataset.countdown) - Date.now()) / 1000;
    span.textContent = seconds >= 0 ? `${span.dataset.future} in ${duration(seconds)}` : `${span.dataset.past} ${duration(-seconds)} ago`;
  });
  tick();
  setInterval(tick, 30000);
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
    bar.hidden = false;
    let progress = { total: body.queued, done: 0, failed: 0, finished: body.queued === 0 };
    while (!progress.finished) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const answer = await api(body.progress_url);
      if (!answer.ok) continue;
      progress = answer.body;
      bar.value = progress.total ? (100 * (progress.done + progress.failed)) / progress.total : 100;
      status.textContent = `${progress.done} of ${progress.total} regraded`;
    }
    bar.value = 100;
    const table = document.getElementById("scoreboard-table");
    const fresh = await fetch(table.dataset.url + window.location.search, { credentials: "same-origin" });
    if (fresh.ok) table.innerHTML = await fresh.text();
    status.textContent = `All ${progress.total} regraded${progress.failed ? ` (${progress.failed} failed on our side: see their pages)` : ""}; the table shows the new scores.`;
  });
}

setupTimes();
setupUpload();
setupLiveResults();
setupRegrade();
