//! Minimal HTTP/1.1 plumbing over our `tokio` TCP (madsim's in the simulator), inside TLS for cluster traffic: a
//! keep-alive client with deadlines and a body-size limit, a pool of such clients per peer address, and a server
//! loop that hands each request, with who sent it (`Caller`), to a handler. Invariants: no byte sequence from a peer
//! can panic this code; every failure becomes a `CallError` or an error response, and a connection that failed or
//! timed out mid-request is dropped, never reused; a server with TLS settings hands a handler nothing that did not
//! arrive over a completed TLS handshake, and names the caller only from a certificate the root signed.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use crate::tls::{ClientTls, PeerIdentity, TlsHandle};

/// The largest request or response body accepted, in bytes. Raft snapshot chunks and append batches stay far
/// below it (`snapshot_max_chunk_size` is 3 MiB by default).
pub const BODY_BYTES_MAX: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: String, source: std::io::Error },
    #[error("request to {addr} timed out after {timeout_ms} ms")]
    Timeout { addr: String, timeout_ms: u64 },
    #[error("TLS handshake with {addr} failed: {reason}")]
    Tls { addr: String, reason: String },
    #[error("HTTP error talking to {addr}: {source}")]
    Http { addr: String, source: hyper::Error },
    #[error("response from {addr} is larger than {BODY_BYTES_MAX} bytes or broken: {reason}")]
    Body { addr: String, reason: String },
    #[error("{addr} answered {status}: {message}")]
    Status { addr: String, status: u16, message: String },
}

impl CallError {
    /// True when the peer could not be reached at all (nothing was sent).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, CallError::Connect { .. })
    }
}

/// A connection being made (TCP, then TLS) on a task of its own.
type Connecting = Pin<Box<tokio::task::JoinHandle<Result<SendRequest<Full<Bytes>>, CallError>>>>;

/// One keep-alive connection to one peer address, re-established on demand. A connection being made when a call
/// times out is kept making: the next call uses it when it is ready. A TLS handshake costs a round trip more than
/// a TCP connect, and under high latency it could otherwise never finish within any one short call (a heartbeat's).
pub struct HttpClient {
    addr: String,
    tls: Option<ClientTls>,
    connection: Option<SendRequest<Full<Bytes>>>,
    connecting: Option<Connecting>,
}

impl HttpClient {
    /// A client without TLS: for unix sockets (the control API), and for tests that check plain HTTP is refused.
    pub fn new(addr: impl Into<String>) -> Self {
        Self { addr: addr.into(), tls: None, connection: None, connecting: None }
    }

    /// A client of a cluster port, over TLS as `tls` says.
    pub fn tls(addr: impl Into<String>, tls: ClientTls) -> Self {
        Self { addr: addr.into(), tls: Some(tls), connection: None, connecting: None }
    }

