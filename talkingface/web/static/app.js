// The studio's pages: plain DOM and fetch; every error the API sends ({error, fix}) is shown as it is.
"use strict";

const $ = (sel) => document.querySelector(sel);
const csrf = document.querySelector('meta[name="csrf-token"]').content;

function showMessage(text, isError) {
  const box = $("#message");
  box.textContent = text;
  box.className = isError ? "message error" : "message";
  box.hidden = !text;
}

async function api(url, form) {
  const options = form ? { method: "POST", body: form, headers: { "X-CSRF-Token": csrf } } : {};
  const response = await fetch(url, options);
  let body = {};
  try { body = await response.json(); } catch (e) { body = { error: `HTTP ${response.status}`, fix: "reload the page" }; }
  if (!response.ok) {
    const error = new Error(`${body.error} -- fix: ${body.fix}`);
    error.body = body;
    throw error;
  }
  return body;
}

async function submitting(button, work) {
  button.disabled = true;
  showMessage("", false);
  try { return await work(); } catch (e) { showMessage(e.message, true); return null; } finally { button.disabled = false; }
}

function clock(seconds) {
  if (seconds === null || seconds === undefined || isNaN(seconds)) return "--:--:--";
  const s = Math.max(0, Math.round(seconds));
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}

// ---------------------------------------------------------------------------------------------- one job, live
let source = null;
function watchJob(id, onEnd) {
  if (source) source.close();
  $("#job").hidden = false;
  $("#job-id").textContent = id;
  source = new EventSource(`/api/jobs/${id}/events`);
  source.onmessage = (event) => renderJob(JSON.parse(event.data));
  source.addEventListener("end", async () => {
    source.close();
    const job = await api(`/api/jobs/${id}`);
    renderJob(job);
    if (onEnd) onEnd(job);
    if (typeof refreshJobs === "function") refreshJobs();
  });
  $("#cancel").onclick = () => api(`/api/jobs/${id}/cancel`, new FormData()).catch((e) => showMessage(e.message, true));
  $("#resume").onclick = async () => {
    try { await api(`/api/jobs/${id}/resume`, new FormData()); watchJob(id, onEnd); } catch (e) { showMessage(e.message, true); }
  };
}

function renderJob(job) {
  $("#job-title").textContent = `${job.verb} ${job.model}/${job.task}`;
  $("#job-state").textContent = job.state;
  const p = job.progress;
  const percent = job.state === "done" ? 100 : p ? p.percent : 0;
  $("#percent").textContent = `${percent.toFixed(1)} %`;
  $("#job-bar").value = percent;
  const end = job.finished || job.now || Date.now() / 1000;
  $("#elapsed").textContent = job.started ? clock(end - job.started) : "--:--:--";
  $("#eta").textContent = job.state === "running" && p ? clock(p.eta_s) : job.state === "done" ? clock(0) : "--:--:--";
  const message = $("#job-message");
  message.hidden = !job.message;
  message.textContent = job.message ? `${job.message}${job.fix ? " -- fix: " + job.fix : ""}` : "";
  $("#cancel").hidden = !(job.state === "queued" || job.state === "running");
  $("#resume").hidden = !(job.state === "interrupted" || job.state === "cancelled" || job.state === "failed");
  const rows = (p ? p.steps : []).map((s, i) =>
    `<tr class="${s.state}"><td>${i + 1}</td><td>${escapeHtml(s.id)}: ${escapeHtml(s.title)}</td><td>${s.state}</td><td>${s.seconds ?? ""}</td></tr>`);
  $("#steps tbody").innerHTML = rows.join("");
  $("#log-path").textContent = job.log_path;
  $("#job-log").textContent = job.log;
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

async function fillInputs(select, kind) {
  const { files } = await api(`/api/inputs?kind=${kind}`);
  for (const name of files) select.add(new Option(name, name));
}

async function fillTasks(select) {
  const { tasks } = await api("/api/tasks");
  select.innerHTML = "";
  for (const t of tasks) select.add(new Option(`${t.model} / ${t.task}${t.trained ? "" : " (not trained)"}`, `${t.model}/${t.task}`));
}

async function fillVoices(select) {
  const status = await api("/api/status");
  for (const v of status.voices) select.add(new Option(v.title, v.id));
  return status;
}

function taskFields(form) {
  const [model, task] = ($("#task-pick").value || "/").split("/");
  const data = new FormData(form);
  data.set("model", model);
  data.set("task", task);
  return data;
}

// ---------------------------------------------------------------------------------------------- pages
let refreshJobs = null;

async function trainPage() {
  await fillInputs($("#video-name"), "video");
  refreshJobs = async () => {
    const { jobs } = await api("/api/jobs");
    $("#jobs tbody").innerHTML = jobs.map((j) =>
      `<tr><td>${j.id}</td><td>${j.model}</td><td>${escapeHtml(j.task)}</td><td>${j.verb}</td><td>${j.state}</td>` +
      `<td><button type="button" data-watch="${j.id}">show</button></td></tr>`).join("");
    for (const b of document.querySelectorAll("[data-watch]")) b.onclick = () => watchJob(b.dataset.watch);
  };
  await refreshJobs();
  $("#train-form").onsubmit = (event) => {
    event.preventDefault();
    submitting($("#start"), async () => {
      showMessage("Checking the video...", false);
      const answer = await api("/api/train", new FormData($("#train-form")));
      showMessage(`Queued job ${answer.job.id}: the check passed.`, false);
      $("#check").hidden = false;
      $("#check-report").textContent = answer.check;
      watchJob(answer.job.id);
      refreshJobs();
    });
  };
}

async function generatePage() {
  await fillTasks($("#task-pick"));
  await fillVoices($("#voice"));
  $("#generate-form").onsubmit = (event) => {
    event.preventDefault();
    submitting($("#start"), async () => {
      const answer = await api("/api/generate", taskFields($("#generate-form")));
      $("#result").hidden = true;
      watchJob(answer.job.id, (job) => {
        if (job.state !== "done") return;
        const video = $("#result-video");
        video.src = `/api/jobs/${job.id}/result`;
        video.onloadedmetadata = () => { $("#video-duration").textContent = video.duration.toFixed(2); };
        $("#audio-duration").textContent = (job.meta.audio_s ?? 0).toFixed(2);
        $("#download").href = `/api/jobs/${job.id}/result`;
        $("#result").hidden = false;
        video.play().catch(() => {});
      });
    });
  };
}

function latencies(meta) {
  const show = (v) => (v === null || v === undefined ? "—" : `${Number(v).toFixed(2)} s`);
  return `ASR ${show(meta.asr_s)} (${escapeHtml(meta.asr_engine || "typed")}) · LLM ${show(meta.llm_s)} ` +
    `(${escapeHtml(meta.answered_by || "")}) · TTS ${show(meta.tts_s)} · infer ${show(meta.infer_s)}`;
}

async function renderHistory() {
  const { messages } = await api("/api/chat/history");
  $("#history").innerHTML = messages.map((m) => {
    if (m.role === "user") return `<div class="user"><b>You:</b> ${escapeHtml(m.content)}</div>`;
    const video = m.job_state === "done" ? `<video class="reply" src="/api/jobs/${m.job}/result" controls playsinline></video>` :
      `<i>video: ${m.job_state}</i>`;
    return `<div class="assistant"><b>Reply:</b> ${escapeHtml(m.content)}<br>${video}<div class="latency">${latencies(m.meta)}</div></div>`;
  }).join("");
  const last = [...document.querySelectorAll("video.reply")].pop();
  if (last) last.play().catch(() => {});
}

let recorded = null;
function recorder() {
  let media = null;
  let chunks = [];
  $("#record").onclick = async () => {
    if (media && media.state === "recording") { media.stop(); return; }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      media = new MediaRecorder(stream);
      chunks = [];
      media.ondataavailable = (e) => chunks.push(e.data);
      media.onstop = () => {
        stream.getTracks().forEach((t) => t.stop());
        recorded = new Blob(chunks, { type: media.mimeType });
        $("#record-state").textContent = `recorded ${(recorded.size / 1024).toFixed(0)} kB`;
        $("#record").textContent = "● Record";
      };
      media.start();
      $("#record-state").textContent = "recording... press again to stop";
      $("#record").textContent = "■ Stop";
    } catch (e) {
      showMessage(`the microphone can't be used (${e.message}) -- fix: allow it, or upload a recording, or type`, true);
    }
  };
}

