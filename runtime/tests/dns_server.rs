//! The node's DNS server on real sockets: it listens on 127.0.58.1 (an ephemeral port), clients query it from
//! their own loopback addresses (their "task addresses"), and a fake upstream on 127.0.58.2 answers every name it
//! is sent with 192.0.2.7, so the forward path is tested without the internet. What the server is held to:
//! answers over UDP and TCP by the records' rules, a name on a network the client does not share goes upstream,
//! AAAA for our names is empty, records swap at once, a dead upstream gives SERVFAIL, a large answer truncates
//! over UDP and comes whole over TCP, garbage does not stop it, closed listeners stop answering, and a task with
//! its own `--dns` servers has its other names forwarded there instead.

#![cfg(not(madsim))]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use swarm_core::ipam::Ipv4Cidr;
use swarm_core::overlay::{NodeOverlayPlan, OverlayNetworkPlan, ServiceEndpoints, TaskEndpoint};
use swarm_core::NetworkAttachment;
use swarm_runtime::worker::dns::server::{DnsConfig, DnsServer};
use swarm_runtime::worker::dns::DnsRecords;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, UdpSocket};

const SERVER: Ipv4Addr = Ipv4Addr::new(127, 0, 58, 1);
const UPSTREAM: Ipv4Addr = Ipv4Addr::new(127, 0, 58, 2);
/// A task on `front` (127.0.58.0/25).
const FRONT_CLIENT: Ipv4Addr = Ipv4Addr::new(127, 0, 58, 10);
/// A task on `back` (127.0.58.128/25).
const BACK_CLIENT: Ipv4Addr = Ipv4Addr::new(127, 0, 58, 130);
/// What the fake upstream answers.
const UPSTREAM_ANSWER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 7);
/// Where a task's own `--dns` server listens, and what it answers.
const TASK_UPSTREAM: Ipv4Addr = Ipv4Addr::new(127, 0, 58, 4);
const TASK_UPSTREAM_ANSWER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 9);
const WAIT: Duration = Duration::from_secs(5);

fn ip(text: &str) -> Ipv4Addr {
    text.parse().expect("test address")
}

fn network(id: &str, subnet: &str, services: Vec<ServiceEndpoints>) -> OverlayNetworkPlan {
    OverlayNetworkPlan {
        network_id: id.to_string(),
        name: id.to_string(),
        subnet: Ipv4Cidr::parse(subnet).expect("test subnet"),
        local_gateway: SERVER,
        vxlan_id: 4097,
        internal: false,
        encrypted: false,
        remote_peers: Vec::new(),
        remote_endpoints: Vec::new(),
        services,
    }
}

fn service(name: &str, vip: Option<&str>, tasks: &[(&str, &str)]) -> ServiceEndpoints {
    ServiceEndpoints {
        name: name.to_string(),
        aliases: vec![format!("{name}-alias")],
        vip: vip.map(ip),
        tasks: tasks.iter().map(|(addr, name)| TaskEndpoint { addr: ip(addr), name: name.to_string() }).collect(),
    }
}

/// `web` (VIP, two tasks) on `front`; `db` (dnsrr, `db_tasks` tasks) on `back`.
fn records(db_tasks: usize) -> DnsRecords {
    let web = service("web", Some("127.0.58.3"), &[("127.0.58.10", "web.1.a"), ("127.0.58.11", "web.2.b")]);
    let db_addrs: Vec<(String, String)> =
        (0..db_tasks).map(|i| (format!("127.0.58.{}", 131 + i), format!("db.{}.t{i}", i + 1))).collect();
    let db_refs: Vec<(&str, &str)> = db_addrs.iter().map(|(a, n)| (a.as_str(), n.as_str())).collect();
    let db = service("db", None, &db_refs);
    let plan = NodeOverlayPlan {
        networks: vec![network("back", "127.0.58.128/25", vec![db]), network("front", "127.0.58.0/25", vec![web])],
        data_path_port: 4789,
        mesh: Default::default(),
        tunnel: Default::default(),
    };
    let front_task = [NetworkAttachment { network_id: "front".into(), addr: FRONT_CLIENT }];
    let back_task = [NetworkAttachment { network_id: "back".into(), addr: BACK_CLIENT }];
    DnsRecords::from_plan(&plan, [&front_task[..], &back_task[..]])
}

