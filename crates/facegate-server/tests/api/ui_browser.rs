//! The web UI in a real browser: Debian's headless Chromium driven over
//! WebDriver (chromedriver, started here on a free port, through the
//! `fantoccini` crate), against a real server with the real engine.
//!
//! The acceptance walk-through: log in, create a person, enrol from a shared
//! image, identify on the test page (recording attendance), see the record,
//! export the CSV, erase the person and see the templates gone, a forged
//! cross-site form refused, and a viewer refused the admin pages. Every main
//! page is saved as a PNG under `target/ui-screenshots/`, and the dashboard's
//! page weight and time to first render (from the browser's Performance
//! API) are printed.
//!
//! Skips only without `../shared` (the photos) or the model pack; a missing
//! chromium or chromedriver is a failure (`.ci/run` installs them).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::common::*;

/// chromedriver in a process group of its own, which Chromium and its
/// helpers join: dropping this (however the test ends, a panic included)
/// kills the whole group, so no browser outlives its test.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        // `kill -KILL -PGID`: the group is chromedriver's own pid.
        let _ = Command::new("kill")
            .arg("-KILL")
            .arg("--")
            .arg(format!("-{}", self.0.id()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn program(env: &str, default: &str) -> PathBuf {
    let p = std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        p.exists(),
        "{} not found: install Debian's chromium and chromium-driver (.ci/run does), or set {env}",
        p.display()
    );
    p
}

async fn start_browser() -> (Driver, Client) {
    let driver = program("FACEGATE_CHROMEDRIVER", "/usr/bin/chromedriver");
    let chromium = program("FACEGATE_CHROMIUM", "/usr/bin/chromium");
    let port = free_port();
    let child = Command::new(driver)
        .process_group(0)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(child);
    let url = format!("http://127.0.0.1:{port}");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--force-device-scale-factor=1", "--lang=en-GB"],
        }),
    );
    let started = Instant::now();
    loop {
        let connected =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await;
        match connected {
            Ok(c) => return (driver, c),
            Err(e) if started.elapsed() < Duration::from_secs(30) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("cannot start a browser session through chromedriver: {e}"),
        }
    }
}

