//! Bounded memory per connection over real sockets: a WebSocket subscriber that does not read is
//! cut with Close 1008 while a fast one on the same streams sees every message; HTTP clients that
//! pipeline requests and never read stop being read (their answers wait in a capped outbox), the
//! server's resident memory stays within a stated bound, other clients are still served, and the
//! memory comes back when they close.

mod common;

use common::ws::{connect, next_of, read_close_code, send_method};
use common::{
    Signed, TestDir, TestServer, admin_post, now_ms, options, public_key, read_response,
    user_secret,
};
use serde_json::json;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::FromRawFd;

/// A TCP connection whose receive buffer is as small as the kernel allows, set before connecting
/// so the window the server sees stays small.
fn small_window_connect(address: SocketAddr) -> TcpStream {
    let SocketAddr::V4(v4) = address else { panic!("loopback v4") };
    // SAFETY: plain socket calls on a descriptor this function owns; the sockaddr is initialised.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let size: libc::c_int = 2048;
        let size_ptr = (&size as *const libc::c_int).cast();
        let size_len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, size_ptr, size_len);
        let mut socket_address: libc::sockaddr_in = std::mem::zeroed();
        socket_address.sin_family = libc::AF_INET as libc::sa_family_t;
        socket_address.sin_port = v4.port().to_be();
        socket_address.sin_addr.s_addr = u32::from(*v4.ip()).to_be();
        let connected = libc::connect(
            fd,
            (&socket_address as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(connected, 0);
        TcpStream::from_raw_fd(fd)
    }
}

/// Pre-signed orders of one account: bids at spread prices, each followed by its cancel.
fn orders(secret: &str, count: usize) -> Vec<Vec<u8>> {
    let timestamp_ms = now_ms();
    (0..count)
        .map(|index| {
            let (method, instruction, body) = if index % 2 == 0 {
                let price = format!("{}.{:02}", 100 + index % 40, index % 100);
                let body = json!({"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit",
                    "price": price, "quantity": "0.10", "clientId": index});
                ("POST", "orderExecute", body)
            } else {
                ("DELETE", "orderCancel", json!({"symbol": "SOL_USDC", "clientId": index - 1}))
            };
            let path = "/api/v1/order";
            Signed {
                secret,
                method,
                path,
                query: "",
                instruction,
                body: Some(body),
                timestamp_ms,
                window_ms: Some(60_000),
            }
            .request(None, "")
        })
        .collect()
}

/// Sends `requests` pipelined in chunks and reads every answer.
fn send_pipelined(address: SocketAddr, requests: &[Vec<u8>]) {
    let mut stream = TcpStream::connect(address).unwrap();
    for chunk in requests.chunks(32) {
        stream.write_all(&chunk.concat()).unwrap();
        for _ in chunk {
            let (status, body) = read_response(&mut stream);
            assert_eq!(status, 200, "{body}");
        }
    }
}

#[test]
fn a_slow_subscriber_is_cut_while_a_fast_one_sees_every_message() {
    let dir = TestDir::new("slow-subscriber");
    let mut options = options(dir.0.clone());
    options.connection.ws_output_max_bytes = 32 << 10;
    // Without a bound on the kernel's buffers, loopback would absorb the whole test's traffic.
    options.connection.socket_send_buffer_bytes = 32 << 10;
    let server = TestServer::start(options);
    let trader = user_secret(51);
    let body = json!({"account": public_key(&trader), "symbol": "USDC", "quantity": "1000000"});
    assert_eq!(admin_post(server.address, "/api/v1/admin/deposit", "adminDeposit", body).0, 200);

    let slow = small_window_connect(server.address);
    slow.set_read_timeout(Some(common::ws::FRAME_WAIT)).unwrap();
    let (mut slow, _) = tungstenite::client(format!("ws://{}/", server.address), slow).unwrap();
    let mut fast = connect(server.address);
    let streams = ["depth.SOL_USDC", "bookTicker.SOL_USDC"];
    send_method(&mut slow, "SUBSCRIBE", &streams, None);
    send_method(&mut fast, "SUBSCRIBE", &streams, None);
    let reader = std::thread::spawn(move || {
        // Every depth message, in sequence, up to the last order's.
        let mut last = None;
        let mut messages = 0;
        while last != Some(6_000) {
            let depth = next_of(&mut fast, "depth.SOL_USDC");
            let (first, update) = (depth["U"].as_u64().unwrap(), depth["u"].as_u64().unwrap());
            if let Some(last) = last {
                assert_eq!(first, last + 1, "no gap for the fast reader");
            }
            last = Some(update);
            messages += 1;
        }
        messages
    });
    // The subscriptions are in before the orders: an order through the pipeline comes after them.
    send_pipelined(server.address, &orders(&trader, 6_000));
    let messages = reader.join().unwrap();
    assert!(messages >= 5_999, "{messages}");
    // The slow one finds, behind what it had not read, the Close.
    let mut slow = slow.into_inner();
    assert_eq!(read_close_code(&mut slow), 1008);
    server.stop();
}

