//! The node's DNS server: UDP and TCP on each of the node's overlay gateway addresses, answering A queries for
//! the names in its `DnsRecords` (TTL 600, as Docker) and forwarding everything else to the client task's own
//! nameservers (its spec's `--dns`, which the records carry) or, for a task without any, the host's resolvers. The
//! agent swaps the records (`set_records`) and reconciles the listen addresses (`set_listen_addrs`) as the
//! node's overlay plan changes; both take effect at once, with no restart. Compiled out of the simulator (real
//! sockets). Invariants: nothing a client sends can panic it (a packet that does not parse is dropped, logged at
//! debug); a name of ours never leaves the node (any record type of a name we answer is answered here, empty but
//! for A); forwards are bounded (`max_concurrent_forwards`, then SERVFAIL) and never sent to 127.0.0.11 or to one
//! of our own listeners.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, Metadata, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::records::{DnsRecords, Resolution};
use crate::watch;

/// DNS's port.
pub const DNS_PORT: u16 = 53;
/// The TTL of our answers, Docker's.
pub const ANSWER_TTL_SECS: u32 = 600;
/// Docker's embedded resolver inside containers: never an upstream (it would send the query back to us).
pub const DOCKER_EMBEDDED_RESOLVER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
/// Where the host's resolvers are listed.
pub const RESOLV_CONF: &str = "/etc/resolv.conf";

/// A TCP client silent this long is disconnected.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// The largest DNS message (TCP's length prefix is 16 bits; UDP datagrams are no larger).
const MESSAGE_MAX: usize = 65_535;
/// A DNS header's length: anything shorter is not a message.
const HEADER_LEN: usize = 12;
/// Tries to find a port free for both UDP and TCP when the configured port is 0 (tests).
const EPHEMERAL_PORT_TRIES: usize = 8;

/// How the server listens and forwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// The port on every listen address: `DNS_PORT` in production; 0 picks one free port per address (tests).
    pub port: u16,
    /// Where queries that are not ours go, tried in order, unless the client's task names its own servers.
    pub upstreams: Vec<SocketAddr>,
    /// How long one upstream gets to answer before the next is tried.
    pub forward_timeout: Duration,
    /// How long one forward takes at most over all upstreams before the client gets SERVFAIL: under the 4 s that
    /// Docker's embedded resolver waits for its `--dns` server, so the container hears our SERVFAIL rather than
    /// nothing.
    pub forward_budget: Duration,
    /// Forwards in flight at once over all listeners; a query past it is answered SERVFAIL.
    pub max_concurrent_forwards: usize,
    /// TCP connections open at once over all listeners; a connection past it is closed at once.
    pub max_tcp_connections: usize,
}

impl DnsConfig {
    /// Port 53, the host's resolvers from /etc/resolv.conf (none, with a warning, if it cannot be read), 2 s per
    /// upstream try, and Docker's bound of 1024 concurrent forwards.
    pub fn from_host() -> Self {
        let upstreams = match std::fs::read_to_string(RESOLV_CONF) {
            Ok(text) => upstreams_from_resolv_conf(&text),
            Err(e) => {
                warn!("DNS: cannot read {RESOLV_CONF}: {e}; names that are not ours will fail");
                Vec::new()
            }
        };
        Self { upstreams, ..Self::default() }
    }
}

impl Default for DnsConfig {
    /// Port 53, no upstreams.
    fn default() -> Self {
        Self {
            port: DNS_PORT,
            upstreams: Vec::new(),
            forward_timeout: Duration::from_secs(2),
            forward_budget: Duration::from_secs(3),
            max_concurrent_forwards: 1024,
            max_tcp_connections: 256,
        }
    }
}

