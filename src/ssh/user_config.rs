//! The user's `~/.ssh/config`, as OpenSSH reads it for the name ssh is given: `Host` blocks
//! (patterns with `*`, `?` and `!`), the first value of a keyword wins. mha's own client uses
//! `HostName`, `Port`, `User` and `IdentityFile`; `ProxyJump`/`ProxyCommand` are refused by
//! name (mha cannot go through them, and connecting directly instead would not be what the
//! file says). `Match` blocks are not evaluated and `Include` is not followed: both are
//! reported as warnings naming the line.

use std::path::{Path, PathBuf};

/// What `~/.ssh/config` says for one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostSettings {
    pub hostname: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub identity_file: Option<PathBuf>,
    /// `ProxyJump`/`ProxyCommand` and the line that set it.
    pub proxy: Option<(String, usize)>,
    pub warnings: Vec<String>,
}

/// `~/.ssh/config` of the user running mha.
pub fn default_path() -> Option<PathBuf> {
    super::home_dir().map(|h| h.join(".ssh/config"))
}

/// The settings for `host` from the file at `path` (none when it does not exist).
pub fn for_host(path: &Path, host: &str) -> HostSettings {
    match std::fs::read_to_string(path) {
        Ok(text) => lookup(&text, host, &path.display().to_string()),
        Err(_) => HostSettings::default(),
    }
}

/// `*` any run, `?` one character (OpenSSH's match_pattern).
fn glob(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    go(&p, &n)
}

/// A `Host` line's patterns: some positive one matches and no negated one does.
fn host_matches(patterns: &[&str], host: &str) -> bool {
    let mut any = false;
    for p in patterns {
        match p.strip_prefix('!') {
            Some(neg) if glob(neg, host) => return false,
            Some(_) => {}
            None => any |= glob(p, host),
        }
    }
    any
}

/// `Keyword value`, `Keyword=value` or `Keyword = value`; the keyword in lower case.
fn split_line(line: &str) -> Option<(String, String)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (k, v) = line.split_once(|c: char| c == '=' || c.is_whitespace())?;
    let v = v
        .trim_start_matches(|c: char| c == '=' || c.is_whitespace())
        .trim();
    Some((k.to_ascii_lowercase(), v.trim_matches('"').to_string()))
}

fn expand(value: &str, host: &str) -> String {
    let home = super::home_dir()
        .map(|h| h.display().to_string())
        .unwrap_or_default();
    let v = match value.strip_prefix("~/") {
        Some(rest) => format!("{home}/{rest}"),
        None => value.to_string(),
    };
    v.replace("%h", host)
        .replace("%d", &home)
        .replace("%%", "%")
}

pub fn lookup(text: &str, host: &str, file: &str) -> HostSettings {
    let mut s = HostSettings::default();
    // Lines before the first Host apply to every host.
    let mut applies = true;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let Some((key, value)) = split_line(raw) else {
            continue;
        };
        match key.as_str() {
            "host" => {
                let patterns: Vec<&str> = value.split_whitespace().collect();
                applies = host_matches(&patterns, host);
            }
            "match" => {
                applies = false;
                s.warnings.push(format!(
                    "{file}:{line}: `Match` blocks are not evaluated by mha's own SSH client; their settings are not used"
                ));
            }
            _ if !applies => {}
            "hostname" if s.hostname.is_none() => s.hostname = Some(expand(&value, host)),
            "port" if s.port.is_none() => match value.parse::<u16>() {
                Ok(p) if p > 0 => s.port = Some(p),
                _ => s.warnings.push(format!(
                    "{file}:{line}: Port {value:?} is not a port; not used"
                )),
            },
            "user" if s.user.is_none() => s.user = Some(value),
            "identityfile" if s.identity_file.is_none() => {
                s.identity_file = Some(PathBuf::from(expand(&value, host)))
            }
            "proxyjump" | "proxycommand" if s.proxy.is_none() && value != "none" => {
                s.proxy = Some((format!("{} {value}", &raw.trim()[..key.len()]), line))
            }
            "include" => s.warnings.push(format!(
                "{file}:{line}: `Include` is not followed by mha's own SSH client"
            )),
            _ => {}
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
# global
ServerAliveInterval 10

Host db1 db1-alias
    HostName 192.0.2.1
    Port 2222
    User dba
    IdentityFile ~/.ssh/db_key

Host db* !db9
    Port 2200
    User other

Host bastioned
    ProxyJump jump.example.com

Host *
    IdentityFile=/etc/mha/key
    User=fallback
";

    #[test]
    fn first_value_wins_across_matching_host_blocks() {
        let home = crate::ssh::home_dir().unwrap().display().to_string();
        let s = lookup(FILE, "db1-alias", "cfg");
        assert_eq!(s.hostname.as_deref(), Some("192.0.2.1"));
        assert_eq!(s.port, Some(2222));
        assert_eq!(s.user.as_deref(), Some("dba"));
        assert_eq!(
            s.identity_file,
            Some(PathBuf::from(format!("{home}/.ssh/db_key")))
        );

        let s = lookup(FILE, "db2", "cfg");
        assert_eq!(
            (s.hostname, s.port, s.user.as_deref()),
            (None, Some(2200), Some("other"))
        );
        assert_eq!(s.identity_file, Some(PathBuf::from("/etc/mha/key")));

        // A negated pattern excludes the host from its block.
        let s = lookup(FILE, "db9", "cfg");
        assert_eq!((s.port, s.user.as_deref()), (None, Some("fallback")));

        let s = lookup(FILE, "bastioned", "cfg");
        assert_eq!(
            s.proxy,
            Some(("ProxyJump jump.example.com".to_string(), 15))
        );
    }

    #[test]
    fn match_and_include_are_named_not_silently_used() {
        let s = lookup(
            "Include ~/.ssh/more\nMatch host db1\n  Port 2\nHost x\n  Port 3\n",
            "db1",
            "cfg",
        );
        assert_eq!(s.port, None);
        assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
        assert!(s.warnings[0].starts_with("cfg:1: `Include`"));
        assert!(s.warnings[1].starts_with("cfg:2: `Match`"));
    }
}