    /// `tls` when given, plain otherwise (servers that run without TLS: benchmarks only).
    pub fn with(addr: impl Into<String>, tls: Option<ClientTls>) -> Self {
        Self { addr: addr.into(), tls, connection: None, connecting: None }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// POSTs `body` to `path` and returns the response body of a 2xx answer. Any other status becomes
    /// `CallError::Status` carrying the body as text.
    pub async fn post(&mut self, path: &str, body: Vec<u8>, timeout: Duration) -> Result<Bytes, CallError> {
        self.request(Method::POST, path, body, timeout).await
    }

    /// GETs `path`; like `post` otherwise.
    pub async fn get(&mut self, path: &str, timeout: Duration) -> Result<Bytes, CallError> {
        self.request(Method::GET, path, Vec::new(), timeout).await
    }

    async fn request(
        &mut self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Bytes, CallError> {
        let addr = self.addr.clone();
        let result = tokio::time::timeout(timeout, self.request_inner(method, path, body)).await;
        match result {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(error)) => {
                if !matches!(error, CallError::Status { .. }) {
                    self.connection = None;
                }
                Err(error)
            }
            Err(_) => {
                self.connection = None;
                Err(CallError::Timeout { addr, timeout_ms: timeout.as_millis() as u64 })
            }
        }
    }

    async fn request_inner(&mut self, method: Method, path: &str, body: Vec<u8>) -> Result<Bytes, CallError> {
        let addr = self.addr.clone();
        // A connection made after an earlier call gave up on it: used if it succeeded; its failure belonged to that
        // call, and this one tries afresh.
        if self.connecting.as_ref().is_some_and(|pending| pending.is_finished()) {
            if let Some(Ok(Ok(sender))) = match self.connecting.take() {
                Some(pending) => Some(pending.await),
                None => None,
            } {
                self.connection = Some(sender);
            }
        }
        if self.connection.as_ref().is_none_or(|c| c.is_closed()) {
            self.connection = None;
            let connecting = self.connecting.get_or_insert_with(|| {
                let (addr, tls) = (addr.clone(), self.tls.clone());
                Box::pin(tokio::spawn(async move {
                    match tokio::time::timeout(CONNECT_TIMEOUT, connect(&addr, tls.as_ref())).await {
                        Ok(result) => result,
                        Err(_) => Err(CallError::Timeout { addr, timeout_ms: CONNECT_TIMEOUT.as_millis() as u64 }),
                    }
                }))
            });
            let made = connecting.await;
            self.connecting = None;
            let made = made.map_err(|error| CallError::Connect {
                addr: addr.clone(),
                source: std::io::Error::other(format!("the connecting task failed: {error}")),
            })?;
            self.connection = Some(made?);
        }
        let sender = self.connection.as_mut().expect("connection was just established");
        sender.ready().await.map_err(|source| CallError::Http { addr: addr.clone(), source })?;
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, addr.as_str())
            .body(Full::new(Bytes::from(body)))
            .expect("a request with a static path is valid");
        let response =
            sender.send_request(request).await.map_err(|source| CallError::Http { addr: addr.clone(), source })?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), BODY_BYTES_MAX)
            .collect()
            .await
            .map_err(|e| CallError::Body { addr: addr.clone(), reason: e.to_string() })?
            .to_bytes();
        if status.is_success() {
            Ok(bytes)
        } else {
            Err(CallError::Status {
                addr,
                status: status.as_u16(),
                message: String::from_utf8_lossy(&bytes).into_owned(),
            })
        }
    }
}

impl Drop for HttpClient {
    fn drop(&mut self) {
        // Nobody will use the connection being made.
        if let Some(pending) = &self.connecting {
            pending.abort();
        }
    }
}

/// Keep-alive clients to peers, pooled by address. A call takes an idle client of its address (or makes one) and
/// puts it back only after a success, so a connection that failed or timed out is never reused.
pub struct ClientPool {
    tls: Option<ClientTls>,
    idle: Mutex<BTreeMap<String, Vec<HttpClient>>>,
}

impl ClientPool {
    /// A pool whose connections are secured as `tls` says (plain when `None`: benchmarks only).
    pub fn new(tls: Option<ClientTls>) -> Self {
        Self { tls, idle: Mutex::new(BTreeMap::new()) }
    }

    /// `HttpClient::post` on a pooled client of `addr`.
    pub async fn post(&self, addr: &str, path: &str, body: Vec<u8>, timeout: Duration) -> Result<Bytes, CallError> {
        let mut client = self.take(addr);
        let result = client.post(path, body, timeout).await;
        self.give_back_after(client, &result);
        result
    }

    /// `HttpClient::get` on a pooled client of `addr`.
    pub async fn get(&self, addr: &str, path: &str, timeout: Duration) -> Result<Bytes, CallError> {
        let mut client = self.take(addr);
        let result = client.get(path, timeout).await;
        self.give_back_after(client, &result);
        result
    }

    fn take(&self, addr: &str) -> HttpClient {
        let pooled = self.idle.lock().expect("client pool mutex").get_mut(addr).and_then(|v| v.pop());
        pooled.unwrap_or_else(|| HttpClient::with(addr, self.tls.clone()))
    }

    fn give_back_after(&self, client: HttpClient, result: &Result<Bytes, CallError>) {
        if result.is_ok() {
            self.idle.lock().expect("client pool mutex").entry(client.addr.clone()).or_default().push(client);
        }
    }
}

/// A TCP stream whose `flush` is a no-op when nothing was written since the last flush. madsim's simulated TCP
/// sends one message per flush, even an empty one, and hyper flushes on every wake-up: two connected peers would
/// otherwise bounce empty messages forever, growing every queue. Real TCP flushes are no-ops, so this changes
/// nothing in production.
pub struct QuietFlush<S> {
    inner: S,
    unflushed: bool,
}

