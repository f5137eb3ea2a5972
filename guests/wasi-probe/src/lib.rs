//! Plugin: reports what WASI gives it, as headers:
//!
//! | header | value |
//! |---|---|
//! | `x-fs` | `allowed` if `/etc/hostname` or the directory `.` can be read, else `denied` |
//! | `x-env` | the number of environment variables |
//! | `x-clock` | `ok` if the wall clock is after 2020, else `wrong` |
//! | `x-random` | `ok` if 16 random bytes can be had from WASI, else `failed` |
//! | `x-net` | `allowed` if a TCP connection to 127.0.0.1:9 succeeds, else `denied` |
//!
//! It also prints `wasi-probe stdout` to stdout and `wasi-probe stderr` to stderr.
//!
//! The TCP probe uses `wasi:sockets` directly (through the `wasip2` crate),
//! as `std::net::TcpStream::connect` does with a WASI 0.2 libc: the Debian
//! fallback toolchain links a WASI preview 1 libc, which has no `connect`.

use camel_wasm_guest::prelude::*;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// 2020-01-01T00:00:00Z as seconds since the Unix epoch.
const YEAR_2020: Duration = Duration::from_secs(1_577_836_800);

fn allowed(ok: bool) -> &'static str {
    if ok { "allowed" } else { "denied" }
}

fn filesystem_readable() -> bool {
    std::fs::read_to_string("/etc/hostname").is_ok() || std::fs::read_dir(".").is_ok()
}

fn clock_plausible() -> bool {
    SystemTime::now().duration_since(UNIX_EPOCH).is_ok_and(|since| since > YEAR_2020)
}

fn random_available() -> bool {
    getrandom::fill(&mut [0u8; 16]).is_ok()
}

/// Whether a TCP connection to 127.0.0.1:9 can be opened through `wasi:sockets`.
fn tcp_connects() -> bool {
    use wasip2::sockets::network::{ErrorCode, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress};
    use wasip2::sockets::{instance_network::instance_network, tcp_create_socket::create_tcp_socket};

    let Ok(socket) = create_tcp_socket(IpAddressFamily::Ipv4) else {
        return false;
    };
    let address = Ipv4SocketAddress { port: 9, address: (127, 0, 0, 1) };
    if socket.start_connect(&instance_network(), IpSocketAddress::Ipv4(address)).is_err() {
        return false;
    }
    let ready = socket.subscribe();
    loop {
        match socket.finish_connect() {
            Err(ErrorCode::WouldBlock) => ready.block(),
            result => return result.is_ok(),
        }
    }
}

struct WasiProbe;

impl Plugin for WasiProbe {
    async fn process(mut ex: Exchange) -> Result<Exchange, Error> {
        println!("wasi-probe stdout");
        eprintln!("wasi-probe stderr");
        ex.set_header("x-fs", allowed(filesystem_readable()));
        ex.set_header("x-env", std::env::vars_os().count().to_string());
        ex.set_header("x-clock", if clock_plausible() { "ok" } else { "wrong" });
        ex.set_header("x-random", if random_available() { "ok" } else { "failed" });
        ex.set_header("x-net", allowed(tcp_connects()));
        Ok(ex)
    }
}

export_plugin!(WasiProbe);
