// Phalanx web UI: live updates, the daily plot and the upload form.
// No inline script: the content security policy allows scripts from this
// node only.
(function () {
  "use strict";

  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }

  // Live updates: the server says "changed" when something this user may
  // read was written; the page's fragments then refresh (htmx), at most
  // once a second.
  function follow() {
    if (!window.EventSource || !document.getElementById("picture")) return;
    var live = document.getElementById("live");
    var pending = null;
    // Start after the version the page was rendered with: a write between
    // the render and this connection still refreshes the page.
    var seen = document.getElementById("picture").getAttribute("data-cursor") || "";
    var source = new EventSource("/ui/events" + (seen ? "?after=" + encodeURIComponent(seen) : ""));
    source.addEventListener("open", function () { if (live) live.classList.add("on"); });
    source.addEventListener("error", function () { if (live) live.classList.remove("on"); });
    source.addEventListener("changed", function () {
      if (pending) return;
      pending = setTimeout(function () {
        pending = null;
        document.body.dispatchEvent(new Event("phalanx-changed"));
      }, 300);
    });
  }

  var plot = null;
  function drawSeries() {
    var holder = document.getElementById("series-plot");
    var data = document.getElementById("series-data");
    if (!holder || !data || !window.uPlot) return;
    var s = JSON.parse(data.textContent);
    if (plot) { plot.destroy(); plot = null; }
    holder.innerHTML = "";
    var width = Math.max(300, holder.clientWidth || 900);
    plot = new uPlot({
      width: width,
      height: 220,
      scales: { x: { time: true } },
      series: [
        {},
        { label: "indicators", stroke: "#1f77b4", width: 2 },
        { label: "sightings", stroke: "#d62728", width: 2 },
        { label: "incidents", stroke: "#ff7f0e", width: 2 }
      ],
      axes: [{}, { label: "per day" }]
    }, [s.days, s.indicators, s.sightings, s.incidents], holder);
  }

  function upload() {
    var form = document.getElementById("upload-form");
    if (!form) return;
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var file = document.getElementById("upload-file").files[0];
      if (!file) return;
      var progress = document.getElementById("upload-progress");
      var status = document.getElementById("upload-status");
      var results = document.getElementById("upload-results");
      var body = results.querySelector("tbody");
      body.innerHTML = "";
      results.hidden = true;
      progress.hidden = false;
      progress.value = 0;
      status.textContent = "uploading " + file.name;
      var xhr = new XMLHttpRequest();
      xhr.open("POST", "/ui/upload");
      xhr.setRequestHeader("Content-Type", "application/json");
      xhr.setRequestHeader("X-CSRF-Token", csrf());
      xhr.setRequestHeader("X-Default-TLP", document.getElementById("upload-tlp").value);
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) progress.value = Math.round(100 * e.loaded / e.total);
        if (e.loaded === e.total) status.textContent = "stored on the node; checking every object";
      });
      xhr.addEventListener("load", function () {
        progress.value = 100;
        if (xhr.status !== 200) {
          status.textContent = "refused (" + xhr.status + ")";
          return;
        }
        var report = JSON.parse(xhr.responseText);
        if (report.fatal) {
          status.textContent = "nothing stored: " + report.fatal;
          return;
        }
        status.textContent = report.stored + " stored, " + report.unchanged + " unchanged, " + report.refused + " refused";
        report.results.forEach(function (r) {
          var tr = document.createElement("tr");
          tr.className = "upload-" + r.status;
          [r.path, r.id || "", r.object_type || "", r.status, r.reason || (r.label_raised_to ? "label raised to " + r.label_raised_to : "")]
            .forEach(function (text) {
              var td = document.createElement("td");
              td.textContent = text;
              tr.appendChild(td);
            });
          body.appendChild(tr);
        });
        results.hidden = false;
      });
      xhr.addEventListener("error", function () { status.textContent = "upload failed"; });
      xhr.send(file);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    follow();
    drawSeries();
    upload();
    document.body.addEventListener("htmx:afterSwap", drawSeries);
  });
})();