fn screenshot_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
            PathBuf::from,
        )
        .join("ui-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

async fn shot(c: &Client, dir: &Path, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("screenshot written");
}

async fn text_of(c: &Client, css: &str) -> String {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .text()
        .await
        .unwrap()
}

async fn fill(c: &Client, css: &str, value: &str) {
    let el = c
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    el.clear().await.ok();
    el.send_keys(value).await.unwrap();
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn login(c: &Client, base: &str, email: &str) {
    c.goto(&format!("{base}/ui/login")).await.unwrap();
    fill(c, "input[name=email]", email).await;
    fill(c, "input[name=password]", PASSWORD).await;
    click(c, "form button[type=submit]").await;
    let done = c
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("header.top"))
        .await;
    if let Err(e) = done {
        let url = c
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default();
        let html = c.source().await.unwrap_or_default();
        panic!("login as {email} did not reach a page with the menu ({e}); at {url}: {html}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ui_browser_walkthrough() {
    let Some(shared) = shared_dir() else {
        eprintln!("SKIP ui browser walk-through: ../shared (test images) is not present");
        return;
    };
    let Some(srv) = TestServer::start(Db::Sqlite, true, |_| {}).await else {
        return;
    };
    if !srv.has_engine() {
        eprintln!(
            "SKIP ui browser walk-through: model pack is not installed in {}",
            models_dir().display()
        );
        srv.stop().await;
        return;
    }
    let org = srv.init_org("Acme", "owner@acme.test").await;
    srv.member(&org, "viewer@acme.test", "viewer").await;
    // WebDriver refuses file paths that are not canonical (CI's shared dir
    // is `<repo>/../shared`).
    let examples = shared
        .join("datasets/peers/face_recognition/examples")
        .canonicalize()
        .expect("the shared examples folder");
    let dir = screenshot_dir();
    let base = srv.url.clone();
    let (_driver, c) = start_browser().await;

    // Log in; the dashboard is the first page.
    login(&c, &base, "owner@acme.test").await;
    assert_eq!(
        text_of(&c, "h1").await.split_whitespace().next(),
        Some("Dashboard")
    );

    // Create a person through the form.
    c.goto(&format!("{base}/ui/people/new")).await.unwrap();
    fill(&c, "input[name=name]", "Barack Obama").await;
    fill(&c, "input[name=external_id]", "OB-1").await;
    fill(&c, "input[name=department]", "Office").await;
    shot(&c, &dir, "03-person-new").await;
    click(&c, "main form button[type=submit]").await;
    assert!(text_of(&c, ".notice").await.contains("person was created"));
    let person_url = c.current_url().await.unwrap();
    let person_id = person_url
        .path()
        .trim_start_matches("/ui/people/")
        .to_string();

    // Enrol from a shared photo through the file input.
    let photo = examples.join("obama.jpg");
    c.find(Locator::Css("#photos"))
        .await
        .unwrap()
        .send_keys(photo.to_str().unwrap())
        .await
        .unwrap();
    click(&c, "#enrol-form button[type=submit]").await;
    let results = text_of(&c, ".results").await;
    assert!(results.contains("obama.jpg: enrolled"), "{results}");
    assert!(
        text_of(&c, "#templates").await.contains("good")
            || text_of(&c, "#templates").await.contains("fair")
    );
    shot(&c, &dir, "04-person-enrolled").await;

    // Identify on the test page, recording attendance.
    c.goto(&format!("{base}/ui/recognize")).await.unwrap();
    shot(&c, &dir, "05-recognize-empty").await;
    c.find(Locator::Css("#photo"))
        .await
        .unwrap()
        .send_keys(examples.join("obama2.jpg").to_str().unwrap())
        .await
        .unwrap();
    click(&c, "input[name=mark]").await;
    click(&c, "#recognize-form button[type=submit]").await;
    assert_eq!(text_of(&c, "#decision").await, "match");
    assert!(text_of(&c, "#faces").await.contains("Barack Obama"));
    assert!(
        text_of(&c, "#attendance-result")
            .await
            .contains("recorded for Barack Obama")
    );
    shot(&c, &dir, "06-recognize-match").await;

    // The attendance report shows the record; the CSV export has it.
    c.goto(&format!("{base}/ui/attendance")).await.unwrap();
    assert!(text_of(&c, "#records").await.contains("Barack Obama"));
    shot(&c, &dir, "07-attendance").await;
    let csv = c
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             fetch(document.getElementById('csv').getAttribute('href'), {credentials: 'same-origin'})\
               .then(r => r.text()).then(done, e => done('ERROR ' + e));",
            vec![],
        )
        .await
        .unwrap();
    let csv = csv.as_str().unwrap_or("").to_string();
    assert!(csv.starts_with("id,person_id,external_id,name,"), "{csv}");
    assert!(csv.contains("\"Barack Obama\""), "{csv}");
    std::fs::write(dir.join("attendance.csv"), &csv).unwrap();

    // The dashboard, measured: page weight and time to first render.
    c.goto(&format!("{base}/ui/")).await.unwrap();
    text_of(&c, "h1").await;
    // Paint entries arrive after the load event: wait for the first
    // contentful paint (5 s at most).
    c.execute_async(
        "const done = arguments[arguments.length - 1];\
         const fcp = () => performance.getEntriesByName('first-contentful-paint')[0];\
         if (fcp()) { done(true); } else {\
           new PerformanceObserver(() => { if (fcp()) done(true); }).observe({type: 'paint', buffered: true});\
           setTimeout(() => done(!!fcp()), 5000); }",
        vec![],
    )
    .await
    .unwrap();
    let perf = c
        .execute(
            "const nav = performance.getEntriesByType('navigation')[0];\
             const fcp = performance.getEntriesByName('first-contentful-paint')[0];\
             const fp = performance.getEntriesByName('first-paint')[0];\
             const res = performance.getEntriesByType('resource');\
             return {html: nav.encodedBodySize || nav.transferSize, html_decoded: nav.decodedBodySize,\
                     resources: res.map(r => [r.name, r.decodedBodySize]),\
                     first_paint: fp ? fp.startTime : null, fcp: fcp ? fcp.startTime : null,\
                     dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd};",
            vec![],
        )
        .await
        .unwrap();
    let resources: u64 = perf["resources"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r[1].as_u64()).sum())
        .unwrap_or(0);
    println!(
        "UI METRICS dashboard: html {} B, css+js+icon {} B (embedded css+js {} B), first paint {:?} ms, first contentful paint {:?} ms, DOMContentLoaded {:?} ms, load {:?} ms; resources {}",
        perf["html_decoded"],
        resources,
        facegate_server::ui::assets::css_js_bytes(),
        perf["first_paint"],
        perf["fcp"],
        perf["dcl"],
        perf["load"],
        perf["resources"]
    );
    assert!(
        perf["fcp"].as_f64().is_some(),
        "the dashboard painted: {perf}"
    );
    shot(&c, &dir, "02-dashboard").await;
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&format!("{base}/ui/")).await.unwrap();
    text_of(&c, "h1").await;
    shot(&c, &dir, "12-dashboard-phone").await;
    c.goto(&format!("{base}/ui/people")).await.unwrap();
    text_of(&c, "h1").await;
    shot(&c, &dir, "13-people-phone").await;
    c.set_window_size(1280, 1000).await.unwrap();

    // The other main pages.
    for (path, name) in [
        ("/ui/people", "08-people"),
        ("/ui/access-log", "09-access-log"),
        ("/ui/spoof-events", "10-spoof-events"),
        ("/ui/settings", "11-settings"),
    ] {
        c.goto(&format!("{base}{path}")).await.unwrap();
        text_of(&c, "h1").await;
        shot(&c, &dir, name).await;
    }
    assert!(text_of(&c, "body").await.contains("viewer@acme.test"));

    // A forged cross-site form post (from an opaque data: origin) is refused.
    let forged = format!(
        "data:text/html,<form method=post action='{base}/ui/people'><input name=name value=Mallory>\
         <input name=external_id value=M-1><button id=go>go</button></form>"
    );
    c.goto(&forged).await.unwrap();
    click(&c, "#go").await;
    assert_eq!(text_of(&c, "h1").await, "Request refused");
    shot(&c, &dir, "15-forged-post-refused").await;
    let (_, list) = srv.get("/api/v1/people?q=Mallory", &org.owner).await;
    assert_eq!(list["total"], 0, "nothing was created");

    // Erase the person: their templates are gone.
    c.goto(person_url.as_str()).await.unwrap();
    fill(&c, "input[name=confirm]", "OB-1").await;
    click(&c, "form[action$='/erase'] button").await;
    assert!(text_of(&c, ".notice").await.contains("erased"));
    shot(&c, &dir, "14-erased").await;
    let templates = srv
        .state()
        .store
        .list_templates(&org.id, &person_id)
        .await
        .unwrap();
    assert!(templates.is_empty(), "templates erased");
    c.goto(&format!("{base}/ui/people/{person_id}"))
        .await
        .unwrap();
    assert_eq!(text_of(&c, "h1").await, "Not found");

    // Log out; the login page.
    c.goto(&format!("{base}/ui/me")).await.unwrap();
    click(&c, "form[action='/ui/logout'] button").await;
    text_of(&c, "input[name=email]").await;
    shot(&c, &dir, "01-login").await;

    // A viewer: own page only, admin pages refused.
    login(&c, &base, "viewer@acme.test").await;
    assert_eq!(text_of(&c, "h1").await, "My attendance");
    shot(&c, &dir, "16-viewer-me").await;
    for path in ["/ui/settings", "/ui/people", "/ui/access-log"] {
        c.goto(&format!("{base}{path}")).await.unwrap();
        assert_eq!(text_of(&c, "h1").await, "Not allowed", "viewer on {path}");
    }
    shot(&c, &dir, "17-viewer-forbidden").await;
    println!("UI screenshots in {}", dir.display());
    c.close().await.unwrap();
    srv.stop().await;
}

