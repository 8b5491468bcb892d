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
