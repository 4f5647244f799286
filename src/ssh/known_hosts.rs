//! Host key verification against an OpenSSH known_hosts file. Entries for a port other than 22
//! are written `[host]:port`, as ssh-keyscan and ssh write them; hashed names (`|1|...`) work.

use std::path::Path;

use russh::keys::{HashAlg, PublicKey};

/// What a known_hosts file says about the key a server presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// An entry for this host holds this very key.
    Known,
    /// An entry for this host holds another key of the same type: a man in the middle, or the
    /// host was reinstalled.
    Changed { line: usize },
    /// Entries for this host hold keys of other types only.
    OtherTypes { lines: Vec<usize> },
    /// No entry names this host (or the file does not exist).
    Unknown,
}

/// `SHA256:...`, as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

pub fn key_type(key: &PublicKey) -> String {
    key.algorithm().as_str().to_string()
}

/// Look `host`:`port` up in `path` and judge `key`. Errors are messages about the file.
pub fn check(path: &Path, host: &str, port: u16, key: &PublicKey) -> Result<Verdict, String> {
    let entries = russh::keys::known_hosts::known_host_keys_path(host, port, path)
        .map_err(|e| format!("cannot read known_hosts file {}: {e}", path.display()))?;
    let entries: Vec<(usize, PublicKey)> = entries
        .into_iter()
        .map(|(n, k)| (real_line(path, n), k))
        .collect();
    Ok(judge(&entries, key))
}

/// The decision on the entries found for the host (line number, recorded key).
pub fn judge(entries: &[(usize, PublicKey)], key: &PublicKey) -> Verdict {
    let same_type: Vec<&(usize, PublicKey)> = entries
        .iter()
        .filter(|(_, k)| k.algorithm() == key.algorithm())
        .collect();
    if same_type
        .iter()
        .any(|(_, k)| k.key_data() == key.key_data())
    {
        Verdict::Known
    } else if let Some((line, _)) = same_type.first() {
        Verdict::Changed { line: *line }
    } else if !entries.is_empty() {
        Verdict::OtherTypes {
            lines: entries.iter().map(|(l, _)| *l).collect(),
        }
    } else {
        Verdict::Unknown
    }
}

/// russh counts only the lines that are not comments; map its number back to the file's.
fn real_line(path: &Path, counted: usize) -> usize {
    let Ok(text) = std::fs::read_to_string(path) else {
        return counted;
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#'))
        .nth(counted.saturating_sub(1))
        .map(|(i, _)| i + 1)
        .unwrap_or(counted)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Two unrelated ed25519 keys and one ECDSA key (public halves only).
    const ED_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIIbA1JfqU7h0b39WrFdlPSTOveh+4reucJyn2FKFfSed";
    const ED_B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIITEN60pikcv8ByDUmnbb19zyv6QZk7mACriFe3Xqwa2";
    const ECDSA: &str = "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBMNLkap/JVOoEVrAKAU4AY8CxNrDGRI15EweFEDRDdW0HHZ34EeoBwako5Km4eQX9BDkbx/IEV1zAzrT/GBn/6Q=";

    fn key(b64: &str) -> PublicKey {
        russh::keys::parse_public_key_base64(b64).unwrap()
    }

    fn write(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn judged_on_the_entries_for_the_host() {
        let a = key(ED_A);
        let b = key(ED_B);
        let e = key(ECDSA);
        assert_eq!(judge(&[], &a), Verdict::Unknown);
        assert_eq!(judge(&[(3, a.clone())], &a), Verdict::Known);
        assert_eq!(judge(&[(2, b.clone()), (5, a.clone())], &a), Verdict::Known);
        assert_eq!(judge(&[(4, b.clone())], &a), Verdict::Changed { line: 4 });
        assert_eq!(
            judge(&[(1, e.clone()), (7, e.clone())], &a),
            Verdict::OtherTypes { lines: vec![1, 7] }
        );
        assert_eq!(judge(&[(1, e), (9, b)], &a), Verdict::Changed { line: 9 });
    }

    #[test]
    fn file_lookup_uses_bracketed_host_port_and_real_line_numbers() {
        let a = key(ED_A);
        let f = write(&format!(
            "# a comment\n\
             [127.0.0.1]:2200 ssh-ed25519 {ED_B}\n\
             # another\n\
             [127.0.0.1]:2201 ssh-ed25519 {ED_A}\n\
             127.0.0.1 ssh-ed25519 {ED_A}\n\
             db1,10.0.0.1 ecdsa-sha2-nistp256 {ECDSA}\n"
        ));
        let p = f.path();
        assert_eq!(check(p, "127.0.0.1", 2201, &a), Ok(Verdict::Known));
        assert_eq!(check(p, "127.0.0.1", 22, &a), Ok(Verdict::Known));
        assert_eq!(
            check(p, "127.0.0.1", 2200, &a),
            Ok(Verdict::Changed { line: 2 })
        );
        assert_eq!(check(p, "127.0.0.1", 2202, &a), Ok(Verdict::Unknown));
        assert_eq!(
            check(p, "10.0.0.1", 22, &a),
            Ok(Verdict::OtherTypes { lines: vec![6] })
        );
        assert_eq!(
            check(Path::new("/nonexistent/known_hosts"), "h", 22, &a),
            Ok(Verdict::Unknown)
        );
        assert_eq!(check(write("").path(), "h", 22, &a), Ok(Verdict::Unknown));
    }

    #[test]
    fn fingerprint_is_openssh_style() {
        // As `ssh-keygen -lf` prints it for this key.
        assert_eq!(
            fingerprint(&key(ED_A)),
            "SHA256:DDFb3PhAOigY6DQsZX/g4gR/9A4gVSLqFteAR3pvNQw"
        );
        assert_eq!(key_type(&key(ED_A)), "ssh-ed25519");
    }
}