/// A fake upstream on UDP: answers every query with one A record, `UPSTREAM_ANSWER`.
async fn start_upstream() -> SocketAddr {
    start_upstream_on(UPSTREAM, UPSTREAM_ANSWER).await
}

/// A fake upstream on UDP at `at` (an ephemeral port): answers every query with one A record, `answer`.
async fn start_upstream_on(at: Ipv4Addr, answer: Ipv4Addr) -> SocketAddr {
    let socket = UdpSocket::bind((at, 0)).await.expect("bind the fake upstream");
    let addr = socket.local_addr().expect("its address");
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_535];
        while let Ok((len, peer)) = socket.recv_from(&mut buf).await {
            let Ok(query) = Message::from_vec(&buf[..len]) else { continue };
            let mut response = Message::response(query.metadata.id, query.metadata.op_code);
            response.metadata.recursion_available = true;
            response.add_queries(query.queries.iter().cloned());
            if let Some(question) = query.queries.first() {
                response.add_answer(Record::from_rdata(question.name().clone(), 60, RData::A(A(answer))));
            }
            let _ = socket.send_to(&response.to_vec().expect("encode"), peer).await;
        }
    });
    addr
}

fn query_bytes(name: &str, kind: RecordType) -> Vec<u8> {
    let mut query = Message::query();
    query.metadata.recursion_desired = true;
    query.add_query(Query::query(Name::from_ascii(name).expect("test name"), kind));
    query.to_vec().expect("encode the query")
}

async fn ask_udp(from: Ipv4Addr, server: SocketAddr, name: &str, kind: RecordType) -> Message {
    let socket = UdpSocket::bind((from, 0)).await.expect("bind the client");
    let query = query_bytes(name, kind);
    socket.send_to(&query, server).await.expect("send");
    let mut buf = vec![0u8; 65_535];
    let (len, _) =
        tokio::time::timeout(WAIT, socket.recv_from(&mut buf)).await.expect("an answer in time").expect("recv");
    let reply = Message::from_vec(&buf[..len]).expect("a DNS reply");
    assert_eq!(buf[..2], query[..2], "the reply carries the query's id");
    reply
}

async fn ask_tcp(from: Ipv4Addr, server: SocketAddr, name: &str, kind: RecordType) -> std::io::Result<Message> {
    let socket = TcpSocket::new_v4()?;
    socket.bind((from, 0).into())?;
    let mut stream = socket.connect(server).await?;
    let query = query_bytes(name, kind);
    stream.write_all(&(query.len() as u16).to_be_bytes()).await?;
    stream.write_all(&query).await?;
    let mut len = [0u8; 2];
    tokio::time::timeout(WAIT, stream.read_exact(&mut len)).await.expect("an answer in time")?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).await?;
    Ok(Message::from_vec(&buf).expect("a DNS reply"))
}

fn addrs(reply: &Message) -> Vec<Ipv4Addr> {
    reply.answers.iter().filter_map(|r| if let RData::A(A(addr)) = &r.data { Some(*addr) } else { None }).collect()
}

async fn server_with(upstream: SocketAddr, db_tasks: usize) -> (DnsServer, SocketAddr) {
    let config = DnsConfig { port: 0, upstreams: vec![upstream], ..DnsConfig::default() };
    let server = DnsServer::new(config);
    server.set_records(records(db_tasks));
    let errors = server.set_listen_addrs(&[SERVER]).await;
    assert!(errors.is_empty(), "{errors:?}");
    let listening = server.listen_addrs();
    assert_eq!(listening.len(), 1);
    (server, listening[0])
}

