//! Bounds on connections that poem's `Server` does not offer itself.
//!
//! poem 3.1 gives us a keep-alive idle timeout (`Server::idle_timeout`) but builds its
//! hyper connections without a timer, so hyper's own `header_read_timeout` never
//! runs, and it accepts as many connections as the kernel hands it. This module adds
//! the two missing bounds by wrapping the acceptor:
//!
//! - [`BoundedAcceptor`] holds one semaphore permit per open connection. At the cap
//!   it stops calling `accept` until a connection closes: further clients wait in the
//!   kernel's listen backlog (connected, but unanswered) rather than being refused,
//!   and use no file descriptor of ours while they wait.
//! - [`BoundedIo`], the accepted stream, carries that permit (released when poem
//!   drops the connection) and times the request head: from the first byte of a
//!   request until the blank line that ends its headers. When that takes longer than
//!   the configured time, the next read fails with `TimedOut`, hyper gives up on the
//!   connection and poem closes it. No task is spawned: the timer is polled from
//!   `poll_read`, which hyper keeps polling while it waits for the head.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// How long to pause after a failed `accept` (out of file descriptors, say): poem's
/// accept loop retries at once, and would otherwise spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// An acceptor that keeps at most `max_connections` connections open and times the
/// request heads on each (see the module documentation).
pub struct BoundedAcceptor<A> {
    inner: A,
    slots: Arc<Semaphore>,
    header_read_timeout: Duration,
    open: OpenConnections,
}

impl<A: Acceptor> BoundedAcceptor<A> {
    pub fn new(inner: A, max_connections: usize, header_read_timeout: Duration) -> Self {
        BoundedAcceptor {
            inner,
            slots: Arc::new(Semaphore::new(max_connections)),
            header_read_timeout,
            open: OpenConnections::default(),
        }
    }

    /// How many connections this acceptor's clients hold open, now and later (for
    /// the metrics).
    pub fn open_connections(&self) -> OpenConnections {
        self.open.clone()
    }
}

/// The number of open connections of one [`BoundedAcceptor`]. (Not the semaphore's
/// permits: a waiting `accept` holds one too.)
#[derive(Debug, Clone, Default)]
pub struct OpenConnections(Arc<AtomicUsize>);

impl OpenConnections {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    fn opened(&self) -> OpenGuard {
        self.0.fetch_add(1, Ordering::Relaxed);
        OpenGuard(self.clone())
    }
}

/// Counts one connection as open until dropped with it.
struct OpenGuard(OpenConnections);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        (self.0).0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<A: Acceptor> Acceptor for BoundedAcceptor<A> {
    type Io = BoundedIo<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        // Waiting here (cancel-safe: poem drops this future on shutdown) leaves new
        // clients in the kernel's backlog until a connection closes.
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| io::Error::other("the connection semaphore is closed"))?;
        match self.inner.accept().await {
            Ok((io, local, remote, scheme)) => Ok((
                BoundedIo::new(io, permit, self.header_read_timeout, self.open.opened()),
                local,
                remote,
                scheme,
            )),
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                Err(e)
            }
        }
    }
}

/// An accepted connection: holds its slot under the cap and times request heads.
pub struct BoundedIo<Io> {
    inner: Io,
    head: HeadTimer,
    _slot: OwnedSemaphorePermit,
    _open: OpenGuard,
}

impl<Io> BoundedIo<Io> {
    fn new(inner: Io, slot: OwnedSemaphorePermit, timeout: Duration, open: OpenGuard) -> Self {
        BoundedIo {
            inner,
            head: HeadTimer {
                timeout,
                phase: Phase::Waiting,
                deadline: None,
                preface: Some(0),
            },
            _slot: slot,
            _open: open,
        }
    }
}

