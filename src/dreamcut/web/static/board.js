// dreamcut review board: a little vanilla JS over the server-rendered grid.
// Cards load a low-res looping proxy only when they scroll into view (never the full take);
// every change is POSTed at once and other tabs pick it up by polling /api/changes.
"use strict";
(function () {
  const $ = (sel, el) => (el || document).querySelector(sel);
  const $$ = (sel, el) => Array.from((el || document).querySelectorAll(sel));
  let since = parseFloat(document.body.dataset.since || "0");
  const takeCount = parseInt(document.body.dataset.takes || "0", 10);

  async function post(url, body) {
    const r = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json", "X-Dreamcut": "1"},
                                body: JSON.stringify(body)});
    if (!r.ok) {
      const err = new Error((await r.json().catch(() => ({}))).detail || r.statusText);
      err.status = r.status;
      throw err;
    }
    return r.json();
  }

  // -- looping proxies, lazily ---------------------------------------------------------------
  const seen = new IntersectionObserver((entries) => {
    for (const e of entries) {
      const card = e.target, box = $(".v", card);
      let video = $("video", box);
      if (e.isIntersecting) {
        if (!video) {
          video = document.createElement("video");
          Object.assign(video, {muted: true, loop: true, playsInline: true, autoplay: true, preload: "auto"});
          video.src = "/proxy/" + encodeURIComponent(card.dataset.id) + ".mp4";
          box.appendChild(video);
        } else video.play().catch(() => {});
      } else if (video) video.pause();
    }
  }, {rootMargin: "100px"});
  $$(".take").forEach((c) => seen.observe(c));

  // -- applying a review to a card (from our own POST or from another tab) ----------------------
  function applyReview(rv) {
    const card = document.getElementById("t-" + rv.take_id);
    if (!card) return;
    card.dataset.rating = rv.rating || 0;
    card.dataset.status = rv.status || "";
    card.dataset.tags = (rv.tags || []).join(",");
    $$(".st i", card).forEach((i, k) => i.classList.toggle("on", !!rv.rating && k + 1 <= rv.rating));
    $(".nt", card).textContent = rv.note || "";
    $(".tg", card).textContent = (rv.tags || []).join(" ");
    card.classList.toggle("rej", rv.status === "rejected");
  }
  function applySelections(sel) {
    $$(".take").forEach((c) => c.classList.toggle("sel", sel[c.dataset.shot] === c.dataset.id));
  }

  async function review(card, body) {
    const rv = await post("/api/review/" + encodeURIComponent(card.dataset.id), body);
    applyReview(rv);
    if ("status" in body) {
      const ch = await (await fetch("/api/changes?since=" + since)).json();
      applySelections(ch.selections);
      ch.reviews.forEach(applyReview);
    }
    applyFilters();
  }

  // -- clicks on cards (one listener for the whole board) --------------------------------------
  const cmpMarked = [];
  $("#board").addEventListener("click", async (ev) => {
    const el = ev.target, card = el.closest(".take");
    if (el.matches(".pv")) return startJob({action: "preview", shot: el.closest(".shot").dataset.shot,
                                           variants: +el.dataset.n});
    if (!card) return;
    try {
      if (el.matches(".st i")) {
        const r = $$(".st i", card).indexOf(el) + 1;
        await review(card, {rating: +card.dataset.rating === r ? null : r});
      } else if (el.matches("button.s")) {
        await review(card, {status: card.classList.contains("sel") ? null : "selected"});
      } else if (el.matches("button.x")) {
        await review(card, {status: card.dataset.status === "rejected" ? null : "rejected"});
      } else if (el.matches("button.n")) {
        openNote(card);
      } else if (el.matches("button.c")) {
        toggleCompare(card);
      } else if (el.matches("button.p")) {
        startJob({action: "promote", shot: card.dataset.shot, variants: [+card.dataset.variant]});
      }
    } catch (err) { flash(String(err.message || err)); }
  });

  // -- note and tags -------------------------------------------------------------------------
  let noteCard = null;
  function openNote(card) {
    noteCard = card;
    $("#dlg-title").textContent = "note · " + card.dataset.id;
    $("#dlg-note").value = $(".nt", card).textContent;
    $("#dlg-tags").value = (card.dataset.tags || "").split(",").filter(Boolean).join(" ");
    $("#dlg").showModal();
  }
  $("#dlg").addEventListener("close", async () => {
    if ($("#dlg").returnValue !== "save" || !noteCard) return;
    const tags = $("#dlg-tags").value.split(/[\s,]+/).filter(Boolean);
    try { await review(noteCard, {note: $("#dlg-note").value, tags}); } catch (err) { flash(String(err.message)); }
  });

  // -- compare two takes side by side, in sync -------------------------------------------------
  const va = $("#va"), vb = $("#vb");
  function toggleCompare(card) {
    const i = cmpMarked.indexOf(card);
    if (i >= 0) { cmpMarked.splice(i, 1); card.classList.remove("cmp"); return; }
    cmpMarked.push(card); card.classList.add("cmp");
    if (cmpMarked.length === 2) {
      const [a, b] = cmpMarked;
      $("#ca").textContent = a.dataset.id; $("#cb").textContent = b.dataset.id;
      va.src = "/media/take/" + encodeURIComponent(a.dataset.id);
      vb.src = "/media/take/" + encodeURIComponent(b.dataset.id);
      $("#cmp").hidden = false;
      $("#cmp").dataset.pair = a.dataset.id + "|" + b.dataset.id;
    }
  }
  function closeCompare() {
    va.pause(); vb.pause(); va.removeAttribute("src"); vb.removeAttribute("src"); va.load(); vb.load();
    $("#cmp").hidden = true;
    cmpMarked.splice(0).forEach((c) => c.classList.remove("cmp"));
  }
  $("#cmp-close").addEventListener("click", closeCompare);
  $("#cmp-play").addEventListener("click", () => {
    if (va.paused) { vb.currentTime = va.currentTime; va.play(); vb.play(); $("#cmp-play").textContent = "pause both"; }
    else { va.pause(); vb.pause(); $("#cmp-play").textContent = "play both"; }
  });
  $("#cmp-seek").addEventListener("input", (e) => {
    const d = Math.min(va.duration || 0, vb.duration || 0) || va.duration || 0;
    va.currentTime = vb.currentTime = (e.target.value / 1000) * d;
  });
  // Keep B locked to A: correct drift above one frame (both play from the same clock otherwise).
  va.addEventListener("timeupdate", () => {
    if (Math.abs(vb.currentTime - va.currentTime) > 0.05 && vb.duration >= va.currentTime) vb.currentTime = va.currentTime;
    const d = va.duration || 1; $("#cmp-seek").value = Math.round((va.currentTime / d) * 1000);
  });
  va.addEventListener("ended", () => { vb.pause(); $("#cmp-play").textContent = "play both"; });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !$("#cmp").hidden) closeCompare(); });

  // -- filter and sort (client side: the page already holds every card) ------------------------
  function applyFilters() {
    const status = $("#f-status").value, minR = +$("#f-rating").value, kind = $("#f-kind").value;
    const tag = $("#f-tag").value.trim().toLowerCase();
    $$(".take").forEach((c) => {
      const st = c.dataset.status;
      let show = true;
      if (status === "selected") show = c.classList.contains("sel");
      else if (status === "rejected") show = st === "rejected";
      else if (status === "none") show = !st && +c.dataset.rating === 0;
      if (minR && +c.dataset.rating < minR) show = false;
      if (kind && c.dataset.kind !== kind) show = false;
      if (tag && !(c.dataset.tags || "").toLowerCase().split(",").includes(tag)) show = false;
      c.classList.toggle("hide", !show);
    });
  }
  function applySort() {
    const key = $("#sort").value;
    const val = (c) => key === "score" ? -(parseFloat(c.dataset.score) || -1)
      : key === "rating" ? -(+c.dataset.rating) : key === "cost" ? parseFloat(c.dataset.cost) : parseFloat(c.dataset.created);
    $$(".row").forEach((row) => {
      const cards = $$(".take", row).sort((a, b) => val(a) - val(b));
      cards.forEach((c) => row.appendChild(c));
    });
  }
  ["#f-status", "#f-rating", "#f-kind"].forEach((s) => $(s).addEventListener("change", applyFilters));
  $("#f-tag").addEventListener("input", applyFilters);
  $("#sort").addEventListener("change", applySort);

  // -- background jobs -------------------------------------------------------------------------
  function flash(text) { $("#jobs").textContent = text; }
  async function startJob(body) {
    try {
      let job;
      try { job = await post("/api/jobs", body); }
      catch (err) {
        // 409: promoting a variant never previewed; the director confirms first.
        if (err.status !== 409 || !window.confirm(err.message)) throw err;
        job = await post("/api/jobs", Object.assign({}, body, {confirm: true}));
      }
      flash(job.action + (job.shot ? " " + job.shot : "") + ": running");
      pollJobs();
    } catch (err) { flash(String(err.message || err)); }
  }
  let jobTimer = null;
  async function pollJobs() {
    clearTimeout(jobTimer);
    const jobs = await (await fetch("/api/jobs")).json();
    if (!jobs.length) return;
    const running = jobs.filter((j) => j.state === "running");
    const last = jobs[0];
    flash(running.length ? running.length + " job(s) running" :
      last.action + " " + (last.shot || "") + ": " + last.state + (last.state === "failed" ? " — " + last.log.split("\n").pop() : ""));
    if (running.length) jobTimer = setTimeout(pollJobs, 1500);
  }
  $("#render").addEventListener("click", () => startJob({action: "render"}));

  // -- other tabs: poll for changes ------------------------------------------------------------
  async function poll() {
    try {
      const ch = await (await fetch("/api/changes?since=" + since)).json();
      ch.reviews.forEach(applyReview);
      applySelections(ch.selections);
      if (ch.reviews.length) applyFilters();
      since = ch.now;
      if (ch.takes !== takeCount) flash(ch.takes - takeCount + " new take(s): reload to see them");
    } catch (e) { /* the board server restarted: try again next tick */ }
    setTimeout(poll, 2000);
  }
  setTimeout(poll, 2000);

  // -- the cut over the song's waveform (after first paint) ------------------------------------
  async function drawCut() {
    const cut = await (await fetch("/api/cut")).json();
    const canvas = $("#wave"), ctx = canvas.getContext("2d");
    canvas.width = canvas.clientWidth;
    const w = canvas.width, h = canvas.height, peaks = cut.peaks || [];
    ctx.fillStyle = "#3a6ea5";
    peaks.forEach((p, i) => {
      const x = (i / peaks.length) * w, ph = Math.max(1, p * h);
      ctx.fillRect(x, (h - ph) / 2, Math.max(1, w / peaks.length), ph);
    });
    const total = cut.seconds || 1, box = $("#clips");
    box.textContent = "";
    (cut.clips || []).forEach((c) => {
      const d = document.createElement("div");
      d.style.left = (100 * c.start / total) + "%";
      d.style.width = (100 * (c.end - c.start) / total) + "%";
      d.textContent = c.shot + " " + c.take;
      d.title = c.take + " (" + c.start.toFixed(1) + "–" + c.end.toFixed(1) + " s): " + (c.reason || "");
      d.dataset.take = c.take;
      box.appendChild(d);
    });
  }
  (window.requestIdleCallback || setTimeout)(drawCut);
})();
