//! The article's echo server: each connection is held 8 units from its
//! accept, then everything the client sent and sends is copied back until
//! the client closes; "wrote N bytes" when it has.

use std::time::Duration;

use asynctrace_tokio_peer::Options;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() {
    let o = Options::from_args("server", "The article's echo server: holds each connection 8 units, then echoes until the client closes.", None, 1);
    let listener = TcpListener::bind(&o.addr).await.unwrap_or_else(|e| {
        eprintln!("server: listen on {}: {e}", o.addr);
        std::process::exit(1)
    });
    let delay: Duration = o.delay();
    match listener.local_addr() {
        Ok(a) => println!("Server running on {a}"),
        Err(_) => println!("Server running on {}", o.addr),
    }
    loop {
        match listener.accept().await {
            Err(e) => eprintln!("accept failed = {e:?}"),
            Ok((mut sock, _)) => {
                tokio::spawn(async move {
                    let (mut reader, mut writer) = sock.split();
                    tokio::time::sleep(delay).await;
                    match tokio::io::copy(&mut reader, &mut writer).await {
                        Ok(n) => println!("wrote {n} bytes"),
                        Err(e) => eprintln!("IO error {e:?}"),
                    }
                });
            }
        }
    }
}