#[tokio::test]
async fn answers_our_names_and_forwards_the_rest() {
    let upstream = start_upstream().await;
    let (server, at) = server_with(upstream, 2).await;

    let web = ask_udp(FRONT_CLIENT, at, "web", RecordType::A).await;
    assert_eq!(web.metadata.message_type, MessageType::Response);
    assert_eq!(web.metadata.response_code, ResponseCode::NoError);
    assert!(web.metadata.authoritative);
    assert_eq!(addrs(&web), [ip("127.0.58.3")]);
    assert_eq!(web.answers[0].ttl, 600);

    let tasks = ask_udp(FRONT_CLIENT, at, "TASKS.web-alias.", RecordType::A).await;
    assert_eq!(addrs(&tasks), [ip("127.0.58.10"), ip("127.0.58.11")]);
    let task = ask_udp(FRONT_CLIENT, at, "web.2.b", RecordType::A).await;
    assert_eq!(addrs(&task), [ip("127.0.58.11")]);

    let aaaa = ask_udp(FRONT_CLIENT, at, "web", RecordType::AAAA).await;
    assert_eq!(aaaa.metadata.response_code, ResponseCode::NoError);
    assert!(aaaa.answers.is_empty(), "{aaaa:?}");

    // `db` is on `back` only: the front client's query goes upstream; the back client gets the tasks (dnsrr).
    let refused = ask_udp(FRONT_CLIENT, at, "db", RecordType::A).await;
    assert_eq!(addrs(&refused), [UPSTREAM_ANSWER], "forwarded: {refused:?}");
    assert!(!refused.metadata.authoritative);
    let db = ask_udp(BACK_CLIENT, at, "db", RecordType::A).await;
    assert_eq!(addrs(&db), [ip("127.0.58.131"), ip("127.0.58.132")]);
    // A stranger (no task of ours) is forwarded, whatever it asks; so is any name we do not know.
    let stranger = ask_udp(Ipv4Addr::new(127, 0, 58, 99), at, "web", RecordType::A).await;
    assert_eq!(addrs(&stranger), [UPSTREAM_ANSWER]);
    let outside = ask_udp(FRONT_CLIENT, at, "example.org", RecordType::A).await;
    assert_eq!(addrs(&outside), [UPSTREAM_ANSWER]);

    // TCP: the same answers, and the visibility rule.
    let tcp = ask_tcp(FRONT_CLIENT, at, "tasks.web", RecordType::A).await.expect("TCP query");
    assert_eq!(addrs(&tcp), [ip("127.0.58.10"), ip("127.0.58.11")]);
    let tcp_refused = ask_tcp(FRONT_CLIENT, at, "tasks.db", RecordType::A).await.expect("TCP query");
    assert_eq!(addrs(&tcp_refused), [UPSTREAM_ANSWER]);

    // Records swap at once: `db` scaled to zero answers empty, not upstream.
    server.set_records(records(0));
    let none = ask_udp(BACK_CLIENT, at, "db", RecordType::A).await;
    assert_eq!(none.metadata.response_code, ResponseCode::NoError);
    assert!(none.answers.is_empty(), "{none:?}");
}

#[tokio::test]
async fn survives_garbage_truncates_large_answers_and_closes_listeners() {
    // No upstream listens on 127.0.58.2:9: forwards fail, and the client gets SERVFAIL.
    let dead: SocketAddr = (UPSTREAM, 9).into();
    let (server, at) = server_with(dead, 60).await;

    let client = UdpSocket::bind((FRONT_CLIENT, 0)).await.expect("bind");
    for garbage in [&b""[..], &b"\x01\x02\x03"[..], &[0xff; 64][..]] {
        client.send_to(garbage, at).await.expect("send garbage");
    }
    let web = ask_udp(FRONT_CLIENT, at, "web", RecordType::A).await;
    assert_eq!(addrs(&web), [ip("127.0.58.3")], "still answering after garbage");

    let failed = ask_udp(FRONT_CLIENT, at, "example.org", RecordType::A).await;
    assert_eq!(failed.metadata.response_code, ResponseCode::ServFail);

    // 60 dnsrr tasks do not fit in 512 bytes: TC over UDP, whole over TCP.
    let truncated = ask_udp(BACK_CLIENT, at, "db", RecordType::A).await;
    assert!(truncated.metadata.truncation, "{truncated:?}");
    assert!(truncated.answers.is_empty());
    let whole = ask_tcp(BACK_CLIENT, at, "db", RecordType::A).await.expect("TCP query");
    assert_eq!(addrs(&whole).len(), 60);

    server.set_listen_addrs(&[]).await;
    assert!(server.listen_addrs().is_empty());
    assert!(ask_tcp(FRONT_CLIENT, at, "web", RecordType::A).await.is_err(), "the TCP listener is closed");
    let socket = UdpSocket::bind((FRONT_CLIENT, 0)).await.expect("bind");
    socket.send_to(&query_bytes("web", RecordType::A), at).await.expect("send");
    let mut buf = [0u8; 512];
    let answer = tokio::time::timeout(Duration::from_millis(300), socket.recv_from(&mut buf)).await;
    assert!(!matches!(answer, Ok(Ok(_))), "the UDP listener is closed");
}