#[test]
fn clients_that_pipeline_and_never_read_leave_memory_bounded() {
    const CLIENTS: usize = 200;
    /// Bound on the server's growth: 200 × (256 KiB output cap + the answers of 64 requests in
    /// flight + a 16 KiB input buffer), with room to spare for the kernel's choices.
    const GROWTH_MAX_BYTES: u64 = 150 << 20;
    let dir = TestDir::new("pipeline-flood");
    let mut options = options(dir.0.clone());
    options.net_in.connections_max = CLIENTS + 16;
    let server = TestServer::start(options);
    let before = common::resident_bytes();
    let ping = b"GET /api/v1/ping HTTP/1.1\r\nHost: x\r\n\r\n".repeat(1_000);
    let mut floods = Vec::new();
    for _ in 0..CLIENTS {
        let stream = TcpStream::connect(server.address).unwrap();
        stream.set_nonblocking(true).unwrap();
        floods.push(stream);
    }
    // Each writes pings until the server stops reading it (its socket buffers fill).
    let mut open: Vec<usize> = (0..CLIENTS).collect();
    let mut written = vec![0usize; CLIENTS];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !open.is_empty() && std::time::Instant::now() < deadline {
        open.retain(|&client| match floods[client].write(&ping) {
            Ok(bytes) => {
                written[client] += bytes;
                true
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => false,
            Err(error) => panic!("{error}"),
        });
    }
    assert!(open.is_empty(), "the server stopped reading every flooding client");
    let during = common::resident_bytes();
    let total_written: usize = written.iter().sum();
    println!(
        "{CLIENTS} clients wrote {} MB of pings; resident {} → {} MB",
        total_written >> 20,
        before >> 20,
        during >> 20
    );
    assert!(during.saturating_sub(before) < GROWTH_MAX_BYTES, "{} MB", (during - before) >> 20);
    // Someone else is still served.
    let started = std::time::Instant::now();
    let (status, body) = common::raw_request(server.address, b"GET /api/v1/ping HTTP/1.1\r\n\r\n");
    assert_eq!((status, body.as_str()), (200, "pong"));
    println!("a fresh client's ping during the flood: {:?}", started.elapsed());
    drop(floods);
    // Their buffers go back to their preallocated size as the server closes them.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut after = common::resident_bytes();
    while after.saturating_sub(before) > GROWTH_MAX_BYTES / 4
        && std::time::Instant::now() < deadline
    {
        std::thread::yield_now();
        after = common::resident_bytes();
    }
    println!("resident after they closed: {} MB", after >> 20);
    assert!(after.saturating_sub(before) <= GROWTH_MAX_BYTES / 4, "{} MB", (after - before) >> 20);
    server.stop();
}

#[test]
fn a_client_that_pings_and_never_reads_is_cut_too() {
    let dir = TestDir::new("ping-flood");
    let mut options = options(dir.0.clone());
    options.connection.ws_output_max_bytes = 32 << 10;
    options.connection.socket_send_buffer_bytes = 32 << 10;
    let server = TestServer::start(options);
    let mut stream = common::ws::raw_connect(server.address);
    // Blocking writes until the server cuts the connection: stopping at the first WouldBlock raced
    // with the server, which could catch up and answer every ping within the buffers, never cut.
    stream.set_write_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    let ping = common::ws::frame(0x89, &[b'p'; 100], true).repeat(100);
    let mut pings = 0;
    let cut = loop {
        match stream.write(&ping) {
            Ok(written) => pings += written / 106,
            Err(error) => break error,
        }
    };
    assert!(
        matches!(cut.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe),
        "the server never cut a client that pings and never reads: {cut} after {pings} pings"
    );
    // The server closes with pings still unread in its receive buffer, so TCP answers with a reset,
    // which drops whatever the client had not read yet, the Close frame too: either ending is the
    // cut this test wants.
    match read_frames_until_close_or_reset(&mut stream) {
        Some(code) => assert_eq!(code, 1008, "after {pings} pings"),
        None => println!("cut without a readable Close after {pings} pings"),
    }
    let (status, body) = common::raw_request(server.address, b"GET /api/v1/ping HTTP/1.1\r\n\r\n");
    assert_eq!((status, body.as_str()), (200, "pong"));
    server.stop();
}

/// A reset, or the end of the stream once the write that met the reset has consumed it.
fn ended_by_the_cut(error: &std::io::Error) -> bool {
    matches!(error.kind(), ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof)
}

/// Reads server frames until a Close (its code) or the cut (None).
fn read_frames_until_close_or_reset(stream: &mut TcpStream) -> Option<u16> {
    loop {
        let mut head = [0u8; 2];
        match stream.read_exact(&mut head) {
            Ok(()) => {}
            Err(error) if ended_by_the_cut(&error) => return None,
            Err(error) => panic!("reading a frame header: {error}"),
        }
        let length = match head[1] & 0x7F {
            126 => {
                let mut bytes = [0u8; 2];
                stream.read_exact(&mut bytes).ok()?;
                u16::from_be_bytes(bytes) as usize
            }
            127 => panic!("the server sends no frame that long here"),
            short => short as usize,
        };
        let mut payload = vec![0u8; length];
        if let Err(error) = stream.read_exact(&mut payload) {
            assert!(ended_by_the_cut(&error), "{error}");
            return None;
        }
        if head[0] & 0x0F == 0x8 {
            return Some(u16::from_be_bytes([payload[0], payload[1]]));
        }
    }
}

#[test]
fn an_answer_larger_than_the_output_cap_is_delivered_whole() {
    let dir = TestDir::new("large-answer");
    let mut options = options(dir.0.clone());
    options.connection.http_output_max_bytes = 16 << 10;
    let server = TestServer::start(options);
    let trader = user_secret(52);
    let body = json!({"account": public_key(&trader), "symbol": "USDC", "quantity": "1000000"});
    assert_eq!(admin_post(server.address, "/api/v1/admin/deposit", "adminDeposit", body).0, 200);
    let timestamp_ms = now_ms();
    let placements: Vec<Vec<u8>> = (0..1_000)
        .map(|index| {
            let body = json!({"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit",
                "price": format!("{}.{:02}", 100 + index % 20, index % 100), "quantity": "0.10",
                "clientId": index});
            let path = "/api/v1/order";
            Signed {
                secret: &trader,
                method: "POST",
                path,
                query: "",
                instruction: "orderExecute",
                body: Some(body),
                timestamp_ms,
                window_ms: Some(60_000),
            }
            .request(None, "")
        })
        .collect();
    send_pipelined(server.address, &placements);
    let listing = common::signed_now(
        &trader,
        "GET",
        "/api/v1/orders",
        "symbol=SOL_USDC",
        "orderQueryAll",
        None,
    );
    let mut stream = TcpStream::connect(server.address).unwrap();
    stream.write_all(&listing).unwrap();
    let (status, body) = read_response(&mut stream);
    assert_eq!(status, 200, "{body}");
    assert!(body.len() > 16 << 10, "larger than the cap: {} bytes", body.len());
    let orders: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(orders.len(), 1_000);
    server.stop();
}
