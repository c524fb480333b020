// facegate admin UI: the little the browser must do itself. Everything here
// is progressive: every page works without it (plain forms, full reloads).
// No inline script anywhere (the Content-Security-Policy forbids it).
(function () {
  "use strict";

  // Select-all checkbox of the people list (bulk actions).
  var all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll('input[name="id"]').forEach(function (box) {
        box.checked = all.checked;
      });
    });
  }

  // Drag and drop onto an upload form: the dropped files become the file
  // input's files, and the form is submitted as usual.
  document.querySelectorAll("form.dropzone").forEach(function (form) {
    var input = form.querySelector('input[type="file"]');
    if (!input) return;
    ["dragenter", "dragover"].forEach(function (ev) {
      form.addEventListener(ev, function (e) {
        e.preventDefault();
        form.classList.add("over");
      });
    });
    ["dragleave", "drop"].forEach(function (ev) {
      form.addEventListener(ev, function () {
        form.classList.remove("over");
      });
    });
    form.addEventListener("drop", function (e) {
      e.preventDefault();
      if (!e.dataTransfer || !e.dataTransfer.files.length) return;
      var dt = new DataTransfer();
      var max = input.multiple ? e.dataTransfer.files.length : 1;
      for (var i = 0; i < max; i++) dt.items.add(e.dataTransfer.files[i]);
      input.files = dt.files;
      form.requestSubmit();
    });
  });

  // Webcam enrolment on the person page: capture a frame, send it to the
  // same enrol route as a file upload (with the CSRF token header), and
  // show the page's answer.
  var cam = document.querySelector(".webcam");
  if (cam && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    cam.hidden = false;
    var video = document.getElementById("cam");
    var status = cam.querySelector(".cam-status");
    var start = document.getElementById("cam-start");
    var shot = document.getElementById("cam-shot");
    // Live feedback: a small frame every 1.2 s (never two in flight) to
    // /ui/enrol/check, which says whether a face is found, its quality and
    // liveness, before anything is enrolled.
    var feedback = cam.querySelector(".cam-feedback");
    var checking = false;
    var check = function () {
      if (checking || document.hidden || !video.videoWidth) return;
      checking = true;
      var small = document.createElement("canvas");
      small.width = 320;
      small.height = Math.round(320 * video.videoHeight / video.videoWidth);
      small.getContext("2d").drawImage(video, 0, 0, small.width, small.height);
      small.toBlob(function (blob) {
        fetch("/ui/enrol/check", {
          method: "POST",
          body: blob,
          headers: { "X-CSRF-Token": cam.dataset.csrf, "Content-Type": "image/jpeg" },
          credentials: "same-origin"
        }).then(function (r) { return r.json(); }).then(function (j) {
          feedback.textContent = j.message || j.error || "";
          feedback.className = "cam-feedback " + (j.face_found ? (j.badge || "") : "poor");
        }).catch(function () {}).then(function () { checking = false; });
      }, "image/jpeg", 0.8);
    };
    start.addEventListener("click", function () {
      navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } }).then(function (stream) {
        video.srcObject = stream;
        video.hidden = false;
        shot.disabled = false;
        status.textContent = "Camera on. Look at it, then capture.";
        if (feedback) setInterval(check, 1200);
      }).catch(function (err) {
        status.textContent = "No camera: " + err.message;
      });
    });
    shot.addEventListener("click", function () {
      var canvas = document.createElement("canvas");
      canvas.width = video.videoWidth || 640;
      canvas.height = video.videoHeight || 480;
      canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
      canvas.toBlob(function (blob) {
        var body = new FormData();
        body.append("photos", blob, "webcam.jpg");
        status.textContent = "Enrolling…";
        fetch("/ui/people/" + cam.dataset.person + "/templates", {
          method: "POST",
          body: body,
          headers: { "X-CSRF-Token": cam.dataset.csrf },
          credentials: "same-origin"
        }).then(function (r) {
          return r.text().then(function (html) {
            var doc = new DOMParser().parseFromString(html, "text/html");
            var li = doc.querySelector(".results li, .error");
            status.textContent = li ? li.textContent : "HTTP " + r.status;
            if (r.ok) {
              var fresh = doc.getElementById("templates");
              var old = document.getElementById("templates") || document.getElementById("no-templates");
              if (fresh && old) old.replaceWith(fresh);
            }
          });
        }).catch(function (err) {
          status.textContent = "Failed: " + err.message;
        });
      }, "image/jpeg", 0.92);
    });
  }

  // Camera live view: new events arrive over Server-Sent Events (the
  // session cookie authenticates /ui/events/stream) and go on top of the
  // table; the health figures are polled every 2 s. The MJPEG <img> needs
  // no script.
  var live = document.getElementById("live");
  if (live && window.EventSource) {
    var camera = live.dataset.camera;
    var tbody = document.querySelector("#live-events tbody");
    var cell = function (text, cls) {
      var td = document.createElement("td");
      if (cls) {
        var b = document.createElement("span");
        b.className = "badge " + cls;
        b.textContent = text;
        td.appendChild(b);
      } else {
        td.textContent = text;
      }
      return td;
    };
    var feed = new EventSource("/ui/events/stream?camera_id=" + encodeURIComponent(camera));
    feed.addEventListener("camera_event", function (m) {
      var e;
      try { e = JSON.parse(m.data); } catch (err) { return; }
      var tr = document.createElement("tr");
      tr.className = "new";
      tr.appendChild(cell(new Date(e.at).toLocaleTimeString()));
      tr.appendChild(cell(e.kind, e.kind));
      tr.appendChild(cell(e.name || "unknown"));
      tr.appendChild(cell(typeof e.score === "number" ? e.score.toFixed(3) : ""));
      tbody.insertBefore(tr, tbody.firstChild);
      while (tbody.rows.length > 50) tbody.deleteRow(tbody.rows.length - 1);
    });
    var health = document.getElementById("health");
    var badge = document.getElementById("cam-state");
    setInterval(function () {
      fetch("/ui/cameras/" + encodeURIComponent(camera) + "/status.json", { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (!s) return;
          badge.textContent = s.state;
          badge.className = "badge cam-" + s.state;
          var set = function (k, v) {
            var dd = health.querySelector('[data-k="' + k + '"]');
            if (dd) dd.textContent = v;
          };
          set("fps", s.input_fps.toFixed(1) + " in / " + s.processed_fps.toFixed(1) + " recognised");
          ["dropped_frames", "skipped_busy", "reconnects", "events"].forEach(function (k) { set(k, s[k]); });
          set("last_error", s.last_error || "");
        })
        .catch(function () {});
    }, 2000);
  }
})();