#[tokio::test]
async fn a_silent_upstream_gives_servfail_within_the_budget() {
    // An upstream that reads and never answers: each try times out, and the whole forward stops at the budget.
    let silent = UdpSocket::bind((UPSTREAM, 0)).await.expect("bind the silent upstream");
    let silent_addr = silent.local_addr().expect("its address");
    let config = DnsConfig {
        port: 0,
        upstreams: vec![silent_addr, silent_addr, silent_addr],
        forward_timeout: Duration::from_millis(200),
        forward_budget: Duration::from_millis(300),
        ..DnsConfig::default()
    };
    let server = DnsServer::new(config);
    server.set_records(records(1));
    assert!(server.set_listen_addrs(&[SERVER]).await.is_empty());
    let at = server.listen_addrs()[0];
    let started = std::time::Instant::now();
    let failed = ask_udp(FRONT_CLIENT, at, "example.org", RecordType::A).await;
    assert_eq!(failed.metadata.response_code, ResponseCode::ServFail);
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    drop(silent);
}

#[tokio::test]
async fn a_task_with_its_own_nameservers_has_its_other_names_forwarded_there() {
    let host_upstream = start_upstream().await;
    let task_upstream = start_upstream_on(TASK_UPSTREAM, TASK_UPSTREAM_ANSWER).await;
    let config = DnsConfig { port: 0, upstreams: vec![host_upstream], ..DnsConfig::default() };
    let server = DnsServer::new(config);
    let mut records = records(2);
    // The front task's spec says `--dns` (its server on an ephemeral port here, 53 in production).
    records.set_upstreams(&[NetworkAttachment { network_id: "front".into(), addr: FRONT_CLIENT }], &[task_upstream]);
    server.set_records(records);
    assert!(server.set_listen_addrs(&[SERVER]).await.is_empty());
    let at = server.listen_addrs()[0];

    // Service discovery is unchanged for it; the names that are not ours go to its own server, over UDP and TCP.
    assert_eq!(addrs(&ask_udp(FRONT_CLIENT, at, "web", RecordType::A).await), [ip("127.0.58.3")]);
    assert_eq!(addrs(&ask_udp(FRONT_CLIENT, at, "example.org", RecordType::A).await), [TASK_UPSTREAM_ANSWER]);
    assert_eq!(addrs(&ask_udp(FRONT_CLIENT, at, "db", RecordType::A).await), [TASK_UPSTREAM_ANSWER]);
    let tcp = ask_tcp(FRONT_CLIENT, at, "example.org", RecordType::A).await.expect("TCP query");
    assert_eq!(addrs(&tcp), [TASK_UPSTREAM_ANSWER]);
    // A task without servers of its own, and a stranger, still go to the host's.
    assert_eq!(addrs(&ask_udp(BACK_CLIENT, at, "example.org", RecordType::A).await), [UPSTREAM_ANSWER]);
    let stranger = ask_udp(Ipv4Addr::new(127, 0, 58, 99), at, "example.org", RecordType::A).await;
    assert_eq!(addrs(&stranger), [UPSTREAM_ANSWER]);
}
