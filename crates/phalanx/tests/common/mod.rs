//! Helpers shared by the integration-test modules: a node in a temporary
//! data directory and the real `phalanx` binary run on it.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs the real `phalanx` binary on data directory `data` (without a
/// `PHALANX_USER` from the environment) and waits for it.
pub fn phalanx_in(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phalanx"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("PHALANX_USER")
        .output()
        .expect("run phalanx")
}

/// A node initialised in a temporary data directory.
pub struct Node {
    /// The data directory (removed on drop).
    pub dir: tempfile::TempDir,
}

impl Node {
    /// `phalanx init` with these extra arguments.
    pub fn init(args: &[&str]) -> Node {
        let node = Node { dir: tempfile::tempdir().expect("tempdir") };
        let mut all = vec!["init"];
        all.extend_from_slice(args);
        node.ok(&all);
        node
    }

    /// The data directory.
    pub fn data(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `phalanx --data <dir> ARGS` with `stdin` as standard input.
    pub fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_phalanx"))
            .arg("--data")
            .arg(self.data())
            .args(args)
            .env_remove("PHALANX_USER")
            .env_remove("PHALANX_DATA")
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run phalanx");
        if let Some(text) = stdin {
            let mut pipe = child.stdin.take().expect("stdin");
            pipe.write_all(text.as_bytes()).expect("write stdin");
        }
        child.wait_with_output().expect("wait for phalanx")
    }

    /// Runs `phalanx --data <dir> ARGS`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, None)
    }

    /// Runs a command that must succeed; returns its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "phalanx {args:?} failed:\n{}", text(&out));
        stdout(&out)
    }

    /// Runs a command that must fail with exit code 2; returns its standard error.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(2), "phalanx {args:?} should fail:\n{}", text(&out));
        stderr(&out)
    }
}

/// Standard output as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Both streams, for assertion messages.
pub fn text(out: &Output) -> String {
    format!("exit {:?}\nstdout:\n{}\nstderr:\n{}", out.status.code(), stdout(out), stderr(out))
}

/// The last line of `s` (without its line end).
pub fn last_line(s: &str) -> &str {
    s.lines().last().unwrap_or_default()
}

/// The last line of a command's standard output, trimmed; the command must
/// have succeeded.
#[track_caller]
pub fn last_line_of_success(out: &Output) -> String {
    assert!(out.status.success(), "{}", text(out));
    stdout(out).lines().last().unwrap_or_default().trim().to_owned()
}

/// Spawns `cmd` (a `phalanx serve` command line) with its standard output
/// piped, and waits up to 60 s for the `listening on URL` line. Returns the
/// process and the URL.
pub fn spawn_serve(cmd: &mut Command) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = cmd.stdout(Stdio::piped()).spawn().expect("spawn phalanx serve");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("serve printed its address");
    let url = line.strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line of serve: {line}"));
    (child, url.to_owned())
}

/// An HTTP answer: status, headers (names in lower case), body text.
#[derive(Debug)]
pub struct HttpAnswer {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: std::collections::HashMap<String, String>,
    /// The body.
    pub body: String,
}

impl HttpAnswer {
    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not json ({e}): {}", self.body))
    }

    /// The value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

/// An HTTP client that answers error statuses like any other (30 s timeout).
pub fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .new_agent()
}

/// Sends `request` and reads the whole answer.
pub fn http_send(agent: &ureq::Agent, request: ureq::http::Request<Vec<u8>>) -> HttpAnswer {
    let (status, headers, body) = http_exchange(agent, request);
    HttpAnswer { status, headers, body }
}

/// Sends `request`: the status, the headers (names in lower case; a map
/// keeps one value per name, a `Vec` every header, such as each
/// `Set-Cookie`) and the body text.
pub fn http_exchange<H: FromIterator<(String, String)>>(agent: &ureq::Agent, request: ureq::http::Request<Vec<u8>>) -> (u16, H, String) {
    let mut response = agent.run(request).expect("http");
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (status, headers, body)
}
