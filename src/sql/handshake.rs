//! Just enough of the MySQL client/server handshake to log in over a byte stream that is not a
//! socket of ours (an SSH `direct-tcpip` channel opened from a replica's host), then quit.
//!
//! Why log in at all when the server's first packet already proves it alive: a client that
//! reads the handshake and hangs up counts as a "connection error" against its host, and a
//! server without `skip_name_resolve` blocks that host after `max_connect_errors` of them
//! (1129, "Host ... is blocked because of many connection errors"). Probing from a replica's
//! host must never block that host. A completed login (or an authentication failure, which
//! is not a handshake error) does not count, and a successful one resets the host's count.

use ring::digest::{Context, SHA1_FOR_LEGACY_USE_ONLY, SHA256};

const CLIENT_LONG_PASSWORD: u32 = 0x1;
const CLIENT_PROTOCOL_41: u32 = 0x200;
const CLIENT_TRANSACTIONS: u32 = 0x2000;
const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
const CLIENT_PLUGIN_AUTH: u32 = 0x0008_0000;

/// What the server's first packet said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Greeting {
    /// Protocol 10 handshake: the 20-byte scramble and the authentication plugin's name.
    Handshake { scramble: Vec<u8>, plugin: String },
    /// An error packet instead (too many connections, host blocked, ...): alive, no login.
    Error { code: u16, message: String },
}

/// Parse the payload (without the 4-byte packet header) of the server's first packet.
pub fn parse_greeting(p: &[u8]) -> Result<Greeting, String> {
    match p.first() {
        Some(0xff) => {
            let code = p
                .get(1..3)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
                .unwrap_or(0);
            let text = p.get(3..).unwrap_or_default();
            // 4.1 error packets carry '#' and a 5-character SQL state first.
            let text = if text.first() == Some(&b'#') {
                text.get(6..).unwrap_or_default()
            } else {
                text
            };
            Ok(Greeting::Error {
                code,
                message: String::from_utf8_lossy(text).into_owned(),
            })
        }
        Some(10) => {
            let short = || "short handshake packet".to_string();
            let version_end = p[1..].iter().position(|b| *b == 0).ok_or_else(short)? + 1;
            let mut i = version_end + 1 + 4; // version NUL, connection id
            let part1 = p.get(i..i + 8).ok_or_else(short)?.to_vec();
            i += 8 + 1; // filler
            let cap_low = u32::from(u16::from_le_bytes(
                p.get(i..i + 2)
                    .ok_or_else(short)?
                    .try_into()
                    .map_err(|_| short())?,
            ));
            i += 2;
            if p.len() <= i {
                // Pre-4.1 server: nothing more.
                return Ok(Greeting::Handshake {
                    scramble: part1,
                    plugin: "mysql_native_password".into(),
                });
            }
            i += 1 + 2; // charset, status
            let cap_high = u32::from(u16::from_le_bytes(
                p.get(i..i + 2)
                    .ok_or_else(short)?
                    .try_into()
                    .map_err(|_| short())?,
            ));
            let caps = cap_low | (cap_high << 16);
            i += 2;
            let auth_len = usize::from(*p.get(i).ok_or_else(short)?);
            i += 1 + 10; // auth data length, reserved
            let mut scramble = part1;
            if caps & CLIENT_SECURE_CONNECTION != 0 {
                let n = auth_len.saturating_sub(8).max(13);
                let part2 = p.get(i..i + n).ok_or_else(short)?;
                // The second part ends with a NUL that is not part of the scramble.
                scramble.extend(part2.iter().take(12));
                i += n;
            }
            let plugin = if caps & CLIENT_PLUGIN_AUTH != 0 {
                let rest = p.get(i..).unwrap_or_default();
                let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
                String::from_utf8_lossy(&rest[..end]).into_owned()
            } else {
                "mysql_native_password".into()
            };
            Ok(Greeting::Handshake { scramble, plugin })
        }
        Some(v) => Err(format!("not a MySQL handshake (protocol {v})")),
        None => Err("empty packet".into()),
    }
}

fn digest(alg: &'static ring::digest::Algorithm, parts: &[&[u8]]) -> Vec<u8> {
    let mut c = Context::new(alg);
    for p in parts {
        c.update(p);
    }
    c.finish().as_ref().to_vec()
}

/// The answer to the scramble for the plugins a manager may meet; `None` for others (the
/// probe then quits after the greeting).
pub fn scramble_answer(plugin: &str, password: &str, scramble: &[u8]) -> Option<Vec<u8>> {
    if password.is_empty() {
        return Some(vec![]);
    }
    let pw = password.as_bytes();
    match plugin {
        // SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw)))
        "mysql_native_password" => {
            let h1 = digest(&SHA1_FOR_LEGACY_USE_ONLY, &[pw]);
            let h2 = digest(&SHA1_FOR_LEGACY_USE_ONLY, &[&h1]);
            let h3 = digest(&SHA1_FOR_LEGACY_USE_ONLY, &[scramble, &h2]);
            Some(h1.iter().zip(h3).map(|(a, b)| a ^ b).collect())
        }
        // Fast authentication: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + scramble)
        "caching_sha2_password" => {
            let h1 = digest(&SHA256, &[pw]);
            let h2 = digest(&SHA256, &[&h1]);
            let h3 = digest(&SHA256, &[&h2, scramble]);
            Some(h1.iter().zip(h3).map(|(a, b)| a ^ b).collect())
        }
        _ => None,
    }
}

