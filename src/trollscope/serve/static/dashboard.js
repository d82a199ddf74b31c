// trollscope serve: the pages' scripts (bar charts, the graph view, the members' live
// search). Each reads the page's JSON twin or a data- attribute the server escaped.
// Every string from the case is hostile: it is set with textContent or drawn with
// fillText, never parsed as HTML; a link is followed only if the server made it (a path
// starting with "/").
"use strict";

(function () {
  const BIDI = /[\u202a-\u202e\u2066-\u2069]/g;
  const COLOURS = {
    pair: "#c0392b", account: "#d68910", burst: "#2471a3", cohort: "#7d3c98", join: "#148f77",
  };

  function shown(value, limit) {
    if (value === null || value === undefined) return "";
    let text = String(value).replace(BIDI, "");
    limit = limit || 120;
    if (text.length > limit) text = text.slice(0, limit - 1) + "\u2026";
    return text;
  }

  function localPath(url) {
    return typeof url === "string" && url.startsWith("/") && !url.startsWith("//");
  }

  function number(value, digits) {
    if (value === null || value === undefined) return "";
    return Number(value).toLocaleString("en", {
      minimumFractionDigits: digits || 0,
      maximumFractionDigits: digits || 0,
    });
  }

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error(url + ": HTTP " + r.status);
      return r.json();
    });
  }

  // -- bar charts ---------------------------------------------------------------------

  function drawBars(canvas, counts, every) {
    const ctx = canvas.getContext("2d");
    const w = canvas.width;
    const h = canvas.height;
    ctx.clearRect(0, 0, w, h);
    let max = 1;
    for (const c of counts) max = Math.max(max, c);
    const bw = w / Math.max(1, counts.length);
    ctx.fillStyle = "#4a6fa5";
    counts.forEach(function (c, i) {
      const bh = ((h - 16) * c) / max;
      ctx.fillRect(i * bw, h - bh, Math.max(1, bw - 1), bh);
    });
    if (every) {
      ctx.strokeStyle = "#bbb";
      for (let i = every; i < counts.length; i += every) {
        ctx.beginPath();
        ctx.moveTo(i * bw, 14);
        ctx.lineTo(i * bw, h);
        ctx.stroke();
      }
    }
    ctx.fillStyle = "#333";
    ctx.font = "11px sans-serif";
    ctx.fillText("max " + number(max), 4, 11);
    canvas.dataset.drawn = String(counts.length);
  }

  function counts(text) {
    return text ? text.split(",").map(Number) : [];
  }

  function bars() {
    document.querySelectorAll("canvas.bars[data-counts]").forEach(function (c) {
      drawBars(c, counts(c.dataset.counts));
    });
    document.querySelectorAll("[data-charts]").forEach(function (box) {
      getJSON(box.dataset.charts).then(function (data) {
        drawBars(document.getElementById("hours"), data.hours_utc, 24);
        drawBars(document.getElementById("created"), data.created.counts);
        const caption = box.querySelector("[data-created-caption]");
        if (caption && data.created.start) {
          const unit = data.created.days === 1 ? "per day" : "per " + data.created.days + " days";
          caption.textContent = unit + ", from " + data.created.start;
        }
      });
    });
  }

  // -- the graph view -----------------------------------------------------------------
  // A force layout with a fixed budget of iterations, a few per animation frame so that
  // the page stays responsive; repulsion only between nodes in neighbouring grid cells,
  // so an iteration costs about n, not n squared (2,000 nodes: a few ms).

  const ITERATIONS = 300;
  const LAYOUT_MS = 3000; // a big graph cools faster rather than keep the fans on
  const FRAME_MS = 12;

  function Graph(canvas, data, status) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.nodes = data.nodes;
    this.links = data.links;
    this.status = status;
    this.total = data;
    const n = this.nodes.length;
    this.k = Math.sqrt((canvas.width * canvas.height) / Math.max(1, n)) * 0.6;
    this.x = new Float64Array(n);
    this.y = new Float64Array(n);
    this.dx = new Float64Array(n);
    this.dy = new Float64Array(n);
    const golden = Math.PI * (3 - Math.sqrt(5));
    for (let i = 0; i < n; i++) {
      const r = this.k * Math.sqrt(i + 0.5);
      this.x[i] = r * Math.cos(i * golden);
      this.y[i] = r * Math.sin(i * golden);
    }
    this.degree = new Uint32Array(n);
    for (const l of this.links) {
      this.degree[l[0]]++;
      this.degree[l[1]]++;
    }
    this.done = 0;
    this.scale = 1;
    this.tx = canvas.width / 2;
    this.ty = canvas.height / 2;
    this.hover = -1;
    this.pending = false;
    this.bind();
    this.step();
  }

  Graph.prototype.iterate = function (temperature) {
    const n = this.nodes.length;
    const k = this.k;
    const k2 = k * k;
    const x = this.x;
    const y = this.y;
    const dx = this.dx.fill(0);
    const dy = this.dy.fill(0);
    // Bucket the nodes into square cells (a counting sort into typed arrays): repulsion
    // is computed only between nodes in the same or a neighbouring cell.
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -Infinity;
    let y1 = -Infinity;
    for (let i = 0; i < n; i++) {
      x0 = Math.min(x0, x[i]);
      y0 = Math.min(y0, y[i]);
      x1 = Math.max(x1, x[i]);
      y1 = Math.max(y1, y[i]);
    }
    const cell = Math.max(2 * k, (x1 - x0) / 256, (y1 - y0) / 256);
    const cols = Math.floor((x1 - x0) / cell) + 1;
    const rows = Math.floor((y1 - y0) / cell) + 1;
    const cellOf = new Int32Array(n);
    const start = new Int32Array(cols * rows + 1);
    for (let i = 0; i < n; i++) {
      const c = Math.floor((x[i] - x0) / cell) + Math.floor((y[i] - y0) / cell) * cols;
      cellOf[i] = c;
      start[c + 1]++;
    }
    for (let c = 0; c < cols * rows; c++) start[c + 1] += start[c];
    const fill = start.slice(0, cols * rows);
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[fill[cellOf[i]]++] = i;
    const reach = cell * cell;
    for (let i = 0; i < n; i++) {
      const cx = cellOf[i] % cols;
      const cy = (cellOf[i] - cx) / cols;
      for (let gy = Math.max(0, cy - 1); gy <= Math.min(rows - 1, cy + 1); gy++) {
        for (let gx = Math.max(0, cx - 1); gx <= Math.min(cols - 1, cx + 1); gx++) {
          const c = gx + gy * cols;
          for (let o = start[c]; o < start[c + 1]; o++) {
            const j = order[o];
            if (j <= i) continue;
            let ex = x[i] - x[j];
            let ey = y[i] - y[j];
            let d2 = ex * ex + ey * ey;
            if (d2 > reach) continue;
            if (d2 < 0.01) {
              ex = 0.1 * ((i % 7) - 3);
              ey = 0.1 * ((j % 5) - 2);
              d2 = ex * ex + ey * ey + 0.01;
            }
            const f = k2 / d2;
            dx[i] += ex * f;
            dy[i] += ey * f;
            dx[j] -= ex * f;
            dy[j] -= ey * f;
          }
        }
      }
    }
    for (const l of this.links) {
      const a = l[0];
      const b = l[1];
      const ex = x[a] - x[b];
      const ey = y[a] - y[b];
      const d = Math.sqrt(ex * ex + ey * ey) || 0.01;
      const f = d / k;
      dx[a] -= ex * f;
      dy[a] -= ey * f;
      dx[b] += ex * f;
      dy[b] += ey * f;
    }
    for (let i = 0; i < n; i++) {
      dx[i] -= x[i] * 0.02; // gravity: components without links stay near the middle
      dy[i] -= y[i] * 0.02;
      const d = Math.sqrt(dx[i] * dx[i] + dy[i] * dy[i]) || 1;
      const move = Math.min(d, temperature);
      x[i] += (dx[i] / d) * move;
      y[i] += (dy[i] / d) * move;
    }
  };

  Graph.prototype.step = function () {
    const self = this;
    const start = performance.now();
    if (this.began === undefined) this.began = start;
    const t0 = this.k * 3;
    let progress = 0;
    while (performance.now() - start < FRAME_MS) {
      progress = Math.max(this.done / ITERATIONS, (performance.now() - this.began) / LAYOUT_MS);
      if (progress >= 1) break;
      this.iterate(t0 * (1 - progress) + 0.5);
      this.done++;
    }
    if (this.done <= 2 || progress >= 1) this.fit();
    this.draw();
    if (progress < 1) {
      requestAnimationFrame(function () {
        self.step();
      });
    } else {
      this.canvas.dataset.state = "laid-out";
    }
  };

  Graph.prototype.fit = function () {
    const n = this.nodes.length;
    if (!n) return;
    let x0 = Infinity;
    let x1 = -Infinity;
    let y0 = Infinity;
    let y1 = -Infinity;
    for (let i = 0; i < n; i++) {
      x0 = Math.min(x0, this.x[i]);
      x1 = Math.max(x1, this.x[i]);
      y0 = Math.min(y0, this.y[i]);
      y1 = Math.max(y1, this.y[i]);
    }
    const w = this.canvas.width;
    const h = this.canvas.height;
    this.scale = 0.9 * Math.min(w / Math.max(1, x1 - x0), h / Math.max(1, y1 - y0));
    this.tx = w / 2 - ((x0 + x1) / 2) * this.scale;
    this.ty = h / 2 - ((y0 + y1) / 2) * this.scale;
  };

  Graph.prototype.request = function () {
    const self = this;
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(function () {
      self.pending = false;
      self.draw();
    });
  };

  Graph.prototype.draw = function () {
    const ctx = this.ctx;
    const s = this.scale;
    const tx = this.tx;
    const ty = this.ty;
    const x = this.x;
    const y = this.y;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    // One path per colour: 20,000 lines in a handful of strokes.
    ctx.globalAlpha = 0.35;
    ctx.lineWidth = 1;
    for (const test of Object.keys(COLOURS)) {
      ctx.beginPath();
      for (const l of this.links) {
        if (l[2] !== test) continue;
        ctx.moveTo(x[l[0]] * s + tx, y[l[0]] * s + ty);
        ctx.lineTo(x[l[1]] * s + tx, y[l[1]] * s + ty);
      }
      ctx.strokeStyle = COLOURS[test];
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
    ctx.fillStyle = "#1b2631";
    ctx.beginPath();
    for (let i = 0; i < this.nodes.length; i++) {
      const r = 2 + Math.min(4, Math.sqrt(this.degree[i]) / 2);
      const px = x[i] * s + tx;
      const py = y[i] * s + ty;
      ctx.moveTo(px + r, py);
      ctx.arc(px, py, r, 0, 2 * Math.PI);
    }
    ctx.fill();
    if (this.hover >= 0) {
      const node = this.nodes[this.hover];
      const px = x[this.hover] * s + tx;
      const py = y[this.hover] * s + ty;
      ctx.fillStyle = "#f1c40f";
      ctx.beginPath();
      ctx.arc(px, py, 6, 0, 2 * Math.PI);
      ctx.fill();
      const label = shown(node.handle || node.account_id, 60);
      ctx.font = "13px sans-serif";
      const width = ctx.measureText(label).width;
      ctx.fillStyle = "rgba(255,255,255,0.9)";
      ctx.fillRect(px + 8, py - 16, width + 8, 20);
      ctx.fillStyle = "#000";
      ctx.fillText(label, px + 12, py - 2);
    }
  };

  Graph.prototype.nearest = function (mx, my) {
    let best = -1;
    let bestD = 64; // within 8 pixels
    for (let i = 0; i < this.nodes.length; i++) {
      const ex = this.x[i] * this.scale + this.tx - mx;
      const ey = this.y[i] * this.scale + this.ty - my;
      const d = ex * ex + ey * ey;
      if (d < bestD) {
        bestD = d;
        best = i;
      }
    }
    return best;
  };

  Graph.prototype.bind = function () {
    const self = this;
    const canvas = this.canvas;
    let drag = null;
    function point(e) {
      const r = canvas.getBoundingClientRect();
      return [
        ((e.clientX - r.left) * canvas.width) / r.width,
        ((e.clientY - r.top) * canvas.height) / r.height,
      ];
    }
    canvas.addEventListener("mousedown", function (e) {
      const p = point(e);
      drag = { x: p[0], y: p[1], moved: false };
    });
    window.addEventListener("mouseup", function () {
      drag = null;
    });
    canvas.addEventListener("mousemove", function (e) {
      const p = point(e);
      if (drag) {
        self.tx += p[0] - drag.x;
        self.ty += p[1] - drag.y;
        drag.moved = drag.moved || Math.abs(p[0] - drag.x) + Math.abs(p[1] - drag.y) > 2;
        drag.x = p[0];
        drag.y = p[1];
      } else {
        const hover = self.nearest(p[0], p[1]);
        canvas.style.cursor = hover >= 0 ? "pointer" : "default";
        if (hover === self.hover) return;
        self.hover = hover;
      }
      self.request();
    });
    canvas.addEventListener("click", function (e) {
      const p = point(e);
      const i = self.nearest(p[0], p[1]);
      if (i >= 0 && localPath(self.nodes[i].url)) window.location.assign(self.nodes[i].url);
    });
    canvas.addEventListener(
      "wheel",
      function (e) {
        e.preventDefault();
        const p = point(e);
        const f = Math.exp(-e.deltaY * 0.0015);
        self.tx = p[0] - (p[0] - self.tx) * f;
        self.ty = p[1] - (p[1] - self.ty) * f;
        self.scale *= f;
        self.request();
      },
      { passive: false }
    );
  };

  function graph() {
    const canvas = document.getElementById("graph");
    if (!canvas) return;
    const status = document.getElementById("graph-status");
    getJSON(canvas.dataset.src)
      .then(function (data) {
        status.textContent =
          "Drawn: " + number(data.nodes.length) + " of " + number(data.nodes_total) +
          " members (the strongest), " + number(data.links.length) + " of " +
          number(data.links_total) + " links. Colours: pair tests red, account tests " +
          "orange, bursts blue, cohorts purple, joins of two networks green.";
        canvas.graph = new Graph(canvas, data, status);
      })
      .catch(function (err) {
        status.textContent = "The graph could not be loaded: " + err.message;
      });
  }

  // -- the members' live search -------------------------------------------------------

  function cell(row, text, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function memberRows(tbody, rows) {
    tbody.replaceChildren();
    for (const r of rows) {
      const tr = document.createElement("tr");
      const td = cell(tr, "");
      const a = document.createElement("a");
      if (localPath(r.url)) a.href = r.url;
      const bdi = document.createElement("bdi");
      bdi.textContent = shown(r.handle || r.account_id);
      a.appendChild(bdi);
      td.appendChild(a);
      const name = document.createElement("bdi");
      name.textContent = shown(r.display_name);
      cell(tr, "").appendChild(name);
      cell(tr, r.created_at ? String(r.created_at).slice(0, 10) : "");
      cell(tr, number(r.score, 2), "n");
      cell(tr, number(r.partners), "n");
      cell(tr, (r.traces || []).map(function (t) { return shown(t); }).join(", "));
      cell(tr, (r.identity_signals || []).map(function (t) { return shown(t); }).join(", "));
      tbody.appendChild(tr);
    }
  }

  function live() {
    document.querySelectorAll("form[data-live]").forEach(function (form) {
      const table = document.getElementById(form.dataset.target);
      const pager = table && table.nextElementSibling;
      let timer = null;
      let asked = 0;
      function search() {
        const query = new URLSearchParams(new FormData(form));
        query.delete("offset");
        const ticket = ++asked;
        getJSON(form.dataset.live + "?" + query.toString()).then(function (data) {
          if (ticket !== asked) return; // an older answer arriving late
          const m = data.members;
          memberRows(table.tBodies[0], m.rows);
          if (pager) {
            pager.textContent = m.total
              ? "rows 1\u2013" + number(Math.min(m.limit, m.total)) + " of " + number(m.total)
              : "no rows";
          }
          const page = window.location.pathname + "?" + query.toString();
          window.history.replaceState(null, "", page);
          form.dataset.shown = String(m.rows.length);
        });
      }
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        search();
      });
      form.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(search, 200);
      });
    });
  }

  bars();
  graph();
  live();
})();
