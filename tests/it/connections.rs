//! What one client can do to the server, over real sockets: idle connections past the bound,
//! a head or a body sent too slowly, an announced body over the limit, and requests hyper
//! cannot parse — each answered or closed in time, in the API's JSON error shape.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The API (fresh store, no upstream) under the real accept loop with `extra` settings.
async fn server(dir: &tempfile::TempDir, extra: &[(&str, &str)]) -> SocketAddr {
    let mut settings = vec![("ALMANAC__HTTP__ADMIN_TOKEN", "t0ken")];
    settings.extend_from_slice(extra);
    crate::support::accept_loop(dir, &settings).await
}

/// Sends `request` and reads until the server closes (or `within` passes): status and body.
async fn exchange(address: SocketAddr, request: &[u8], within: Duration) -> (u16, String) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut answer))
        .await
        .unwrap_or_else(|_| panic!("no complete answer within {within:?}"))
        .unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
    (status, body.unwrap_or_default())
}

/// Whether the server closes `stream` within `within` (reading it to its end).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut sink = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut sink))
        .await
        .is_ok()
}

#[tokio::test]
async fn idle_connections_past_the_bound_are_closed_and_others_served() {
    let dir = tempfile::tempdir().unwrap();
    let address = server(
        &dir,
        &[
            ("ALMANAC__HTTP__MAX_CONNECTIONS", "4"),
            ("ALMANAC__HTTP__HEADER_TIMEOUT_SECS", "1"),
        ],
    )
    .await;
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(TcpStream::connect(address).await.unwrap());
    }
    // A real client behind eight silent ones and a bound of four is served once the silent
    // ones' head deadline has passed.
    let started = Instant::now();
    let (status, body) = exchange(
        address,
        b"GET /health/live HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for stream in &mut idle {
        assert!(
            closed_within(stream, Duration::from_secs(10)).await,
            "a silent connection was still open {:?} after the first",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn a_head_sent_too_slowly_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let address = server(&dir, &[("ALMANAC__HTTP__HEADER_TIMEOUT_SECS", "1")]).await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /health/live HTTP/1.1\r\nx-slow: ")
        .await
        .unwrap();
    let started = Instant::now();
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if stream.write_all(b"a").await.is_err() {
            closed = true;
            break;
        }
        let mut byte = [0u8; 1];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(1), stream.read(&mut byte)).await
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "a head trickled for 15 s was never cut off");
}

#[tokio::test]
async fn a_body_sent_too_slowly_gets_408() {
    let dir = tempfile::tempdir().unwrap();
    let address = server(&dir, &[("ALMANAC__HTTP__BODY_TIMEOUT_SECS", "1")]).await;
    let (status, body) = exchange(
        address,
        b"POST /api/v1/admin/ingest HTTP/1.1\r\nhost: x\r\nauthorization: Bearer t0ken\r\ncontent-length: 10\r\nconnection: close\r\n\r\n{}",
        Duration::from_secs(15),
    )
    .await;
    assert_eq!(status, 408, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "body_timeout");
}

#[tokio::test]
async fn an_announced_body_over_the_limit_gets_413_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    // The body deadline is far: the answer must not wait for it.
    let address = server(&dir, &[("ALMANAC__HTTP__BODY_TIMEOUT_SECS", "600")]).await;
    let (status, body) = exchange(
        address,
        b"POST /api/v1/admin/ingest HTTP/1.1\r\nhost: x\r\ncontent-length: 999999999999\r\n\r\n{}",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "body_too_large");
}

#[tokio::test]
async fn requests_hyper_cannot_parse_get_the_api_error_shape() {
    let dir = tempfile::tempdir().unwrap();
    let address = server(&dir, &[]).await;
    let long = |n: usize| {
        format!(
            "GET /api/v1/locations?x={} HTTP/1.1\r\nhost: x\r\n\r\n",
            "a".repeat(n)
        )
    };
    for (request, status, code) in [
        (long(100_000), 414, "uri_too_long"),
        (long(1_000_000), 431, "headers_too_large"),
        (
            "GET /api/v1/locations HTTP/1.1\r\nbad header\r\n\r\n".to_owned(),
            400,
            "malformed_request",
        ),
        (
            "GET /api/v1/locations/%FF HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
                .to_owned(),
            400,
            "invalid_path",
        ),
        (
            "GET /api/v1/locations/madrid/weather?start=2024-01-01&end=soon HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
                .to_owned(),
            400,
            "invalid_date",
        ),
    ] {
        let (got, body) = exchange(address, request.as_bytes(), Duration::from_secs(10)).await;
        assert_eq!(got, status, "{body}");
        let body: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{status}: {e}: {body}"));
        assert_eq!(body["code"], code);
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(!detail.is_empty());
        if code == "invalid_date" {
            assert!(detail.starts_with("end `soon`"), "{detail}");
        }
    }
}

#[tokio::test]
async fn a_body_no_route_reads_leaves_the_connection_usable() {
    let dir = tempfile::tempdir().unwrap();
    let address = server(&dir, &[]).await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    // The body comes after a pause, as a client that waits for `100 Continue` would send it.
    stream
        .write_all(b"GET /api/v1/locations HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stream.write_all(b"hello").await.unwrap();
    stream
        .write_all(b"GET /nowhere HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}")
        .await
        .unwrap();
    stream
        .write_all(b"GET /health/live HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answers = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answers))
        .await
        .expect("the three answers within 10 s")
        .unwrap();
    let text = String::from_utf8_lossy(&answers);
    let statuses: Vec<&str> = text
        .match_indices("HTTP/1.1 ")
        .map(|(at, _)| &text[at + 9..at + 12])
        .collect();
    assert_eq!(statuses, ["200", "404", "200"], "{text}");
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_and_a_slow_answer_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let address = server(&dir, &[("ALMANAC__HTTP__IDLE_TIMEOUT_SECS", "1")]).await;
    // Many answers asked for and none read: the server's writes block once the socket buffers
    // are full, and the connection is closed about a second later.
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request = b"GET /openapi.json HTTP/1.1\r\nhost: x\r\n\r\n".repeat(2_000);
    let (mut reader, mut writer) = stream.split();
    let _ = tokio::time::timeout(Duration::from_secs(3), writer.write_all(&request)).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut sink = Vec::new();
    let drained =
        tokio::time::timeout(Duration::from_secs(20), reader.read_to_end(&mut sink)).await;
    assert!(
        drained.is_ok(),
        "the connection was still open after the client stopped reading"
    );
    let answered = String::from_utf8_lossy(&sink)
        .matches("HTTP/1.1 200")
        .count();
    assert!(
        answered < 2_000,
        "all {answered} answers were written: the writes never blocked"
    );

    // A connection that waits longer than the limit for nothing to be written, between its
    // requests, is not what the limit is about (the head deadline, 10 s, governs it).
    let (status, _) = {
        let mut stream = TcpStream::connect(address).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        stream
            .write_all(b"GET /health/live HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        let text = String::from_utf8_lossy(&answer).into_owned();
        (text.get(9..12).unwrap_or("").to_owned(), text)
    };
    assert_eq!(status, "200");
}
