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
    const tag = $("#f-tag").value.trim().toLowerCase(), defect = $("#f-defect").value;
    $$(".take").forEach((c) => {
      const st = c.dataset.status;
      let show = true;
      if (status === "selected") show = c.classList.contains("sel");
      else if (status === "rejected") show = st === "rejected";
      else if (status === "none") show = !st && +c.dataset.rating === 0;
      if (minR && +c.dataset.rating < minR) show = false;
      if (kind && c.dataset.kind !== kind) show = false;
      if (tag && !(c.dataset.tags || "").toLowerCase().split(",").includes(tag)) show = false;
      const defects = (c.dataset.defects || "").split(",").filter(Boolean);  // ranking's defect kinds
      if (defect === "none" && defects.length) show = false;
      else if (defect && defect !== "none" && !defects.includes(defect)) show = false;
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
  ["#f-status", "#f-rating", "#f-kind", "#f-defect"].forEach((s) => $(s).addEventListener("change", applyFilters));
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

  // -- the edit room: a timeline (bars, timecode, sections) with a playhead, and the edit played
  //    with the song: the latest render when it is current, else the takes' playback proxies in sequence, each
  //    placed by the song's clock (the picture follows the audio, never the other way round).
  const mon = $("#mon"), song = $("#song");
  let cut = null, songMap = null, fps = 24, playing = false, shown = null, raf = 0;
  const pad = (n) => String(n).padStart(2, "0");
  function timecode(t) {
    const f = Math.round(t * fps), s = Math.floor(f / fps);
    return pad(Math.floor(s / 3600)) + ":" + pad(Math.floor(s / 60) % 60) + ":" + pad(s % 60) + ":" + pad(f % fps);
  }
  function barOf(t) {  // "bar.beat" from the song map's downbeats and beats
    if (!songMap || !songMap.downbeats.length) return "";
    let bar = 0;
    while (bar + 1 < songMap.downbeats.length && songMap.downbeats[bar + 1] <= t + 1e-6) bar++;
    const beat = songMap.beats.filter((b) => b >= songMap.downbeats[bar] - 1e-6 && b <= t + 1e-6).length;
    return "bar " + (bar + 1) + "." + Math.max(1, beat);
  }
  const total = () => (cut && cut.seconds) || 1;
  const pct = (t) => (100 * t / total()) + "%";
  function useRender() {
    const m = $("#pmode").value;
    return !!(cut && cut.render) && (m === "render" || (m === "auto" && cut.render.current));
  }
  function clipAt(t) {
    const cs = (cut && cut.clips) || [];
    return cs.find((c) => t >= c.start - 1e-6 && t < c.end - 1e-6) || (t >= total() - 1e-3 ? cs[cs.length - 1] : null);
  }
  const now = () => (useRender() ? mon.currentTime : song.currentTime);
  // An event of a media element, or its error, or 60 s: a seek never waits forever on a load that failed
  // (a proxy made on demand on a busy machine can take a while).
  function waitFor(el, ev) {
    return new Promise((ok) => {
      const done = () => { clearTimeout(timer); el.removeEventListener(ev, done); el.removeEventListener("error", done); ok(); };
      const timer = setTimeout(done, 60000);
      el.addEventListener(ev, done, {once: true});
      el.addEventListener("error", done, {once: true});
    });
  }

  // Seek video `el` to t and wait until its frame there is shown: "seeked" says the position is
  // there, but Chromium may paint the new frame a moment later (seen on a loaded machine: a grab
  // right after "seeked" read the frame before). The video's frame callback, asked for before the
  // seek, says the frame was presented; at most 1 s, so a seek never hangs on it.
  function seekVideo(el, t) {
    const painted = el.requestVideoFrameCallback ? new Promise((ok) => {
      const timer = setTimeout(() => { el.cancelVideoFrameCallback(id); ok(); }, 1000);
      const id = el.requestVideoFrameCallback(() => { clearTimeout(timer); ok(); });
    }) : Promise.resolve();
    el.currentTime = t;
    return Promise.all([waitFor(el, "seeked"), painted]);
  }

  async function place(t) {  // show the frame of the edit at record time t
    if (useRender()) {
      if (mon.dataset.src !== cut.render.url) {
        mon.dataset.src = cut.render.url; mon.src = cut.render.url; mon.muted = false; mon.playbackRate = 1;
        await waitFor(mon, "loadedmetadata");
      }
      if (Math.abs(mon.currentTime - t) > 1e-4) await seekVideo(mon, t);
      shown = null;
      return;
    }
    const c = clipAt(t);
    if (!c || !c.media) { mon.removeAttribute("src"); delete mon.dataset.src; shown = null; return; }
    if (mon.dataset.src !== c.media) {
      mon.dataset.src = c.media; mon.src = c.media; mon.muted = true;
      await waitFor(mon, "loadedmetadata");
    }
    shown = c;
    mon.playbackRate = c.speed || 1;
    const want = c.source_in + (t - c.start) * (c.speed || 1);
    if (Math.abs(mon.currentTime - want) > 1e-4) await seekVideo(mon, want);
  }
  function drawHead(t) {
    $("#playhead").style.left = pct(t);
    $("#clock").textContent = timecode(t);
    $("#barpos").textContent = barOf(t);
    const c = clipAt(t);
    $$("#clips div").forEach((d) => d.classList.toggle("on", !!c && +d.dataset.slot === c.slot));
  }
  let pending = Promise.resolve();
  function seek(t) {  // seeks run one after another (a mode switch and a click must not interleave)
    pending = pending.then(() => seekNow(t), () => seekNow(t));
    return pending;
  }
  async function seekNow(t) {
    t = Math.max(0, Math.min(t, total()));
    if (!useRender()) song.currentTime = t;
    await place(t);
    drawHead(t);
    return t;
  }
  function tick() {
    if (!playing) return;
    const t = now();
    drawHead(t);
    if (!useRender()) {
      const c = clipAt(t);
      if (c !== shown) place(t).then(() => { if (playing) mon.play().catch(() => {}); });
      else if (c) {  // keep the picture on the song's clock (correct drift above two frames)
        const want = c.source_in + (t - c.start) * (c.speed || 1);
        if (Math.abs(mon.currentTime - want) > 2 / fps) mon.currentTime = want;
      }
      if (t >= total()) return stop();
    }
    raf = requestAnimationFrame(tick);
  }
  async function play() {
    const t = now();
    playing = true; $("#play").textContent = "❚❚ pause";
    await place(t);
    if (useRender()) await mon.play(); else { await song.play(); await mon.play().catch(() => {}); }
    raf = requestAnimationFrame(tick);
  }
  function stop() {
    playing = false; cancelAnimationFrame(raf); mon.pause(); song.pause(); $("#play").textContent = "▶ play";
  }
  $("#play").addEventListener("click", () => (playing ? stop() : play()));
  mon.addEventListener("ended", () => { if (useRender()) stop(); });
  document.addEventListener("keydown", (e) => {
    if (e.key === " " && !e.target.closest("input,textarea,select,button,dialog")) { e.preventDefault(); playing ? stop() : play(); }
  });
  $("#pmode").addEventListener("change", async () => {
    const t = now(); stop(); delete mon.dataset.src; shown = null;
    noteMode(); await seek(t);
  });
  $("#tl").addEventListener("click", (e) => {
    const box = $("#tl").getBoundingClientRect();
    seek(((e.clientX - box.left) / box.width) * total());
  });
  function noteMode() {
    $("#pnote").textContent = useRender() ? "playing " + cut.render.url.replace("/files/", "")
      : (cut.render && !cut.render.current ? "render is older than the edit: playing the takes' proxies"
        : "playing the takes' proxies");
  }

  function drawRuler() {
    const ruler = $("#ruler"), secs = $("#sections");
    ruler.textContent = ""; secs.textContent = "";
    if (!songMap) return;
    const w = ruler.clientWidth || 800, downs = songMap.downbeats;
    const barPx = downs.length > 1 ? w * (downs[1] - downs[0]) / total() : w;
    const every = [1, 2, 4, 8, 16, 32].find((k) => k * barPx >= 70) || 64;
    songMap.beats.forEach((b) => {
      if (b > total()) return;
      const i = document.createElement("i"); i.style.left = pct(b); ruler.appendChild(i);
    });
    // a phrase's tick for a 4- or 8-bar phrase start and a sure section start; a guessed section
    // start (/api/song `section_sure` false) is ticked like the downbeat it may only be
    const phrases = new Set((songMap.snap || []).filter((g) => g.phrase >= 4 || (g.section && g.section_sure !== false))
      .map((g) => g.t));
    downs.forEach((d, k) => {
      if (d > total()) return;
      const i = document.createElement("i"); i.className = phrases.has(d) ? "bar phrase" : "bar";
      i.style.left = pct(d); ruler.appendChild(i);
      if (k % every === 0) {
        const b = document.createElement("b"); b.style.left = pct(d);
        b.textContent = (k + 1) + "  " + timecode(d).slice(3); ruler.appendChild(b);
      }
    });
    // a section whose start the analysis only guessed (/api/song `sure`) has a dashed edge, a "?"
    // after its name, and says so (with its confidence) in its tooltip
    songMap.sections.forEach((s) => {
      const d = document.createElement("div");
      d.style.left = pct(s.start); d.style.width = (100 * (s.end - s.start) / total()) + "%";
      d.textContent = s.text || s.label;
      d.title = (s.name || s.label) + " " + timecode(s.start) + "–" + timecode(s.end) + (s.doubt ? "\n" + s.doubt : "");
      d.dataset.confidence = s.confidence;
      if (s.sure === false) d.classList.add("guess");
      secs.appendChild(d);
    });
  }

  async function drawCut() {
    cut = await (await fetch("/api/cut")).json();
    fps = cut.fps || 24;
    song.src = cut.song_url;
    const canvas = $("#wave"), ctx = canvas.getContext("2d");
    canvas.width = canvas.clientWidth;
    const w = canvas.width, h = canvas.height, peaks = cut.peaks || [];
    ctx.fillStyle = "#3a6ea5";
    peaks.forEach((p, i) => {
      const x = (i / peaks.length) * w, ph = Math.max(1, p * h);
      ctx.fillRect(x, (h - ph) / 2, Math.max(1, w / peaks.length), ph);
    });
    await redrawCut(cut);
    noteMode();
    drawHead(0);
    try { songMap = await (await fetch("/api/song")).json(); } catch (e) { songMap = null; }
    drawRuler();
    document.body.dataset.room = "ready";
  }
  async function redrawCut(next) {
    cut = next; fps = cut.fps || 24;
    stop(); delete mon.dataset.src; shown = null;
    const box = $("#clips");
    box.textContent = "";
    (cut.clips || []).forEach((c) => {
      const d = document.createElement("div");
      d.style.left = pct(c.start);
      d.style.width = (100 * (c.end - c.start) / total()) + "%";
      d.textContent = c.slot + " · " + c.shot;
      d.title = "slot " + c.slot + ": " + c.take + " at " + c.tc + " (" + (c.end - c.start).toFixed(2) + " s)" + (c.reason ? "\n" + c.reason : "");
      d.dataset.take = c.take; d.dataset.slot = c.slot;
      if (c.slot > 1 && !(cut.source && cut.source.conformed)) {
        const g = document.createElement("span"); g.className = "grip"; g.title = "drag the cut (snaps to beats, downbeats, phrase and section starts)";
        d.appendChild(g);
      }
      box.appendChild(d);
    });
    drawUsage();
    $("#undo").hidden = !!(cut.source && cut.source.conformed);
    if (picked) $$("#clips div").forEach((d) => d.classList.toggle("pick", +d.dataset.slot === picked));
    document.body.dataset.cutv = String(+(document.body.dataset.cutv || 0) + 1);
  }
  // Cards say where their take is used and why (the page is rendered with this; a grid edit redraws it).
  function drawUsage() {
    $$(".take .use").forEach((p) => p.remove());
    const by = {};
    (cut.clips || []).forEach((c) => (by[c.take] = by[c.take] || []).push(c));
    Object.entries(by).forEach(([take, cs]) => {
      const card = document.getElementById("t-" + take);
      if (!card) return;
      const p = document.createElement("p");
      p.className = "use";
      p.textContent = "in cut: " + cs.map((c) => "slot " + c.slot + " at " + c.tc).join(", ");
      if (cs[0].reason) {
        const why = document.createElement("span");
        why.className = "why"; why.textContent = "why: " + cs[0].reason;
        p.append(document.createElement("br"), why);
      }
      card.insertBefore(p, $(".a", card));
    });
  }
  // -- editing on the grid: click a slot to swap its take or lock it; drag a cut (a slot's left
  //    edge) and it snaps to a beat, a downbeat or a phrase start (the target is shown); every change goes to /api/edit, which writes it
  //    as the spec's pins / the catalog's selection and plans again.
  let picked = null;
  async function edit(body) {
    try {
      const c = await post("/api/edit", body);
      flash(body.op + " done");
      await redrawCut(c);
      return c;
    } catch (err) { flash(String(err.message || err)); return null; }
  }
  async function pick(slot) {
    if (cut.source && cut.source.conformed) {  // the NLE's edit is changed in the NLE, never re-planned here
      flash("this edit was " + cut.source.text + ": change it in the NLE, or `dreamcut edit` to plan again");
      return;
    }
    const offer = await (await fetch("/api/slot/" + slot + "/takes")).json();
    picked = slot;
    $$("#clips div").forEach((d) => d.classList.toggle("pick", +d.dataset.slot === slot));
    $("#sb-slot").textContent = slot; $("#sb-shot").textContent = offer.shot;
    const sel = $("#sb-take"); sel.textContent = "";
    offer.takes.forEach((t, k) => {
      const o = document.createElement("option");
      o.value = t.id; o.textContent = (k === 0 ? "★ " : "") + t.id + (t.score != null ? " (" + t.score.toFixed(2) + ")" : "");
      o.selected = t.id === offer.take; sel.appendChild(o);
    });
    $("#slotbar").hidden = false;
  }
  $("#sb-take").addEventListener("change", (e) => edit({op: "swap", slot: picked, take: e.target.value}));
  $("#sb-tr").addEventListener("change", (e) => {
    if (e.target.value) edit({op: "transition", slot: picked, kind: e.target.value});
    e.target.value = "";
  });
  $("#sb-lock").addEventListener("click", () => edit({op: "lock", slot: picked}));
  $("#undo").addEventListener("click", () => edit({op: "undo"}));
  // Snapping: every beat is a target, and stronger ones pull from further away (distance / pull
  // decides). The targets and their pull come from the song map (/api/song `snap`: the places the
  // planner cuts on, each pulling as much as the planner says a cut there is worth, so a guessed
  // section start pulls like a downbeat there, not like a sure section start).
  function targetKind(g) {
    return g.section ? "section" : g.phrase >= 8 ? "phrase8" : g.phrase >= 4 ? "phrase4" : g.beat === 1 ? "downbeat" : "beat";
  }
  function targetLabel(g, kind) {
    const where = kind === "beat" ? "beat " + g.beat + " of bar " + g.bar : "bar " + g.bar;
    return (kind === "section" ? g.section.replace(/#\d+$/, "") + (g.section_sure === false
      ? "? starts (guessed boundary) · " : " starts · ")
      : kind === "phrase8" ? "8-bar phrase · " : kind === "phrase4" ? "4-bar phrase · "
      : kind === "downbeat" ? "downbeat · " : "") + where;
  }
  function snapTime(t) {  // -> {t, kind, label}: where a cut dropped at t lands
    const grid = (songMap && songMap.snap) || [];
    if (!grid.length) return {t, kind: "free", label: ""};
    let best = null, score = Infinity;
    for (const g of grid) {
      const kind = targetKind(g), s = Math.abs(g.t - t) / (g.pull > 0 ? g.pull : 1);
      if (s < score) { score = s; best = {t: g.t, kind, label: targetLabel(g, kind), guess: g.section_sure === false, pull: g.pull}; }
    }
    return best;
  }
  let drag = null;
  $("#clips").addEventListener("mousedown", (e) => {
    const grip = e.target.closest(".grip");
    if (!grip) return;
    e.preventDefault(); e.stopPropagation();
    const d = grip.parentElement;
    drag = {slot: +d.dataset.slot, el: d, t: null};
    d.classList.add("drag");
    let mark = $("#snap");
    if (!mark) { mark = document.createElement("div"); mark.id = "snap"; mark.appendChild(document.createElement("b")); $("#tl").appendChild(mark); }
  });
  document.addEventListener("mousemove", (e) => {
    if (!drag) return;
    const box = $("#tl").getBoundingClientRect();
    const to = snapTime(((e.clientX - box.left) / box.width) * total());
    drag.t = to.t;
    const m = $("#snap");
    m.style.left = pct(to.t); m.dataset.kind = to.kind; m.classList.toggle("guess", !!to.guess);
    $("b", m).textContent = to.label + " · " + timecode(to.t).slice(3);
  });
  document.addEventListener("mouseup", async () => {
    if (!drag) return;
    const d = drag; drag = null;
    d.el.classList.remove("drag"); const m = $("#snap"); if (m) m.remove();
    if (d.t != null) await edit({op: "move", slot: d.slot, to: d.t});
  });
  $("#clips").addEventListener("click", (e) => {
    const d = e.target.closest("#clips div");
    if (d && !e.target.closest(".grip")) pick(+d.dataset.slot);
  });

  window.dreamcutRoom = {edit, pick, snapTime, seek, play, stop, state: () => ({t: now(), playing, render: useRender(),
                                                          clip: shown && shown.slot, src: mon.dataset.src || ""})};
  (window.requestIdleCallback || setTimeout)(drawCut);
})();
