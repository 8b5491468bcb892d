//! Request limits of `phalanx serve` against the real binary: body size
//! (413), request timeout and concurrency (503 + `Retry-After`), rate per
//! token (429 + `Retry-After`); each answered from the error table (a TAXII
//! error object under `/taxii2`, plain JSON elsewhere), and the node keeps
//! serving afterwards.

use crate::stream::{ALL, Server, TAXII, TLP_GREEN, indicator, read_response};
use serde_json::json;
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[track_caller]
fn taxii_error(r: &crate::stream::Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.header("content-type"), Some(TAXII), "{r:?}");
    let e = r.json();
    assert_eq!(e["error_code"], code, "{}", r.body);
    assert_eq!(e["http_status"], status.to_string());
}

#[track_caller]
fn json_error(r: &crate::stream::Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"), "{r:?}");
    assert_eq!(r.json()["code"], code, "{}", r.body);
}

#[test]
fn bodies_over_the_limit_get_413_and_the_limit_is_max_content_length() {
    let mut server = Server::start(&[("PHALANX_BODY_LIMIT", "3000")]);
    let root = server.request("GET", "/taxii2/root/", None, &[], b"");
    assert_eq!(root.json()["max_content_length"], 3000, "TAXII max_content_length is the body limit");

    let small = json!({"objects": [indicator("indicator--00000000-0000-4000-8000-000000000001", "2026-01-01T00:00:00.000Z", "ok", &[TLP_GREEN])]});
    let r = server.request("POST", &format!("{ALL}objects/"), Some("alice"), &[("Content-Type", TAXII)], small.to_string().as_bytes());
    assert_eq!(r.status, 202, "{}", r.body);

    let big = vec![b' '; 3001];
    let r = server.request("POST", &format!("{ALL}objects/"), Some("alice"), &[("Content-Type", TAXII)], &big);
    taxii_error(&r, 413, "payload_too_large");
    // Outside TAXII the same limit answers plain JSON, before any route.
    let r = server.request("POST", "/api/v1/health", Some("alice"), &[("Content-Type", "application/json")], &big);
    json_error(&r, 413, "payload_too_large");

    // A chunked body (no Content-Length) is cut off at the limit.
    let mut s = TcpStream::connect(&server.addr).expect("connect");
    let head = format!(
        "POST {ALL}objects/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAccept: {TAXII}\r\nContent-Type: {TAXII}\r\nAuthorization: {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        server.auth("alice")
    );
    s.write_all(head.as_bytes()).expect("head");
    for _ in 0..4 {
        let _ = s.write_all(format!("3e8\r\n{}\r\n", " ".repeat(1000)).as_bytes());
    }
    let _ = s.write_all(b"0\r\n\r\n");
    taxii_error(&read_response(s), 413, "payload_too_large");
    assert!(server.alive());
    assert_eq!(server.request("GET", "/api/v1/health", None, &[], b"").status, 200);
}

#[test]
fn default_body_limit_is_100_mib() {
    let server = Server::start(&[]);
    let root = server.request("GET", "/taxii2/root/", None, &[], b"");
    assert_eq!(root.json()["max_content_length"], 100 * 1024 * 1024);
}

/// Opens a POST whose body never completes: it holds a request slot
/// until the timeout.
fn stalled_post(server: &Server) -> TcpStream {
    let mut s = TcpStream::connect(&server.addr).expect("connect");
    let head = format!(
        "POST {ALL}objects/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAccept: {TAXII}\r\nContent-Type: {TAXII}\r\nAuthorization: {}\r\nContent-Length: 1000\r\n\r\n{{\"objects\"",
        server.auth("alice")
    );
    s.write_all(head.as_bytes()).expect("head");
    s
}

#[test]
fn a_full_node_sheds_with_503_and_slow_requests_time_out() {
    let mut server = Server::start(&[("PHALANX_REQUEST_TIMEOUT_SECS", "2"), ("PHALANX_MAX_CONCURRENT_REQUESTS", "1")]);
    let started = Instant::now();
    let slow = stalled_post(&server);
    std::thread::sleep(Duration::from_millis(300));
    // The one slot is taken: shed at once, not queued.
    let before = Instant::now();
    let r = server.request("GET", "/taxii2/", Some("bob"), &[], b"");
    taxii_error(&r, 503, "overloaded");
    assert!(before.elapsed() < Duration::from_secs(1), "answered at once");
    assert!(r.header("retry-after").and_then(|v| v.parse::<u64>().ok()).is_some_and(|s| s >= 1), "{r:?}");
    let r = server.request("GET", "/api/v1/health", None, &[], b"");
    json_error(&r, 503, "overloaded");
    // The stalled request is answered 503 timeout after about 2 s.
    let r = read_response(slow);
    taxii_error(&r, 503, "timeout");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1900) && took < Duration::from_secs(10), "timed out after {took:?}");
    // Its slot is free again.
    assert_eq!(server.request("GET", "/taxii2/", Some("bob"), &[], b"").status, 200);
    assert!(server.alive());
}

#[test]
fn each_token_has_its_own_rate_limit_with_429_and_retry_after() {
    let mut server = Server::start(&[("PHALANX_RATE_LIMIT_PER_SEC", "2"), ("PHALANX_RATE_LIMIT_BURST", "3")]);
    for i in 0..3 {
        let r = server.request("GET", "/taxii2/", Some("alice"), &[], b"");
        assert_eq!(r.status, 200, "request {i} within the burst");
    }
    let r = server.request("GET", "/taxii2/", Some("alice"), &[], b"");
    taxii_error(&r, 429, "rate_limited");
    assert_eq!(r.header("retry-after"), Some("1"), "{r:?}");
    // The same token through Basic shares the bucket; bob has his own.
    let basic = {
        use std::fmt::Write as _;
        let raw = format!("alice:{}", server.tokens["alice"]);
        let mut out = String::new();
        const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for chunk in raw.as_bytes().chunks(3) {
            let n = (u32::from(chunk[0]) << 16) | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8) | u32::from(*chunk.get(2).unwrap_or(&0));
            for i in 0..4 {
                let _ = out.write_char(if i <= chunk.len() { ABC[((n >> (18 - 6 * i)) & 63) as usize] as char } else { '=' });
            }
        }
        format!("Basic {out}")
    };
    let r = server.request("GET", "/taxii2/", None, &[("Authorization", &basic)], b"");
    taxii_error(&r, 429, "rate_limited");
    assert_eq!(server.request("GET", "/taxii2/", Some("bob"), &[], b"").status, 200, "bob has his own bucket");
    // Anonymous callers are limited per address, with plain JSON outside TAXII.
    for _ in 0..3 {
        assert_eq!(server.request("GET", "/api/v1/health", None, &[], b"").status, 200);
    }
    let r = server.request("GET", "/api/v1/health", None, &[], b"");
    json_error(&r, 429, "rate_limited");
    assert!(r.header("retry-after").is_some());
    // The bucket refills at the rate.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(server.request("GET", "/taxii2/", Some("alice"), &[], b"").status, 200, "refilled after 1/rate");
    assert!(server.alive());
}
