// The command dashboard's charts and sortable tables. Every chart draws the figures of a
// table on the same page (the table is the chart's source and its text alternative):
//
// - `.chart--towns[data-table=ID]`: a bar per town (the row's header) of the column that
//   the `select.chart-pick[data-chart=<chart id>]` names (its value: the cell's index),
//   largest first;
// - `.chart--commitment[data-table=ID][data-column=N]`: a bar per indicator of column N
//   (the share of the target done, %), with the 100% line.
//
// Cells give their figure in `data-value` (JSON: a number, or null when undefined); a
// cell without it sorts by its text.
// ECharts draws with its `aria` option on, decals included, so bars carry a pattern and
// the chart a generated description. `table.sortable` headers hold a button that sorts
// the table by that column (aria-sort tells which way).
"use strict";

(function () {
  var ACCENT = "#0b4f9c";
  var FONT = getComputedStyle(document.body).fontFamily;
  var charts = [];

  function figure(cell) {
    if (!cell) {
      return null;
    }
    if (cell.dataset.value === undefined) {
      return cell.textContent.trim();
    }
    try {
      return JSON.parse(cell.dataset.value);
    } catch (error) {
      return cell.dataset.value;
    }
  }

  function rowName(row) {
    return row.cells[0].textContent.trim();
  }

  function baseOption(description) {
    return {
      aria: { enabled: true, decal: { show: true }, label: { description: description } },
      color: [ACCENT],
      textStyle: { fontFamily: FONT, color: "#1a1a1a" },
      animation: false,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    };
  }

  function mount(element) {
    var chart = echarts.init(element, null, { renderer: "canvas" });
    charts.push(chart);
    return chart;
  }

  function drawTowns(element) {
    var table = document.getElementById(element.dataset.table);
    var pick = document.querySelector('select.chart-pick[data-chart="' + element.id + '"]');
    if (!table || !pick) {
      return;
    }
    var chart = mount(element);
    function render() {
      var column = Number(pick.value);
      var label = pick.options[pick.selectedIndex].textContent;
      var rows = Array.prototype.map
        .call(table.tBodies[0].rows, function (row) {
          return { name: rowName(row), value: figure(row.cells[column]) };
        })
        .filter(function (row) {
          return row.value !== null;
        })
        .sort(function (a, b) {
          return b.value - a.value;
        });
      var option = baseOption(element.getAttribute("aria-label") + "：" + label);
      option.grid = { left: 8, right: 48, top: 8, bottom: 8, containLabel: true };
      option.xAxis = { type: "value" };
      option.yAxis = {
        type: "category",
        inverse: true,
        data: rows.map(function (row) {
          return row.name;
        }),
      };
      option.series = [
        {
          name: label,
          type: "bar",
          data: rows.map(function (row) {
            return row.value;
          }),
          label: { show: true, position: "right" },
        },
      ];
      chart.setOption(option, true);
    }
    pick.addEventListener("change", render);
    render();
  }

  function drawCommitment(element) {
    var table = document.getElementById(element.dataset.table);
    if (!table) {
      return;
    }
    var column = Number(element.dataset.column);
    var rows = Array.prototype.map.call(table.tBodies[0].rows, function (row) {
      return { name: row.cells[0].dataset.value || rowName(row), value: figure(row.cells[column]) };
    });
    var chart = mount(element);
    var option = baseOption(element.getAttribute("aria-label"));
    option.grid = { left: 8, right: 48, top: 24, bottom: 8, containLabel: true };
    option.xAxis = {
      type: "category",
      data: rows.map(function (row) {
        return row.name;
      }),
      axisLabel: { interval: 0, overflow: "break", width: 96 },
    };
    option.yAxis = { type: "value", name: "%", max: function (range) {
      return Math.max(100, Math.ceil(range.max / 10) * 10);
    } };
    option.series = [
      {
        name: element.getAttribute("aria-label"),
        type: "bar",
        barMaxWidth: 48,
        data: rows.map(function (row) {
          return row.value;
        }),
        label: { show: true, position: "top", formatter: "{c}%" },
        markLine: {
          silent: true,
          symbol: "none",
          lineStyle: { color: "#1a1a1a", type: "dashed" },
          data: [{ yAxis: 100 }],
          label: { formatter: "100%" },
        },
      },
    ];
    chart.setOption(option);
  }

  function sortable(table) {
    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (header, index) {
      var button = header.querySelector("button.sort");
      if (!button) {
        return;
      }
      button.addEventListener("click", function () {
        var ascending = header.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(headers, function (other) {
          other.removeAttribute("aria-sort");
        });
        header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = figure(a.cells[index]);
          var y = figure(b.cells[index]);
          if (x === null || y === null) {
            return x === y ? 0 : x === null ? 1 : -1;
          }
          var order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), "zh-CN");
          return ascending ? order : -order;
        });
        rows.forEach(function (row) {
          body.appendChild(row);
        });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), sortable);
    if (typeof echarts !== "undefined") {
      Array.prototype.forEach.call(document.querySelectorAll(".chart--towns"), drawTowns);
      Array.prototype.forEach.call(document.querySelectorAll(".chart--commitment"), drawCommitment);
    }
    window.addEventListener("resize", function () {
      charts.forEach(function (chart) {
        chart.resize();
      });
    });
  });
})();
