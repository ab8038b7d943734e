//! A small W3C WebDriver client for the browser tests: Debian's `chromedriver`
//! driving headless Chromium (both from the distribution's packages, installed by
//! `scripts/test`), spoken to over HTTP with the test package's reqwest. No browser
//! is downloaded at run time.

use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// WebDriver's codes for the keys the tests press.
pub mod keys {
    pub const TAB: &str = "\u{E004}";
    pub const ENTER: &str = "\u{E007}";
    pub const SPACE: &str = "\u{E00D}";
    pub const ARROW_RIGHT: &str = "\u{E014}";
}

/// A headless Chromium session with a phone-sized viewport.
#[derive(Debug)]
pub struct Browser {
    driver: Child,
    http: reqwest::Client,
    session: String,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a session whose viewport is
    /// `width`×`height` CSS pixels.
    pub async fn start(width: u32, height: u32) -> Browser {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            listener.local_addr().expect("bound").port()
        };
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver runs (apt-get install chromium chromium-driver)");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            let ready = http
                .get(format!("{base}/status"))
                .send()
                .await
                .ok()
                .map(|response| response.status().is_success())
                .unwrap_or(false);
            if ready {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--disable-extensions", "--lang=en-US"],
                "mobileEmulation": { "deviceMetrics": { "width": width, "height": height, "pixelRatio": 2.0, "touch": false } }
            }
        }}});
        let response: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .expect("json");
        let session = response["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("a browser session starts: {response}"))
            .to_owned();
        Browser {
            driver,
            http,
            session: format!("{base}/session/{session}"),
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response: Value = self
            .http
            .request(method, format!("{}{path}", self.session))
            .json(&body)
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .expect("json");
        if response["value"]["error"].is_string() {
            panic!("WebDriver {path}: {response}");
        }
        response["value"].clone()
    }

    pub async fn navigate(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    /// Sets a cookie for the page's origin (navigate there first), as a signed-in
    /// browser would hold it.
    pub async fn add_cookie(&self, name: &str, value: &str) {
        self.command(
            reqwest::Method::POST,
            "/cookie",
            json!({ "cookie": { "name": name, "value": value, "path": "/", "httpOnly": true } }),
        )
        .await;
    }

    /// Presses each key in turn (down, up), as a keyboard user would.
    pub async fn press(&self, keys: &[&str]) {
        let actions: Vec<Value> = keys
            .iter()
            .flat_map(|key| {
                [
                    json!({ "type": "keyDown", "value": key }),
                    json!({ "type": "keyUp", "value": key }),
                ]
            })
            .collect();
        self.command(
            reqwest::Method::POST,
            "/actions",
            json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] }),
        )
        .await;
    }

    /// Types text key by key.
    pub async fn type_text(&self, text: &str) {
        let keys: Vec<String> = text.chars().map(String::from).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        self.press(&keys).await;
    }

    /// Runs a script that reports its value by calling its last argument (W3C
    /// "Execute Async Script"), for checks that return a promise, such as axe-core.
    pub async fn read_async(&self, script: &str) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/async",
            json!({ "script": script, "args": [] }),
        )
        .await
    }

    /// Clicks the first element matching the CSS selector, as a pointer would.
    pub async fn click(&self, css: &str) {
        let element = self
            .command(
                reqwest::Method::POST,
                "/element",
                json!({ "using": "css selector", "value": css }),
            )
            .await;
        let id = element
            .as_object()
            .and_then(|object| object.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}"))
            .to_owned();
        self.command(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            json!({}),
        )
        .await;
    }

    /// Runs a script and returns its value. Tests use it only to *read* the page.
    pub async fn read(&self, script: &str) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            json!({ "script": script, "args": [] }),
        )
        .await
    }

    /// Whether the page is no wider than the viewport: nothing makes the whole page
    /// scroll sideways (a table scrolling inside its own box is fine).
    pub async fn fits_the_width(&self) -> bool {
        self.read("return document.documentElement.scrollWidth <= window.innerWidth;")
            .await
            == json!(true)
    }

    /// The text of `<main>` without the elements matching `excluded` (read from a
    /// copy, so the page is untouched): what a reader sees outside, say, the
    /// analysts' section, folded or not.
    pub async fn main_text_outside(&self, excluded: &str) -> String {
        let script = format!(
            "const copy = document.querySelector('main').cloneNode(true);\
             copy.querySelectorAll({excluded:?}).forEach(node => node.remove());\
             return copy.textContent;"
        );
        self.read(&script)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The text shown in the first screen (the viewport at the top of the page):
    /// every visible text node whose box starts above the fold.
    pub async fn first_screen_text(&self) -> String {
        self.read(
            "window.scrollTo(0, 0);\
             const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);\
             const parts = [];\
             while (walker.nextNode()) {\
               const node = walker.currentNode;\
               if (!node.textContent.trim()) continue;\
               const range = document.createRange();\
               range.selectNodeContents(node);\
               const box = range.getBoundingClientRect();\
               if (box.height > 0 && box.top < window.innerHeight) parts.push(node.textContent.trim());\
             }\
             return parts.join(' ');",
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// A PNG of the whole page (beyond the viewport), at the session's width.
    pub async fn full_page_screenshot(&self) -> Vec<u8> {
        let value = self
            .command(
                reqwest::Method::POST,
                "/goog/cdp/execute",
                json!({ "cmd": "Page.captureScreenshot",
                        "params": { "format": "png", "captureBeyondViewport": true } }),
            )
            .await;
        STANDARD
            .decode(value["data"].as_str().expect("screenshot data"))
            .expect("base64 PNG")
    }

    /// A PNG of what the viewport shows (W3C "Take Screenshot").
    pub async fn viewport_screenshot(&self) -> Vec<u8> {
        let value = self
            .command(reqwest::Method::GET, "/screenshot", json!({}))
            .await;
        STANDARD
            .decode(value.as_str().expect("screenshot data"))
            .expect("base64 PNG")
    }

    /// Ends the session and the driver.
    pub async fn quit(mut self) {
        let _ = self.http.delete(&self.session).send().await;
        let _ = self.driver.kill().await;
    }
}
