//! A minimal TURN client (RFC 5766 over RFC 5389), enough to ask a real coturn for an
//! allocation and a permission and read the precise answer: the relayed address, or
//! the error code (401 unauthorized, 403 forbidden peer, 486 quota).
//!
//! Written here rather than driving coturn's `turnutils_uclient` for these checks:
//! uclient exits 255 for every failure alike (bad credential, quota, forbidden peer)
//! and tells them apart only in its log text, retries a refused credential many times,
//! and never releases its allocations, so they count against the quotas until they
//! time out. It is still used once, as an independent client (see `turn.rs`).

use std::net::{IpAddr, SocketAddr};

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

use crate::common::PATIENCE;

const MAGIC_COOKIE: u32 = 0x2112_a442;

const ALLOCATE: u16 = 0x003;
const REFRESH: u16 = 0x004;
const CREATE_PERMISSION: u16 = 0x008;

const USERNAME: u16 = 0x0006;
const MESSAGE_INTEGRITY: u16 = 0x0008;
const ERROR_CODE: u16 = 0x0009;
const LIFETIME: u16 = 0x000d;
const XOR_PEER_ADDRESS: u16 = 0x0012;
const REALM: u16 = 0x0014;
const NONCE: u16 = 0x0015;
const XOR_RELAYED_ADDRESS: u16 = 0x0016;
const REQUESTED_TRANSPORT: u16 = 0x0019;

/// How the client reaches the TURN server.
#[derive(Debug, Clone, Copy)]
pub enum Transport {
    Udp,
    Tcp,
}

enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
}

/// A response: success or an error code, and its attributes.
struct Response {
    error: Option<u16>,
    attributes: Vec<(u16, Vec<u8>)>,
}

impl Response {
    fn attribute(&self, kind: u16) -> Option<&[u8]> {
        self.attributes
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, v)| v.as_slice())
    }
}

/// One client session (one 5-tuple): coturn allows one allocation on it.
pub struct TurnClient {
    conn: Conn,
    server: SocketAddr,
    /// USERNAME, REALM, NONCE and the long-term key once the server has challenged us.
    auth: Option<(String, String, Vec<u8>, [u8; 16])>,
}

impl TurnClient {
    pub async fn connect(server: SocketAddr, transport: Transport) -> TurnClient {
        let conn = match transport {
            Transport::Udp => {
                let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
                socket.connect(server).await.unwrap();
                Conn::Udp(socket)
            }
            Transport::Tcp => Conn::Tcp(TcpStream::connect(server).await.unwrap()),
        };
        TurnClient {
            conn,
            server,
            auth: None,
        }
    }

    /// Allocates a UDP relay with the long-term credential `username`/`password`: the
    /// relayed address, or the error code of the authenticated attempt.
    pub async fn allocate(&mut self, username: &str, password: &str) -> Result<SocketAddr, u16> {
        let transport = [17, 0, 0, 0]; // UDP
        let challenge = self
            .request(
                ALLOCATE,
                &[(REQUESTED_TRANSPORT, transport.to_vec())],
                false,
            )
            .await;
        assert_eq!(
            challenge.error,
            Some(401),
            "an unauthenticated allocate is challenged"
        );
        let realm = String::from_utf8(challenge.attribute(REALM).unwrap().to_vec()).unwrap();
        let nonce = challenge.attribute(NONCE).unwrap().to_vec();
        let key: [u8; 16] = Md5::digest(format!("{username}:{realm}:{password}")).into();
        self.auth = Some((username.to_owned(), realm, nonce, key));
        let response = self
            .request(ALLOCATE, &[(REQUESTED_TRANSPORT, transport.to_vec())], true)
            .await;
        match response.error {
            Some(code) => Err(code),
            None => Ok(xor_address(
                response
                    .attribute(XOR_RELAYED_ADDRESS)
                    .expect("a relayed address"),
            )),
        }
    }

    /// Asks for a permission to exchange data with `peer` (no data is sent).
    pub async fn create_permission(&mut self, peer: IpAddr) -> Result<(), u16> {
        let peer = encode_xor_address(SocketAddr::new(peer, 9));
        let response = self
            .request(CREATE_PERMISSION, &[(XOR_PEER_ADDRESS, peer)], true)
            .await;
        response.error.map_or(Ok(()), Err)
    }

    /// Releases the allocation (a refresh with lifetime 0), freeing its quota at once.
    pub async fn release(&mut self) {
        let response = self
            .request(REFRESH, &[(LIFETIME, 0u32.to_be_bytes().to_vec())], true)
            .await;
        assert_eq!(response.error, None, "the allocation is released");
    }

