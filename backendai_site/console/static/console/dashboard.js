// Draws the dashboard's usage charts with the Chart.js unfold ships (loaded on every console
// page). The numbers are also in the page's usage table, so nothing is lost without this.
(function () {
  var box = document.getElementById("usage-charts");
  if (!box || typeof Chart === "undefined") {
    return;
  }
  var palette = ["#9333ea", "#2563eb", "#16a34a", "#ea580c", "#dc2626", "#0891b2", "#ca8a04",
    "#db2777", "#4f46e5", "#65a30d"];
  var units = { cpu: "core-hours", mem: "GiB-hours" };

  function datasets(byProject) {
    return Object.keys(byProject).sort().map(function (project, i) {
      return { label: project, data: byProject[project], backgroundColor: palette[i % 10] };
    });
  }

  function draw(id, labels, byProject, title) {
    var canvas = document.getElementById(id);
    if (!canvas) {
      return;
    }
    new Chart(canvas, {
      type: "bar",
      data: { labels: labels, datasets: datasets(byProject) },
      options: {
        plugins: { title: { display: true, text: title } },
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } },
      },
    });
  }

  function slotTitle(slot) {
    if (units[slot]) {
      return slot + " (" + units[slot] + ")";
    }
    return slot + (slot.endsWith(".device") ? " (GPU-hours)" : " (hours)");
  }

  fetch(box.dataset.url, { credentials: "same-origin" })
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (body) {
      if (!body) {
        return;
      }
      ["day", "month"].forEach(function (window_) {
        var series = body[window_];
        draw("usage-" + window_ + "-starts", series.labels, series.starts, "Kernel starts");
        // one chart per window for the main slot (cpu when present), the table has the rest
        var slots = Object.keys(series.slot_hours);
        var slot = slots.indexOf("cpu") >= 0 ? "cpu" : slots[0];
        if (slot) {
          draw("usage-" + window_ + "-hours", series.labels, series.slot_hours[slot],
            slotTitle(slot));
        }
      });
    });
})();