/// The `nameserver` addresses of a resolv.conf text, on port 53, in order, without Docker's embedded resolver.
/// Lines that do not parse are skipped; an IPv6 zone (`fe80::1%eth0`) is not supported and skipped too.
pub fn upstreams_from_resolv_conf(text: &str) -> Vec<SocketAddr> {
    let mut upstreams = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let Some(Ok(ip)) = words.next().map(str::parse::<IpAddr>) else { continue };
        let addr = SocketAddr::new(ip, DNS_PORT);
        if ip != IpAddr::V4(DOCKER_EMBEDDED_RESOLVER) && !upstreams.contains(&addr) {
            upstreams.push(addr);
        }
    }
    upstreams
}

/// A listen address the server could not take.
#[derive(Debug, thiserror::Error)]
#[error("DNS: cannot listen on {addr} ({protocol}): {source}")]
pub struct ListenError {
    pub addr: SocketAddr,
    pub protocol: &'static str,
    #[source]
    pub source: io::Error,
}

/// The node's DNS server. Dropping it closes every listener and ends every connection.
pub struct DnsServer {
    shared: Arc<Shared>,
    /// By listen address.
    listeners: Mutex<BTreeMap<Ipv4Addr, Listener>>,
    /// Serialises `set_listen_addrs`, which binds without holding `listeners`.
    reconciling: tokio::sync::Mutex<()>,
}

struct Shared {
    records: RwLock<Arc<DnsRecords>>,
    config: DnsConfig,
    forwards: Arc<Semaphore>,
    tcp_connections: Arc<Semaphore>,
    /// Our listeners' addresses: never forwarded to.
    own: RwLock<Vec<IpAddr>>,
}

/// One listen address: its UDP and TCP loops, and the stop signal of the TCP connections it accepted.
struct Listener {
    udp: SocketAddr,
    loops: Vec<JoinHandle<()>>,
    /// Dropped with the listener: its connections see the channel close and end.
    _stop: watch::Sender<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        for task in &self.loops {
            task.abort();
        }
    }
}

impl DnsServer {
    /// A server with no records and no listeners yet.
    pub fn new(config: DnsConfig) -> Self {
        let shared = Shared {
            records: RwLock::new(Arc::new(DnsRecords::default())),
            forwards: Arc::new(Semaphore::new(config.max_concurrent_forwards)),
            tcp_connections: Arc::new(Semaphore::new(config.max_tcp_connections)),
            config,
            own: RwLock::new(Vec::new()),
        };
        Self { shared: Arc::new(shared), listeners: Mutex::new(BTreeMap::new()), reconciling: Default::default() }
    }

    /// Replaces the records; queries read after this see the new table whole.
    pub fn set_records(&self, records: DnsRecords) {
        debug!(names = records.name_count(), "DNS: records replaced");
        *self.shared.records.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(records);
    }

    /// Listens on exactly `addrs` (UDP and TCP on the configured port): opens the missing ones, closes the others.
    /// Returns the addresses it could not take (e.g. a gateway not yet on its bridge); the others are served, and
    /// calling again retries the failed ones.
    pub async fn set_listen_addrs(&self, addrs: &[Ipv4Addr]) -> Vec<ListenError> {
        let _serialised = self.reconciling.lock().await;
        let missing: Vec<Ipv4Addr> = {
            let mut listeners = self.listeners.lock().unwrap_or_else(PoisonError::into_inner);
            listeners.retain(|addr, _| {
                let keep = addrs.contains(addr);
                if !keep {
                    info!("DNS: stopped listening on {addr}");
                }
                keep
            });
            addrs.iter().filter(|addr| !listeners.contains_key(addr)).copied().collect()
        };
        let mut errors = Vec::new();
        for addr in missing {
            match self.listen(addr).await {
                Ok(listener) => {
                    info!("DNS: listening on {}", listener.udp);
                    self.listeners.lock().unwrap_or_else(PoisonError::into_inner).insert(addr, listener);
                }
                Err(e) => errors.push(e),
            }
        }
        let own: Vec<IpAddr> =
            self.listeners.lock().unwrap_or_else(PoisonError::into_inner).keys().map(|a| IpAddr::V4(*a)).collect();
        *self.shared.own.write().unwrap_or_else(PoisonError::into_inner) = own;
        errors
    }

