/* landuse map helpers: compact layers on canvases, safe popups, search, measure,
 * fullscreen, print, legend, title.
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

  /* ---- data: base64 bytes, LEB128 varints, little-endian codes (see maps.py) ---- */

  function bytes(b64) {
    var bin = atob(b64), n = bin.length, out = new Uint8Array(n);
    for (var i = 0; i < n; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  /* count varints; arithmetic rather than bit operations, so values past 2^31 survive. */
  function varints(b64, count) {
    var b = bytes(b64), out = new Float64Array(count), k = 0, value = 0, scale = 1;
    for (var i = 0; i < b.length; i++) {
      var byte = b[i];
      value += (byte & 127) * scale;
      if (byte < 128) { out[k++] = value; value = 0; scale = 1; } else scale *= 128;
    }
    return out;
  }

  /* count non-negative integers: fixed width (typed array) or zigzag varint differences. */
  function ints(o, count) {
    var buffer, out, z, acc = 0, i;
    if (o.width) {
      buffer = bytes(o.b64).buffer;
      return o.width === 1 ? new Uint8Array(buffer) : o.width === 2 ? new Uint16Array(buffer) : new Uint32Array(buffer);
    }
    z = varints(o.b64, count);
    out = new Uint32Array(count);
    for (i = 0; i < count; i++) {
      acc += z[i] % 2 ? -(z[i] + 1) / 2 : z[i] / 2;
      out[i] = acc;
    }
    return out;
  }

  /* A layer's features: rings of vertices in Web Mercator metres (Leaflet's EPSG:3857
   * projection), a bounding box per feature, and popup columns (values + codes). */
  LU.source = function (data) {
    var g = data.geometry, n = g.n, step = Math.pow(10, -g.precision);
    var ringCount = varints(g.rings, n), vertCount = varints(g.verts, g.nr), delta = varints(g.xy, 2 * g.nv);
    var featRing = new Uint32Array(n + 1), ringVert = new Uint32Array(g.nr + 1), i, r, v;
    for (i = 0; i < n; i++) featRing[i + 1] = featRing[i] + ringCount[i];
    for (r = 0; r < g.nr; r++) ringVert[r + 1] = ringVert[r] + vertCount[r];
    var merc = L.Projection.SphericalMercator, R = merc.R, maxLat = merc.MAX_LATITUDE, d = Math.PI / 180;
    var xy = new Float64Array(2 * g.nv), qx = 0, qy = 0;
    for (v = 0; v < g.nv; v++) {
      var zx = delta[2 * v], zy = delta[2 * v + 1];
      qx += zx % 2 ? -(zx + 1) / 2 : zx / 2;  // zigzag: 0, 1, 2, 3 → 0, -1, 1, -2
      qy += zy % 2 ? -(zy + 1) / 2 : zy / 2;
      var lat = Math.max(Math.min(qy * step, maxLat), -maxLat), sin = Math.sin(lat * d);
      xy[2 * v] = R * qx * step * d;
      xy[2 * v + 1] = R * Math.log((1 + sin) / (1 - sin)) / 2;
    }
    var box = new Float64Array(4 * n);
    for (i = 0; i < n; i++) {
      var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (v = ringVert[featRing[i]]; v < ringVert[featRing[i + 1]]; v++) {
        if (xy[2 * v] < x0) x0 = xy[2 * v];
        if (xy[2 * v] > x1) x1 = xy[2 * v];
        if (xy[2 * v + 1] < y0) y0 = xy[2 * v + 1];
        if (xy[2 * v + 1] > y1) y1 = xy[2 * v + 1];
      }
      box[4 * i] = x0; box[4 * i + 1] = y0; box[4 * i + 2] = x1; box[4 * i + 3] = y1;
    }
    var strings = data.strings, starts = new Uint32Array(strings.n + 1);
    var lengths = varints(strings.lengths, strings.n);
    for (i = 0; i < strings.n; i++) starts[i + 1] = starts[i] + lengths[i];
    var columns = {};
    Object.keys(data.columns).forEach(function (key) {
      var c = data.columns[key];
      columns[key] = {
        n: c.n,
        from: c.dict.from,
        dict: c.dict.from === undefined ? ints(c.dict, c.n) : null,
        codes: c.codes ? ints(c.codes, n) : null,
      };
    });
    return {
      n: n, featRing: featRing, ringVert: ringVert, xy: xy, box: box, columns: columns,
      /* Text j of a column's dictionary. */
      entry: function (key, j) {
        var c = columns[key], k = c.dict ? c.dict[j] : c.from + j;
        return strings.text.substring(starts[k], starts[k + 1]);
      },
    };
  };

  /* The text of feature i in a column. */
  function text(source, key, i) {
    var c = source.columns[key];
    return source.entry(key, c.codes ? c.codes[i] : i);
  }

  /* Distance² from (x, y) to the segment (ax, ay)–(bx, by). */
  function segment2(x, y, ax, ay, bx, by) {
    var dx = bx - ax, dy = by - ay, len = dx * dx + dy * dy;
    var t = len ? Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / len)) : 0;
    var ex = ax + t * dx - x, ey = ay + t * dy - y;
    return ex * ex + ey * ey;
  }

  /* Every landuse layer is drawn on one layer of canvas tiles (L.GridLayer), in LU.order
   * (bottom to top): a pan draws only the tiles coming into view, a zoom or a layer
   * switched on or off draws those in view.  In a tile, features are looked up by
   * their bounding boxes, each style of a layer is one canvas path, vertices closer
   * than half a pixel to the last one drawn are dropped, and features under 1.5
   * pixels across are single pixels of their fill colour.  The tiles take no pointer
   * events: LU's map handlers find the feature under the mouse (LU.hit). */
  var Tiles = L.GridLayer.extend({
    options: { pane: "overlayPane", updateWhenZooming: false },

    createTile: function (coords) {
      var size = this.getTileSize(), m = L.Browser.retina ? 2 : 1, map = this._map;
      var tile = L.DomUtil.create("canvas", "lu-canvas");
      tile.width = m * size.x;
      tile.height = m * size.y;
      var ctx = tile.getContext("2d"), crs = map.options.crs, scale = crs.scale(coords.z);
      var p0 = crs.transformation.transform(L.point(0, 0), scale);
      var p1 = crs.transformation.transform(L.point(1, 1), scale);
      // projected metres → tile pixels: px = ax * x + bx
      var t = {
        ax: p1.x - p0.x, bx: p0.x - coords.x * size.x, ay: p1.y - p0.y, by: p0.y - coords.y * size.y,
        m: m, size: size,
      };
      ctx.scale(m, m);
      LU.order.forEach(function (key) {
        var layer = LU.layers[key].layer;
        if (map.hasLayer(layer)) layer.draw(ctx, t);
      });
      return tile;
    },
  });

  /* The map's tiles, added (or redrawn) at the next frame, and the name labels of the
   * layers shown: after the page's scripts have set the view, and once for layers
   * switched on or off together. */
  function retile(map) {
    if (map._luFrame) return;
    map._luFrame = L.Util.requestAnimFrame(function () {
      map._luFrame = null;
      if (!map._luTiles) map._luTiles = new Tiles().addTo(map);
      else map._luTiles.redraw();
      LU.order.forEach(function (key) {
        var layer = LU.layers[key].layer, labels = layer.labels;
        if (!labels) return;
        if (map.hasLayer(layer) && !map.hasLayer(labels)) labels.addTo(map);
        if (!map.hasLayer(layer) && map.hasLayer(labels)) map.removeLayer(labels);
      });
    });
  }

  /* Projected metres → layer pixels at the map's zoom: px = ax * x + bx. */
  function pixels(map) {
    var crs = map.options.crs, s = crs.scale(map.getZoom()), o = map.getPixelOrigin();
    var p0 = crs.transformation.transform(L.point(0, 0), s);
    var p1 = crs.transformation.transform(L.point(1, 1), s);
    return { ax: p1.x - p0.x, bx: p0.x - o.x, ay: p1.y - p0.y, by: p0.y - o.y };
  }

  /* A CSS colour and opacity as one little-endian RGBA pixel (ImageData order). */
  var probe = null;
  function pixelColour(colour, opacity) {
    probe = probe || document.createElement("canvas").getContext("2d", { willReadFrequently: true });
    probe.clearRect(0, 0, 1, 1);
    probe.fillStyle = colour;
    probe.fillRect(0, 0, 1, 1);
    var d = probe.getImageData(0, 0, 1, 1).data;
    return ((Math.round(opacity * 255) << 24) | (d[2] << 16) | (d[1] << 8) | d[0]) >>> 0;
  }

  /* A scratch canvas and pixel buffer for the single-pixel features of one tile. */
  var scratch = null;
  function dotsBuffer(w, h) {
    if (!scratch || scratch.canvas.width !== w || scratch.canvas.height !== h) {
      var canvas = document.createElement("canvas");
      canvas.width = w;
      canvas.height = h;
      var ctx = canvas.getContext("2d"), image = ctx.createImageData(w, h);
      scratch = { canvas: canvas, ctx: ctx, image: image, pixels: new Uint32Array(image.data.buffer) };
    }
    scratch.pixels.fill(0);
    return scratch;
  }

  /* One map layer (or a view restyling another layer's source), drawn on LU's tiles. */
  LU.FeatureLayer = L.Layer.extend({
    initialize: function (source, spec) {
      this.source = source;
      this.spec = spec;
      this.styles = spec.styles.map(function (s) { return L.extend({}, L.Polygon.prototype.options, s); });
      this.styleOf = spec.style ? bytes(spec.style) : new Uint8Array(source.n);  // 255: not here
      var most = 0;
      this.styles.forEach(function (s) { if (s.stroke) most = Math.max(most, s.weight); });
      this.halfWeight = most / 2;
      this.dotColour = this.styles.map(function (s) {
        return s.fill ? pixelColour(s.fillColor || s.color, s.fillOpacity) : pixelColour(s.color, s.opacity);
      });
      if (spec.name) {
        var labels = (this.labels = L.layerGroup());
        spec.nameAt.forEach(function (at) {
          var value = text(source, spec.name, at[0]);
          if (value === "—") return;
          // A marker, not a permanent tooltip: tooltips measure themselves, one layout each.
          var icon = L.divIcon({ className: "lu-label", html: el("span", null, value), iconSize: null });
          labels.addLayer(L.marker([at[1], at[2]], { icon: icon, interactive: false, keyboard: false }));
        });
      }
    },

    onAdd: function (map) { retile(map); },

    onRemove: function (map) { retile(map); },

    /* Draw the features of this layer that reach a tile (transform t from createTile). */
    draw: function (ctx, t) {
      var src = this.source, box = src.box, xy = src.xy, styleOf = this.styleOf, n = src.n;
      var pad = this.halfWeight + 1, size = t.size;
      var x0 = (-pad - t.bx) / t.ax, x1 = (size.x + pad - t.bx) / t.ax;
      var ya = (-pad - t.by) / t.ay, yb = (size.y + pad - t.by) / t.ay;
      var y0 = Math.min(ya, yb), y1 = Math.max(ya, yb), tiny = 1.5 / Math.abs(t.ax);
      var list = this._list || (this._list = new Int32Array(n)), count = 0, dots = null, i, k, s;
      for (i = 0; i < n; i++) {
        if (styleOf[i] === 255) continue;
        if (box[4 * i] > x1 || box[4 * i + 2] < x0 || box[4 * i + 1] > y1 || box[4 * i + 3] < y0) continue;
        if (box[4 * i + 2] - box[4 * i] >= tiny || box[4 * i + 3] - box[4 * i + 1] >= tiny) {
          list[count++] = i;
          continue;
        }
        var w = t.m * size.x, h = t.m * size.y;
        var px = Math.floor(t.m * (t.ax * (box[4 * i] + box[4 * i + 2]) / 2 + t.bx));
        var py = Math.floor(t.m * (t.ay * (box[4 * i + 1] + box[4 * i + 3]) / 2 + t.by));
        if (px < 0 || py < 0 || px >= w || py >= h) continue;
        dots = dots || dotsBuffer(w, h);
        for (var dy = 0; dy < t.m && py + dy < h; dy++) {
          for (var dx = 0; dx < t.m && px + dx < w; dx++) dots.pixels[(py + dy) * w + px + dx] = this.dotColour[styleOf[i]];
        }
      }
      if (dots) {
        dots.ctx.putImageData(dots.image, 0, 0);
        ctx.drawImage(dots.canvas, 0, 0, size.x, size.y);
      }
      for (s = 0; s < this.styles.length; s++) {
        var drawn = false;
        ctx.beginPath();
        for (k = 0; k < count; k++) {
          i = list[k];
          if (styleOf[i] !== s) continue;
          for (var r = src.featRing[i]; r < src.featRing[i + 1]; r++) {
            var v = src.ringVert[r], end = src.ringVert[r + 1];
            if (v === end) continue;
            var fx = t.ax * xy[2 * v] + t.bx, fy = t.ay * xy[2 * v + 1] + t.by, lx = fx, ly = fy;
            ctx.moveTo(fx, fy);
            for (v++; v < end; v++) {
              var qx = t.ax * xy[2 * v] + t.bx, qy = t.ay * xy[2 * v + 1] + t.by;
              if (Math.abs(qx - lx) < 0.5 && Math.abs(qy - ly) < 0.5) continue;
              ctx.lineTo(qx, qy);
              lx = qx;
              ly = qy;
            }
            ctx.lineTo(fx, fy);  // not closePath(): Chromium's is slow on paths of many rings
            drawn = true;
          }
        }
        if (drawn) paint(ctx, this.styles[s]);
      }
    },

    /* The feature under a layer point, drawn last (styles in order, then features), or -1.
     * As Leaflet's canvas: inside a ring (even-odd) or within the stroke, outlines too. */
    hit: function (p) {
      var t = pixels(this._map), src = this.source, box = src.box, xy = src.xy;
      var x = (p.x - t.bx) / t.ax, y = (p.y - t.by) / t.ay;
      var tol = (this.halfWeight + 2) / Math.abs(t.ax), tol2 = tol * tol, best = -1, bestRank = -1;
      for (var i = 0; i < src.n; i++) {
        var s = this.styleOf[i];
        if (s === 255 || s * src.n + i < bestRank) continue;
        if (box[4 * i] - tol > x || box[4 * i + 2] + tol < x || box[4 * i + 1] - tol > y || box[4 * i + 3] + tol < y) continue;
        var inside = false, near = false;
        for (var r = src.featRing[i]; r < src.featRing[i + 1]; r++) {
          var start = src.ringVert[r], end = src.ringVert[r + 1];
          for (var v = start, w = end - 1; v < end; w = v++) {
            var ax = xy[2 * v], ay = xy[2 * v + 1], bx = xy[2 * w], by = xy[2 * w + 1];
            if ((ay > y) !== (by > y) && x < (bx - ax) * (y - ay) / (by - ay) + ax) inside = !inside;
            if (!near && segment2(x, y, ax, ay, bx, by) <= tol2) near = true;
          }
        }
        if (inside || near) { best = i; bestRank = s * src.n + i; }
      }
      return best;
    },

    /* The popup of feature i: the layer's title and a table of labels and values. */
    popup: function (i) {
      var spec = this.spec, source = this.source;
      var box = el("div", "lu-popup");
      box.appendChild(el("div", "lu-popup-title", spec.title));
      var table = el("table");
      spec.cols.forEach(function (key, j) {
        var tr = el("tr");
        tr.appendChild(el("th", null, spec.labels[j]));
        tr.appendChild(el("td", null, text(source, key, i)));
        table.appendChild(tr);
      });
      box.appendChild(table);
      return box;
    },

    tip: function (i) { return this.spec.tip ? text(this.source, this.spec.tip, i) : null; },

    /* The first feature whose searchable text contains q (lower case), or -1. */
    find: function (q) {
      var source = this.source, styleOf = this.styleOf, search = this.spec.search;
      var matches = search.map(function (key) {
        var c = source.columns[key], hit = new Uint8Array(c.n);
        for (var j = 0; j < c.n; j++) hit[j] = source.entry(key, j).toLowerCase().indexOf(q) >= 0 ? 1 : 0;
        return hit;
      });
      for (var i = 0; i < source.n; i++) {
        if (styleOf[i] === 255) continue;
        for (var k = 0; k < matches.length; k++) {
          var c = source.columns[search[k]];
          if (matches[k][c.codes ? c.codes[i] : i]) return i;
        }
      }
      return -1;
    },

    bounds: function (i) {
      var box = this.source.box, merc = L.Projection.SphericalMercator;
      return L.latLngBounds(
        merc.unproject(L.point(box[4 * i], box[4 * i + 1])),
        merc.unproject(L.point(box[4 * i + 2], box[4 * i + 3]))
      );
    },
  });

  /* Fill then stroke the current path with Leaflet path options (as L.Canvas does). */
  function paint(ctx, o) {
    if (o.fill) {
      ctx.globalAlpha = o.fillOpacity;
      ctx.fillStyle = o.fillColor || o.color;
      ctx.fill(o.fillRule || "evenodd");
    }
    if (o.stroke && o.weight !== 0) {
      ctx.setLineDash(o.dashArray ? String(o.dashArray).split(/[, ]+/).map(Number) : []);
      ctx.globalAlpha = o.opacity;
      ctx.lineWidth = o.weight;
      ctx.strokeStyle = o.color;
      ctx.lineCap = o.lineCap;
      ctx.lineJoin = o.lineJoin;
      ctx.stroke();
    }
  }

  /* The topmost shown layer with a popup or tooltip under a layer point: {layer, index}. */
  LU.hit = function (point) {
    for (var k = LU.order.length - 1; k >= 0; k--) {
      var layer = LU.layers[LU.order[k]].layer, spec = layer.spec;
      if (!LU.map.hasLayer(layer) || !(spec.cols.length || spec.tip)) continue;
      var i = layer.hit(point);
      if (i >= 0) return { layer: layer, index: i };
    }
    return null;
  };

  LU.openPopup = function (layer, i, latlng) {
    return L.popup({ maxWidth: 360 }).setLatLng(latlng).setContent(layer.popup(i)).openOn(LU.map);
  };

  /* Clicks open popups (not while measuring: then a click on a feature adds a point);
   * hovering shows the feature's tooltip, one at a time, checked once a frame. */
  function listen(map) {
    map.on("click", function (e) {
      if (LU.measuring) return;
      var found = LU.hit(e.layerPoint);
      if (found && found.layer.spec.cols.length) LU.openPopup(found.layer, found.index, e.latlng);
    });
    var tip = L.tooltip({ direction: "auto", offset: [12, 0] }), last = null, pending = null;
    function hover() {
      var e = pending, found = LU.hit(e.layerPoint), value = found && found.layer.tip(found.index);
      pending = null;
      map.getContainer().classList.toggle("lu-hover", !!found && !LU.measuring);
      if (value === null || value === undefined) {
        if (map.hasLayer(tip)) map.removeLayer(tip);
        last = null;
        return;
      }
      if (last !== value) tip.setContent(el("span", null, value));
      last = value;
      tip.setLatLng(e.latlng);
      if (!map.hasLayer(tip)) tip.addTo(map);
    }
    map.on("mousemove", function (e) {
      if (!pending) L.Util.requestAnimFrame(hover);
      pending = e;
    });
    map.on("mouseout", function () {
      if (map.hasLayer(tip)) map.removeLayer(tip);
      map.getContainer().classList.remove("lu-hover");
      last = null;
    });
  }

  /* Layers are registered bottom to top, and drawn and clicked in that order whenever
   * they are switched on (else one switched back on would cover the parcels). */
  LU.order = [];
  LU.register = function (name, layer, map) {
    if (!LU.map) listen(map);
    LU.map = map;
    LU.layers[name] = { layer: layer, searchable: layer.spec.search.length > 0 };
    LU.order.push(name);
  };

  /* Search parcels by id or name: the layers shown first, zoom to the feature, open its popup. */
  LU.search = function (query) {
    var q = String(query || "").trim().toLowerCase();
    if (!q) return null;
    var names = LU.order.filter(function (name) { return LU.layers[name].searchable; });
    var shown = names.filter(function (name) { return LU.map.hasLayer(LU.layers[name].layer); });
    var order = shown.concat(names.filter(function (name) { return shown.indexOf(name) < 0; }));
    for (var k = 0; k < order.length; k++) {
      var layer = LU.layers[order[k]].layer, i = layer.find(q);
      if (i < 0) continue;
      if (!LU.map.hasLayer(layer)) layer.addTo(LU.map);
      var bounds = layer.bounds(i);
      LU.map.fitBounds(bounds, { maxZoom: 17 });
      LU.openPopup(layer, i, bounds.getCenter());
      return { layer: layer, index: i };
    }
    return null;
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
