//! `hello`: the test image's only binary, a tiny HTTP server on std::net. It owns the behaviours the executor and
//! end-to-end tests rely on, and keeps one invariant: it ends promptly on SIGTERM/SIGINT (as PID 1 in a container
//! the kernel would otherwise ignore SIGTERM and `docker stop` would wait for the whole grace period).
//!
//! - `hello` serves `200 OK` with `hello from <hostname> (<HELLO_VERSION>)\n` on `0.0.0.0:$PORT` (default 80),
//!   printing `listening on 0.0.0.0:PORT` at start and `GET /path from <peer>` per request.
//! - `EXIT_AFTER_MS=n` (+ `EXIT_CODE=c`, default 0): exit with code c after n ms.
//! - `hello exit [code]`: print "bye" and exit with `code` (default 0).
//! - `hello sleep`: no server, sleep until signalled.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

extern "C" {
    fn signal(signum: i32, handler: usize) -> usize;
    fn _exit(code: i32) -> !;
}

const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

extern "C" fn on_signal(_signum: i32) {
    // Only async-signal-safe calls here: `_exit` skips atexit handlers and stdio buffers (stdout is flushed per line).
    unsafe { _exit(0) }
}

fn install_signal_handlers() {
    let handler = on_signal as extern "C" fn(i32) as usize;
    unsafe {
        signal(SIGTERM, handler);
        signal(SIGINT, handler);
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|name| name.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|value| !value.is_empty()).unwrap_or_else(|| default.to_string())
}

fn serve(mut stream: TcpStream, body: &str) {
    let peer = stream.peer_addr().map(|addr| addr.to_string()).unwrap_or_else(|_| "unknown".to_string());
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(stream) => stream,
        Err(_) => return,
    });
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // Drain the headers up to the blank line.
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => break,
            Ok(_) if header == "\r\n" || header == "\n" => break,
            Ok(_) => {}
        }
    }
    let mut words = request_line.split_whitespace();
    let method = words.next().unwrap_or("-");
    let path = words.next().unwrap_or("-");
    say(&format!("{method} {path} from {peer}"));
    let response = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}

fn main() {
    install_signal_handlers();
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("exit") => {
            let code = args.get(2).and_then(|code| code.parse().ok()).unwrap_or(0);
            say("bye");
            std::process::exit(code);
        }
        Some("sleep") => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
        _ => {}
    }
    if let Ok(after_ms) = env_or("EXIT_AFTER_MS", "").parse::<u64>() {
        let code: i32 = env_or("EXIT_CODE", "0").parse().unwrap_or(0);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(after_ms));
            say(&format!("exiting with code {code} after {after_ms} ms"));
            std::process::exit(code);
        });
    }
    let port = env_or("PORT", "80");
    let address = format!("0.0.0.0:{port}");
    let listener = match TcpListener::bind(&address) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("hello: cannot listen on {address}: {error}");
            std::process::exit(1);
        }
    };
    say(&format!("listening on {address}"));
    let body = format!("hello from {} ({})\n", hostname(), env_or("HELLO_VERSION", "1"));
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                let body = body.clone();
                std::thread::spawn(move || serve(stream, &body));
            }
            Err(error) => eprintln!("hello: accept failed: {error}"),
        }
    }
}
