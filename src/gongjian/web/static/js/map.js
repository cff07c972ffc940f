// gongjian's maps: rivers and parcels (GeoJSON, EPSG:4326) on Leaflet, on a plain
// background unless a tile server is configured (setting `map_tile_url`).
//
//   GongjianMap.draw(element, {
//     featuresUrl: "/map/features.geojson?as_of=2023-01-31",  // or features: {FeatureCollection}
//     legend: [{style: "grade-severe", label: "重度黑臭"}, ...],  // what the styles mean
//     legendTitle: "图例", detailsLabel: "查看详情",
//     emptyText, truncatedText, failedText,               // messages for people
//     status: element,                                    // where messages go (optional)
//     tiles: "", attribution: ""                          // a tile URL template, if any
//   })  // -> a Promise of the Leaflet map
//
// Every element with `data-map` is drawn when the page loads, its options read from
// data-* attributes: data-features-url, data-legend (JSON), data-legend-title,
// data-details, data-empty, data-truncated, data-failed, data-tiles, data-attribution,
// and data-status (the id of the message element; default: the element after the map).
//
// Features are styled by their properties, never by colour alone:
// - `grade` (none | mild | severe | insufficient | null: not graded yet): none plain,
//   mild hatched, severe cross-hatched (SVG patterns), insufficient dashed, not graded
//   dotted; lines (rivers) and areas alike;
// - parcels (`kind: "parcel"`) by `cleared` (renewal state cleared or later): filled,
//   else a dashed outline.
// The tooltip names the feature, its town and its grade or state (`grade_label`,
// `state_label`), and clicking it opens a link to `url`. The map is not the only way to
// the facts: pages put a table beside it.
"use strict";

