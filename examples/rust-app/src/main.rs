// A Rust HTTP server on the standard library plus one vendored crate (itoa): hop3 builds it with
// `cargo build --release --offline` and runs the binary (bin/app) as the web process, on $PORT.
use std::env;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn handle(mut stream: TcpStream, served: &AtomicU64, app: &str, release: &str) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    // A bounded read of the request line, then the headers up to the blank line.
    (&mut reader).take(8192).read_line(&mut request_line)?;
    loop {
        let mut header = String::new();
        if (&mut reader).take(8192).read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let count = served.fetch_add(1, Ordering::Relaxed) + 1;
    let mut digits = itoa::Buffer::new();
    let body = format!(
        "<h1>Hello from {} {} on Rust</h1>\n<p>You asked for {}; request {} of this process</p>\n",
        escape(app),
        escape(release),
        escape(path),
        digits.format(count)
    );
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        body
    )?;
    stream.flush()
}

fn main() {
    let port = env::var("PORT").expect("PORT is not set");
    let app = Arc::new(env::var("HOP3_APP").unwrap_or_default());
    let release = Arc::new(env::var("HOP3_RELEASE").unwrap_or_default());
    let served = Arc::new(AtomicU64::new(0));
    let listener = TcpListener::bind(format!("127.0.0.1:{}", port)).expect("cannot listen on $PORT");
    for stream in listener.incoming().flatten() {
        let (served, app, release) = (served.clone(), app.clone(), release.clone());
        thread::spawn(move || {
            let _ = handle(stream, &served, &app, &release);
        });
    }
}
