//! The accept loop: hyper's HTTP/1.1 connections under limits one client cannot exhaust — a
//! bound on open connections, a deadline for each request's head (which also closes idle
//! keep-alive connections), a deadline on a write blocked because the client stopped reading
//! (a slow answer being computed is not silence), and hyper's own answers to requests it cannot
//! parse rewritten into the API's JSON error shape.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::service::Service;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use crate::config::HttpConfig;

/// How a served connection is bounded (from `[http]`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

impl Limits {
    pub fn of(http: &HttpConfig) -> Self {
        Self {
            max_connections: http.max_connections as usize,
            header_timeout: Duration::from_secs(http.header_timeout_secs.into()),
            idle_timeout: Duration::from_secs(http.idle_timeout_secs.into()),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, lets requests
/// in flight finish (idle connections close at once) and returns once every connection has.
pub async fn serve_until(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);
    let mut at_limit = false;
    loop {
        let permit = match open.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if !at_limit {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection limit reached: new connections wait in the listen backlog until one closes (http.max_connections)"
                    );
                    at_limit = true;
                }
                tokio::select! {
                    permit = open.clone().acquire_owned() => permit.expect("never closed"),
                    () = &mut shutdown => break,
                }
            }
        };
        if at_limit && open.available_permits() > limits.max_connections / 10 {
            tracing::info!("below the connection limit again");
            at_limit = false;
        }
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors (EMFILE/ENFILE) or a connection reset before it was
                // accepted: the first passes when connections close, the second at once.
                tracing::error!(%error, "accept failed; retrying in 100 ms");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (app, stopping) = (app.clone(), stopping.clone());
        tokio::spawn(async move {
            connection(stream, peer, app, limits, stopping).await;
            drop(permit);
        });
    }
    // New clients are refused at once (and try another replica) while the open ones finish.
    drop(listener);
    let _ = stop.send(true);
    drop(stopping);
    stop.closed().await;
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
) {
    let io = Watched::new(stream);
    let activity = io.activity.clone();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    // Each request knows its client's address (`ConnectInfo`, for the per-client rate limit).
    let app = TowerToHyperService::new(app);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        app.call(request)
    });
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        // A write blocked since `at` (the client stopped reading) ends the connection once it has
        // been blocked for the idle limit; checked at least once per limit.
        let check_at = match activity.blocked_since() {
            Some(at) => at + limits.idle_timeout,
            None => Instant::now() + limits.idle_timeout,
        };
        tokio::select! {
            _ = conn.as_mut() => return,
            changed = stopping.changed(), if !closing => {
                if changed.is_err() || *stopping.borrow() {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
            () = tokio::time::sleep_until(check_at.into()) => {
                if activity
                    .blocked_since()
                    .is_some_and(|at| at.elapsed() >= limits.idle_timeout)
                {
                    tracing::info!(
                        idle_secs = limits.idle_timeout.as_secs(),
                        "closing a connection whose client stopped reading (http.idle_timeout_secs)"
                    );
                    return;
                }
            }
        }
    }
}

/// Since when a connection's writes have been blocked (the client not reading), if they are:
/// milliseconds from its start, plus one (0: not blocked).
struct Activity {
    start: Instant,
    blocked: AtomicU64,
}

impl Activity {
    fn wrote(&self) {
        self.blocked.store(0, Ordering::Relaxed);
    }

    fn blocked(&self) {
        if self.blocked.load(Ordering::Relaxed) == 0 {
            let millis = self.start.elapsed().as_millis() as u64 + 1;
            self.blocked.store(millis, Ordering::Relaxed);
        }
    }

    fn blocked_since(&self) -> Option<Instant> {
        match self.blocked.load(Ordering::Relaxed) {
            0 => None,
            millis => Some(self.start + Duration::from_millis(millis - 1)),
        }
    }
}

/// Notes a write that could not go through (`Pending`) or did.
fn note<T>(activity: &Activity, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
    match &poll {
        Poll::Pending => activity.blocked(),
        Poll::Ready(_) => activity.wrote(),
    }
    poll
}

/// A TCP stream that notes when its writes block and replaces hyper's bodiless answers to requests it
/// could not parse (400, 414, 431) with the API's JSON error; the connection closes after them.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
    /// A replacement answer still to be written (bytes, how many written).
    replacement: Option<(Vec<u8>, usize)>,
    /// After a replacement, everything hyper writes is dropped.
    replaced: bool,
}

impl Watched {
    fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            activity: Arc::new(Activity {
                start: Instant::now(),
                blocked: AtomicU64::new(0),
            }),
            replacement: None,
            replaced: false,
        }
    }

    /// Writes what is left of the replacement answer.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.replacement {
            let poll = Pin::new(&mut self.stream).poll_write(cx, &bytes[*written..]);
            let n = ready!(note(&self.activity, poll))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
            if *written == bytes.len() {
                self.replacement = None;
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Whether `first` (the start of what hyper writes) is one of its own error answers, which
    /// are the only 4xx answers without a `content-type`; if so, queues the JSON one.
    fn replace(&mut self, first: &[u8]) -> bool {
        if self.replaced {
            return true;
        }
        let Some(answer) = json_answer_for(first) else {
            return false;
        };
        self.replacement = Some((answer, 0));
        self.replaced = true;
        true
    }
}

/// The JSON answer replacing hyper's automatic answer `head`, if `head` is one.
fn json_answer_for(head: &[u8]) -> Option<Vec<u8>> {
    // Cheap for everything else hyper writes (a body's chunks, other answers' heads).
    if !head.starts_with(b"HTTP/1.1 4") {
        return None;
    }
    let head = &head[..head.len().min(1024)];
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&head[..end]).ok()?;
    let status = head.strip_prefix("HTTP/1.1 ")?.get(..3)?;
    if head.to_ascii_lowercase().contains("\r\ncontent-type:") {
        return None;
    }
    let (reason, code, detail) = match status {
        "400" => (
            "Bad Request",
            "malformed_request",
            "the request is not valid HTTP/1.1 (request line, a header name or value, or the version)",
        ),
        "414" => (
            "URI Too Long",
            "uri_too_long",
            "the request's URL is longer than 65,534 bytes",
        ),
        "431" => (
            "Request Header Fields Too Large",
            "headers_too_large",
            "the request's line and headers are larger than 400 kB, or there are more than 100 headers",
        ),
        _ => return None,
    };
    let body = format!(r#"{{"code":"{code}","detail":"{detail}"}}"#);
    Some(
        format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_replacement(cx))?;
        if self.replace(buf) {
            ready!(self.poll_replacement(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        let poll = Pin::new(&mut self.stream).poll_write(cx, buf);
        note(&self.activity, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_replacement(cx))?;
        let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| b);
        if self.replace(first) {
            ready!(self.poll_replacement(cx))?;
            return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
        }
        let poll = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        note(&self.activity, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_replacement(cx))?;
        let poll = Pin::new(&mut self.stream).poll_flush(cx);
        note(&self.activity, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_replacement(cx))?;
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::json_answer_for;

    #[test]
    fn only_hypers_own_error_answers_are_replaced() {
        let hyper = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Wed, 02 Dec 2026 14:00:00 GMT\r\n\r\n";
        let answer = String::from_utf8(json_answer_for(hyper).unwrap()).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["code"], "headers_too_large");

        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        assert!(json_answer_for(ours).is_none());
        let fine = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(json_answer_for(fine).is_none());
        assert!(
            json_answer_for(b"HTTP/1.1 414 URI Too Long\r\n").is_none(),
            "a head cut short is left alone"
        );
    }
}