/// A whole packet: 3-byte length, sequence number, payload.
pub fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let n = payload.len() as u32;
    let mut out = n.to_le_bytes()[..3].to_vec();
    out.push(seq);
    out.extend_from_slice(payload);
    out
}

/// HandshakeResponse41 (sequence 1).
pub fn login_packet(user: &str, plugin: &str, answer: &[u8]) -> Vec<u8> {
    let caps = CLIENT_LONG_PASSWORD
        | CLIENT_PROTOCOL_41
        | CLIENT_TRANSACTIONS
        | CLIENT_SECURE_CONNECTION
        | CLIENT_PLUGIN_AUTH;
    let mut p = caps.to_le_bytes().to_vec();
    p.extend_from_slice(&(1u32 << 24).to_le_bytes()); // max packet size
    p.push(33); // utf8_general_ci
    p.extend_from_slice(&[0; 23]);
    p.extend_from_slice(user.as_bytes());
    p.push(0);
    p.push(answer.len() as u8);
    p.extend_from_slice(answer);
    p.extend_from_slice(plugin.as_bytes());
    p.push(0);
    packet(1, &p)
}

/// COM_QUIT.
pub fn quit_packet() -> Vec<u8> {
    packet(0, &[0x01])
}

/// Split complete packets' payloads off the front of `buf`.
pub fn take_packet(buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    if buf.len() < 4 {
        return None;
    }
    let n = usize::from(buf[0]) | usize::from(buf[1]) << 8 | usize::from(buf[2]) << 16;
    if buf.len() < 4 + n {
        return None;
    }
    let payload = buf[4..4 + n].to_vec();
    buf.drain(..4 + n);
    Some(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A MariaDB 10.11 greeting as sent on the wire (payload only), scramble "abcdefgh" +
    /// "ijklmnopqrst".
    fn mariadb_greeting() -> Vec<u8> {
        let mut p = vec![10];
        p.extend_from_slice(b"5.5.5-10.11.19-MariaDB\0");
        p.extend_from_slice(&7u32.to_le_bytes());
        p.extend_from_slice(b"abcdefgh");
        p.push(0);
        let caps: u32 = 0xf7fe | (0x81bf << 16);
        p.extend_from_slice(&(caps as u16).to_le_bytes());
        p.push(8);
        p.extend_from_slice(&2u16.to_le_bytes());
        p.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
        p.push(21);
        p.extend_from_slice(&[0; 10]);
        p.extend_from_slice(b"ijklmnopqrst\0");
        p.extend_from_slice(b"mysql_native_password\0");
        p
    }

    #[test]
    fn greetings_parse() {
        assert_eq!(
            parse_greeting(&mariadb_greeting()).unwrap(),
            Greeting::Handshake {
                scramble: b"abcdefghijklmnopqrst".to_vec(),
                plugin: "mysql_native_password".into()
            }
        );
        let mut err = vec![0xff, 0x10, 0x04, b'#'];
        err.extend_from_slice(b"08004Too many connections");
        assert_eq!(
            parse_greeting(&err).unwrap(),
            Greeting::Error {
                code: 1040,
                message: "Too many connections".into()
            }
        );
        assert!(parse_greeting(&[10, b'x']).is_err());
        assert!(parse_greeting(&[]).is_err());
        assert!(parse_greeting(&[9]).is_err());
    }

    #[test]
    fn native_password_answer_matches_the_known_value() {
        // SHA1-based answer: 20 bytes, and a function of password and scramble only.
        let s = b"abcdefghijklmnopqrst";
        let a = scramble_answer("mysql_native_password", "secret", s).unwrap();
        assert_eq!(a.len(), 20);
        assert_eq!(
            a,
            scramble_answer("mysql_native_password", "secret", s).unwrap()
        );
        assert_ne!(
            a,
            scramble_answer("mysql_native_password", "other", s).unwrap()
        );
        assert_eq!(
            scramble_answer("caching_sha2_password", "secret", s)
                .unwrap()
                .len(),
            32
        );
        assert_eq!(scramble_answer("dialog", "secret", s), None);
        assert_eq!(scramble_answer("x", "", s), Some(vec![]));
    }

    #[test]
    fn packets_frame_and_split() {
        let mut buf = packet(0, b"hello");
        buf.extend(packet(1, b"x"));
        buf.push(9);
        assert_eq!(take_packet(&mut buf).unwrap(), b"hello");
        assert_eq!(take_packet(&mut buf).unwrap(), b"x");
        assert_eq!(take_packet(&mut buf), None);
        assert_eq!(quit_packet(), vec![1, 0, 0, 0, 1]);
        let l = login_packet("mha", "mysql_native_password", &[1, 2]);
        assert_eq!(l[3], 1, "sequence 1");
        assert_eq!(usize::from(l[0]), l.len() - 4);
    }
}
