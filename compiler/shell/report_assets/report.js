"use strict";
(function () {
  const D = JSON.parse(document.getElementById("report-data").textContent);
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") e.textContent = v;
      else if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid);
    return e;
  };
  const ROW = 24;
  const STATE = {};
  D.states.forEach((s) => { STATE[s.code] = s; });
  const clusters = D.clusters;
  const placements = D.placements;
  const change = D.change;

  // -- theme ------------------------------------------------------------------------------
  const root = document.documentElement;
  const theme = $("theme");
  const setTheme = (dark) => {
    root.classList.toggle("dark", dark);
    theme.setAttribute("aria-pressed", String(dark));
    theme.textContent = dark ? "Light theme" : "Dark theme";
  };
  setTheme(window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches);
  theme.addEventListener("click", () => setTheme(!root.classList.contains("dark")));
  $("fleet-name").textContent = D.fleet ? "\u2014 " + D.fleet : "";

  // -- tabs -------------------------------------------------------------------------------
  const views = [["matrix", "Placements"], ["clusters", "Clusters"], ["services", "Services"],
    ["addresses", "Address space"]];
  if (change) views.push(["change", "Change"]);
  const tabs = $("tabs");
  const show = (name) => {
    for (const [v] of views) {
      $("view-" + v).hidden = v !== name;
      const t = $("tab-" + v);
      t.setAttribute("aria-selected", String(v === name));
      t.tabIndex = v === name ? 0 : -1;
    }
  };
  views.forEach(([v, label], i) => {
    tabs.append(el("button", {
      type: "button", role: "tab", id: "tab-" + v, "aria-controls": "view-" + v, text: label,
      onclick: () => show(v),
      onkeydown: (ev) => {
        const d = ev.key === "ArrowRight" ? 1 : ev.key === "ArrowLeft" ? -1 : 0;
        if (!d) return;
        const next = views[(i + d + views.length) % views.length][0];
        show(next); $("tab-" + next).focus();
      },
    }));
  });

  // -- change marks -----------------------------------------------------------------------
  const moved = {};  // placement -> cluster -> "gained" | "lost"
  const touched = new Set();
  if (change) {
    for (const p of change.placements) {
      (moved[p.placement] = moved[p.placement] || {})[p.cluster] = p.change;
      touched.add(p.cluster);
    }
    for (const c of change.clusters) touched.add(c.name);
    $("changed-only-label").hidden = false;
  }

  const reasonText = (pi, ci) => {
    const r = placements[pi].reasons[ci];
    if (r < 0) return "";
    return D.reasons[r][1].split(D.reasonCluster).join('"' + clusters[ci].name + '"');
  };
  const cellLabel = (pi, ci) => {
    const p = placements[pi];
    const st = STATE[p.cells[ci]];
    const m = (moved[p.name] || {})[clusters[ci].name];
    const snap = p.rollout && p.rollout.snapshots[ci] >= 0 ? ", snapshot " + p.rollout.snapshots[ci] : "";
    return clusters[ci].name + " \u00d7 " + p.name + ": " + st.label + snap + (m ? " (" + m + ")" : "");
  };

  // -- legend and controls ----------------------------------------------------------------
  const legend = $("legend");
  // The states that occur (a fleet without fleet.lock memory shows no "kept" entry).
  const used = new Set(placements.flatMap((p) => [...new Set(p.cells)]));
  for (const s of D.states.filter((x) => used.has(x.code))) {
    legend.append(el("span", {}, el("span", { class: "cell st-" + s.code, "aria-hidden": "true",
      style: "display:inline-block", text: s.symbol || "\u00a0" }), " " + s.label));
  }
  if (change) {
    legend.append(el("span", {}, el("span", { class: "cell gained", style: "display:inline-block",
      "aria-hidden": "true", text: "+" }), " gained by the change"));
    legend.append(el("span", {}, el("span", { class: "cell lost", style: "display:inline-block",
      "aria-hidden": "true", text: "\u2212" }), " lost by the change"));
  }
  const groupBy = $("group-by"), sortBy = $("sort-by");
  groupBy.append(el("option", { value: "", text: "(none)" }));
  sortBy.append(el("option", { value: "name", text: "name" }));
  sortBy.append(el("option", { value: "#selected", text: "placements selected" }));
  for (const k of D.labelKeys) {
    groupBy.append(el("option", { value: k, text: k }));
    sortBy.append(el("option", { value: "label:" + k, text: "label " + k }));
  }
  let sortPlacement = -1;  // a column header sorts by that placement's state

  const selectedCount = (ci) => {
    let n = 0;
    for (const p of visibleCols) { const c = placements[p].cells[ci]; if (STATE[c].selected) n++; }
    return n;
  };
  const stateOrder = {};
  D.states.forEach((s, i) => { stateOrder[s.code] = i; });

  const matchCluster = (c, q) => {
    if (!q) return true;
    return q.split(/\s+/).filter(Boolean).every((term) => {
      const eq = term.indexOf("=");
      if (eq > 0) {
        const k = term.slice(0, eq), v = term.slice(eq + 1);
        return Object.prototype.hasOwnProperty.call(c.labels, k) && c.labels[k] === v;
      }
      return c.name.includes(term);
    });
  };

  let visibleCols = [], items = [];  // items: {group} or {ci}
  let focusR = 0, focusC = 0;
  const head = $("matrix-head"), body = $("matrix-body"), spacer = $("matrix-spacer");
  const grid = $("matrix");

  const rebuild = () => {
    const pq = $("placement-filter").value.trim();
    visibleCols = placements.map((_, i) => i).filter((i) => !pq || placements[i].name.includes(pq));
    const cq = $("cluster-filter").value.trim();
    const only = change && $("changed-only").checked;
    let rows = clusters.map((_, i) => i).filter((i) => matchCluster(clusters[i], cq) &&
      (!only || touched.has(clusters[i].name)));
    const sort = sortBy.value;
    const key = (ci) => {
      if (sortPlacement >= 0) return [stateOrder[placements[sortPlacement].cells[ci]]];
      if (sort === "#selected") return [-selectedCount(ci)];
      if (sort.startsWith("label:")) {
        const v = clusters[ci].labels[sort.slice(6)];
        return [v === undefined ? 1 : 0, v === undefined ? "" : v];
      }
      return [];
    };
    const cmp = (a, b) => {
      const ka = key(a), kb = key(b);
      for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
      return clusters[a].name < clusters[b].name ? -1 : clusters[a].name > clusters[b].name ? 1 : 0;
    };
    rows.sort(cmp);
    items = [];
    const g = groupBy.value;
    if (g) {
      const groups = new Map();
      for (const ci of rows) {
        const v = clusters[ci].labels[g];
        const name = v === undefined ? "(no " + g + ")" : g + "=" + v;
        if (!groups.has(name)) groups.set(name, []);
        groups.get(name).push(ci);
      }
      for (const name of [...groups.keys()].sort()) {
        items.push({ group: name, size: groups.get(name).length });
        for (const ci of groups.get(name)) items.push({ ci });
      }
    } else {
      items = rows.map((ci) => ({ ci }));
    }
    $("matrix-count").textContent = rows.length + " of " + clusters.length + " clusters, " +
      visibleCols.length + " of " + placements.length + " placements";
    drawHead(rows);
    spacer.style.height = items.length * ROW + "px";
    spacer.style.width = "1px";
    focusR = Math.min(focusR, Math.max(0, items.length - 1));
    focusC = Math.min(focusC, Math.max(0, visibleCols.length - 1));
    draw();
  };

  const drawHead = (rows) => {
    head.textContent = "";
    const names = el("div", { class: "row", role: "row" },
      el("span", { class: "rowname", role: "columnheader", text: "cluster" }),
      el("span", { class: "rowcount", role: "columnheader", title: "placements selected", text: "sel." }));
    const counts = el("div", { class: "row", role: "row" },
      el("span", { class: "rowname", role: "rowheader", text: "selected per placement" }),
      el("span", { class: "rowcount" }));
    for (const pi of visibleCols) {
      const p = placements[pi];
      names.append(el("button", {
        type: "button", class: "colhead", role: "columnheader", "data-placement": p.name,
        title: p.kind + " " + p.name + " (" + p.type + "): " + p.scheduled.reason + ". Sort clusters by this placement.",
        "aria-sort": sortPlacement === pi ? "descending" : "none", text: p.name,
        onclick: () => { sortPlacement = sortPlacement === pi ? -1 : pi; rebuild(); },
      }));
      let n = 0;
      for (const ci of rows) { const c = p.cells[ci]; if (STATE[c].selected) n++; }
      counts.append(el("span", { class: "colcount", "data-placement": p.name, text: String(n),
        title: n + " selected clusters of " + p.name }));
    }
    head.append(names, counts);
  };

  const draw = () => {
    const top = Math.max(0, grid.scrollTop - head.offsetHeight);
    const first = Math.max(0, Math.floor(top / ROW) - 5);
    const last = Math.min(items.length, first + Math.ceil(grid.clientHeight / ROW) + 10);
    for (const old of [...body.querySelectorAll(".row")]) old.remove();
    for (let r = first; r < last; r++) {
      const item = items[r];
      let row;
      if (item.group !== undefined) {
        row = el("div", { class: "row", role: "row", "aria-rowindex": r + 1 },
          el("span", { class: "group", role: "rowheader", text: item.group + " (" + item.size + ")" }));
      } else {
        const c = clusters[item.ci];
        row = el("div", { class: "row" + (touched.has(c.name) ? " changed" : ""), role: "row",
          "aria-rowindex": r + 1, "data-cluster": c.name },
          el("button", { type: "button", class: "rowname", role: "rowheader", text: c.name,
            title: "Open cluster " + c.name, tabindex: "-1", onclick: () => openCluster(item.ci) }),
          el("span", { class: "rowcount", text: String(selectedCount(item.ci)) }));
        visibleCols.forEach((pi, col) => {
          const p = placements[pi];
          const code = p.cells[item.ci];
          const m = (moved[p.name] || {})[c.name];
          const focused = r === focusR && col === focusC;
          row.append(el("span", {
            class: "cell st-" + code + (m ? " " + m : ""), role: "gridcell",
            "data-state": STATE[code].key, "data-placement": p.name,
            tabindex: focused ? "0" : "-1", title: reasonText(pi, item.ci) || STATE[code].label,
            "aria-label": cellLabel(pi, item.ci),
            text: (STATE[code].symbol || "") + (m === "gained" ? "+" : m === "lost" ? "\u2212" : ""),
            onclick: () => { focusR = r; focusC = col; detail(pi, item.ci); },
          }));
        });
      }
      row.style.top = r * ROW + "px";
      body.append(row);
    }
  };

  const detail = (pi, ci) => {
    const p = placements[pi], c = clusters[ci];
    const st = STATE[p.cells[ci]];
    const r = p.reasons[ci];
    const m = (moved[p.name] || {})[c.name];
    const box = $("detail");
    box.textContent = "";
    box.append(el("p", {}, el("strong", { text: c.name }), " \u00d7 ", el("strong", { text: p.name }),
      ": " + st.label + (r >= 0 && D.reasons[r][0] && !st.selected ? " by " + D.reasons[r][0] : "")));
    box.append(el("p", { id: "detail-reason", text: reasonText(pi, ci) || "no decision recorded" }));
    if (r >= 0 && D.reasons[r][2]) box.append(el("p", { text: "evicted by " + D.reasons[r][2] }));
    if (p.rollout && p.rollout.snapshots[ci] >= 0) {
      box.append(el("p", { id: "detail-snapshot", text: "snapshot " + p.rollout.snapshots[ci] +
        " of " + p.rollout.newest + ": " + D.reasons[r][4] }));
    }
    if (r >= 0 && D.reasons[r][3]) {
      box.append(el("p", { id: "detail-kept", text: "kept only because fleet.lock remembers it; it no longer passes: " +
        D.reasons[r][3].split(D.reasonCluster).join('"' + c.name + '"') }));
    }
    if (m) {
      const why = change.placements.find((x) => x.placement === p.name && x.cluster === c.name);
      box.append(el("p", { class: m === "gained" ? "gain" : "lose", text: "The change: " + m }),
        el("ul", {}, ...why.reasons.map((t) => el("li", { text: t }))));
    }
  };

  const focusCell = () => {
    const rowTop = focusR * ROW;
    const view = grid.clientHeight - head.offsetHeight;
    if (rowTop < grid.scrollTop) grid.scrollTop = rowTop;
    else if (rowTop + ROW > grid.scrollTop + view) grid.scrollTop = rowTop + ROW - view;
    draw();
    const row = body.querySelector('[aria-rowindex="' + (focusR + 1) + '"]');
    const cell = row && row.querySelectorAll(".cell")[focusC];
    if (cell) cell.focus();
    else if (row) row.firstChild.focus && row.firstChild.focus();
  };
  grid.addEventListener("scroll", () => draw());
  grid.addEventListener("focus", (ev) => { if (ev.target === grid) focusCell(); });
  grid.addEventListener("keydown", (ev) => {
    const page = Math.max(1, Math.floor(grid.clientHeight / ROW) - 2);
    const moves = { ArrowDown: [1, 0], ArrowUp: [-1, 0], ArrowRight: [0, 1], ArrowLeft: [0, -1],
      PageDown: [page, 0], PageUp: [-page, 0] };
    if (ev.key in moves) {
      focusR = Math.max(0, Math.min(items.length - 1, focusR + moves[ev.key][0]));
      focusC = Math.max(0, Math.min(visibleCols.length - 1, focusC + moves[ev.key][1]));
    } else if (ev.key === "Home") { focusC = 0; }
    else if (ev.key === "End") { focusC = visibleCols.length - 1; }
    else if (ev.key === "Enter" || ev.key === " ") {
      const item = items[focusR];
      if (item && item.ci !== undefined && visibleCols.length) detail(visibleCols[focusC], item.ci);
      ev.preventDefault();
      return;
    } else return;
    ev.preventDefault();
    focusCell();
  });
  for (const id of ["group-by", "sort-by"]) $(id).addEventListener("change", () => { sortPlacement = -1; rebuild(); });
  for (const id of ["cluster-filter", "placement-filter"]) $(id).addEventListener("input", rebuild);
  $("changed-only").addEventListener("change", rebuild);

  // -- per-cluster view -------------------------------------------------------------------
  const pick = $("cluster-pick");
  clusters.forEach((c, i) => pick.append(el("option", { value: String(i), text: c.name })));
  const table = (heads, rows, attrs) => el("table", attrs || {},
    el("thead", {}, el("tr", {}, ...heads.map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, ...rows));
  const td = (text) => el("td", { text: text === undefined || text === null ? "" : String(text) });
  const openCluster = (ci) => { pick.value = String(ci); drawCluster(); show("clusters"); pick.focus(); };
  const drawCluster = () => {
    const c = clusters[Number(pick.value)];
    const v = $("cluster-view");
    v.textContent = "";
    v.append(el("h3", { text: c.name }));
    v.append(el("p", { text: "state: " + c.state + (c.kubernetesVersion ? ", Kubernetes " + c.kubernetesVersion : "") }));
    v.append(el("h4", { text: "Labels" }), table(["label", "value"],
      Object.entries(c.labels).map(([k, x]) => el("tr", {}, td(k), td(x)))));
    v.append(el("h4", { text: "Taints" }), c.taints.length ? table(["key", "value", "effect"],
      c.taints.map((t) => el("tr", {}, td(t.key), td(t.value), td(t.effect)))) : el("p", { class: "muted", text: "none" }));
    const props = Object.entries(c.properties);
    v.append(el("h4", { text: "Properties" }), props.length ? table(["property", "value"],
      props.map(([k, x]) => el("tr", {}, td(k), td(x)))) : el("p", { class: "muted", text: "none" }));
    const sel = placements.filter((p) => { const s = p.cells[Number(pick.value)]; return STATE[s].selected; });
    v.append(el("h4", { text: "Placements selecting it" }),
      el("p", { text: sel.length ? sel.map((p) => p.name).join(", ") : "none" }));
    v.append(el("h4", { text: "Objects (" + c.objects.length + ")" }),
      table(["object", "file", "source", "placements", "overrides"], c.objects.map((i) => {
        const [key, path, source, ps, os] = D.objects[i];
        return el("tr", { "data-object": key }, el("td", {}, el("code", { text: key })),
          el("td", {}, el("code", { text: c.name + "/" + path })), td(source),
          td(ps.join(", ") || "\u2014"), td(os.join(", ") || "\u2014"));
      }), { id: "cluster-objects" }));
    if (change) {
      const cd = change.clusters.find((x) => x.name === c.name);
      v.append(el("h4", { text: "Changed by the change" }), cd ? table(["object", "change"],
        cd.objects.map((o) => el("tr", {}, el("td", {}, el("code", { text: o.key })), td(o.change))))
        : el("p", { class: "muted", text: "no object changes" }));
    }
  };
  pick.addEventListener("change", drawCluster);

  // -- services ---------------------------------------------------------------------------
  const sv = $("services-view");
  if (!D.services.length) sv.append(el("p", { class: "muted", text: "No multi-cluster services in fleet.yaml." }));
  else sv.append(table(["service", "type", "exporters", "consumers", "winner", "conflicts"],
    D.services.map((s) => el("tr", { "data-service": s.service }, el("td", {}, el("code", { text: s.service })),
      td(s.type), td(s.exporters.map((e) => e.cluster + " (" + e.api + ")").join(", ") || "none"),
      td(s.consumers.join(", ") || "none"), td(s.winner || "\u2014"),
      el("td", {}, ...(s.conflicts.length ? [el("ul", {}, ...s.conflicts.map((x) => el("li", { text: x.message })))] : ["none"]))))));

  // -- address space ----------------------------------------------------------------------
  const av = $("addresses-view");
  if (!D.sites.length) av.append(el("p", { class: "muted", text: "No MetalLB load balancers in fleet.yaml." }));
  for (const s of D.sites) {
    const box = el("section", { "data-site": s.site }, el("h3", { text: "Site " + s.site }),
      el("p", { text: "clusters: " + s.clusters.join(", ") }),
      el("p", { text: "reserved: " + (s.reserved.join(", ") || "none") }));
    for (const r of s.ranges) {
      box.append(el("h4", { text: r.range + " \u2014 " + r.size + " addresses, " + r.free + " free" }));
      const bar = el("div", { class: "bar", role: "img", "aria-label": r.range + ": " + r.segments.map((g) =>
        g.addresses + " " + (g.kind === "pool" ? "pool " + g.label : g.kind)).join("; ") });
      for (const g of r.segments) {
        bar.append(el("div", { class: "seg " + g.kind, style: "left:" + g.start / 100 + "%;width:" + g.width / 100 + "%",
          title: g.addresses + " (" + g.size + "): " + (g.kind === "pool" ? "pool " + g.label : g.kind) }));
      }
      box.append(bar, table(["addresses", "size", "use"], r.segments.map((g) => el("tr", { class: g.kind },
        el("td", {}, el("code", { text: g.addresses })), td(g.size),
        td(g.kind === "pool" ? "pool " + g.label : g.kind)))));
    }
    if (s.outside.length) box.append(el("p", { text: "pools outside the ranges: " + s.outside.map((o) => o.cluster + "/" + o.pool + " " + o.addresses).join(", ") }));
    av.append(box);
  }

  // -- change -----------------------------------------------------------------------------
  if (change) {
    const cv = $("change-view");
    const sum = change.summary;
    const objects = change.clusters.reduce((n, c) => n + c.objects.length, 0);
    cv.append(el("p", { id: "change-headline" }, "fleetc diff ", el("code", { text: change.base }), " \u2192 ",
      el("code", { text: change.head }), ": ",
      el("strong", { id: "change-clusters", text: String(sum.clustersAffected) }), " cluster(s) affected, ",
      el("strong", { id: "change-objects", text: String(objects) }), " object change(s), ",
      el("strong", { id: "change-placements", text: String(change.placements.length) }), " placement change(s)"));
    cv.append(table(["cluster", "status", "added", "removed", "changed"], Object.entries(sum.clusters).map(([n, c]) =>
      el("tr", { "data-cluster": n, "data-status": c.status, "data-added": c.added, "data-removed": c.removed, "data-changed": c.changed },
        td(n), td(c.status), td(c.added), td(c.removed), td(c.changed))), { id: "change-summary" }));
    if (change.placements.length) {
      cv.append(el("h3", { text: "Placement changes" }), el("ul", { id: "change-moves" }, ...change.placements.map((p) =>
        el("li", { "data-placement": p.placement, "data-cluster": p.cluster, "data-change": p.change },
          el("span", { class: p.change === "gained" ? "gain" : "lose", text: (p.change === "gained" ? "+ " : "\u2212 ") }),
          p.placement + " " + p.change + " " + p.cluster + ": " + p.reasons.join("; ")))));
    }
    for (const [title, list] of [["Placement specs", change.placementSpecs], ["Inventory", change.inventory]]) {
      if (list.length) cv.append(el("h3", { text: title }), el("ul", {}, ...list.map((t) => el("li", { text: t }))));
    }
  }

  show("matrix");
  rebuild();
  drawCluster();
  document.body.setAttribute("data-ready", "true");
})();