    /// The addresses served now (UDP and TCP share each), sorted.
    pub fn listen_addrs(&self) -> Vec<SocketAddr> {
        self.listeners.lock().unwrap_or_else(PoisonError::into_inner).values().map(|l| l.udp).collect()
    }

    async fn listen(&self, addr: Ipv4Addr) -> Result<Listener, ListenError> {
        let (udp, tcp) = bind_pair(addr, self.shared.config.port).await?;
        let local =
            udp.local_addr().map_err(|source| ListenError { addr: (addr, 0).into(), protocol: "udp", source })?;
        let (stop, stopped) = watch::channel(());
        let loops = vec![
            tokio::spawn(serve_udp(self.shared.clone(), Arc::new(udp))),
            tokio::spawn(serve_tcp(self.shared.clone(), tcp, stopped)),
        ];
        Ok(Listener { udp: local, loops, _stop: stop })
    }
}

/// A UDP socket and a TCP listener on the same `addr:port`; with port 0, one ephemeral port free for both.
async fn bind_pair(addr: Ipv4Addr, port: u16) -> Result<(UdpSocket, TcpListener), ListenError> {
    let tries = if port == 0 { EPHEMERAL_PORT_TRIES } else { 1 };
    let mut last = None;
    for _ in 0..tries {
        let at = SocketAddr::from((addr, port));
        let udp = UdpSocket::bind(at).await.map_err(|source| ListenError { addr: at, protocol: "udp", source })?;
        let bound = udp.local_addr().map_err(|source| ListenError { addr: at, protocol: "udp", source })?;
        match TcpListener::bind(bound).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(source) => last = Some(ListenError { addr: bound, protocol: "tcp", source }),
        }
    }
    Err(last.unwrap_or_else(|| ListenError {
        addr: (addr, port).into(),
        protocol: "tcp",
        source: io::Error::other("no port free for both UDP and TCP"),
    }))
}

/// What to do with one received packet.
enum Step {
    Reply(Vec<u8>),
    /// Not ours: forward the packet as it came; the parsed query builds the SERVFAIL if forwarding fails.
    Forward(Box<Message>),
    Drop,
}

