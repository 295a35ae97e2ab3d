// SPDX-License-Identifier: GPL-3.0-only
//! A QUIC endpoint for tests/e2e/h3_interop.py: quinn and rustls, nothing of libmasque, ngtcp2
//! or GnuTLS. It knows no HTTP: the script writes and reads the bytes of every stream and every
//! DATAGRAM frame (RFC 9221) itself, so that HTTP/3, QPACK, capsules and Bind payloads are
//! written a second time, from the RFCs, and compared with what the programs send.
//!
//! usage: masque-quic-peer client HOST:PORT SERVER_NAME CA.pem [--no-datagrams] [--stream-window N]
//!        masque-quic-peer server CERT.pem KEY.pem [--no-datagrams] [--stream-window N]
//!
//! `--no-datagrams` leaves out the max_datagram_frame_size transport parameter (RFC 9221 §3):
//! the other end may then send no DATAGRAM frame and must fall back to DATAGRAM capsules.
//! `--stream-window N` lets the other end send at most N bytes on a stream before this end
//! reads them (RFC 9000 §4.1; quinn reads at once, so N bytes in flight).
//!
//! Commands, one a line on stdin (HEX: the bytes in hexadecimal):
//!   open_bi | open_uni          -> "opened ID"
//!   write ID HEX                   append to a stream we may send on
//!   fin ID | reset ID CODE         end a stream cleanly or abort it (RESET_STREAM)
//!   stop ID CODE                   STOP_SENDING: no more reading of a stream
//!   datagram HEX                   one DATAGRAM frame
//!   key_update                     new 1-RTT keys from the next packet on (RFC 9001 §6)
//!   rebind                      -> "rebound PORT": a new UDP socket, as a NAT rebinding is
//!   close CODE                     CONNECTION_CLOSE with an application error code
//!   sync                        -> "synced" once every command before it was carried out
//! Events, one a line on stdout:
//!   listening PORT | connected | accepted
//!   stream ID uni|bi               the other end opened a stream
//!   data ID HEX | fin ID | reset ID CODE
//!   datagram HEX
//!   closed KIND CODE               KIND: application, transport, timeout, local, reset (a
//!                                  Stateless Reset, RFC 9000 §10.3), other
//!   error TEXT                     a command failed (a write on a stopped stream: "stopped")
use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::AsyncBufReadExt;

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{:02x}", b)).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

fn id_of(id: quinn::StreamId) -> u64 {
    quinn::VarInt::from(id).into_inner()
}

fn transport(datagrams: bool, stream_window: Option<u32>) -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    if let Some(window) = stream_window {
        t.stream_receive_window(quinn::VarInt::from_u32(window));
    }
    t.max_idle_timeout(Some(quinn::IdleTimeout::from(quinn::VarInt::from_u32(
        60_000,
    ))));
    t.datagram_receive_buffer_size(if datagrams { Some(1 << 20) } else { None });
    Arc::new(t)
}

/// The sections of a PEM file this peer uses, as DER.
pub enum Pem {
    Certificate(Vec<u8>),
    Pkcs8Key(Vec<u8>),
    EcKey(Vec<u8>),
    Other,
}

fn pem_items(path: &str) -> Vec<Pem> {
    let file = File::open(path).unwrap_or_else(|e| panic!("{}: {}", path, e));
    let mut reader = BufReader::new(file);
    let mut items = Vec::new();
    while let Some(item) = rustls_pemfile::read_one(&mut reader).expect("PEM") {
        items.push(tls::pem(item));
    }
    items
}