/// Cameras and unknown faces in the browser: add a camera that replays the
/// shared Hamilton clip through the form, watch its live view (the MJPEG
/// `<img>` shows frames, events arrive over the session's SSE feed), then
/// label a group of similar unknown faces on the review page.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ui_browser_cameras_and_unknown_faces() {
    let Some(shared) = shared_dir() else {
        eprintln!("SKIP ui browser cameras: ../shared (test video and images) is not present");
        return;
    };
    let Some(srv) = TestServer::start(Db::Sqlite, true, |c| {
        // YuNet when installed (fast enough for a real-time clip on a
        // loaded machine), as the camera tests choose.
        if models_dir().join("packs/yunet").is_dir() {
            c.pack = "yunet".into();
        }
    })
    .await
    else {
        return;
    };
    if !srv.has_engine() {
        eprintln!(
            "SKIP ui browser cameras: model pack is not installed in {}",
            models_dir().display()
        );
        srv.stop().await;
        return;
    }
    let org = srv.init_org("Theatre", "owner@theatre.test").await;
    let (s, b) = srv
        .call(
            reqwest::Method::PATCH,
            "/api/v1/organisations/current",
            &org.owner,
            Some(json!({"settings": {"store_images": true}})),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::OK, "{b}");
    let examples = shared.join("datasets/peers/face_recognition/examples");
    let lin = srv.person(&org, "LMM", "Lin-Manuel Miranda").await;
    let (s, b) = srv
        .post_image(
            &format!("/api/v1/people/{lin}/templates"),
            &org.owner,
            std::fs::read(examples.join("lin-manuel-miranda.png")).unwrap(),
            "lin.png",
            "image/png",
            &[],
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::CREATED, "{b}");
    let video = shared
        .join("datasets/video/hamilton_clip.mp4")
        .canonicalize()
        .expect("the shared clip");
    let dir = screenshot_dir();
    let base = srv.url.clone();
    let (_driver, c) = start_browser().await;
    login(&c, &base, "owner@theatre.test").await;

    // Add the camera through the form.
    c.goto(&format!("{base}/ui/cameras/new")).await.unwrap();
    fill(&c, "input[name=name]", "Stage").await;
    fill(&c, "input[name=source_url]", video.to_str().unwrap()).await;
    fill(&c, "input[name=min_face_px]", "20").await;
    fill(&c, "input[name=min_sharpness]", "1.5").await;
    fill(&c, "input[name=fpir]", "0.05").await;
    fill(&c, "input[name=cooldown_s]", "0").await;
    shot(&c, &dir, "20-camera-new").await;
    click(&c, "#camera-form button[type=submit]").await;
    assert!(text_of(&c, ".notice").await.contains("camera was added"));
    assert!(text_of(&c, "#cameras").await.contains("Stage"));

    // The live view: frames in the <img>, events over SSE.
    click(&c, "#cameras a[href^='/ui/cameras/']").await;
    text_of(&c, "#live-stream").await;
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let w = c
            .execute(
                "const i = document.getElementById('live-stream'); return i ? i.naturalWidth : 0;",
                vec![],
            )
            .await
            .unwrap();
        if w.as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(
            Instant::now() < until,
            "no MJPEG frame in the live view within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // An event pushed by SSE shows as a new row (class `new`).
    c.wait()
        .at_most(Duration::from_secs(90))
        .for_element(Locator::Css("#live-events tbody tr.new"))
        .await
        .expect("a camera event arrives over the session's SSE feed within 90 s");
    shot(&c, &dir, "21-camera-live").await;
    c.goto(&format!("{base}/ui/cameras")).await.unwrap();
    text_of(&c, "#cameras").await;
    shot(&c, &dir, "22-cameras").await;
    c.goto(&format!("{base}/ui/")).await.unwrap();
    assert!(text_of(&c, "#camera-health").await.contains("Stage"));

    // Unknown faces: the clip's strangers plus three known photos (two of
    // one man) as the processor stores them; his two are one group.
    let ids = crate::ui::insert_unknown_faces(&srv, &org.id, &examples).await;
    c.goto(&format!("{base}/ui/recognitions")).await.unwrap();
    text_of(&c, "#groups").await;
    shot(&c, &dir, "23-unknown-faces").await;
    let form = format!("form.group:has(input[value='{}'])", ids[0]);
    let group = c.find(Locator::Css(&form)).await.expect("Obama's group");
    let html = group.html(false).await.unwrap();
    assert!(html.contains(&ids[1]), "both photos in one group: {html}");
    assert!(!html.contains(&ids[2]), "Biden apart: {html}");
    click(&c, &format!("{form} summary")).await;
    fill(&c, &format!("{form} input[name=new_name]"), "Barack Obama").await;
    fill(&c, &format!("{form} input[name=new_external_id]"), "OB-1").await;
    click(&c, &format!("{form} button[value=label]")).await;
    assert!(text_of(&c, ".notice").await.contains("enrolled"));
    shot(&c, &dir, "24-unknown-labelled").await;
    let (_, list) = srv.get("/api/v1/people?q=Obama", &org.owner).await;
    assert_eq!(list["total"], 1, "{list}");
    c.close().await.unwrap();
    srv.stop().await;
}