async function chatPage() {
  await fillTasks($("#task-pick"));
  await fillVoices($("#voice"));
  recorder();
  await renderHistory();
  $("#chat-form").onsubmit = (event) => {
    event.preventDefault();
    submitting($("#send"), async () => {
      const data = taskFields($("#chat-form"));
      if (recorded && !$("#audio-file").files.length) data.set("audio_file", recorded, "recording.webm");
      const answer = await api("/api/chat", data);
      recorded = null;
      $("#record-state").textContent = "";
      $("#asr-engine").textContent = answer.asr_engine;
      await renderHistory();
      const job = await waitJob(answer.job.id);
      if (job.state !== "done") showMessage(`the reply video failed: ${job.message} -- fix: ${job.fix}`, true);
      await renderHistory();
    });
  };
}

function waitJob(id) {
  return new Promise((resolve) => {
    const events = new EventSource(`/api/jobs/${id}/events`);
    events.addEventListener("end", async () => { events.close(); resolve(await api(`/api/jobs/${id}`)); });
  });
}

async function modelsPage() {
  await fillInputs($("#gt-name"), "video");
  const { tasks } = await api("/api/tasks");
  $("#tasks tbody").innerHTML = tasks.map((t) => {
    const results = t.results.map((r) =>
      `<div><a href="/api/results/${t.model}/${encodeURIComponent(t.task)}/${encodeURIComponent(r)}" target="_blank">${escapeHtml(r)}</a> ` +
      `<button type="button" data-score="${t.model}|${escapeHtml(t.task)}|${escapeHtml(r)}">Score</button></div>`).join("");
    const reports = t.reports.map((r) =>
      `<div><a href="/api/results/${t.model}/${encodeURIComponent(t.task)}/${encodeURIComponent(r)}" target="_blank">${escapeHtml(r)}</a></div>`).join("");
    return `<tr><td>${t.model}</td><td>${escapeHtml(t.task)}</td><td>${t.checkpoints.length}<details><summary>files</summary>` +
      `${t.checkpoints.map(escapeHtml).join("<br>")}</details></td><td>${results || "none yet"}${reports}</td></tr>`;
  }).join("");
  for (const button of document.querySelectorAll("[data-score]")) {
    button.onclick = () => submitting(button, async () => {
      const [model, task, result] = button.dataset.score.split("|");
      const form = new FormData();
      form.set("model", model); form.set("task", task); form.set("result", result); form.set("gt_name", $("#gt-name").value);
      const answer = await api("/api/score", form);
      watchJob(answer.job.id, (job) => {
        if (job.state !== "done") return;
        $("#report").hidden = false;
        $("#report-frame").src = `/api/jobs/${job.id}/result`;
        $("#report-link").href = `/api/jobs/${job.id}/result`;
      });
    });
  }
}

const pages = { train: trainPage, generate: generatePage, chat: chatPage, models: modelsPage };
pages[document.body.dataset.page]().catch((e) => showMessage(e.message, true));