fn client_config(ca: &str, transport: Arc<quinn::TransportConfig>) -> quinn::ClientConfig {
    let roots = pem_items(ca)
        .into_iter()
        .filter_map(|item| match item {
            Pem::Certificate(der) => Some(der),
            _ => None,
        })
        .collect();
    let mut config = tls::client_config(roots, vec![b"h3".to_vec()]); // RFC 9114 §3.1
    config.transport_config(transport);
    config
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// The throw-away CA's keys are P-256 ECPrivateKey structures (RFC 5915, what certtool writes);
/// rustls 0.20 takes ECDSA keys as PKCS #8 only, so the key is wrapped (RFC 5208 §5):
/// version 0, the algorithm id-ecPublicKey with the curve prime256v1, the key as an OCTET STRING.
/// GnuTLS writes a private key whose first bit is set with a zero byte in front (33 bytes), where
/// RFC 5915 §3 (SEC 1 C.4) has exactly 32 and ring insists: the key is rewritten that way.
fn pkcs8_of_p256(sec1: &[u8]) -> Vec<u8> {
    const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const PRIME256V1: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    // SEQUENCE (short or one-byte long length) { INTEGER 1, OCTET STRING key, rest }
    let body = if sec1[1] == 0x81 {
        &sec1[3..]
    } else {
        &sec1[2..]
    };
    assert!(
        body.len() > 5 && body[..3] == [0x02, 0x01, 0x01] && body[3] == 0x04,
        "an ECPrivateKey"
    );
    let key_len = body[4] as usize;
    let key = &body[5..5 + key_len];
    let rest = &body[5 + key_len..];
    let mut scalar = [0u8; 32];
    let significant: Vec<u8> = key.iter().copied().skip_while(|&b| b == 0).collect();
    scalar[32 - significant.len()..].copy_from_slice(&significant);
    let ec_private_key = der(
        0x30,
        &[&[0x02, 0x01, 0x01][..], &der(0x04, &scalar), rest].concat(),
    );
    let algorithm = der(0x30, &[EC_PUBLIC_KEY, PRIME256V1].concat());
    der(
        0x30,
        &[
            &[0x02, 0x01, 0x00][..],
            &algorithm,
            &der(0x04, &ec_private_key),
        ]
        .concat(),
    )
}

fn server_config(
    cert: &str,
    key: &str,
    transport: Arc<quinn::TransportConfig>,
) -> quinn::ServerConfig {
    let certs = pem_items(cert)
        .into_iter()
        .filter_map(|item| match item {
            Pem::Certificate(der) => Some(der),
            _ => None,
        })
        .collect();
    let key = pem_items(key)
        .into_iter()
        .find_map(|item| match item {
            Pem::Pkcs8Key(der) => Some(der),
            Pem::EcKey(der) => Some(pkcs8_of_p256(&der)),
            _ => None,
        })
        .expect("a private key");
    let mut config = tls::server_config(certs, key, vec![b"h3".to_vec()]);
    config.transport_config(transport);
    config
}

/// What the two versions of quinn and rustls Debian packages differ in: Debian 12 has quinn 0.9
/// with rustls 0.20 and rustls-pemfile 1, Debian 13 quinn 0.11 with rustls 0.23 (ring) and
/// rustls-pemfile 2. build.sh picks the manifest, and with it the feature, from what is installed.
#[cfg(not(feature = "quinn011"))]
mod tls {
    use super::Pem;
    use std::sync::Arc;

    /// A PEM section in the form the rest of the file takes.
    pub fn pem(item: rustls_pemfile::Item) -> Pem {
        match item {
            rustls_pemfile::Item::X509Certificate(der) => Pem::Certificate(der),
            rustls_pemfile::Item::PKCS8Key(der) => Pem::Pkcs8Key(der),
            rustls_pemfile::Item::ECKey(der) => Pem::EcKey(der),
            _ => Pem::Other,
        }
    }

    pub fn client_config(roots: Vec<Vec<u8>>, alpn: Vec<Vec<u8>>) -> quinn::ClientConfig {
        let mut store = rustls::RootCertStore::empty();
        for der in roots {
            store
                .add(&rustls::Certificate(der))
                .expect("CA certificate");
        }
        let mut tls = rustls::ClientConfig::builder()
            .with_safe_defaults()
            .with_root_certificates(store)
            .with_no_client_auth();
        tls.alpn_protocols = alpn;
        quinn::ClientConfig::new(Arc::new(tls))
    }

    pub fn server_config(
        certs: Vec<Vec<u8>>,
        pkcs8_key: Vec<u8>,
        alpn: Vec<Vec<u8>>,
    ) -> quinn::ServerConfig {
        let certs = certs.into_iter().map(rustls::Certificate).collect();
        let mut tls = rustls::ServerConfig::builder()
            .with_safe_defaults()
            .with_no_client_auth()
            .with_single_cert(certs, rustls::PrivateKey(pkcs8_key))
            .expect("certificate and key");
        tls.alpn_protocols = alpn;
        tls.max_early_data_size = 0;
        quinn::ServerConfig::with_crypto(Arc::new(tls))
    }

    /// Ends a stream cleanly. finish() completes when the other end has acknowledged
    /// everything: not a wait the script's later commands should sit behind.
    pub fn finish(mut send: quinn::SendStream) {
        tokio::spawn(async move {
            let _ = send.finish().await;
        });
    }
}

#[cfg(feature = "quinn011")]
mod tls {
    use super::Pem;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use std::sync::Arc;

    /// A PEM section in the form the rest of the file takes.
    pub fn pem(item: rustls_pemfile::Item) -> Pem {
        match item {
            rustls_pemfile::Item::X509Certificate(der) => Pem::Certificate(der.to_vec()),
            rustls_pemfile::Item::Pkcs8Key(der) => Pem::Pkcs8Key(der.secret_pkcs8_der().to_vec()),
            rustls_pemfile::Item::Sec1Key(der) => Pem::EcKey(der.secret_sec1_der().to_vec()),
            _ => Pem::Other,
        }
    }

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    pub fn client_config(roots: Vec<Vec<u8>>, alpn: Vec<Vec<u8>>) -> quinn::ClientConfig {
        let mut store = rustls::RootCertStore::empty();
        for der in roots {
            store
                .add(CertificateDer::from(der))
                .expect("CA certificate");
        }
        let mut tls = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("TLS 1.3")
            .with_root_certificates(store)
            .with_no_client_auth();
        tls.alpn_protocols = alpn;
        let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("QUIC TLS");
        quinn::ClientConfig::new(Arc::new(quic))
    }

    pub fn server_config(
        certs: Vec<Vec<u8>>,
        pkcs8_key: Vec<u8>,
        alpn: Vec<Vec<u8>>,
    ) -> quinn::ServerConfig {
        let certs = certs.into_iter().map(CertificateDer::from).collect();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8_key));
        let mut tls = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("TLS 1.3")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("certificate and key");
        tls.alpn_protocols = alpn;
        tls.max_early_data_size = 0;
        let quic = quinn::crypto::rustls::QuicServerConfig::try_from(tls).expect("QUIC TLS");
        quinn::ServerConfig::with_crypto(Arc::new(quic))
    }

    /// Ends a stream cleanly: quinn 0.11 sends what is left and the FIN after the stream is
    /// dropped.
    pub fn finish(mut send: quinn::SendStream) {
        let _ = send.finish();
    }
}