impl<S> QuietFlush<S> {
    pub fn new(inner: S) -> Self {
        Self { inner, unflushed: false }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for QuietFlush<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for QuietFlush<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(poll, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.unflushed = true;
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        if !self.unflushed {
            return std::task::Poll::Ready(Ok(()));
        }
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        if matches!(poll, std::task::Poll::Ready(Ok(()))) {
            self.unflushed = false;
        }
        poll
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The scheme prefix of a unix-socket address (`unix:///run/swarm.sock`), as Docker's `-H` takes it.
pub const UNIX_SCHEME: &str = "unix://";

async fn connect(addr: &str, tls: Option<&ClientTls>) -> Result<SendRequest<Full<Bytes>>, CallError> {
    #[cfg(not(madsim))]
    if let Some(path) = addr.strip_prefix(UNIX_SCHEME) {
        let stream = tokio::net::UnixStream::connect(path)
            .await
            .map_err(|source| CallError::Connect { addr: addr.to_string(), source })?;
        return handshake(addr, stream).await;
    }
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|source| CallError::Connect { addr: addr.to_string(), source })?;
    let _ = stream.set_nodelay(true);
    let stream = QuietFlush::new(stream);
    match tls {
        None => handshake(addr, stream).await,
        Some(tls) => {
            let (config, server_name) = tls.for_connection();
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(server_name, stream)
                .await
                .map_err(|error| CallError::Tls { addr: addr.to_string(), reason: handshake_reason(&error) })?;
            handshake(addr, stream).await
        }
    }
}

/// HTTP/1 over an established stream; the connection runs on a task of its own.
async fn handshake<S>(addr: &str, stream: S) -> Result<SendRequest<Full<Bytes>>, CallError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|source| CallError::Http { addr: addr.to_string(), source })?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// A TLS failure in words: rustls's own error when there is one (a bad certificate, an alert from the peer), our
/// verifier's message as it wrote it.
fn handshake_reason(error: &std::io::Error) -> String {
    match rustls_error(error) {
        Some(rustls::Error::General(message)) => message.clone(),
        Some(tls) => tls.to_string(),
        None => error.to_string(),
    }
}

/// What a handler answers: a status and a body.
pub struct Reply {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn ok(body: Vec<u8>) -> Self {
        Self { status: StatusCode::OK, content_type: "application/octet-stream", body }
    }
    pub fn json(status: StatusCode, value: &impl serde::Serialize) -> Self {
        let body = serde_json::to_vec(value).expect("serialising a JSON reply cannot fail");
        Self { status, content_type: "application/json", body }
    }
    pub fn error(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, content_type: "text/plain; charset=utf-8", body: message.into().into_bytes() }
    }
    /// A 200 carrying `value` in postcard (node-to-node bodies); a 500 if it cannot be encoded.
    pub fn postcard(value: &impl serde::Serialize) -> Self {
        match postcard::to_stdvec(value) {
            Ok(bytes) => Reply::ok(bytes),
            Err(e) => Reply::error(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot encode reply: {e}")),
        }
    }
    /// The 400 for a request body that does not decode, naming the endpoint.
    pub fn malformed(path: &str, error: impl std::fmt::Display) -> Self {
        Reply::error(StatusCode::BAD_REQUEST, format!("malformed request body for {path}: {error}"))
    }
}

/// Who sent a request, as the connection it came on says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The control API's unix socket: this node's own operator.
    Local,
    /// A TLS connection without a client certificate: a node joining with a token.
    Anonymous,
    /// A TLS connection with a certificate the cluster's root signed.
    Node(PeerIdentity),
    /// A TCP connection of a server that runs without TLS (benchmarks only): trusted as a manager.
    Plaintext,
}

pub type HandlerFuture = Pin<Box<dyn Future<Output = Reply> + Send>>;
/// Routes one request: (caller, method, path, body) → reply.
pub type Handler = Arc<dyn Fn(Caller, Method, String, Bytes) -> HandlerFuture + Send + Sync>;

/// How long making a connection (TCP connect and TLS handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a TLS handshake may take before the connection is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accept loops per listener. One would do for a real kernel, whose accept takes microseconds; the simulator
/// charges every accept a timer of at least 1 ms (madsim rounds its random connection delay up to tokio's timer
/// resolution), so one loop admits at most 1,000 connections per simulated second. A thousand agents opening
/// their status connections at once then queue for a second, which no real manager would do. Several loops on one
/// listener is an ordinary pattern on real sockets too, so production and simulation run the same code.
const ACCEPT_LOOPS: usize = 16;

/// Accepts connections forever, serving each on its own task, inside TLS with `tls`'s current settings (plain
/// when `None`: benchmarks only). The accept loops are futures of this one task, so aborting it stops accepting.
pub async fn serve(listener: tokio::net::TcpListener, handler: Handler, tls: Option<TlsHandle>) {
    let loops = (0..ACCEPT_LOOPS).map(|_| accept_loop(&listener, handler.clone(), tls.clone()));
    futures::future::join_all(loops).await;
}

