//! The user's `~/.ssh/config`, as OpenSSH reads it for the name ssh is given: `Host` blocks
//! (patterns with `*`, `?` and `!`), the first value of a keyword wins. mha's own client uses
//! `HostName`, `Port`, `User`, `IdentityFile` and a one-hop `ProxyJump`; `ProxyCommand` and a
//! chain of jump hosts are refused by name (mha cannot go through them, and connecting directly
//! instead would not be what the file says). `Match` blocks are not evaluated and `Include` is not followed: both are
//! reported as warnings naming the line.

use std::path::{Path, PathBuf};

/// What `~/.ssh/config` says for one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostSettings {
    pub hostname: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub identity_file: Option<PathBuf>,
    /// `ProxyJump`/`ProxyCommand` (the keyword as written), its value and the line that set
    /// it; a value of `none` is kept, as it overrides later blocks.
    pub proxy: Option<(String, String, usize)>,
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
            "proxyjump" | "proxycommand" if s.proxy.is_none() => {
                s.proxy = Some((raw.trim()[..key.len()].to_string(), value, line))
            }
            "include" => s.warnings.push(format!(
                "{file}:{line}: `Include` is not followed by mha's own SSH client"
            )),
            _ => {}
        }
    }
    s
}

/// One jump host as a `ProxyJump` value gives it: `[user@]host[:port]`, or `ssh://` before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpSpec {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

/// A `ProxyJump` value: `Ok(None)` for `none` (connect directly); `Err` says why mha cannot
/// use it (a chain of hosts, an empty host, a bad port).
pub fn parse_jump(value: &str) -> Result<Option<JumpSpec>, String> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    if value.contains(',') {
        return Err("mha's own SSH client goes through one jump host, not a chain".into());
    }
    let rest = value.strip_prefix("ssh://").unwrap_or(value);
    let (user, rest) = match rest.rsplit_once('@') {
        Some((u, r)) if !u.is_empty() => (Some(u.to_string()), r),
        Some(_) => return Err("the user before `@` is empty".into()),
        None => (None, rest),
    };
    let (host, port) = match rest.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((h, "")) => (h, None),
            Some((h, p)) => (h, Some(p.strip_prefix(':').unwrap_or(p))),
            None => return Err("`[` without `]`".into()),
        },
        None => match rest.split_once(':') {
            Some((h, p)) if !p.contains(':') => (h, Some(p)),
            _ => (rest, None),
        },
    };
    if host.is_empty() {
        return Err("no host name".into());
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(format!("{p:?} is not a port")),
        },
    };
    Ok(Some(JumpSpec {
        user,
        host: host.to_string(),
        port,
    }))
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
            Some(("ProxyJump".to_string(), "jump.example.com".to_string(), 15))
        );
        // `none` in an earlier block wins over a later jump host, as in OpenSSH.
        let s = lookup(
            "Host db1
 ProxyJump none
Host *
 ProxyJump b
",
            "db1",
            "cfg",
        );
        assert_eq!(s.proxy, Some(("ProxyJump".into(), "none".into(), 2)));
    }

    #[test]
    fn proxy_jump_values() {
        let spec = |user: Option<&str>, host: &str, port: Option<u16>| {
            Ok(Some(JumpSpec {
                user: user.map(str::to_string),
                host: host.to_string(),
                port,
            }))
        };
        for (value, want) in [
            ("bastion", spec(None, "bastion", None)),
            ("dba@bastion", spec(Some("dba"), "bastion", None)),
            ("dba@bastion:2222", spec(Some("dba"), "bastion", Some(2222))),
            ("bastion:2222", spec(None, "bastion", Some(2222))),
            (
                "ssh://dba@10.0.0.9:22",
                spec(Some("dba"), "10.0.0.9", Some(22)),
            ),
            ("[2001:db8::1]:2200", spec(None, "2001:db8::1", Some(2200))),
            ("u@[2001:db8::1]", spec(Some("u"), "2001:db8::1", None)),
            ("none", Ok(None)),
            ("NONE", Ok(None)),
        ] {
            assert_eq!(parse_jump(value), want, "{value}");
        }
        for (value, why) in [
            ("a,b", "not a chain"),
            ("a@b:2222,c", "not a chain"),
            ("bastion:0", "\"0\" is not a port"),
            ("bastion:ssh", "\"ssh\" is not a port"),
            ("dba@", "no host name"),
            ("@bastion", "user before `@` is empty"),
            ("[::1", "`[` without `]`"),
        ] {
            let err = parse_jump(value).unwrap_err();
            assert!(err.contains(why), "{value}: {err}");
        }
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