type Streams = Arc<tokio::sync::Mutex<HashMap<u64, quinn::SendStream>>>;
type Stops = Arc<std::sync::Mutex<HashMap<u64, tokio::sync::oneshot::Sender<quinn::VarInt>>>>;

/// Reports everything that arrives on one stream we receive on, until the script stops it.
fn read_stream(id: u64, mut recv: quinn::RecvStream, stops: &Stops) {
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel();
    stops.lock().unwrap().insert(id, stop_tx);
    tokio::spawn(async move {
        loop {
            let read = tokio::select! {
                read = recv.read_chunk(65536, true) => read,
                code = &mut stop_rx => {
                    if let Ok(code) = code {
                        let _ = recv.stop(code);
                    }
                    return;
                }
            };
            match read {
                Ok(Some(chunk)) => println!("data {} {}", id, hex(&chunk.bytes)),
                Ok(None) => {
                    println!("fin {}", id);
                    return;
                }
                Err(quinn::ReadError::Reset(code)) => {
                    println!("reset {} {}", id, code.into_inner());
                    return;
                }
                Err(_) => return, // the connection ended: "closed" says how
            }
        }
    });
}

/// Reports what the other end opens and sends on a connection, and how it ends.
fn watch(conn: quinn::Connection, streams: Streams, stops: Stops) {
    let c = conn.clone();
    let s = stops.clone();
    tokio::spawn(async move {
        while let Ok(recv) = c.accept_uni().await {
            let id = id_of(recv.id());
            println!("stream {} uni", id);
            read_stream(id, recv, &s);
        }
    });
    let c = conn.clone();
    tokio::spawn(async move {
        while let Ok((send, recv)) = c.accept_bi().await {
            let id = id_of(recv.id());
            streams.lock().await.insert(id, send);
            println!("stream {} bi", id);
            read_stream(id, recv, &stops);
        }
    });
    let c = conn.clone();
    tokio::spawn(async move {
        while let Ok(datagram) = c.read_datagram().await {
            println!("datagram {}", hex(&datagram));
        }
    });
    tokio::spawn(async move {
        let (kind, code) = match conn.closed().await {
            quinn::ConnectionError::ApplicationClosed(close) => {
                ("application", close.error_code.into_inner())
            }
            quinn::ConnectionError::ConnectionClosed(close) => {
                ("transport", u64::from(close.error_code))
            }
            quinn::ConnectionError::TimedOut => ("timeout", 0),
            quinn::ConnectionError::LocallyClosed => ("local", 0),
            quinn::ConnectionError::Reset => ("reset", 0),
            _ => ("other", 0),
        };
        println!("closed {} {}", kind, code);
    });
}