impl Shared {
    fn records(&self) -> Arc<DnsRecords> {
        self.records.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Where a query from `peer` that is not ours goes: its task's own nameservers, else the host's resolvers.
    fn upstreams_for(&self, peer: SocketAddr) -> Vec<SocketAddr> {
        let own = match peer.ip() {
            IpAddr::V4(client) => self.records().upstreams(client).map(<[SocketAddr]>::to_vec),
            IpAddr::V6(_) => None,
        };
        own.unwrap_or_else(|| self.config.upstreams.clone())
    }

    /// Answers `packet` from `peer` locally, or says to forward or drop it. `udp` bounds the reply's size.
    fn handle(&self, packet: &[u8], peer: SocketAddr, udp: bool) -> Step {
        let query = match Message::from_vec(packet) {
            Ok(query) => query,
            Err(e) => {
                debug!("DNS: dropped an unparsable packet of {} bytes from {peer}: {e}", packet.len());
                return Step::Drop;
            }
        };
        if query.metadata.message_type != MessageType::Query {
            debug!("DNS: dropped a response from {peer}");
            return Step::Drop;
        }
        if query.metadata.op_code != OpCode::Query {
            return reply_or_drop(&error_response(&query, ResponseCode::NotImp), peer);
        }
        let [question] = query.queries.as_slice() else {
            return reply_or_drop(&error_response(&query, ResponseCode::FormErr), peer);
        };
        let IpAddr::V4(client) = peer.ip() else { return Step::Forward(Box::new(query)) };
        if question.query_class() != DNSClass::IN {
            return Step::Forward(Box::new(query));
        }
        match self.records().resolve(client, &question.name().to_ascii()) {
            Resolution::NotOurs => Step::Forward(Box::new(query)),
            Resolution::Answer(addrs) => {
                let response = local_answer(&query, question, &addrs);
                match encode_for(&response, &query, udp) {
                    Some(bytes) => Step::Reply(bytes),
                    None => reply_or_drop(&error_response(&query, ResponseCode::ServFail), peer),
                }
            }
        }
    }

    /// The upstream's reply to `packet` (forwarded unchanged, so the reply carries the client's id), trying each
    /// of `upstreams` in turn within `forward_budget`; `None` if none answered. A truncated reply to a TCP client
    /// is retried over TCP.
    async fn forward(&self, packet: &[u8], tcp_client: bool, upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
        let budget = self.config.forward_budget;
        let reply = tokio::time::timeout(budget, self.forward_in_turn(packet, tcp_client, upstreams)).await;
        reply.unwrap_or_else(|_| {
            debug!("DNS: no upstream answered in {budget:?}");
            None
        })
    }

    async fn forward_in_turn(&self, packet: &[u8], tcp_client: bool, upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
        let own = self.own.read().unwrap_or_else(PoisonError::into_inner).clone();
        let upstreams = upstreams
            .iter()
            .filter(|upstream| upstream.ip() != IpAddr::V4(DOCKER_EMBEDDED_RESOLVER) && !own.contains(&upstream.ip()));
        let limit = self.config.forward_timeout;
        for upstream in upstreams {
            match tokio::time::timeout(limit, forward_udp(*upstream, packet)).await {
                Ok(Ok(reply)) if tcp_client && is_truncated(&reply) => {
                    match tokio::time::timeout(limit, exchange_tcp(*upstream, packet)).await {
                        Ok(Ok(reply)) => return Some(reply),
                        Ok(Err(e)) => debug!("DNS: upstream {upstream} over TCP: {e}"),
                        Err(_) => debug!("DNS: upstream {upstream} over TCP: no answer in {limit:?}"),
                    }
                    return Some(reply);
                }
                Ok(Ok(reply)) => return Some(reply),
                Ok(Err(e)) => debug!("DNS: upstream {upstream}: {e}"),
                Err(_) => debug!("DNS: upstream {upstream}: no answer in {limit:?}"),
            }
        }
        None
    }

    /// A permit to forward, or `None` when `max_concurrent_forwards` are in flight.
    fn forward_permit(&self) -> Option<OwnedSemaphorePermit> {
        let permit = self.forwards.clone().try_acquire_owned().ok();
        if permit.is_none() {
            debug!("DNS: {} forwards in flight; answering SERVFAIL", self.config.max_concurrent_forwards);
        }
        permit
    }
}

fn reply_or_drop(response: &Message, peer: SocketAddr) -> Step {
    match response.to_vec() {
        Ok(bytes) => Step::Reply(bytes),
        Err(e) => {
            debug!("DNS: cannot encode a reply to {peer}: {e}");
            Step::Drop
        }
    }
}

/// The reply to `query` with `code` and no records.
fn error_response(query: &Message, code: ResponseCode) -> Message {
    let mut response = Message::response(query.metadata.id, query.metadata.op_code);
    response.metadata = Metadata::response_from_request(&query.metadata);
    response.metadata.recursion_available = true;
    response.metadata.response_code = code;
    response.add_queries(query.queries.iter().cloned());
    if query.edns.is_some() {
        response.set_edns(Edns::new());
    }
    response
}

/// The SERVFAIL reply to `query`, encoded, if it encodes.
fn servfail(query: &Message) -> Option<Vec<u8>> {
    error_response(query, ResponseCode::ServFail).to_vec().ok()
}

/// Our answer to `question`: `addrs` as A records for an A query, no records (NOERROR) for any other type.
fn local_answer(query: &Message, question: &Query, addrs: &[Ipv4Addr]) -> Message {
    let mut response = error_response(query, ResponseCode::NoError);
    response.metadata.authoritative = true;
    if question.query_type() == RecordType::A {
        for addr in addrs {
            response.add_answer(Record::from_rdata(question.name().clone(), ANSWER_TTL_SECS, RData::A(A(*addr))));
        }
    }
    response
}

/// `response` encoded; over UDP, truncated (TC set, no records) when larger than the client accepts, so the
/// client retries over TCP.
fn encode_for(response: &Message, query: &Message, udp: bool) -> Option<Vec<u8>> {
    let bytes = response.to_vec().ok()?;
    if udp && bytes.len() > usize::from(query.max_payload()) {
        return response.truncate().to_vec().ok();
    }
    Some(bytes)
}

/// Whether a DNS message's TC bit is set.
fn is_truncated(message: &[u8]) -> bool {
    message.get(2).is_some_and(|flags| flags & 0x02 != 0)
}

/// Sends `packet` to `upstream` over UDP and waits for the reply with its id (the caller bounds the wait).
async fn forward_udp(upstream: SocketAddr, packet: &[u8]) -> io::Result<Vec<u8>> {
    let local: SocketAddr = match upstream {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(upstream).await?;
    socket.send(packet).await?;
    let mut buf = vec![0u8; MESSAGE_MAX];
    loop {
        let len = socket.recv(&mut buf).await?;
        // A stray datagram (another id, or not a message) is skipped: the connected socket takes only the upstream's.
        if len >= HEADER_LEN && buf[..2] == packet[..2] {
            buf.truncate(len);
            return Ok(buf);
        }
    }
}

/// One query and its reply over a fresh TCP connection to `upstream` (the caller bounds the wait).
async fn exchange_tcp(upstream: SocketAddr, packet: &[u8]) -> io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(upstream).await?;
    write_framed(&mut stream, packet).await?;
    read_framed(&mut stream).await?.ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "closed"))
}

