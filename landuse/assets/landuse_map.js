/* landuse map helpers: safe popups, search, measure, fullscreen, print, legend, title.
 * Every attribute value reaches the page through textContent, never innerHTML,
 * so a parcel named like a script tag shows as plain text. */
(function () {
  "use strict";
  var LU = (window.LU = window.LU || {});
  LU.layers = {};

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  LU.el = el;

  /* Popup: a title and a two-column table of labels and properties._p values.
   * Opened by LU's own click handler instead of bindPopup's, which stops the click
   * from reaching the map: while measuring, a click on a feature adds a point. */
  LU.bind = function (layer, feature, title, labels) {
    var p = feature.properties || {};
    layer.luPopup = function () {
      var box = el("div", "lu-popup");
      box.appendChild(el("div", "lu-popup-title", title));
      var table = el("table");
      (p._p || []).forEach(function (value, i) {
        var tr = el("tr");
        tr.appendChild(el("th", null, labels[i]));
        tr.appendChild(el("td", null, value));
        table.appendChild(tr);
      });
      box.appendChild(table);
      return box;
    };
    if (labels.length) {
      layer.on("click", function (e) {
        if (!LU.measuring) LU.openPopup(layer, e.latlng);
      });
    }
    if (p._n !== undefined && p._n !== null) {
      layer.bindTooltip(el("span", null, p._n), {
        permanent: true, direction: "center", className: "lu-label", interactive: false,
      });
    } else if (p._t !== undefined && p._t !== null) {
      layer.bindTooltip(el("span", null, p._t), { sticky: true });
    }
  };

  LU.openPopup = function (layer, latlng) {
    return L.popup({ maxWidth: 360 }).setLatLng(latlng).setContent(layer.luPopup()).openOn(LU.map);
  };

  /* Layers are registered bottom to top; a layer switched back on returns to its place
   * in that order (else it would cover the parcels and take their clicks). */
  LU.order = [];
  LU.register = function (name, layer, map, searchable) {
    if (!LU.map) {
      map.on("overlayadd", function () {
        LU.order.forEach(function (key) {
          if (map.hasLayer(LU.layers[key].layer)) LU.layers[key].layer.bringToFront();
        });
      });
    }
    LU.map = map;
    LU.layers[name] = { layer: layer, searchable: !!searchable };
    LU.order.push(name);
  };

  /* Search parcels by id or name (properties._q), zoom and open the popup. */
  LU.search = function (query) {
    var q = String(query || "").trim().toLowerCase();
    if (!q) return null;
    var found = null;
    Object.keys(LU.layers).forEach(function (name) {
      var entry = LU.layers[name];
      if (found || !entry.searchable) return;
      entry.layer.eachLayer(function (sub) {
        var key = ((sub.feature && sub.feature.properties._q) || "").toLowerCase();
        if (!found && key.indexOf(q) >= 0) found = { name: name, layer: sub };
      });
    });
    if (!found) return null;
    if (!LU.map.hasLayer(LU.layers[found.name].layer)) LU.layers[found.name].layer.addTo(LU.map);
    LU.map.fitBounds(found.layer.getBounds(), { maxZoom: 17 });
    LU.openPopup(found.layer, found.layer.getBounds().getCenter());
    return found.layer;
  };

  LU.SearchControl = L.Control.extend({
    options: { position: "topleft" },
    onAdd: function () {
      var box = el("div", "leaflet-bar lu-search");
      var input = el("input");
      input.type = "search";
      input.placeholder = "搜索地块编号或名称";
      input.setAttribute("aria-label", "搜索地块");
      var status = el("div", "lu-search-status");
      input.addEventListener("keydown", function (e) {
        if (e.key === "Enter") {
          status.textContent = LU.search(input.value) ? "" : "未找到：" + input.value;
        }
      });
      box.appendChild(input);
      box.appendChild(status);
      L.DomEvent.disableClickPropagation(box);
      return box;
    },
  });

  LU.FullscreenControl = L.Control.extend({
    options: { position: "topleft" },
    onAdd: function (map) {
      var bar = el("div", "leaflet-bar");
      var a = el("a", "lu-button", "全屏");
      a.href = "#";
      a.title = "全屏";
      a.setAttribute("role", "button");
      L.DomEvent.on(a, "click", function (e) {
        L.DomEvent.preventDefault(e);
        var box = map.getContainer();
        if (document.fullscreenElement) document.exitFullscreen();
        else if (box.requestFullscreen) box.requestFullscreen();
      });
      bar.appendChild(a);
      return bar;
    },
  });

  /* Spherical polygon area (m²) of lat/lng vertices on the WGS84 sphere. */
  function sphericalArea(latlngs) {
    var R = 6378137, total = 0, n = latlngs.length;
    for (var i = 0; i < n; i++) {
      var p1 = latlngs[i], p2 = latlngs[(i + 1) % n];
      total += ((p2.lng - p1.lng) * Math.PI / 180) *
        (2 + Math.sin(p1.lat * Math.PI / 180) + Math.sin(p2.lat * Math.PI / 180));
    }
    return Math.abs(total * R * R / 2);
  }
  LU.sphericalArea = sphericalArea;

  /* Measure: click points; shows length (m) and, from three points, area (m², 亩). */
  LU.MeasureControl = L.Control.extend({
    options: { position: "topleft" },
    onAdd: function (map) {
      var bar = el("div", "leaflet-bar lu-measure");
      var a = el("a", "lu-button", "测量");
      a.href = "#";
      a.title = "测距 / 测面（单击加点，再点按钮结束）";
      var out = el("div", "lu-measure-out");
      var points = [], line = null, active = false;
      function show() {
        if (line) map.removeLayer(line);
        line = L.polyline(points, { color: "#000", weight: 2, dashArray: "4 4" }).addTo(map);
        var length = 0;
        for (var i = 1; i < points.length; i++) length += points[i - 1].distanceTo(points[i]);
        var text = "长度 " + length.toFixed(1) + " 米";
        if (points.length >= 3) {
          var area = sphericalArea(points);
          text += "；面积 " + area.toFixed(1) + " 平方米（" + (area * 15 / 10000).toFixed(2) + " 亩）";
        }
        out.textContent = text;
      }
      function click(e) { points.push(e.latlng); show(); }
      L.DomEvent.on(a, "click", function (e) {
        L.DomEvent.preventDefault(e);
        active = !active;
        LU.measuring = active;
        a.classList.toggle("lu-active", active);
        if (active) map.closePopup();
        if (active) {
          points = [];
          out.textContent = "单击地图加点";
          map.on("click", click);
        } else {
          map.off("click", click);
          if (line) map.removeLayer(line);
          line = null;
        }
      });
      bar.appendChild(a);
      bar.appendChild(out);
      L.DomEvent.disableClickPropagation(bar);
      return bar;
    },
  });

  function swatch(s) {
    var node = el("span", "lu-swatch");
    node.style.background = s.fill === false ? "transparent" : (s.fillColor || s.color);
    node.style.opacity = s.fill === false ? 1 : Math.max(s.fillOpacity || 0.6, 0.35);
    node.style.border = (s.weight || 1) + "px " + (s.dashArray ? "dashed " : "solid ") + s.color;
    return node;
  }

  /* Legend: one collapsible group per layer ({key, title, items: [[label, style]]}); a
   * one-style layer is a single row.  Groups of hidden layers fold up and grey out, so
   * the legend of what is shown fits the screen. */
  LU.LegendControl = L.Control.extend({
    options: { position: "bottomright" },
    initialize: function (groups, options) { this.groups = groups; L.setOptions(this, options); },
    onAdd: function (map) {
      var box = el("div", "lu-legend");
      box.appendChild(el("div", "lu-legend-title", "图例"));
      var groups = {};
      this.groups.forEach(function (group) {
        var node;
        if (group.items.length === 1) {
          node = el("div", "lu-legend-row lu-legend-single");
          node.appendChild(swatch(group.items[0][1]));
          node.appendChild(el("span", null, group.title));
        } else {
          node = el("details", "lu-legend-group");
          node.open = true;
          node.appendChild(el("summary", null, group.title));
          group.items.forEach(function (item) {
            var row = el("div", "lu-legend-row");
            row.appendChild(swatch(item[1]));
            row.appendChild(el("span", null, item[0]));
            node.appendChild(row);
          });
        }
        node.setAttribute("data-layer", group.key);
        groups[group.key] = node;
        box.appendChild(node);
      });
      function sync() {
        Object.keys(groups).forEach(function (key) {
          var entry = LU.layers[key], shown = !!entry && map.hasLayer(entry.layer);
          groups[key].classList.toggle("lu-hidden-layer", !shown);
          if (groups[key].tagName === "DETAILS") groups[key].open = shown;
        });
      }
      map.on("overlayadd overlayremove", sync);
      sync();
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    },
  });

  /* Print: the current view with its title and legend (the print style sheet hides
   * the other controls). */
  LU.PrintControl = L.Control.extend({
    options: { position: "topleft" },
    onAdd: function (map) {
      var bar = el("div", "leaflet-bar lu-print");
      var a = el("a", "lu-button", "打印");
      a.href = "#";
      a.title = "打印当前视图（含标题与图例）";
      a.setAttribute("role", "button");
      L.DomEvent.on(a, "click", function (e) {
        L.DomEvent.preventDefault(e);
        window.print();
      });
      window.addEventListener("beforeprint", function () { map.invalidateSize(); });
      window.addEventListener("afterprint", function () { map.invalidateSize(); });
      bar.appendChild(a);
      L.DomEvent.disableClickPropagation(bar);
      return bar;
    },
  });

  LU.TitleControl = L.Control.extend({
    options: { position: "topright" },
    addTo: function (map) {
      L.Control.prototype.addTo.call(this, map);
      var box = this.getContainer();
      box.parentNode.insertBefore(box, box.parentNode.firstChild);  // above the layer list
      return this;
    },
    initialize: function (info, options) { this.info = info; L.setOptions(this, options); },
    onAdd: function () {
      var box = el("div", "lu-title");
      box.appendChild(el("div", "lu-title-main", this.info.title));
      box.appendChild(el("div", "lu-title-sub", this.info.subtitle));
      if (this.info.synthetic) box.appendChild(el("span", "lu-badge", "示例数据"));
      this.info.notes.forEach(function (note) { box.appendChild(el("div", "lu-note", note)); });
      return box;
    },
  });
})();