async fn command(
    endpoint: &quinn::Endpoint,
    conn: &quinn::Connection,
    streams: &Streams,
    stops: &Stops,
    words: &[&str],
) -> Result<(), String> {
    let id = |i: usize| -> Result<u64, String> {
        words
            .get(i)
            .and_then(|w| w.parse().ok())
            .ok_or_else(|| "a stream ID".to_string())
    };
    let number = |i: usize| -> Result<quinn::VarInt, String> {
        words
            .get(i)
            .and_then(|w| w.parse().ok())
            .and_then(|n| quinn::VarInt::from_u64(n).ok())
            .ok_or_else(|| "a code".to_string())
    };
    let bytes = |i: usize| -> Result<Vec<u8>, String> {
        words
            .get(i)
            .and_then(|w| unhex(w))
            .ok_or_else(|| "hex bytes".to_string())
    };
    match words.first().copied() {
        Some("open_bi") => {
            let (send, recv) = conn.open_bi().await.map_err(|e| e.to_string())?;
            let sid = id_of(send.id());
            streams.lock().await.insert(sid, send);
            read_stream(sid, recv, stops);
            println!("opened {}", sid);
        }
        Some("open_uni") => {
            let send = conn.open_uni().await.map_err(|e| e.to_string())?;
            let sid = id_of(send.id());
            streams.lock().await.insert(sid, send);
            println!("opened {}", sid);
        }
        Some("write") => {
            let (sid, data) = (id(1)?, bytes(2)?);
            let mut map = streams.lock().await;
            let send = map.get_mut(&sid).ok_or("no such stream")?;
            match send.write_all(&data).await {
                Err(quinn::WriteError::Stopped(code)) => {
                    return Err(format!("stopped {} {}", sid, code.into_inner()))
                }
                other => other.map_err(|e| e.to_string())?,
            }
        }
        Some("fin") => {
            let send = streams
                .lock()
                .await
                .remove(&id(1)?)
                .ok_or("no such stream")?;
            tls::finish(send);
        }
        Some("reset") => {
            let mut send = streams
                .lock()
                .await
                .remove(&id(1)?)
                .ok_or("no such stream")?;
            send.reset(number(2)?).map_err(|e| e.to_string())?;
        }
        Some("stop") => {
            let stop = stops
                .lock()
                .unwrap()
                .remove(&id(1)?)
                .ok_or("no such stream")?;
            let _ = stop.send(number(2)?);
        }
        Some("datagram") => {
            conn.send_datagram(bytes(1)?.into())
                .map_err(|e| e.to_string())?;
        }
        Some("key_update") => conn.force_key_update(),
        Some("rebind") => {
            // A new UDP socket, so a new source port: what a NAT rebinding looks like to the
            // other end (RFC 9000 §9.3).
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            let port = socket.local_addr().map_err(|e| e.to_string())?.port();
            endpoint.rebind(socket).map_err(|e| e.to_string())?;
            println!("rebound {}", port);
        }
        Some("close") => conn.close(number(1)?, b""),
        Some("sync") => println!("synced"),
        _ => return Err(format!("unknown command {:?}", words)),
    }
    Ok(())
}

async fn run(args: Vec<String>) {
    let datagrams = !args.iter().any(|a| a == "--no-datagrams");
    let window = args
        .iter()
        .position(|a| a == "--stream-window")
        .and_then(|i| args.get(i + 1))
        .map(|n| n.parse().expect("--stream-window N"));
    let transport = transport(datagrams, window);
    let (endpoint, conn) = match args.get(1).map(String::as_str) {
        Some("client") if args.len() >= 5 => {
            let addr: SocketAddr = args[2].parse().expect("HOST:PORT");
            let mut endpoint =
                quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).expect("a UDP socket");
            endpoint.set_default_client_config(client_config(&args[4], transport));
            let conn = endpoint
                .connect(addr, &args[3])
                .expect("connect")
                .await
                .unwrap_or_else(|e| {
                    println!("closed handshake {}", e);
                    std::process::exit(1);
                });
            println!("connected");
            (endpoint, conn)
        }
        Some("server") if args.len() >= 4 => {
            let endpoint = quinn::Endpoint::server(
                server_config(&args[2], &args[3], transport),
                "127.0.0.1:0".parse().unwrap(),
            )
            .expect("a UDP socket");
            println!("listening {}", endpoint.local_addr().unwrap().port());
            let conn = loop {
                // A handshake that fails (a client that gives up) is not the connection.
                if let Ok(conn) = endpoint.accept().await.expect("the endpoint").await {
                    break conn;
                }
            };
            println!("accepted");
            (endpoint, conn)
        }
        _ => {
            eprintln!(
                "usage: masque-quic-peer client HOST:PORT SERVER_NAME CA.pem [--no-datagrams]"
            );
            eprintln!("       masque-quic-peer server CERT.pem KEY.pem [--no-datagrams]");
            std::process::exit(2);
        }
    };
    let streams: Streams = Arc::default();
    let stops: Stops = Arc::default();
    watch(conn.clone(), streams.clone(), stops.clone());
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Err(e) = command(&endpoint, &conn, &streams, &stops, &words).await {
            println!("error {}", e);
        }
    }
    // stdin closed: the script is done with us.
    conn.close(quinn::VarInt::from_u32(0x100), b""); // H3_NO_ERROR, RFC 9114 §8.1
    endpoint.wait_idle().await; // the CONNECTION_CLOSE leaves before the process does
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run(std::env::args().collect()));
}