(function (global) {
  var SVG_NS = "http://www.w3.org/2000/svg";
  var COLOR = {
    none: "#1b5e20",
    mild: "#7a4a00",
    severe: "#8e0000",
    insufficient: "#424242",
    ungraded: "#5f5f5f",
    cleared: "#0b4f9c",
    pending: "#4a4a4a",
  };
  var HATCH = { mild: "gj-pattern-mild", severe: "gj-pattern-severe" };
  var CITY_CENTRE = [22.52, 113.39];

  // Leaflet path options of each style, for lines and for areas.
  var STYLES = {
    "grade-none": {
      line: { color: COLOR.none, weight: 4 },
      area: { color: COLOR.none, weight: 2, fillColor: COLOR.none, fillOpacity: 0.35 },
    },
    "grade-mild": {
      line: { color: "url(#" + HATCH.mild + ")", weight: 6, casing: COLOR.mild },
      area: { color: COLOR.mild, weight: 2, fillColor: "url(#" + HATCH.mild + ")", fillOpacity: 1 },
    },
    "grade-severe": {
      line: { color: "url(#" + HATCH.severe + ")", weight: 6, casing: COLOR.severe },
      area: {
        color: COLOR.severe,
        weight: 2,
        fillColor: "url(#" + HATCH.severe + ")",
        fillOpacity: 1,
      },
    },
    "grade-insufficient": {
      line: { color: COLOR.insufficient, weight: 4, dashArray: "8 5" },
      area: {
        color: COLOR.insufficient,
        weight: 2,
        dashArray: "8 5",
        fillColor: COLOR.insufficient,
        fillOpacity: 0.1,
      },
    },
    "grade-ungraded": {
      line: { color: COLOR.ungraded, weight: 4, dashArray: "1 7", lineCap: "round" },
      area: { color: COLOR.ungraded, weight: 2, dashArray: "1 5", fillOpacity: 0 },
    },
    "parcel-cleared": {
      area: { color: COLOR.cleared, weight: 2, fillColor: COLOR.cleared, fillOpacity: 0.45 },
    },
    "parcel-pending": {
      area: { color: COLOR.pending, weight: 2, dashArray: "4 3", fillColor: COLOR.pending, fillOpacity: 0.08 },
    },
  };

  function styleName(properties) {
    if (properties.kind === "parcel") {
      return properties.cleared ? "parcel-cleared" : "parcel-pending";
    }
    return "grade-" + (properties.grade || "ungraded");
  }

  function isLine(feature) {
    var type = feature.geometry && feature.geometry.type;
    return type === "LineString" || type === "MultiLineString";
  }

  function pathStyle(feature) {
    var style = STYLES[styleName(feature.properties || {})] || STYLES["grade-ungraded"];
    var chosen = (isLine(feature) ? style.line : style.area) || style.area || style.line;
    var options = { opacity: 1, lineJoin: "round" };
    Object.keys(chosen).forEach(function (key) {
      if (key !== "casing") {
        options[key] = chosen[key];
      }
    });
    return options;
  }

  function casingOf(feature) {
    var style = STYLES[styleName(feature.properties || {})];
    return isLine(feature) && style && style.line ? style.line.casing : undefined;
  }

  // The hatched and cross-hatched patterns, defined once in the page.
  function ensurePatterns() {
    if (document.getElementById(HATCH.mild)) {
      return;
    }
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("width", "0");
    svg.setAttribute("height", "0");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "map-patterns");
    var defs = document.createElementNS(SVG_NS, "defs");
    defs.appendChild(pattern(HATCH.mild, "#f6e7cf", COLOR.mild, false));
    defs.appendChild(pattern(HATCH.severe, "#f8dada", COLOR.severe, true));
    svg.appendChild(defs);
    document.body.appendChild(svg);
  }

  function pattern(id, background, ink, crossed) {
    var node = document.createElementNS(SVG_NS, "pattern");
    node.setAttribute("id", id);
    node.setAttribute("patternUnits", "userSpaceOnUse");
    node.setAttribute("width", "6");
    node.setAttribute("height", "6");
    node.setAttribute("patternTransform", "rotate(45)");
    var rect = document.createElementNS(SVG_NS, "rect");
    rect.setAttribute("width", "6");
    rect.setAttribute("height", "6");
    rect.setAttribute("fill", background);
    node.appendChild(rect);
    node.appendChild(stroke(0, 0, 0, 6, ink));
    if (crossed) {
      node.appendChild(stroke(0, 0, 6, 0, ink));
    }
    return node;
  }

  function stroke(x1, y1, x2, y2, ink) {
    var line = document.createElementNS(SVG_NS, "line");
    line.setAttribute("x1", x1);
    line.setAttribute("y1", y1);
    line.setAttribute("x2", x2);
    line.setAttribute("y2", y2);
    line.setAttribute("stroke", ink);
    line.setAttribute("stroke-width", "3");
    return line;
  }

  function textNode(tag, text, className) {
    var node = document.createElement(tag);
    node.textContent = text;
    if (className) {
      node.className = className;
    }
    return node;
  }

  function labelOf(properties, legend) {
    if (properties.kind === "parcel") {
      return properties.state_label || properties.state || "";
    }
    if (properties.grade_label) {
      return properties.grade_label;
    }
    var style = styleName(properties);
    var entry = legend.filter(function (item) {
      return item.style === style;
    })[0];
    return entry ? entry.label : "";
  }

  function describe(properties, legend) {
    var box = document.createElement("div");
    box.className = "map-tip";
    box.appendChild(textNode("strong", properties.name || properties.code || ""));
    var facts = [properties.code, properties.town, labelOf(properties, legend)];
    if (properties.kind !== "parcel" && properties.state_label) {
      facts.push(properties.state_label);
    }
    box.appendChild(
      textNode(
        "span",
        facts
          .filter(function (fact) {
            return fact;
          })
          .join(" · "),
      ),
    );
    return box;
  }

  function swatch(styleName) {
    var style = STYLES[styleName] || STYLES["grade-ungraded"];
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("width", "36");
    svg.setAttribute("height", "16");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var shape;
    if (style.line) {
      var options = style.line;
      if (options.casing) {
        svg.appendChild(swatchLine(options.casing, options.weight + 3));
      }
      shape = swatchLine(options.color, options.weight, options.dashArray, options.lineCap);
    } else {
      var area = style.area;
      shape = document.createElementNS(SVG_NS, "rect");
      shape.setAttribute("x", "3");
      shape.setAttribute("y", "2");
      shape.setAttribute("width", "30");
      shape.setAttribute("height", "12");
      shape.setAttribute("fill", area.fillColor || "none");
      shape.setAttribute("fill-opacity", String(area.fillOpacity === undefined ? 0.2 : area.fillOpacity));
      shape.setAttribute("stroke", area.color);
      shape.setAttribute("stroke-width", "2");
      if (area.dashArray) {
        shape.setAttribute("stroke-dasharray", area.dashArray);
      }
    }
    svg.appendChild(shape);
    return svg;
  }

  function swatchLine(color, weight, dashArray, lineCap) {
    var line = document.createElementNS(SVG_NS, "line");
    line.setAttribute("x1", "3");
    line.setAttribute("y1", "8");
    line.setAttribute("x2", "33");
    line.setAttribute("y2", "8");
    line.setAttribute("stroke", color);
    line.setAttribute("stroke-width", String(weight));
    if (dashArray) {
      line.setAttribute("stroke-dasharray", dashArray);
    }
    if (lineCap) {
      line.setAttribute("stroke-linecap", lineCap);
    }
    return line;
  }

  function legendControl(legend, title) {
    var control = L.control({ position: "bottomright" });
    control.onAdd = function () {
      var box = L.DomUtil.create("div", "map-legend");
      box.appendChild(textNode("p", title, "map-legend__title"));
      var list = document.createElement("ul");
      legend.forEach(function (item) {
        var entry = document.createElement("li");
        entry.appendChild(swatch(item.style));
        entry.appendChild(textNode("span", item.label));
        list.appendChild(entry);
      });
      box.appendChild(list);
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    return control;
  }

  function say(status, text) {
    if (status && text) {
      status.textContent = text;
    }
  }

  function load(options) {
    if (options.features) {
      return Promise.resolve(options.features);
    }
    return fetch(options.featuresUrl, {
      credentials: "same-origin",
      headers: { Accept: "application/geo+json" },
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("map features: HTTP " + response.status);
      }
      return response.json();
    });
  }

  function draw(element, options) {
    options = options || {};
    var legend = options.legend || [];
    ensurePatterns();
    var map = L.map(element, {
      attributionControl: Boolean(options.tiles),
      zoomSnap: 0.25,
      scrollWheelZoom: false,
    }).setView(CITY_CENTRE, 10);
    if (options.tiles) {
      L.tileLayer(options.tiles, { attribution: options.attribution || "" }).addTo(map);
    }
    if (legend.length) {
      legendControl(legend, options.legendTitle || "").addTo(map);
    }
    return load(options)
      .then(function (collection) {
        var features = (collection && collection.features) || [];
        L.geoJSON(
          { type: "FeatureCollection", features: features.filter(casingOf) },
          {
            interactive: false,
            style: function (feature) {
              return { color: casingOf(feature), weight: pathStyle(feature).weight + 3, opacity: 1 };
            },
          },
        ).addTo(map);
        var layer = L.geoJSON(collection, {
          style: pathStyle,
          onEachFeature: function (feature, path) {
            var properties = feature.properties || {};
            path.bindTooltip(describe(properties, legend), { sticky: true });
            if (properties.url) {
              var popup = describe(properties, legend);
              var link = textNode("a", options.detailsLabel || properties.url);
              link.href = properties.url;
              popup.appendChild(link);
              path.bindPopup(popup);
            }
          },
        }).addTo(map);
        var bounds = layer.getBounds();
        if (bounds.isValid()) {
          map.fitBounds(bounds, { padding: [16, 16] });
        } else {
          say(options.status, options.emptyText);
        }
        if (collection && collection.truncated) {
          say(options.status, options.truncatedText);
        }
        element.setAttribute("data-drawn", String(features.length));
        return map;
      })
      .catch(function (error) {
        say(options.status, options.failedText);
        element.setAttribute("data-drawn", "failed");
        throw error;
      });
  }

  function fromData(element) {
    var data = element.dataset;
    var status = data.status
      ? document.getElementById(data.status)
      : element.nextElementSibling;
    return draw(element, {
      featuresUrl: data.featuresUrl,
      legend: data.legend ? JSON.parse(data.legend) : [],
      legendTitle: data.legendTitle,
      detailsLabel: data.details,
      emptyText: data.empty,
      truncatedText: data.truncated,
      failedText: data.failed,
      status: status,
      tiles: data.tiles,
      attribution: data.attribution,
    });
  }

  global.GongjianMap = { draw: draw, fromData: fromData, styleName: styleName };

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-map]"), function (element) {
      fromData(element).catch(function () {
        // The message is on the page; the table beside the map holds the same facts.
      });
    });
  });
})(window);