/// Writes one length-prefixed DNS message (RFC 1035 §4.2.2).
async fn write_framed(stream: &mut TcpStream, message: &[u8]) -> io::Result<()> {
    let len = u16::try_from(message.len()).map_err(|_| io::Error::other("message over 65,535 bytes"))?;
    let mut framed = Vec::with_capacity(message.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(message);
    stream.write_all(&framed).await
}

/// Reads one length-prefixed DNS message; `None` if the peer closed before a new one began.
async fn read_framed(stream: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match stream.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut message = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut message).await?;
    Ok(Some(message))
}

async fn serve_udp(shared: Arc<Shared>, socket: Arc<UdpSocket>) {
    let mut buf = vec![0u8; MESSAGE_MAX];
    loop {
        let (len, peer) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(e) => {
                debug!("DNS: UDP receive: {e}");
                // An error that repeats (none is known on Linux) must not spin a core.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let packet = &buf[..len];
        let reply = match shared.handle(packet, peer, true) {
            Step::Reply(bytes) => bytes,
            Step::Drop => continue,
            Step::Forward(query) => {
                let Some(permit) = shared.forward_permit() else {
                    if let Some(bytes) = servfail(&query) {
                        send_udp(&socket, &bytes, peer).await;
                    }
                    continue;
                };
                // The forward holds the socket weakly: a closed listener's port is free again at once (to be
                // taken again if the network comes back), and its forwards in flight answer nobody.
                let (shared, socket, packet) = (shared.clone(), Arc::downgrade(&socket), packet.to_vec());
                let upstreams = shared.upstreams_for(peer);
                tokio::spawn(async move {
                    let _permit = permit;
                    let reply = shared.forward(&packet, false, &upstreams).await.or_else(|| servfail(&query));
                    if let (Some(bytes), Some(socket)) = (reply, socket.upgrade()) {
                        send_udp(&socket, &bytes, peer).await;
                    }
                });
                continue;
            }
        };
        send_udp(&socket, &reply, peer).await;
    }
}

async fn send_udp(socket: &UdpSocket, bytes: &[u8], peer: SocketAddr) {
    if let Err(e) = socket.send_to(bytes, peer).await {
        debug!("DNS: UDP reply to {peer}: {e}");
    }
}

async fn serve_tcp(shared: Arc<Shared>, listener: TcpListener, stop: watch::Receiver<()>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, mostly: wait for some to be freed rather than spin.
                debug!("DNS: TCP accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = shared.tcp_connections.clone().try_acquire_owned() else {
            debug!("DNS: {} TCP connections open; closed the one from {peer}", shared.config.max_tcp_connections);
            continue;
        };
        let (shared, stop) = (shared.clone(), stop.clone());
        tokio::spawn(async move {
            let _permit = permit;
            serve_tcp_connection(shared, stream, peer, stop).await;
        });
    }
}