/// Where the connection is in the HTTP/1.1 request/response cycle, as far as the
/// bytes tell. This is deliberately approximate: it only has to find the end of a
/// request head (a blank line) after the first byte of a request, which it does by
/// looking at the bytes read, not by parsing HTTP (hyper does that).
enum Phase {
    /// Between requests: no byte of the next request yet (the idle timeout applies).
    Waiting,
    /// Reading a request head; `newline` is 1 after a line end, 2 after a line end
    /// followed by `\r`, else 0.
    Head { newline: u8 },
    /// The head is in; the body and the response follow. The first write (the
    /// response) makes the connection `Waiting` again. Bytes read meanwhile (the
    /// body, or a pipelined request) are not timed here; the request timeout and the
    /// idle timeout bound them.
    Request,
    /// An HTTP/2 connection (prior knowledge): frames, not heads; not timed here.
    Off,
}

struct HeadTimer {
    timeout: Duration,
    phase: Phase,
    /// Created for the first request head and reset for each later one.
    deadline: Option<Pin<Box<Sleep>>>,
    /// How much of the HTTP/2 connection preface the connection's first bytes match;
    /// `None` once they don't.
    preface: Option<usize>,
}

const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0";

impl HeadTimer {
    /// Whether a request head has been arriving for longer than allowed. Polls the
    /// deadline, so the task is woken when it passes.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        matches!(self.phase, Phase::Head { .. })
            && self
                .deadline
                .as_mut()
                .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready())
    }

    /// Follows the bytes just read.
    fn read(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if let Some(matched) = self.preface {
                if HTTP2_PREFACE.get(matched) == Some(&byte) {
                    self.preface = Some(matched + 1);
                    if matched + 1 == HTTP2_PREFACE.len() {
                        self.phase = Phase::Off;
                        self.deadline = None;
                        return;
                    }
                } else {
                    self.preface = None;
                }
            }
            match &mut self.phase {
                Phase::Waiting => {
                    let at = Instant::now() + self.timeout;
                    match &mut self.deadline {
                        Some(deadline) => deadline.as_mut().reset(at),
                        None => self.deadline = Some(Box::pin(tokio::time::sleep_until(at))),
                    }
                    self.phase = Phase::Head {
                        newline: u8::from(byte == b'\n'),
                    };
                }
                Phase::Head { newline } => match (byte, *newline) {
                    (b'\n', 1 | 2) => self.phase = Phase::Request,
                    (b'\n', _) => *newline = 1,
                    (b'\r', 1) => *newline = 2,
                    (b'\r', n) => *newline = n,
                    _ => *newline = 0,
                },
                Phase::Request | Phase::Off => return,
            }
        }
    }

    /// The server writes: after a request head, that is its response.
    fn wrote(&mut self) {
        if matches!(self.phase, Phase::Request) {
            self.phase = Phase::Waiting;
        }
    }
}

impl<Io: AsyncRead + Unpin> AsyncRead for BoundedIo<Io> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.head.expired(cx) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request headers took too long",
            )));
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            this.head.read(&buf.filled()[before..]);
        }
        result
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for BoundedIo<Io> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.head.wrote();
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.head.wrote();
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timer() -> HeadTimer {
        HeadTimer {
            timeout: Duration::from_secs(1),
            phase: Phase::Waiting,
            deadline: None,
            preface: Some(0),
        }
    }

    #[tokio::test]
    async fn a_head_ends_at_the_blank_line_even_split_across_reads() {
        let mut t = timer();
        t.read(b"GET / HTTP/1.1\r\nHost: x\r");
        assert!(matches!(t.phase, Phase::Head { .. }));
        t.read(b"\n\r");
        assert!(matches!(t.phase, Phase::Head { .. }));
        t.read(b"\n{\"body\":1}");
        assert!(matches!(t.phase, Phase::Request));
        t.wrote();
        assert!(matches!(t.phase, Phase::Waiting));
        t.read(b"GET / HTTP/1.1\n\n");
        assert!(matches!(t.phase, Phase::Request));
    }

    #[tokio::test]
    async fn http2_prior_knowledge_is_not_timed() {
        let mut t = timer();
        t.read(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        assert!(matches!(t.phase, Phase::Off));
        let mut t = timer();
        t.read(b"POST / HTTP/1.1\r\n");
        assert!(matches!(t.phase, Phase::Head { .. }));
        assert_eq!(t.preface, None);
    }
}
