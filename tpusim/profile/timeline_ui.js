// tpusim timeline, part 2 of 2: hover details, zoom and pan, the tables, and start-up.

  // ---- hit testing and details --------------------------------------------------------------
  function trackAt(py) {
    for (var i = 0; i < tracks.length; i++) {
      if (py >= tracks[i].y && py < tracks[i].y + tracks[i].h) return tracks[i];
    }
    return null;
  }

  function hitTest(px, py) {
    var tr = trackAt(py);
    if (!tr || px < GUTTER) return null;
    var t = T(px), tol = 3 * (view.t1 - view.t0) / plotW(), run = tr.run;
    if (tr.type === "engine") {
      var e = tr.eng, i = firstEnding(e.end, e.n, t - tol), best = -1;
      for (; i < e.n && e.start[i] <= t + tol; i++) {
        if (best < 0 || (e.start[i] <= t && e.end[i] >= t)) best = i;
      }
      return best >= 0 ? { kind: "cmd", eng: e, i: best } : null;
    }
    if (tr.type === "layers") {
      var row = Math.floor((py - tr.y - 2) / ((tr.h - 4) / tr.nrows)), list = run.rows[row];
      if (!list) return null;
      for (var j = 0; j < list.length; j++) {
        var k = list[j];
        if (run.L.start[k] / SCALE <= t + tol && run.L.end[k] / SCALE >= t - tol) {
          return { kind: "layer", run: run, k: k };
        }
      }
      return null;
    }
    if (tr.type === "groups") {
      var g = run.groups.filter(function (g) { return g.start / SCALE <= t && g.end / SCALE >= t; });
      return g.length ? { kind: "group", run: run, g: g[0] } : null;
    }
    if (tr.type === "ddr" && tr.cache) {
      var col = Math.floor((px - GUTTER) / 2), bytes = tr.cache.acc[col] || 0;
      return { kind: "value", html: "<b>DDR</b> " + (bytes / tr.cache.colNs).toFixed(2) +
               " GB/s<br>" + fmtBytes(Math.round(bytes)) + " in " + fmtTime(tr.cache.colNs) +
               " at " + fmtTime(t) };
    }
    if (tr.type === "lmemmap") {
      var m = run.map;
      for (var q = m.n - 1; q >= 0; q--) {
        var r = mapRect(tr, q);
        if (px >= r[0] - 1 && px <= r[1] + 1 && py >= r[2] && py <= r[2] + r[3]) {
          var bank = run.chip.lmem_bytes_per_npu / (run.chip.lmem_banks || 16);
          return { kind: "value", html: "<b>" + esc(run.S[m.tensor[q]]) + "</b> (group " +
                   m.group[q] + ", " + (m.slice[q] < 0 ? "held for every slice" : "slice " +
                   m.slice[q]) + ")<br>" + fmtBytes(m.size[q]) + " per lane at " + m.addr[q] +
                   " (banks " + Math.floor(m.addr[q] / bank) + "-" +
                   Math.floor((m.addr[q] + m.size[q] - 1) / bank) + ")<br>" +
                   fmtTime(m.t0[q] / SCALE) + " to " + fmtTime(m.t1[q] / SCALE) };
        }
      }
      return null;
    }
    if (tr.type === "lmem") {
      var b = lmemAt(run, t);
      return { kind: "value", html: "<b>LMEM</b> " + fmtBytes(b) + " per lane (" +
               pct(b / run.chip.lmem_bytes_per_npu) + " of capacity) at " + fmtTime(t) };
    }
    return null;
  }

  function rows(pairs) {
    return "<table>" + pairs.map(function (p) {
      return "<tr><td>" + esc(p[0]) + "</td><td>" + p[1] + "</td></tr>";
    }).join("") + "</table>";
  }

  function layerLabel(run, li) {
    var k = run.rowOf.get(li);
    return k === undefined ? "#" + li : esc(run.S[run.L.name[k]]) + " <span class=note>(#" + li +
      ", " + esc(run.S[run.L.kind[k]]) + ")</span>";
  }

  function details(hit) {
    if (hit.kind === "value") return hit.html;
    var run = hit.run || hit.eng.run;
    if (hit.kind === "cmd") {
      var e = hit.eng, i = hit.i, c = e.c, dur = e.end[i] - e.start[i];
      var mhz = e.name === "TIU" ? run.chip.tiu_mhz : run.chip.gdma_mhz, g = e.group(i);
      var pairs = [["layer", layerLabel(run, e.layer[i])],
                   ["group / slice", (g >= 0 ? "group " + g : "global") + " / " + c.slice[i]],
                   ["start – end", fmtTime(e.start[i]) + " – " + fmtTime(e.end[i])],
                   ["duration", fmtTime(dur) + " = " + (dur * mhz / 1000).toFixed(1) + " cycles"]];
      if (e.name === "TIU") {
        pairs.push(["uArch rate", (c.rate[i] / 10).toFixed(1) + " %"]);
      } else {
        var gbps = dur > 0 ? c.bytes[i] / dur : 0;
        pairs.push(["bytes", c.bytes[i] + " (" + fmtBytes(c.bytes[i]) + ")"],
                   ["bandwidth", gbps.toFixed(2) + " GB/s (" + pct(gbps / run.chip.ddr_gbps) + " of peak)"],
                   ["direction", esc(run.S[c.dir[i]])], ["tensor", esc(run.S[c.tensor[i]])]);
      }
      pairs.push(["waits for", c.dep[i] ? e.other.name + " #" + c.dep[i] : "nothing"]);
      return "<b>" + e.name + " #" + e.id(i) + " " + esc(run.S[c.kind[i]]) + "</b>" + rows(pairs);
    }
    if (hit.kind === "layer") {
      var L = run.L, k = hit.k;
      return "<b>" + esc(run.S[L.name[k]]) + "</b> " + esc(run.S[L.kind[k]]) + rows([
        ["index", L.index[k]], ["where", L.group[k] >= 0 ? "local, group " + L.group[k] : "global"],
        ["span", fmtTime(L.start[k] / SCALE) + " – " + fmtTime(L.end[k] / SCALE) + " (" +
                 fmtTime((L.end[k] - L.start[k]) / SCALE) + ")"],
        ["TIU busy", fmtTime(L.tiu_ns[k]) + " in " + L.tiu_cmds[k] + " commands"],
        ["GDMA busy", fmtTime(L.gdma_ns[k]) + " in " + L.gdma_cmds[k] + " commands"],
        ["DDR bytes", fmtBytes(L.ddr_bytes[k])], ["LMEM per lane", fmtBytes(L.lmem[k])],
        ["bound by", esc(run.S[L.bound[k]])]]);
    }
    var gr = hit.g;
    return "<b>group " + gr.group + "</b>" + rows([
      ["layers", gr.layers.length + " (#" + gr.layers[0] + " – #" + gr.layers[gr.layers.length - 1] + ")"],
      ["span", fmtTime(gr.end_ns - gr.start_ns)], ["TIU busy", fmtTime(gr.tiu_ns)],
      ["GDMA busy", fmtTime(gr.gdma_ns)], ["DDR bytes", fmtBytes(gr.ddr_bytes)],
      ["LMEM per lane", fmtBytes(gr.lmem_bytes)], ["bound by", gr.bound]]);
  }

  function showTip(hit, px, py) {
    if (!hit) { tip.hidden = true; return; }
    tip.innerHTML = details(hit);
    tip.hidden = false;
    var left = px + 14, top = py + 14;
    if (left + tip.offsetWidth > W) left = Math.max(0, px - tip.offsetWidth - 14);
    if (top + tip.offsetHeight > HEIGHT) top = Math.max(0, py - tip.offsetHeight - 14);
    tip.style.left = left + "px"; tip.style.top = top + "px";
  }

  // ---- zoom and pan -------------------------------------------------------------------------
  function setView(t0, t1) {
    var span = Math.max(MIN_SPAN_NS, Math.min(t1 - t0, fullEnd * 1.1));
    var lo = -0.05 * fullEnd, hi = fullEnd * 1.05;
    t0 = Math.max(lo, Math.min(t0, hi - span));
    view.t0 = t0; view.t1 = t0 + span;
    redraw();
  }
  function zoom(factor, at) {
    var t = at === undefined ? (view.t0 + view.t1) / 2 : at;
    setView(t - (t - view.t0) * factor, t + (view.t1 - t) * factor);
  }
  function pan(fraction) {
    var d = (view.t1 - view.t0) * fraction;
    setView(view.t0 + d, view.t1 + d);
  }
  function zoomTo(t0, t1) {
    var m = Math.max((t1 - t0) * 0.05, MIN_SPAN_NS / 2);
    setView(t0 - m, t1 + m);
  }

  function pos(ev) {
    var r = canvas.getBoundingClientRect();
    return { x: ev.clientX - r.left, y: ev.clientY - r.top };
  }
  var drag = null;
  canvas.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var p = pos(ev);
    if (ev.shiftKey || Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) {
      pan((ev.deltaX || ev.deltaY) / plotW());
    } else {
      zoom(Math.exp(ev.deltaY * 0.0015), p.x >= GUTTER ? T(p.x) : undefined);
    }
  }, { passive: false });
  canvas.addEventListener("mousedown", function (ev) {
    var p = pos(ev);
    if (ev.button !== 0 || p.x < GUTTER) return;
    drag = { x: p.x, t0: view.t0, t1: view.t1, pan: ev.shiftKey };
    if (!drag.pan) selection = { x0: p.x, x1: p.x };
    ev.preventDefault();
  });
  window.addEventListener("mousemove", function (ev) {
    var p = pos(ev);
    if (drag) {
      if (drag.pan) {
        var d = (p.x - drag.x) / plotW() * (drag.t1 - drag.t0);
        setView(drag.t0 - d, drag.t1 - d);
      } else {
        selection.x1 = Math.max(GUTTER, Math.min(W - RIGHT, p.x)); redraw();
      }
      return;
    }
    if (ev.target !== canvas) { if (hover) { hover = null; tip.hidden = true; redraw(); } return; }
    hover = hitTest(p.x, p.y);
    showTip(hover, p.x, p.y);
    redraw();
  });
  window.addEventListener("mouseup", function () {
    if (!drag) return;
    if (selection && Math.abs(selection.x1 - selection.x0) > 3) {
      var a = T(Math.min(selection.x0, selection.x1)), b = T(Math.max(selection.x0, selection.x1));
      setView(a, b);
    }
    drag = null; selection = null; redraw();
  });
  canvas.addEventListener("dblclick", function (ev) {
    var p = pos(ev), hit = hitTest(p.x, p.y);
    if (!hit || hit.kind === "value") return;
    if (hit.kind === "layer") zoomTo(hit.run.L.start[hit.k] / SCALE, hit.run.L.end[hit.k] / SCALE);
    else if (hit.kind === "group") zoomTo(hit.g.start / SCALE, hit.g.end / SCALE);
    else zoomTo(hit.eng.start[hit.i], hit.eng.end[hit.i]);
  });
  window.addEventListener("keydown", function (ev) {
    if (ev.target && /INPUT|TEXTAREA/.test(ev.target.tagName)) return;
    var acts = { "+": ["in"], "=": ["in"], "-": ["out"], "ArrowLeft": ["left"],
                 "ArrowRight": ["right"], "0": ["reset"] };
    if (acts[ev.key]) { act(acts[ev.key][0]); ev.preventDefault(); }
  });
  function act(name) {
    if (name === "in") zoom(0.5);
    else if (name === "out") zoom(2);
    else if (name === "left") pan(-0.25);
    else if (name === "right") pan(0.25);
    else setView(0, fullEnd);
  }
  document.getElementById("controls").addEventListener("click", function (ev) {
    var a = ev.target.getAttribute && ev.target.getAttribute("data-action");
    if (a) act(a);
  });
  window.addEventListener("resize", function () { resize(); draw(); });

  // ---- header, legend and tables --------------------------------------------------------------
  function buildLegend() {
    var seen = {};
    runs.forEach(function (run) {
      [run.tiu, run.gdma].forEach(function (e) {
        var col = e.name === "TIU" ? e.c.kind : e.c.dir;
        for (var i = 0; i < e.n; i++) seen[(e.name === "TIU" ? "TIU " : "GDMA ") + run.S[col[i]]] = run.S[col[i]];
      });
    });
    var items = Object.keys(seen).sort().map(function (k) {
      return "<span><i style=\"background:" + (PAL.command[seen[k]] || "#888") + "\"></i>" + esc(k) + "</span>";
    });
    items.push("<span><i style=\"background:" + PAL.global[0] + "\"></i>global layer</span>",
               "<span><i style=\"background:" + PAL.local[0] + "\"></i>local layer (in a group)</span>",
               "<span><i style=\"background:" + PAL.group + "\"></i>layer group</span>");
    document.getElementById("legend").innerHTML = items.join("");
  }

  function headline(run) {
    var s = run.raw.summary, k = run.raw.kpis;
    return (runs.length > 1 ? "<b>" + esc(run.raw.label) + "</b>: " : "") +
      "total <b>" + fmtTime(k.total_ns) + "</b> · TIU busy " + fmtTime(k.tiu_busy_ns) +
      " (" + pct(k.tiu_working_ratio) + ") · GDMA busy " + fmtTime(k.gdma_busy_ns) +
      " (" + pct(k.gdma_busy_ns / (k.total_ns || 1)) + ") · DDR " + (s.ddr_bytes / 1e6).toFixed(1) + " MB at " + k.ddr_avg_gbps.toFixed(1) +
      " GB/s · " + s.tiu_commands + " TIU + " + s.gdma_commands + " GDMA commands";
  }

  function table(header, body, cls) {
    return "<table" + (cls ? " class=\"" + cls + "\"" : "") + "><thead><tr>" +
      header.map(function (h) { return "<th>" + h + "</th>"; }).join("") +
      "</tr></thead><tbody>" + body.join("") + "</tbody></table>";
  }
  function tableRow(cells, attrs) {
    return "<tr" + (attrs || "") + ">" + cells.map(function (c, i) {
      return "<td" + (i > 0 && typeof c === "string" && !/^[-\d.,% ]+$/.test(c) ? " class=text" : "") + ">" + c + "</td>";
    }).join("") + "</tr>";
  }
  function ms(ns) { return (ns / 1e6).toFixed(3); }
  function us(ns) { return (ns / 1e3).toFixed(3); }

  function runTables(run) {
    var s = run.raw.summary, k = run.raw.kpis, out = [];
    out.push("<h2>" + esc(run.raw.label) + "</h2><div class=runs><div>" + table(["headline", ""],
      Object.keys(s).sort().map(function (key) { return tableRow([esc(key), esc(s[key])]); })) + "</div>");
    out.push("<div>" + table(["KPI", "value"], [
      tableRow(["TIU working ratio (TIU busy / total)", pct(k.tiu_working_ratio)]),
      tableRow(["parallelism ((TIU + GDMA) / total)", pct(k.parallelism)]),
      tableRow(["concurrency ((TIU + GDMA − total) / min)", pct(k.concurrency)]),
      tableRow(["DDR average bandwidth", k.ddr_avg_gbps.toFixed(2) + " GB/s"]),
      tableRow(["DDR utilisation (of " + k.ddr_peak_gbps + " GB/s)", pct(k.ddr_utilisation)]),
      tableRow(["uArch rate (useful / issued TIU ops)", pct(k.uarch_rate)])]) + "</div>");
    out.push("<div>" + table(["engine", "commands", "busy ms", "busy", "bytes"],
      run.raw.engines.map(function (e) {
        return tableRow([e.engine, String(e.commands), ms(e.busy_ns), pct(e.busy_ratio), String(e.bytes)]);
      })) + "</div>");
    out.push("<div>" + table(["operator kind", "layers", "wall ms", "TIU ms", "GDMA ms", "DDR MB"],
      run.raw.kinds.map(function (q) {
        return tableRow([esc(q.kind), String(q.layers), ms(q.time_ns), ms(q.tiu_ns), ms(q.gdma_ns),
                   (q.ddr_bytes / 1e6).toFixed(2)]);
      })) + "</div></div>");
    if (run.groups.length) {
      out.push("<h2>Layer groups</h2><div class=scroll>" + table(
        ["group", "layers", "span µs", "TIU µs", "GDMA µs", "DDR bytes", "LMEM/lane", "bound"],
        run.groups.map(function (g) {
          return tableRow(["G" + g.group, String(g.layers.length), us(g.end_ns - g.start_ns), us(g.tiu_ns),
                     us(g.gdma_ns), String(g.ddr_bytes), fmtBytes(g.lmem_bytes), g.bound]);
        })) + "</div>");
    } else {
      out.push("<p class=note>No layer groups: every layer ran global (DDR in, DDR out).</p>");
    }
    var L = run.L, body = [];
    for (var i = 0; i < L.index.length; i++) {
      body.push(tableRow([String(L.index[i]), esc(run.S[L.name[i]]), esc(run.S[L.kind[i]]),
        L.group[i] >= 0 ? "G" + L.group[i] : "global", us(L.start[i] / SCALE * 1),
        us((L.end[i] - L.start[i]) / SCALE), us(L.tiu_ns[i]), us(L.gdma_ns[i]),
        String(L.ddr_bytes[i]), esc(run.S[L.bound[i]])],
        " class=layer data-run=" + run.index + " data-k=" + i));
    }
    out.push("<h2>Layers <span class=note>(click a row to zoom to it; click a heading to sort)</span></h2>" +
      "<div class=scroll>" + table(["#", "layer", "kind", "where", "start µs", "span µs", "TIU µs",
      "GDMA µs", "DDR bytes", "bound"], body, "layers") + "</div>");
    return out.join("");
  }

  function sortTable(tbl, col) {
    var body = tbl.tBodies[0], list = Array.prototype.slice.call(body.rows);
    var dir = tbl.getAttribute("data-sort") === String(col) ? -1 : 1;
    list.sort(function (a, b) {
      var x = a.cells[col].textContent, y = b.cells[col].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      return dir * (isNaN(nx) || isNaN(ny) ? x.localeCompare(y) : nx - ny);
    });
    tbl.setAttribute("data-sort", dir === 1 ? String(col) : "");
    list.forEach(function (r) { body.appendChild(r); });
  }

  function buildTables() {
    document.getElementById("headline").innerHTML = runs.map(headline).join("<br>");
    var section = document.getElementById("tables");
    section.innerHTML = runs.map(runTables).join("");
    section.addEventListener("click", function (ev) {
      var th = ev.target.closest("th"), row = ev.target.closest("tr.layer");
      if (th && th.closest("table.layers")) { sortTable(th.closest("table"), th.cellIndex); return; }
      if (row) {
        var run = runs[+row.getAttribute("data-run")], k = +row.getAttribute("data-k");
        zoomTo(run.L.start[k] / SCALE, run.L.end[k] / SCALE);
        window.scrollTo(0, 0);
      }
    });
    Array.prototype.forEach.call(section.querySelectorAll("table.layers th"), function (th) {
      th.className = "sortable";
    });
  }

  // ---- start ----------------------------------------------------------------------------------
  buildLegend();
  resize();  // before the tables exist, so that measuring the page lays out little
  draw();
  buildTables();
  var body = document.body;
  body.setAttribute("data-drawn", String(stats.bars));
  body.setAttribute("data-commands", String(runs.reduce(function (n, r) { return n + r.tiu.n + r.gdma.n; }, 0)));
  body.setAttribute("data-draw-ms", stats.drawMs.toFixed(1));
  body.setAttribute("data-script-ms", (performance.now() - began).toFixed(1));
  body.setAttribute("data-ready-ms", performance.now().toFixed(1));
  if (location.hash === "#selftest") selfTest();
  var win = /^#us=([\d.]+),([\d.]+)$/.exec(location.hash);  // a window in µs: #us=100,250
  if (win) { setView(+win[1] * 1e3, +win[2] * 1e3); draw(); }

  // Exercises zoom, hover and redraw timing, and records the results on <body> (for tests).
  function selfTest() {
    var times = [], i;
    for (i = 0; i < 12; i++) { zoom(0.6, fullEnd * 0.37); draw(); times.push(stats.drawMs); }
    for (i = 0; i < 12; i++) { zoom(1 / 0.6, fullEnd * 0.37); draw(); times.push(stats.drawMs); }
    setView(0, fullEnd); draw(); times.push(stats.drawMs);
    body.setAttribute("data-redraw-ms-max", Math.max.apply(null, times).toFixed(1));
    var found = [];
    tracks.forEach(function (trk) {
      if (trk.type !== "engine" && trk.type !== "layers" && trk.type !== "lmemmap") return;
      var ys = [trk.y + trk.h - 4];  // the map's rectangles lie at any height: try many
      if (trk.type === "lmemmap") for (var yy = trk.y + 2; yy < trk.y + trk.h; yy += 4) ys.push(yy);
      for (var x = GUTTER + 1, hit = null; x < W - RIGHT && !hit; x += 3) {
        for (var q = 0; q < ys.length && !hit; q++) hit = hitTest(x, ys[q]);
        if (hit) found.push(trk.label + ": " + details(hit).replace(/<[^>]+>/g, " "));
      }
    });
    body.setAttribute("data-hover", found.join(" | "));
  }
