//! The proxy's faults, against a small loopback source of known bytes (the proxy is
//! what is under test here; conn meets it in front of real servers).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::*;

/// Bytes every connection to the source receives first.
const GREETING: usize = 100_000;

fn byte(i: usize) -> u8 {
    (i % 251) as u8
}

/// A source on 127.0.0.1 that sends `GREETING` known bytes to each connection, then
/// echoes what it reads.
fn source() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let greeting: Vec<u8> = (0..GREETING).map(byte).collect();
                if stream.write_all(&greeting).is_err() {
                    return;
                }
                let mut buffer = [0_u8; 4096];
                while let Ok(n) = stream.read(&mut buffer) {
                    if n == 0 || stream.write_all(&buffer[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn connect(proxy: &FaultProxy) -> TcpStream {
    let stream = TcpStream::connect(proxy.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
}

/// Reads until the end, a reset or the timeout: the bytes, and whether it ended (EOF or
/// reset) rather than timed out.
fn read_all(stream: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut bytes = Vec::new();
    let mut buffer = [0_u8; 8192];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return (bytes, true),
            Ok(n) => bytes.extend_from_slice(&buffer[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (bytes, false);
            }
            Err(_) => return (bytes, true),
        }
    }
}

fn read_exactly(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut bytes = vec![0_u8; n];
    stream.read_exact(&mut bytes).unwrap();
    bytes
}

fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn forwards_both_ways_and_counts() {
    let proxy = FaultProxy::start(source()).unwrap();
    let mut client = connect(&proxy);
    let greeting = read_exactly(&mut client, GREETING);
    assert!(greeting.iter().enumerate().all(|(i, b)| *b == byte(i)));
    client.write_all(b"hello").unwrap();
    assert_eq!(read_exactly(&mut client, 5), b"hello");
    // Bytes are counted once written on, which may be a moment after they arrive.
    wait_for("the counters", || {
        proxy.stats().bytes_from_server == GREETING as u64 + 5
    });
    let stats = proxy.stats();
    assert_eq!((stats.connections, stats.open, stats.cut), (1, 1, 0));
    assert_eq!(stats.bytes_to_server, 5);
    drop(client);
    wait_for("the connection to close", || proxy.stats().open == 0);
}

#[tokio::test]
async fn starts_and_drops_inside_another_runtime() {
    let proxy = FaultProxy::start(source()).unwrap();
    let mut client = tokio::net::TcpStream::connect(proxy.addr()).await.unwrap();
    let mut greeting = vec![0_u8; GREETING];
    tokio::io::AsyncReadExt::read_exact(&mut client, &mut greeting)
        .await
        .unwrap();
    assert!(greeting.iter().enumerate().all(|(i, b)| *b == byte(i)));
    drop(proxy);
}

#[test]
fn for_url_points_the_url_at_the_proxy() {
    let target = source();
    let url = format!("postgres://ada@{target}/db?sslmode=disable");
    let (proxy, proxied) = FaultProxy::for_url(&url).unwrap();
    assert_eq!(proxy.target(), target);
    assert_eq!(
        proxied,
        format!("postgres://ada@{}/db?sslmode=disable", proxy.addr())
    );
    let (proxy, proxied) = FaultProxy::for_url(&format!("http://{target}")).unwrap();
    assert_eq!(proxied, format!("http://{}", proxy.addr()));
    assert!(FaultProxy::for_url("no scheme").is_err());
}

#[test]
fn cut_after_forwards_that_many_bytes_then_resets() {
    let proxy = FaultProxy::start(source()).unwrap();
    proxy.inject(Fault::CutAfter(12_345));
    let mut client = connect(&proxy);
    let (bytes, ended) = read_all(&mut client);
    assert!(ended, "the connection was not cut");
    // A reset may overtake bytes still in flight: never more than the budget.
    assert!(bytes.len() <= 12_345, "{}", bytes.len());
    assert!(bytes.iter().enumerate().all(|(i, b)| *b == byte(i)));
    assert_eq!(proxy.stats().cut, 1);
    // The budget is spent: the next connection is whole.
    let mut again = connect(&proxy);
    assert_eq!(read_exactly(&mut again, GREETING).len(), GREETING);
}

#[test]
fn cut_all_resets_open_connections_only() {
    let proxy = FaultProxy::start(source()).unwrap();
    let mut first = connect(&proxy);
    let mut second = connect(&proxy);
    read_exactly(&mut first, GREETING);
    read_exactly(&mut second, GREETING);
    proxy.inject(Fault::CutAll);
    for client in [&mut first, &mut second] {
        let (bytes, ended) = read_all(client);
        assert!(
            ended && bytes.is_empty(),
            "{} bytes, ended {ended}",
            bytes.len()
        );
    }
    wait_for("both cuts", || proxy.stats().cut == 2);
    let mut third = connect(&proxy);
    assert_eq!(read_exactly(&mut third, GREETING).len(), GREETING);
}

#[test]
fn a_stall_holds_bytes_and_loses_none() {
    let proxy = FaultProxy::start(source()).unwrap();
    let mut client = connect(&proxy);
    read_exactly(&mut client, GREETING);
    proxy.inject(Fault::Stall(Duration::from_millis(300)));
    let started = Instant::now();
    client.write_all(b"held").unwrap();
    assert_eq!(read_exactly(&mut client, 4), b"held");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(250), "{took:?}");
    // Over: bytes flow at once again.
    let started = Instant::now();
    client.write_all(b"free").unwrap();
    assert_eq!(read_exactly(&mut client, 4), b"free");
    assert!(started.elapsed() < Duration::from_millis(250));
}

#[test]
fn refusing_unbound_closes_the_port_for_a_while() {
    let proxy = FaultProxy::start(source()).unwrap();
    let mut open = connect(&proxy);
    // Accepted (a connection still in the listen queue is reset when the port closes).
    read_exactly(&mut open, GREETING);
    proxy.inject(Fault::Refuse(Duration::from_millis(400), Refusal::Unbound));
    wait_for("the port to close", || {
        TcpStream::connect(proxy.addr()).is_err_and(|e| e.kind() == ErrorKind::ConnectionRefused)
    });
    // An open connection goes on.
    open.write_all(b"still").unwrap();
    assert_eq!(read_exactly(&mut open, 5), b"still");
    wait_for("the port to open again", || {
        TcpStream::connect(proxy.addr()).is_ok()
    });
    let mut after = connect(&proxy);
    assert_eq!(read_exactly(&mut after, GREETING).len(), GREETING);
}

#[test]
fn refusing_by_accepting_and_closing() {
    let proxy = FaultProxy::start(source()).unwrap();
    proxy.inject(Fault::Refuse(
        Duration::from_millis(400),
        Refusal::AcceptAndClose,
    ));
    let mut refused = connect(&proxy);
    let (bytes, ended) = read_all(&mut refused);
    assert!(
        ended && bytes.is_empty(),
        "{} bytes, ended {ended}",
        bytes.len()
    );
    assert_eq!(proxy.stats().refused, 1);
    std::thread::sleep(Duration::from_millis(450));
    let mut after = connect(&proxy);
    assert_eq!(read_exactly(&mut after, GREETING).len(), GREETING);
}

#[test]
fn heal_ends_every_fault() {
    let proxy = FaultProxy::start(source()).unwrap();
    proxy.inject(Fault::Refuse(Duration::from_secs(60), Refusal::Unbound));
    proxy.inject(Fault::Stall(Duration::from_secs(60)));
    proxy.inject(Fault::CutAfter(10));
    proxy.heal();
    wait_for("the port to open again", || {
        TcpStream::connect(proxy.addr()).is_ok()
    });
    let mut client = connect(&proxy);
    assert_eq!(read_exactly(&mut client, GREETING).len(), GREETING);
    assert_eq!(proxy.stats().faults, 3);
}
