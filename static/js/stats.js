// The stats dashboards' charts (vendored ECharts) and the publisher's live counter.
// Data comes from {{ chart_data|json_script:"stats-data" }}; labels are translated by the server.
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  var charts = [];
  var narrow = function () { return window.innerWidth < 576; };

  function chart(name, option, rows) {
    var el = document.querySelector('[data-chart="' + name + '"]');
    if (!el || !window.echarts) return null;
    if (rows !== undefined) el.style.height = fitHeight(rows) + "px"; // bar lists grow with their rows
    var c = window.echarts.init(el, null, { renderer: "canvas" });
    c.setOption(option);
    charts.push(c);
    return c;
  }

  function fitHeight(rows) {
    return Math.min(640, Math.max(160, 70 + 34 * rows));
  }

  function grid() {
    return narrow() ? { left: 44, right: 40, top: 56, bottom: 30 }
                    : { left: 60, right: 60, top: 56, bottom: 30 };
  }

  function daysChart(d, s) {
    chart("days", {
      tooltip: { trigger: "axis" },
      legend: { type: "scroll", top: 0 },
      grid: grid(),
      xAxis: { type: "category", data: d.days.map(function (x) { return x.slice(5); }) },
      yAxis: [{ type: "value", axisLabel: { formatter: "¥{value}" } }, { type: "value", minInterval: 1 }],
      series: [
        { name: s.revenue, type: "bar", data: d.revenue },
        { name: s.refunds, type: "bar", data: d.refund_amount },
        { name: s.aov, type: "line", data: d.aov, symbol: "none" },
        { name: s.tickets, type: "line", yAxisIndex: 1, data: d.tickets },
        { name: s.orders, type: "line", yAxisIndex: 1, data: d.orders }
      ]
    });
  }

  function groupOption(rows, s) {
    rows = rows.slice().reverse(); // the biggest at the top
    return {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" },
                 formatter: function (p) { var r = rows[p[0].dataIndex];
                   return r.label + "<br>" + s.revenue + ": ¥" + r.revenue + "<br>" + s.tickets + ": " + r.tickets; } },
      grid: { left: 8, right: 56, top: 10, bottom: 20, containLabel: true },
      xAxis: { type: "value", axisLabel: { formatter: "¥{value}" } },
      yAxis: { type: "category", data: rows.map(function (r) { return r.label; }),
               axisLabel: { width: narrow() ? 100 : 220, overflow: "truncate" } },
      series: [{ name: s.revenue, type: "bar", barMaxWidth: 24, data: rows.map(function (r) { return r.revenue; }),
                 label: { show: true, position: "right", formatter: "¥{c}" } }]
    };
  }

  function groupsChart(d, s) {
    var names = Object.keys(d.groups);
    if (!names.length) return;
    var c = chart("groups", groupOption(d.groups[names[0]], s), d.groups[names[0]].length);
    document.querySelectorAll("[data-group-buttons] [data-group]").forEach(function (button) {
      button.addEventListener("click", function () {
        document.querySelectorAll("[data-group-buttons] [data-group]").forEach(function (b) {
          b.classList.toggle("active", b === button);
        });
        var rows = d.groups[button.dataset.group] || [];
        if (!c) return;
        c.getDom().style.height = fitHeight(rows.length) + "px";
        c.resize();
        c.setOption(groupOption(rows, s), true);
      });
    });
  }

  function sessionsChart(d, s) {
    var rows = d.sessions.slice().reverse();
    chart("sessions", {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" },
                 formatter: function (p) { var r = rows[p[0].dataIndex];
                   return r.label + "<br>" + r.sold + " / " + r.capacity + " (" + r.percent + "%)"; } },
      grid: { left: 8, right: 30, top: 20, bottom: 20, containLabel: true },
      xAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
      yAxis: { type: "category", data: rows.map(function (r) { return r.label; }),
               axisLabel: { width: narrow() ? 100 : 240, overflow: "truncate" } },
      series: [{ name: s.sell_through, type: "bar", barMaxWidth: 24, data: rows.map(function (r) { return r.percent; }),
                 label: { show: true, position: "right", formatter: "{c}%" } }]
    }, rows.length);
  }

  function heatChart(d) {
    var hours = [];
    for (var h = 0; h < 24; h++) hours.push(String(h).padStart(2, "0"));
    var max = d.heat.reduce(function (m, c) { return Math.max(m, c[2]); }, 1);
    chart("heat", {
      tooltip: { position: "top" },
      grid: { left: 8, right: 8, top: 10, bottom: 60, containLabel: true },
      xAxis: { type: "category", data: hours, splitArea: { show: true } },
      yAxis: { type: "category", data: d.weekdays, inverse: true, splitArea: { show: true } },
      visualMap: { min: 0, max: max, calculable: true, orient: "horizontal", left: "center", bottom: 0,
                   itemHeight: narrow() ? 120 : 200 },
      series: [{ type: "heatmap", data: d.heat, label: { show: !narrow() } }]
    });
  }

  function usersChart(d, s) {
    var series = [];
    if (d.new_users) series.push({ name: s.new_users, type: "bar", data: d.new_users });
    if (d.active) {
      series.push({ name: s.visitors, type: "line", data: d.active.visitors });
      series.push({ name: s.users, type: "line", data: d.active.users });
    }
    if (!series.length) return;
    chart("users", {
      tooltip: { trigger: "axis" }, legend: { type: "scroll", top: 0 }, grid: grid(),
      xAxis: { type: "category", data: d.days.map(function (x) { return x.slice(5); }) },
      yAxis: { type: "value", minInterval: 1 }, series: series
    });
  }

  function funnelChart(d, s) {
    if (!d.funnel) return;
    chart("funnel", {
      tooltip: { trigger: "item", formatter: "{b}: {c}" },
      series: [{ name: s.visitors_short, type: "funnel", sort: "none", left: "5%", width: "90%", top: 10, bottom: 10,
                 minSize: "8%", label: { show: true, position: "inside", formatter: "{b} {c}" }, data: d.funnel }]
    });
  }

  // --- live counter (publisher): a socket per chosen event; the server sends {sessions: [...]} -------
  function liveCounter() {
    var select = document.getElementById("live-event");
    if (!select) return;
    var rows = document.getElementById("live-rows");
    var state = document.getElementById("live-state");
    var socket = null, retry = 1000;

    function show(sessions) {
      rows.textContent = "";
      sessions.forEach(function (r) {
        var tr = document.createElement("tr");
        [r.session, r.sold, r.held, r.capacity].forEach(function (v, i) {
          var td = document.createElement("td");
          td.textContent = v;
          if (i) td.className = "text-end";
          tr.appendChild(td);
        });
        tr.dataset.session = r.session_id;
        rows.appendChild(tr);
      });
    }

    function connect() {
      if (socket) { socket.onclose = null; socket.close(); }
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      socket = new WebSocket(scheme + location.host + select.dataset.ws + select.value + "/live/");
      socket.onopen = function () { retry = 1000; state.textContent = "●"; state.className = "badge text-bg-success"; };
      socket.onmessage = function (e) {
        var msg = JSON.parse(e.data);
        if (msg.type === "counts") show(msg.sessions);
      };
      socket.onclose = function () {
        state.textContent = "…"; state.className = "badge text-bg-secondary";
        setTimeout(connect, retry); retry = Math.min(retry * 2, 30000);
      };
    }
    select.addEventListener("change", connect);
    connect();
  }

  ready(function () {
    var el = document.getElementById("stats-data");
    if (el) {
      var d = JSON.parse(el.textContent), s = d.strings;
      daysChart(d, s); groupsChart(d, s); sessionsChart(d, s); heatChart(d);
      // Charts inside closed <details> have no size yet; and phones rotate.
      window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
    }
    liveCounter();
    behaviourCharts();
    // The behaviour sections arrive in a request of their own (htmx swaps them in).
    document.body.addEventListener("htmx:afterSettle", behaviourCharts);
  });

  function behaviourCharts() {
    var el = document.getElementById("stats-behaviour-data");
    if (!el || el.dataset.drawn) return;
    el.dataset.drawn = "1";
    var d = JSON.parse(el.textContent);
    usersChart(d, d.strings); funnelChart(d, d.strings);
  }
})();