async fn accept_loop(listener: &tokio::net::TcpListener, handler: Handler, tls: Option<TlsHandle>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let stream = QuietFlush::new(stream);
        match &tls {
            None => {
                tokio::spawn(serve_connection(stream, handler.clone(), Caller::Plaintext));
            }
            Some(tls) => {
                tokio::spawn(serve_tls_connection(stream, peer, handler.clone(), tls.current().server.clone()));
            }
        }
    }
}

/// Completes the TLS handshake (refusing plain HTTP and certificates the root did not sign, with a log line naming
/// the peer), then serves the connection as the caller its certificate names.
async fn serve_tls_connection<S>(
    stream: S,
    peer: std::net::SocketAddr,
    handler: Handler,
    config: Arc<rustls::ServerConfig>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let accept = tokio_rustls::TlsAcceptor::from(config).accept(stream);
    let stream = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, accept).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) if is_tls_refusal(&error) => {
            tracing::warn!(%peer, reason = %refusal_reason(&error), "refused a connection on the cluster port");
            return;
        }
        Ok(Err(error)) => {
            // The peer went away mid-handshake (a crash, a reset): nothing to refuse.
            tracing::debug!(%peer, %error, "a connection on the cluster port ended during the TLS handshake");
            return;
        }
        Err(_) => {
            tracing::warn!(%peer, "refused a connection on the cluster port: no TLS handshake within 10 s");
            return;
        }
    };
    let caller = match stream.get_ref().1.peer_certificates().and_then(|chain| chain.first()) {
        None => Caller::Anonymous,
        Some(leaf) => match PeerIdentity::from_cert_der(leaf) {
            Ok(identity) => Caller::Node(identity),
            Err(error) => {
                tracing::warn!(%peer, %error, "refused a connection on the cluster port");
                return;
            }
        },
    };
    serve_connection(stream, handler, caller).await;
}

/// Whether a failed handshake was TLS refusing the peer (not TLS at all, a bad certificate, an alert), rather than
/// the connection ending under it.
fn is_tls_refusal(error: &std::io::Error) -> bool {
    rustls_error(error).is_some()
}

/// The rustls error inside an I/O error of a TLS stream, if that is what ended it.
fn rustls_error(error: &std::io::Error) -> Option<&rustls::Error> {
    error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

/// Why a TLS handshake failed, in words an operator reading the log understands.
fn refusal_reason(error: &std::io::Error) -> String {
    match rustls_error(error) {
        Some(rustls::Error::InvalidMessage(_)) => {
            "not TLS (plain HTTP? every connection to the cluster port must use mutual TLS)".to_string()
        }
        Some(rustls::Error::InvalidCertificate(reason)) => {
            format!("its client certificate is not one of this swarm's ({reason:?})")
        }
        Some(other) => other.to_string(),
        None => error.to_string(),
    }
}

/// Accepts connections on a unix socket forever (the daemon's control API), serving each on its own task.
#[cfg(not(madsim))]
pub async fn serve_unix(listener: tokio::net::UnixListener, handler: Handler) {
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                tokio::spawn(serve_connection(stream, handler.clone(), Caller::Local));
            }
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn serve_connection<S>(stream: S, handler: Handler, caller: Caller)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let handler = handler.clone();
        let caller = caller.clone();
        async move { Ok::<_, std::convert::Infallible>(route(handler, caller, request).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .header_read_timeout(None)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// The largest body accepted from a caller without a certificate (a join request is a few KiB): it may only join,
/// so it may not make a manager hold `BODY_BYTES_MAX` either.
const ANONYMOUS_BODY_BYTES_MAX: usize = 64 * 1024;

async fn route(handler: Handler, caller: Caller, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let limit = if caller == Caller::Anonymous { ANONYMOUS_BODY_BYTES_MAX } else { BODY_BYTES_MAX };
    let reply = match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => handler(caller, method, path, collected.to_bytes()).await,
        Err(error) => Reply::error(StatusCode::PAYLOAD_TOO_LARGE, format!("request body rejected: {error}")),
    };
    Response::builder()
        .status(reply.status)
        .header(hyper::header::CONTENT_TYPE, reply.content_type)
        .body(Full::new(Bytes::from(reply.body)))
        .expect("a response built from a status and bytes is valid")
}