    /// Sends one request and waits for its response; with `sign`, adds the credential
    /// and MESSAGE-INTEGRITY.
    async fn request(
        &mut self,
        method: u16,
        attributes: &[(u16, Vec<u8>)],
        sign: bool,
    ) -> Response {
        let mut id = [0u8; 12];
        getrandom::fill(&mut id).unwrap();
        let mut attributes = attributes.to_vec();
        let key = if sign {
            let (username, realm, nonce, key) = self.auth.clone().expect("challenged first");
            attributes.push((USERNAME, username.into_bytes()));
            attributes.push((REALM, realm.into_bytes()));
            attributes.push((NONCE, nonce));
            Some(key)
        } else {
            None
        };
        let message = encode(method, &id, &attributes, key.as_ref());
        let response = timeout(PATIENCE, self.exchange(&message, &id))
            .await
            .unwrap_or_else(|_| panic!("no STUN response from {}", self.server));
        decode(&response)
    }

    async fn exchange(&mut self, message: &[u8], id: &[u8; 12]) -> Vec<u8> {
        match &mut self.conn {
            Conn::Udp(socket) => {
                socket.send(message).await.unwrap();
                loop {
                    let mut buf = vec![0; 2048];
                    let n = socket.recv(&mut buf).await.unwrap();
                    buf.truncate(n);
                    if buf.len() >= 20 && buf[8..20] == id[..] {
                        return buf;
                    }
                }
            }
            Conn::Tcp(stream) => {
                stream.write_all(message).await.unwrap();
                loop {
                    let mut header = [0u8; 20];
                    stream.read_exact(&mut header).await.unwrap();
                    let len = u16::from_be_bytes([header[2], header[3]]) as usize;
                    let mut body = vec![0; len];
                    stream.read_exact(&mut body).await.unwrap();
                    if header[8..20] == id[..] {
                        let mut message = header.to_vec();
                        message.extend(body);
                        return message;
                    }
                }
            }
        }
    }
}

fn encode(
    method: u16,
    id: &[u8; 12],
    attributes: &[(u16, Vec<u8>)],
    key: Option<&[u8; 16]>,
) -> Vec<u8> {
    let mut message = Vec::new();
    message.extend(method.to_be_bytes()); // class: request
    message.extend([0, 0]); // length, set below
    message.extend(MAGIC_COOKIE.to_be_bytes());
    message.extend(id);
    for (kind, value) in attributes {
        push_attribute(&mut message, *kind, value);
    }
    if let Some(key) = key {
        // The length covers MESSAGE-INTEGRITY itself while the HMAC is computed over
        // everything before it (RFC 5389 15.4).
        let with_integrity = message.len() - 20 + 24;
        set_length(&mut message, with_integrity);
        let mut mac = Hmac::<Sha1>::new_from_slice(key).unwrap();
        mac.update(&message);
        let integrity = mac.finalize().into_bytes();
        push_attribute(&mut message, MESSAGE_INTEGRITY, &integrity);
    }
    let len = message.len() - 20;
    set_length(&mut message, len);
    message
}

fn push_attribute(message: &mut Vec<u8>, kind: u16, value: &[u8]) {
    message.extend(kind.to_be_bytes());
    message.extend((value.len() as u16).to_be_bytes());
    message.extend(value);
    message.resize(message.len().next_multiple_of(4), 0);
}

fn set_length(message: &mut [u8], len: usize) {
    message[2..4].copy_from_slice(&(len as u16).to_be_bytes());
}

fn decode(message: &[u8]) -> Response {
    let kind = u16::from_be_bytes([message[0], message[1]]);
    let mut attributes = Vec::new();
    let mut at = 20;
    while at + 4 <= message.len() {
        let attribute = u16::from_be_bytes([message[at], message[at + 1]]);
        let len = u16::from_be_bytes([message[at + 2], message[at + 3]]) as usize;
        attributes.push((attribute, message[at + 4..at + 4 + len].to_vec()));
        at += 4 + len.next_multiple_of(4);
    }
    // The class bits: 0x0100 success, 0x0110 error.
    let error = (kind & 0x0110 == 0x0110).then(|| {
        let value = &attributes
            .iter()
            .find(|(k, _)| *k == ERROR_CODE)
            .expect("an error response has ERROR-CODE")
            .1;
        u16::from(value[2] & 7) * 100 + u16::from(value[3])
    });
    Response { error, attributes }
}

fn xor_address(value: &[u8]) -> SocketAddr {
    let port = u16::from_be_bytes([value[2], value[3]]) ^ (MAGIC_COOKIE >> 16) as u16;
    assert_eq!(value[1], 1, "an IPv4 relay");
    let ip = u32::from_be_bytes([value[4], value[5], value[6], value[7]]) ^ MAGIC_COOKIE;
    SocketAddr::new(IpAddr::from(ip.to_be_bytes()), port)
}

fn encode_xor_address(addr: SocketAddr) -> Vec<u8> {
    let IpAddr::V4(ip) = addr.ip() else {
        panic!("IPv4 peers only")
    };
    let mut value = vec![0, 1];
    value.extend((addr.port() ^ (MAGIC_COOKIE >> 16) as u16).to_be_bytes());
    value.extend((u32::from(ip) ^ MAGIC_COOKIE).to_be_bytes());
    value
}
