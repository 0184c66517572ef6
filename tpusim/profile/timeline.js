// tpusim timeline, part 1 of 2: the data, the tracks and drawing them (no libraries).
// Only what is in view is drawn: commands on one engine never overlap, so their ends are
// sorted like their starts and a binary search finds the first visible one; bars narrower
// than a pixel merge into one column per pixel (the tallest wins). timeline.html wraps both
// parts in one function, so they share these variables.
  var began = performance.now();
  var DATA = JSON.parse(document.getElementById("tpusim-data").textContent);
  var SCALE = DATA.time_scale, PAL = DATA.palette;
  var GUTTER = 100, AXIS = 24, RIGHT = 10, MIN_SPAN_NS = 4;
  var canvas = document.getElementById("canvas"), ctx = canvas.getContext("2d");
  var tip = document.getElementById("tip");

  // ---- data -------------------------------------------------------------------------------
  function unpack(x) {  // see tpusim/profile/html.py: plain, run lengths, or their sums
    if (Array.isArray(x)) return x;
    var src = x.r || x.d, out = [], i, k;
    for (i = 0; i < src.length; i += 2) for (k = 0; k < src[i + 1]; k++) out.push(src[i]);
    if (x.d) for (i = 1; i < out.length; i++) out[i] += out[i - 1];
    return out;
  }

  function decodeEngine(packed, name, layerGroup) {
    var c = {};
    Object.keys(packed).forEach(function (key) { c[key] = unpack(packed[key]); });
    var n = c.dur.length, start = new Float64Array(n), end = new Float64Array(n);
    var layer = new Int32Array(n), t = 0, i;
    for (i = 0; i < n; i++) {
      t += c.gap[i]; start[i] = t / SCALE; t += c.dur[i]; end[i] = t / SCALE;
      layer[i] = c.layer[i];
    }
    var e = { name: name, n: n, start: start, end: end, layer: layer, c: c, byId: null };
    e.id = function (i) { return c.id ? c.id[i] : i + 1; };
    e.group = function (i) {
      return c.group && c.group[i] !== -2 ? c.group[i] : layerGroup(layer[i]);
    };
    e.indexOf = function (id) {
      if (!c.id) return id >= 1 && id <= n ? id - 1 : -1;
      if (!e.byId) { e.byId = new Map(); for (var k = 0; k < n; k++) e.byId.set(c.id[k], k); }
      return e.byId.has(id) ? e.byId.get(id) : -1;
    };
    return e;
  }

  function decodeRun(raw, index) {
    var L = raw.layers, rowOf = new Map(), rows = [], k;
    for (k = 0; k < L.index.length; k++) {
      rowOf.set(L.index[k], k);
      (rows[L.row[k]] = rows[L.row[k]] || []).push(k);
    }
    rows.forEach(function (list) { list.sort(function (a, b) { return L.start[a] - L.start[b]; }); });
    var run = { raw: raw, index: index, S: raw.strings, L: L, rows: rows, rowOf: rowOf,
                total: raw.total / SCALE, chip: raw.chip, groups: raw.groups };
    function layerGroup(li) { var r = rowOf.get(li); return r === undefined ? -1 : L.group[r]; }
    run.tiu = decodeEngine(raw.tiu, "TIU", layerGroup);
    run.gdma = decodeEngine(raw.gdma, "GDMA", layerGroup);
    run.tiu.other = run.gdma; run.gdma.other = run.tiu;
    run.tiu.run = run.gdma.run = run;
    var m = {};  // the local-memory map: one rectangle per buffer and slice
    Object.keys(raw.lmem_map || {}).forEach(function (k) { m[k] = unpack(raw.lmem_map[k]); });
    m.n = m.t0 ? m.t0.length : 0;
    run.map = m;
    return run;
  }

  var runs = DATA.runs.map(decodeRun);
  var fullEnd = Math.max.apply(null, runs.map(function (r) { return r.total; }).concat([1]));
  var view = { t0: 0, t1: fullEnd };

  // ---- tracks -----------------------------------------------------------------------------
  var tracks = [];
  runs.forEach(function (run) {
    if (runs.length > 1) tracks.push({ type: "title", run: run, h: 20 });
    if (run.groups.length) tracks.push({ type: "groups", run: run, h: 16, label: "groups" });
    var nrows = Math.max(1, run.rows.length);
    tracks.push({ type: "layers", run: run, h: Math.min(nrows * 16, 96) + 4, nrows: nrows,
                  label: "layers" });
    tracks.push({ type: "engine", run: run, eng: run.gdma, h: 58, label: "GDMA",
                  sub: "BW / peak" });
    tracks.push({ type: "engine", run: run, eng: run.tiu, h: 58, label: "TIU",
                  sub: "uArch rate" });
    tracks.push({ type: "ddr", run: run, h: 46, label: "DDR", sub: "GB/s" });
    tracks.push({ type: "lmem", run: run, h: 46, label: "LMEM", sub: "per lane" });
    if (run.map.n) tracks.push({ type: "lmemmap", run: run, h: 128, label: "LMEM map",
                                 sub: "address" });
  });
  var y = AXIS;
  tracks.forEach(function (tr) { tr.y = y; y += tr.h + 4; });
  var HEIGHT = y + 4;

  // ---- geometry and helpers ----------------------------------------------------------------
  var W = 800;
  function plotW() { return Math.max(10, W - GUTTER - RIGHT); }
  function X(t) { return GUTTER + (t - view.t0) / (view.t1 - view.t0) * plotW(); }
  function T(x) { return view.t0 + (x - GUTTER) / plotW() * (view.t1 - view.t0); }
  function clampX(x) { return Math.max(GUTTER - 2, Math.min(W + 2, x)); }
  function firstEnding(ends, n, t) {  // first index whose end >= t (ends sorted)
    var lo = 0, hi = n;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (ends[mid] < t) lo = mid + 1; else hi = mid; }
    return lo;
  }
  function esc(s) {
    return String(s).replace(/[&<>"]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;" }[c];
    });
  }
  function fmtTime(ns) {
    var a = Math.abs(ns);
    if (a >= 1e6) return (ns / 1e6).toFixed(a >= 1e7 ? 2 : 3) + " ms";
    if (a >= 1e3) return (ns / 1e3).toFixed(a >= 1e4 ? 1 : 2) + " µs";
    return (+ns.toFixed(1)) + " ns";
  }
  function fmtTick(ns, step) {  // as many decimals as the tick step needs
    var unit = step >= 1e5 ? [1e6, " ms"] : step >= 1e3 ? [1e3, " µs"] : [1, " ns"];
    var decimals = Math.max(0, Math.ceil(-Math.log10(step / unit[0]) - 1e-9));
    return (ns / unit[0]).toFixed(decimals) + unit[1];
  }
  function fmtBytes(b) {
    if (b >= 1 << 20) return (b / (1 << 20)).toFixed(2) + " MiB";
    if (b >= 1 << 10) return (b / (1 << 10)).toFixed(1) + " KiB";
    return b + " B";
  }
  function pct(x) { return (100 * x).toFixed(1) + " %"; }
  function niceStep(raw) {
    var p = Math.pow(10, Math.floor(Math.log10(raw))), m = [1, 2, 5, 10];
    for (var i = 0; i < m.length; i++) if (m[i] * p >= raw) return m[i] * p;
    return 10 * p;
  }
  function cmdColor(run, e, i) {
    var key = e.name === "TIU" ? run.S[e.c.kind[i]] : run.S[e.c.dir[i]];
    return PAL.command[key] || "#888";
  }
  function cmdHeight(run, e, i) {  // fraction of the lane
    if (e.name === "TIU") return e.c.rate[i] / 1000;
    var dur = e.end[i] - e.start[i];
    return dur > 0 ? Math.min(1, e.c.bytes[i] / dur / run.chip.ddr_gbps) : 1;
  }

  // ---- drawing -----------------------------------------------------------------------------
  var hover = null, selection = null, stats = { drawMs: 0, bars: 0 };

  function resize() {
    var dpr = window.devicePixelRatio || 1;
    W = Math.max(320, canvas.parentNode.clientWidth);
    canvas.width = Math.round(W * dpr); canvas.height = Math.round(HEIGHT * dpr);
    canvas.style.height = HEIGHT + "px";
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }

  function draw() {
    var began = performance.now();
    stats.bars = 0;
    ctx.clearRect(0, 0, W, HEIGHT);
    ctx.font = "11px system-ui, sans-serif";
    drawAxis();
    tracks.forEach(function (tr) {
      drawGutter(tr);
      ctx.save();
      ctx.beginPath(); ctx.rect(GUTTER, tr.y, plotW(), tr.h); ctx.clip();
      ({ title: drawTitle, groups: drawGroups, layers: drawLayers, engine: drawEngine,
         ddr: drawDdr, lmem: drawLmem, lmemmap: drawLmemMap })[tr.type](tr);
      ctx.restore();
    });
    drawGroupBounds();
    drawHover();
    if (selection) {
      ctx.fillStyle = "rgba(60, 120, 220, 0.15)";
      var a = Math.min(selection.x0, selection.x1), b = Math.max(selection.x0, selection.x1);
      ctx.fillRect(a, AXIS, b - a, HEIGHT - AXIS);
    }
    document.getElementById("window").textContent =
      fmtTime(view.t0) + " – " + fmtTime(view.t1) + " (" + fmtTime(view.t1 - view.t0) + ")";
    stats.drawMs = performance.now() - began;
  }

  var pending = false;
  function redraw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; draw(); });
  }

  function drawAxis() {
    var span = view.t1 - view.t0, step = niceStep(span / Math.max(2, plotW() / 110));
    ctx.fillStyle = "#555"; ctx.strokeStyle = "#eee"; ctx.lineWidth = 1;
    ctx.textAlign = "center"; ctx.textBaseline = "middle";
    for (var t = Math.ceil(view.t0 / step) * step; t <= view.t1; t += step) {
      var x = Math.round(X(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(x, AXIS - 4); ctx.lineTo(x, HEIGHT); ctx.stroke();
      ctx.fillText(fmtTick(t, step), x, AXIS / 2);
    }
    ctx.textAlign = "left";
  }

  function drawGutter(tr) {
    if (tr.type === "title") return;
    ctx.fillStyle = "#f6f6f6"; ctx.fillRect(0, tr.y, GUTTER - 4, tr.h);
    ctx.fillStyle = "#222"; ctx.textBaseline = "middle";
    ctx.font = "bold 12px system-ui, sans-serif";
    ctx.fillText(tr.label, 6, tr.y + Math.min(tr.h / 2, 12));
    ctx.font = "11px system-ui, sans-serif";
    if (tr.sub && tr.h > 30) { ctx.fillStyle = "#777"; ctx.fillText(tr.sub, 6, tr.y + 27); }
    ctx.strokeStyle = "#ddd";
    ctx.beginPath(); ctx.moveTo(GUTTER, tr.y + tr.h + 2.5); ctx.lineTo(W, tr.y + tr.h + 2.5);
    ctx.stroke();
  }

  function drawTitle(tr) {
    ctx.fillStyle = "#222"; ctx.font = "bold 12px system-ui, sans-serif";
    ctx.fillText(tr.run.raw.label + " — " + fmtTime(tr.run.total), GUTTER + 4, tr.y + 10);
    ctx.font = "11px system-ui, sans-serif";
  }

  function drawGroups(tr) {
    tr.run.groups.forEach(function (g) {
      var x0 = clampX(X(g.start / SCALE)), x1 = clampX(X(g.end / SCALE));
      if (x1 < GUTTER || x0 > W) return;
      ctx.fillStyle = PAL.group; ctx.fillRect(x0, tr.y + 3, Math.max(1, x1 - x0), tr.h - 6);
      if (x1 - x0 > 30) {
        ctx.fillStyle = "#fff"; ctx.fillText("G" + g.group, Math.max(x0, GUTTER) + 3, tr.y + tr.h / 2);
      }
    });
  }

  function drawLayers(tr) {
    var run = tr.run, L = run.L, rowH = (tr.h - 4) / tr.nrows;
    ctx.textBaseline = "middle";
    run.rows.forEach(function (list, row) {
      var ends = list.map(function (k) { return L.end[k]; });
      var y0 = tr.y + 2 + row * rowH, lastCol = -1;
      for (var j = firstEnding(ends, list.length, view.t0 * SCALE); j < list.length; j++) {
        var k = list[j], s = L.start[k] / SCALE;
        if (s > view.t1) break;
        var x0 = X(s), x1 = X(L.end[k] / SCALE);
        if (x1 - x0 < 1 && Math.floor(x0) === lastCol) continue;
        lastCol = Math.floor(x0);
        var shades = L.group[k] >= 0 ? PAL.local : PAL.global;
        ctx.fillStyle = shades[k % 2];
        x0 = clampX(x0); x1 = clampX(x1);
        ctx.fillRect(x0, y0, Math.max(1, x1 - x0), rowH - 1);
        stats.bars++;
        if (x1 - x0 > 40 && rowH >= 11) {
          var name = run.S[L.name[k]], fit = Math.floor((x1 - x0 - 6) / 6.2);
          ctx.fillStyle = "#111";
          ctx.fillText(name.length > fit ? name.slice(0, Math.max(1, fit - 1)) + "…" : name,
                       Math.max(x0, GUTTER) + 3, y0 + rowH / 2);
        }
      }
    });
  }

  function drawEngine(tr) {
    var run = tr.run, e = tr.eng, h = tr.h - 6, base = tr.y + tr.h - 2;
    var paths = {}, col = -1, colH = 0, colColor = "";
    function add(color, x, yTop, w, bh) {
      (paths[color] = paths[color] || new Path2D()).rect(x, yTop, w, bh);
      stats.bars++;
    }
    function flush() { if (col >= 0) add(colColor, col, base - colH, 1, colH); col = -1; }
    ctx.fillStyle = "#f3f3f3"; ctx.fillRect(GUTTER, base, plotW(), 1);
    for (var i = firstEnding(e.end, e.n, view.t0); i < e.n && e.start[i] <= view.t1; i++) {
      var x0 = X(e.start[i]), x1 = X(e.end[i]);
      var bh = Math.max(1, cmdHeight(run, e, i) * h), color = cmdColor(run, e, i);
      if (x1 - x0 < 1) {
        var c = Math.floor(x0);
        if (c === col) { if (bh > colH) { colH = bh; colColor = color; } continue; }
        flush(); col = c; colH = bh; colColor = color;
        continue;
      }
      flush();
      x0 = clampX(x0); x1 = clampX(x1);
      add(color, x0, base - bh, x1 - x0 > 3 ? x1 - x0 - 1 : x1 - x0, bh);  // a gap between
    }
    flush();
    Object.keys(paths).sort().forEach(function (color) {
      ctx.fillStyle = color; ctx.fill(paths[color]);
    });
  }

  function ddrColumns(run) {  // DDR bytes per 2-pixel column of the current view
    var e = run.gdma, S = run.S, n = Math.ceil(plotW() / 2), acc = new Float64Array(n);
    var colNs = (view.t1 - view.t0) / n;
    for (var i = firstEnding(e.end, e.n, view.t0); i < e.n && e.start[i] <= view.t1; i++) {
      if (S[e.c.dir[i]] === "L2L") continue;
      var bytes = e.c.bytes[i], dur = e.end[i] - e.start[i];
      var c0 = (Math.max(e.start[i], view.t0) - view.t0) / colNs;
      var c1 = (Math.min(e.end[i], view.t1) - view.t0) / colNs;
      if (dur <= 0) { acc[Math.min(n - 1, Math.floor(c0))] += bytes; continue; }
      var perCol = bytes / dur * colNs;
      for (var k = Math.floor(c0); k < Math.min(n, Math.ceil(c1)); k++) {
        acc[k] += perCol * (Math.min(c1, k + 1) - Math.max(c0, k));
      }
    }
    return { acc: acc, colNs: colNs };
  }

  function drawCurve(tr, xs, ys, top, color, capLabel) {
    var base = tr.y + tr.h - 2, h = tr.h - 12, scale = h / top;
    ctx.beginPath(); ctx.moveTo(xs[0], base);
    for (var i = 0; i < xs.length; i++) ctx.lineTo(xs[i], base - Math.min(top, ys[i]) * scale);
    ctx.lineTo(xs[xs.length - 1], base); ctx.closePath();
    ctx.globalAlpha = 0.35; ctx.fillStyle = color; ctx.fill(); ctx.globalAlpha = 1;
    ctx.strokeStyle = color; ctx.stroke();
    ctx.setLineDash([4, 3]); ctx.strokeStyle = "#999";
    ctx.beginPath(); ctx.moveTo(GUTTER, base - h + 0.5); ctx.lineTo(W, base - h + 0.5); ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = "#666"; ctx.textBaseline = "top";
    ctx.fillText(capLabel, GUTTER + 4, tr.y + 1); ctx.textBaseline = "middle";
  }

  function drawDdr(tr) {
    var cols = ddrColumns(tr.run), xs = [], ys = [], peak = tr.run.chip.ddr_gbps;
    for (var k = 0; k < cols.acc.length; k++) {
      var gbps = cols.acc[k] / cols.colNs;
      xs.push(GUTTER + 2 * k, GUTTER + 2 * k + 2); ys.push(gbps, gbps);
    }
    tr.cache = cols;
    drawCurve(tr, xs, ys, peak, PAL.ddr, "peak " + peak + " GB/s");
  }

  function lmemAt(run, t) {
    var ts = run.raw.lmem.t, i = firstEnding(ts, ts.length, t * SCALE + 1e-9) - 1;
    return i >= 0 ? run.raw.lmem.bytes[i] : 0;
  }

  function drawLmem(tr) {
    var run = tr.run, ts = run.raw.lmem.t, bs = run.raw.lmem.bytes;
    var cap = run.chip.lmem_bytes_per_npu, xs = [X(view.t0)], ys = [lmemAt(run, view.t0)];
    for (var i = firstEnding(ts, ts.length, view.t0 * SCALE); i < ts.length; i++) {
      var t = ts[i] / SCALE;
      if (t > view.t1) break;
      xs.push(X(t), X(t)); ys.push(ys[ys.length - 1], bs[i]);
    }
    xs.push(X(view.t1)); ys.push(ys[ys.length - 1]);
    var top = Math.max(cap, Math.max.apply(null, ys));
    drawCurve(tr, xs.map(clampX), ys, top, PAL.lmem, "capacity " + fmtBytes(cap));
  }

  function tensorColor(run, k) {  // a steady colour per tensor name
    var name = run.S[run.map.tensor[k]], h = 0;
    for (var i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
    return "hsl(" + (h % 360) + ", 62%, " + (48 + (h >> 9) % 16) + "%)";
  }

  function mapRect(tr, k) {  // x0, x1, y, height of a placement; address grows downwards
    var m = tr.run.map, cap = tr.run.chip.lmem_bytes_per_npu, h = tr.h - 2;
    return [X(m.t0[k] / SCALE), X(m.t1[k] / SCALE), tr.y + 1 + m.addr[k] / cap * h,
            Math.max(1, m.size[k] / cap * h)];
  }

  function drawLmemMap(tr) {
    var run = tr.run, m = run.map, banks = run.chip.lmem_banks || 16;
    ctx.strokeStyle = "#eee";
    for (var b = 1; b < banks; b++) {  // bank boundaries
      var yb = Math.round(tr.y + 1 + b / banks * (tr.h - 2)) + 0.5;
      ctx.beginPath(); ctx.moveTo(GUTTER, yb); ctx.lineTo(W, yb); ctx.stroke();
    }
    for (var k = 0; k < m.n; k++) {
      if (m.t1[k] / SCALE < view.t0 || m.t0[k] / SCALE > view.t1) continue;
      var r = mapRect(tr, k);
      ctx.fillStyle = tensorColor(run, k);
      ctx.fillRect(clampX(r[0]), r[2], Math.max(1, clampX(r[1]) - clampX(r[0])), r[3]);
      stats.bars++;
    }
  }

  function drawGroupBounds() {  // dashed lines where layer groups begin and end
    ctx.setLineDash([3, 3]); ctx.strokeStyle = PAL.group; ctx.globalAlpha = 0.6;
    tracks.forEach(function (tr) {
      if (tr.type !== "layers") return;
      tr.run.groups.forEach(function (g) {
        [g.start, g.end].forEach(function (t) {
          var x = Math.round(X(t / SCALE)) + 0.5;
          if (x < GUTTER || x > W) return;
          ctx.beginPath(); ctx.moveTo(x, tr.y - 18); ctx.lineTo(x, tr.y + tr.h); ctx.stroke();
        });
      });
    });
    ctx.setLineDash([]); ctx.globalAlpha = 1;
  }

  function laneMid(run, e) {
    for (var i = 0; i < tracks.length; i++) {
      if (tracks[i].run === run && tracks[i].eng === e) return tracks[i].y + tracks[i].h / 2;
    }
    return 0;
  }

  function drawHover() {
    if (!hover || hover.kind !== "cmd") return;
    var e = hover.eng, i = hover.i, run = e.run, yMid = laneMid(run, e);
    var x0 = clampX(X(e.start[i])), x1 = clampX(X(e.end[i]));
    ctx.strokeStyle = "#000"; ctx.lineWidth = 1.5;
    ctx.strokeRect(x0 - 1, yMid - 27, Math.max(2, x1 - x0 + 2), 54);
    var dep = e.c.dep[i], j = dep ? e.other.indexOf(dep) : -1;
    if (j >= 0) {  // the command this one waited for, and an arrow from its end
      var o = e.other, oy = laneMid(run, o), ox = X(o.end[j]);
      ctx.strokeStyle = "#c00";
      ctx.strokeRect(clampX(X(o.start[j])) - 1, oy - 27, Math.max(2, clampX(ox) - clampX(X(o.start[j])) + 2), 54);
      ctx.beginPath(); ctx.moveTo(ox, oy); ctx.lineTo(x0, yMid); ctx.stroke();
      var a = Math.atan2(yMid - oy, x0 - ox);
      ctx.beginPath(); ctx.moveTo(x0, yMid);
      ctx.lineTo(x0 - 8 * Math.cos(a - 0.4), yMid - 8 * Math.sin(a - 0.4));
      ctx.lineTo(x0 - 8 * Math.cos(a + 0.4), yMid - 8 * Math.sin(a + 0.4));
      ctx.closePath(); ctx.fillStyle = "#c00"; ctx.fill();
    }
    ctx.lineWidth = 1;
  }
