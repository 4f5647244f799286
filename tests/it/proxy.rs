//! A fault-injecting TCP proxy in front of one real mariadbd: it forwards both directions byte
//! for byte, except that a chosen statement's answer is lost. When the client sends a
//! COM_QUERY whose text contains the needle, the proxy passes it to the server and, as soon as
//! the server answers (so the statement has run), closes both connections instead of passing
//! the answer back: the client sees a lost connection after a statement that took effect.
//! The cut fires a set number of times; then the proxy forwards normally. Loopback only.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// MySQL protocol: the command byte of a text query.
const COM_QUERY: u8 = 0x03;

/// Which statement to cut, how many times more, and how many cuts happened.
struct Rule {
    /// Lower case, without whitespace (`SET GLOBAL read_only = 0` is `setglobalread_only=0`).
    needle: String,
    left: AtomicUsize,
    cut: AtomicUsize,
}

impl Rule {
    fn matches(&self, payload: &[u8]) -> bool {
        payload.first() == Some(&COM_QUERY) && squeeze(&payload[1..]).contains(&self.needle)
    }

    /// Claim one cut, if any is left.
    fn take(&self) -> bool {
        self.left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

fn squeeze(text: &[u8]) -> String {
    String::from_utf8_lossy(text)
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Open connections (both sockets of each), so that drop can end them.
type Conns = Arc<Mutex<HashMap<u64, (TcpStream, TcpStream)>>>;

pub struct Proxy {
    pub port: u16,
    rule: Arc<Rule>,
    stop: Arc<AtomicBool>,
    conns: Conns,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Listen on a free loopback port and forward to `127.0.0.1:upstream`; the answers to the
    /// first `times` queries whose text contains `needle` (case and whitespace ignored) are
    /// replaced by a closed connection.
    pub fn start(upstream: u16, needle: &str, times: usize) -> Proxy {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let rule = Arc::new(Rule {
            needle: squeeze(needle.as_bytes()),
            left: AtomicUsize::new(times),
            cut: AtomicUsize::new(0),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Conns = Arc::default();
        let accept = {
            let (rule, stop, conns) = (rule.clone(), stop.clone(), conns.clone());
            std::thread::spawn(move || {
                for (id, client) in (0u64..).zip(listener.incoming()) {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(client) = client else { continue };
                    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                        continue;
                    };
                    let (rule, conns) = (rule.clone(), conns.clone());
                    std::thread::spawn(move || serve(id, client, server, &rule, &conns));
                }
            })
        };
        Proxy {
            port,
            rule,
            stop,
            conns,
            accept: Some(accept),
        }
    }

    /// How many answers were withheld (each after its statement reached the server and the
    /// server answered).
    pub fn cuts(&self) -> usize {
        self.rule.cut.load(Ordering::SeqCst)
    }
}

/// One client connection: client → server here, packet by packet; server → client in a
/// second thread, byte for byte.
fn serve(id: u64, client: TcpStream, server: TcpStream, rule: &Arc<Rule>, conns: &Conns) {
    let clone = |s: &TcpStream| s.try_clone().unwrap();
    conns
        .lock()
        .unwrap()
        .insert(id, (clone(&client), clone(&server)));
    // Set before the matching query goes out, so it is set before its answer can come back.
    let cut_next_answer = Arc::new(AtomicBool::new(false));
    let back = {
        let (mut from, mut to) = (clone(&server), clone(&client));
        let (cut, rule) = (cut_next_answer.clone(), rule.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if cut.load(Ordering::SeqCst) {
                    // The statement has run: the server answered. The client never hears it.
                    rule.cut.fetch_add(1, Ordering::SeqCst);
                    break;
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(Shutdown::Both);
            let _ = from.shutdown(Shutdown::Both);
        })
    };
    let (mut from, mut to) = (client, server);
    loop {
        // A packet: 3-byte little-endian length, sequence id, payload. A command starts a new
        // exchange (sequence 0); the client's handshake response (sequence 1) is never one.
        let mut head = [0u8; 4];
        if from.read_exact(&mut head).is_err() {
            break;
        }
        let len = u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize;
        let mut payload = vec![0u8; len];
        if from.read_exact(&mut payload).is_err() {
            break;
        }
        if head[3] == 0 && rule.matches(&payload) && rule.take() {
            cut_next_answer.store(true, Ordering::SeqCst);
        }
        if to.write_all(&head).is_err() || to.write_all(&payload).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
    let _ = back.join();
    conns.lock().unwrap().remove(&id);
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        for (c, s) in self.conns.lock().unwrap().values() {
            let _ = c.shutdown(Shutdown::Both);
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}