/// Answers queries on one TCP connection, in order, until the client closes it, stays idle for `TCP_IDLE`,
/// sends something that is not a DNS message, or the listener is closed.
async fn serve_tcp_connection(
    shared: Arc<Shared>,
    mut stream: TcpStream,
    peer: SocketAddr,
    mut stop: watch::Receiver<()>,
) {
    loop {
        let packet = tokio::select! {
            biased;
            _ = stop.changed() => return,
            read = tokio::time::timeout(TCP_IDLE, read_framed(&mut stream)) => match read {
                Ok(Ok(Some(packet))) => packet,
                Ok(Ok(None)) | Err(_) => return,
                Ok(Err(e)) => {
                    debug!("DNS: TCP from {peer}: {e}");
                    return;
                }
            },
        };
        let reply = match shared.handle(&packet, peer, false) {
            Step::Reply(bytes) => Some(bytes),
            Step::Drop => return,
            Step::Forward(query) => match shared.forward_permit() {
                Some(_permit) => {
                    shared.forward(&packet, true, &shared.upstreams_for(peer)).await.or_else(|| servfail(&query))
                }
                None => servfail(&query),
            },
        };
        let Some(reply) = reply else { return };
        if let Err(e) = write_framed(&mut stream, &reply).await {
            debug!("DNS: TCP reply to {peer}: {e}");
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_upstreams_skip_docker_and_garbage() {
        let text = "# generated\nsearch example.com\nnameserver 127.0.0.11\nnameserver 10.0.0.2\n\
                    nameserver   2001:db8::1  \nnameserver fe80::1%eth0\nnameserver\nnameserver 10.0.0.2\n\
                    options ndots:0\n";
        let want: Vec<SocketAddr> = vec!["10.0.0.2:53".parse().unwrap(), "[2001:db8::1]:53".parse().unwrap()];
        assert_eq!(upstreams_from_resolv_conf(text), want);
    }

    #[test]
    fn garbage_is_dropped_and_odd_queries_get_errors() {
        let shared = Shared {
            records: RwLock::new(Arc::new(DnsRecords::default())),
            config: DnsConfig::default(),
            forwards: Arc::new(Semaphore::new(1)),
            tcp_connections: Arc::new(Semaphore::new(1)),
            own: RwLock::new(Vec::new()),
        };
        let peer: SocketAddr = "10.0.0.5:4000".parse().unwrap();
        for garbage in [&b""[..], &b"\x00"[..], &[0xff; 12][..], &[0xab; 300][..]] {
            assert!(matches!(shared.handle(garbage, peer, true), Step::Drop), "{garbage:?}");
        }
        let mut two_questions = Message::query();
        two_questions.add_query(Query::query("a.".parse().unwrap(), RecordType::A));
        two_questions.add_query(Query::query("b.".parse().unwrap(), RecordType::A));
        let Step::Reply(bytes) = shared.handle(&two_questions.to_vec().unwrap(), peer, true) else {
            panic!("two questions: expected FORMERR")
        };
        assert_eq!(Message::from_vec(&bytes).unwrap().metadata.response_code, ResponseCode::FormErr);
        let mut response = Message::query();
        response.metadata.message_type = MessageType::Response;
        assert!(matches!(shared.handle(&response.to_vec().unwrap(), peer, true), Step::Drop));
    }
}
