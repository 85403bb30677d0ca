/* Tryvoga public pages: follow the live stream and keep the server-rendered page current.
   The page is complete without this script; it only keeps it up to date.
   - /api/v1/stream (Server-Sent Events) says that something changed; the browser resumes a
     dropped stream with Last-Event-ID, and after the server closes it we reconnect with
     ?since=<last id>, so nothing is missed.
   - /map/state.json says what the map shows now (computed by the server, the one place the
     rules live); it is also polled every 30 s, so a dead connection is noticed and shown as
     "no connection since HH:MM" rather than silently stale colours.
   No request goes to any other host. */
(function () {
  "use strict";
  var boot = JSON.parse(document.getElementById("boot").textContent);
  var T = boot.t;
  var lang = boot.lang;
  var lastId = boot.seq;
  var appliedSeq = boot.seq;
  var lastContact = new Date(Date.parse(boot.time));
  var stale = false;
  var mapEl = document.getElementById("map");
  var known = null;
  var hromadas = "no";
  var current = null;
  var es = null;
  var retry = 1000;
  var inflight = false;
  var pending = false;
  var STALE_AFTER = 75000;

  var clock = new Intl.DateTimeFormat("uk-UA", {
    timeZone: "Europe/Kyiv", hour: "2-digit", minute: "2-digit", hourCycle: "h23"
  });
  function hhmm(date) { return clock.format(date); }

  function dur(seconds) {
    var minutes = Math.max(0, Math.floor(seconds / 60));
    var days = Math.floor(minutes / 1440);
    var hours = Math.floor((minutes % 1440) / 60);
    var mins = minutes % 60;
    if (days) { return days + " " + T.d + " " + hours + " " + T.h; }
    if (hours) { return hours + " " + T.h + " " + mins + " " + T.min; }
    return mins + " " + T.min;
  }

  function tick() {
    var nodes = document.querySelectorAll(".since[data-since]");
    for (var i = 0; i < nodes.length; i++) {
      var since = Date.parse(nodes[i].getAttribute("data-since"));
      nodes[i].textContent = T.lasting + " " + dur((Date.now() - since) / 1000);
    }
    if (!stale && Date.now() - lastContact.getTime() > STALE_AFTER) { setStale(); }
  }

  function connText(text) {
    var el = document.getElementById("conn-text");
    if (el) { el.textContent = text; }
  }

  function contact() {
    lastContact = new Date();
    stale = false;
    document.body.classList.remove("stale");
    connText(T.updated + " " + hhmm(lastContact) + " (" + T.kyiv_time + ")");
  }

  function setStale() {
    stale = true;
    document.body.classList.add("stale");
    connText(T.offline + " " + hhmm(lastContact) + " (" + T.kyiv_time + "): " + T.offline_tail);
  }

  function announce(text) {
    var box = document.getElementById("announce");
    if (!box) { return; }
    var p = document.createElement("p");
    p.textContent = text;
    box.appendChild(p);
    while (box.childNodes.length > 5) { box.removeChild(box.firstChild); }
  }

  function applyMarks(marks) {
    if (!mapEl) { return; }
    var paths = mapEl.querySelectorAll("path[data-code]");
    for (var i = 0; i < paths.length; i++) {
      var s = marks[paths[i].getAttribute("data-code")];
      if (s) { paths[i].setAttribute("data-s", s); } else { paths[i].removeAttribute("data-s"); }
    }
  }

  function loadHromadas() {
    if (hromadas !== "no" || !mapEl) { return; }
    hromadas = "loading";
    fetch("/geo/hromadas.json").then(function (r) {
      if (!r.ok) { throw new Error(r.status); }
      return r.json();
    }).then(function (doc) {
      var group = mapEl.querySelector("#hromadas");
      var focus = mapEl.querySelector("#hromadas path.focus");
      var focusCode = focus ? focus.getAttribute("data-code") : null;
      var ns = "http://www.w3.org/2000/svg";
      var frag = document.createDocumentFragment();
      doc.features.forEach(function (f) {
        var p = document.createElementNS(ns, "path");
        p.setAttribute("d", f.d);
        p.setAttribute("data-code", f.code);
        if (f.code === focusCode) { p.setAttribute("class", "focus"); }
        frag.appendChild(p);
      });
      group.textContent = "";
      group.appendChild(frag);
      hromadas = "yes";
      if (current) { applyMarks(current.marks); }
    }).catch(function () { hromadas = "no"; });
  }

  function apply(state) {
    current = state;
    if (state.hromadas) { loadHromadas(); }
    applyMarks(state.marks);
    myRegion(state.marks);
    if (state.seq === appliedSeq && known !== null) { return; }
    appliedSeq = state.seq;
    if (boot.page === "map") {
      var list = document.getElementById("list");
      if (list) { list.innerHTML = state.panel; }
      var labels = mapEl && mapEl.querySelector("#labels");
      if (labels) { labels.innerHTML = state.labels; }
    }
    if (known !== null) {
      Object.keys(state.alerts).forEach(function (id) {
        if (!(id in known)) { announce(T.declared + ": " + state.alerts[id]); }
      });
      Object.keys(known).forEach(function (id) {
        if (!(id in state.alerts)) { announce(T.cleared + ": " + known[id]); }
      });
    }
    known = state.alerts;
    if (boot.page === "region") { refreshStatus(); }
    tick();
  }

  function refreshStatus() {
    fetch("/regions/" + boot.region + "/status?lang=" + lang, { cache: "no-cache" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (html) {
        var box = document.getElementById("status");
        if (box) { box.innerHTML = html; }
      }).catch(function () { setStale(); });
  }

  function refresh() {
    if (inflight) { pending = true; return; }
    inflight = true;
    fetch("/map/state.json?lang=" + lang, { cache: "no-cache" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (state) {
        if (!es || es.readyState === 1) { contact(); }
        apply(state);
      })
      .catch(function () { setStale(); })
      .then(function () {
        inflight = false;
        if (pending) { pending = false; refresh(); }
      });
  }

  function connect() {
    if (!window.EventSource) { return; }
    es = new EventSource("/api/v1/stream?since=" + lastId);
    es.onopen = function () { retry = 1000; contact(); refresh(); };
    es.onmessage = function (ev) {
      if (ev.lastEventId) { lastId = parseInt(ev.lastEventId, 10) || lastId; }
      contact();
      refresh();
    };
    es.addEventListener("reconnect", function (ev) {
      try { lastId = JSON.parse(ev.data).reconnect.last_id; } catch (err) { /* keep ours */ }
      es.close();
      setTimeout(connect, 200);
    });
    es.onerror = function () {
      setStale();
      if (es.readyState === 2) {
        es.close();
        setTimeout(connect, retry);
        retry = Math.min(retry * 2, 15000);
      }
    };
  }

  // ---- my region ---------------------------------------------------------------------
  var mine = document.getElementById("mine");
  var select = document.getElementById("my-region");
  var notifyBox = document.getElementById("my-notify");
  var soundBox = document.getElementById("my-sound");
  var wasUnder = null;
  function store(key, value) {
    try { if (value) { localStorage.setItem(key, value); } else { localStorage.removeItem(key); } }
    catch (err) { /* private mode: not remembered */ }
  }
  function stored(key) {
    try { return localStorage.getItem(key) || ""; } catch (err) { return ""; }
  }
  var audio = null;
  function audioContext() {
    // Created (or resumed) on the reader's own click, as browsers allow sound only after one.
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") { audio.resume(); }
    } catch (err) { audio = null; }
    return audio;
  }
  function beep(under) {
    try {
      var ctx = audioContext();
      if (!ctx) { return; }
      var tones = under ? [880, 660, 880, 660] : [660];
      tones.forEach(function (f, i) {
        var o = ctx.createOscillator();
        var g = ctx.createGain();
        o.frequency.value = f;
        o.connect(g); g.connect(ctx.destination);
        g.gain.value = 0.2;
        o.start(ctx.currentTime + i * 0.35);
        o.stop(ctx.currentTime + i * 0.35 + 0.3);
      });
    } catch (err) { /* no audio */ }
  }
  function myRegion(marks) {
    if (!select) { return; }
    var code = select.value;
    var line = document.getElementById("my-state");
    if (!code) { line.textContent = ""; wasUnder = null; return; }
    var s = marks[code] || "n";
    var under = s === "a" || s === "y" || s === "p";
    var name = select.options[select.selectedIndex].text;
    line.setAttribute("data-s", s);
    line.innerHTML = '<span class="swatch" aria-hidden="true"></span><span></span>';
    line.lastChild.textContent = name + ": " + (under ? T.my_alert : T.my_calm);
    if (wasUnder !== null && under !== wasUnder) {
      var text = name + ": " + (under ? T.my_alert : T.my_clear);
      announce(text);
      if (notifyBox.checked && window.Notification && Notification.permission === "granted") {
        try { new Notification("Тривога / Tryvoga", { body: text, tag: "tryvoga-" + code }); }
        catch (err) { /* notifications unavailable here */ }
      }
      if (soundBox.checked) { beep(under); }
    }
    wasUnder = under;
  }
  if (mine && select) {
    mine.hidden = false;
    select.value = stored("tryvoga.region");
    notifyBox.checked = stored("tryvoga.notify") === "1";
    soundBox.checked = stored("tryvoga.sound") === "1";
    select.addEventListener("change", function () {
      store("tryvoga.region", select.value);
      wasUnder = null;
      if (current) { myRegion(current.marks); }
    });
    notifyBox.addEventListener("change", function () {
      if (notifyBox.checked && window.Notification && Notification.permission !== "granted") {
        Notification.requestPermission().then(function (p) {
          notifyBox.checked = p === "granted";
          store("tryvoga.notify", notifyBox.checked ? "1" : "");
        });
      } else {
        store("tryvoga.notify", notifyBox.checked ? "1" : "");
      }
    });
    soundBox.addEventListener("change", function () {
      if (soundBox.checked) { audioContext(); }
      store("tryvoga.sound", soundBox.checked ? "1" : "");
    });
  }

  // ---- the map: click a shape for its page; zoom and drag (hromadas load from 2x) ------
  var dragged = false;
  if (mapEl) {
    mapEl.addEventListener("click", function (ev) {
      if (dragged) { dragged = false; return; }
      var p = ev.target.closest && ev.target.closest("path[data-code]");
      if (p) { window.location.href = "/regions/" + p.getAttribute("data-code"); }
    });
  }
  // A region page's small map shows the region's surroundings.
  if (mapEl && boot.page === "region") {
    var focused = mapEl.querySelector("path.outline") ||
      mapEl.querySelector("#raions path.focus, #hromadas path.focus, #cities path.focus");
    if (focused) {
      var whole = mapEl.getAttribute("viewBox").split(" ").map(Number);
      var bb = focused.getBBox();
      var side = Math.max(bb.width, bb.height * whole[2] / whole[3]) * 2.2;
      side = Math.max(whole[2] / 6, Math.min(whole[2], side));
      var tall = side * whole[3] / whole[2];
      var x0 = Math.max(0, Math.min(whole[2] - side, bb.x + bb.width / 2 - side / 2));
      var y0 = Math.max(0, Math.min(whole[3] - tall, bb.y + bb.height / 2 - tall / 2));
      mapEl.setAttribute("viewBox", x0 + " " + y0 + " " + side + " " + tall);
      mapEl.style.setProperty("--z", String(whole[2] / side));
      mapEl.classList.add("near", "show-h");
      loadHromadas();
    }
  }
  var zoomTools = document.getElementById("zoom");
  if (mapEl && zoomTools && boot.page === "map") {
    var full = mapEl.getAttribute("viewBox").split(" ").map(Number);
    var W = full[2], H = full[3];
    var view = { x: 0, y: 0, w: W, h: H };
    var setView = function (x, y, w) {
      w = Math.max(W / 16, Math.min(W, w));
      var h = w * H / W;
      view = { x: Math.max(0, Math.min(W - w, x)), y: Math.max(0, Math.min(H - h, y)),
               w: w, h: h };
      mapEl.setAttribute("viewBox", view.x + " " + view.y + " " + view.w + " " + view.h);
      var zoom = W / w;
      mapEl.style.setProperty("--z", String(zoom));
      mapEl.classList.toggle("zoomed", zoom > 1.01);
      if (zoom >= 2) { mapEl.classList.add("show-h"); loadHromadas(); }
      else if (toggle && toggle.getAttribute("aria-pressed") !== "true") {
        mapEl.classList.remove("show-h");
      }
    };
    var zoomBy = function (factor, cx, cy) {
      var w = view.w / factor;
      setView(cx - (cx - view.x) / factor, cy - (cy - view.y) / factor, w);
    };
    var toSvg = function (clientX, clientY) {
      var box = mapEl.getBoundingClientRect();
      return [view.x + (clientX - box.left) / box.width * view.w,
              view.y + (clientY - box.top) / box.height * view.h];
    };
    zoomTools.hidden = false;
    document.getElementById("zoom-in").addEventListener("click", function () {
      zoomBy(2, view.x + view.w / 2, view.y + view.h / 2);
    });
    document.getElementById("zoom-out").addEventListener("click", function () {
      zoomBy(0.5, view.x + view.w / 2, view.y + view.h / 2);
    });
    document.getElementById("zoom-reset").addEventListener("click", function () {
      setView(0, 0, W);
    });
    mapEl.addEventListener("wheel", function (ev) {
      if (!ev.ctrlKey && !mapEl.classList.contains("zoomed") && ev.deltaY > 0) { return; }
      ev.preventDefault();
      var at = toSvg(ev.clientX, ev.clientY);
      zoomBy(ev.deltaY < 0 ? 1.5 : 1 / 1.5, at[0], at[1]);
    }, { passive: false });
    var start = null;
    mapEl.addEventListener("pointerdown", function (ev) {
      start = { x: ev.clientX, y: ev.clientY, vx: view.x, vy: view.y };
      dragged = false;
    });
    mapEl.addEventListener("pointermove", function (ev) {
      if (!start || !mapEl.classList.contains("zoomed")) { return; }
      var dx = ev.clientX - start.x, dy = ev.clientY - start.y;
      if (!dragged && Math.abs(dx) + Math.abs(dy) < 6) { return; }
      dragged = true;
      var scale = view.w / mapEl.getBoundingClientRect().width;
      setView(start.vx - dx * scale, start.vy - dy * scale, view.w);
    });
    window.addEventListener("pointerup", function () { start = null; });
  }
  var toggle = document.getElementById("show-hromadas");
  if (toggle && mapEl) {
    toggle.hidden = false;
    toggle.setAttribute("aria-pressed", "false");
    toggle.addEventListener("click", function () {
      var on = !mapEl.classList.contains("show-h");
      mapEl.classList.toggle("show-h", on);
      toggle.setAttribute("aria-pressed", on ? "true" : "false");
      loadHromadas();
    });
  }
  if (boot.hromadas) { loadHromadas(); }

  setInterval(tick, 15000);
  setInterval(refresh, 30000);
  connect();
  refresh();
}());
