//! MHA's `ssh_options`: a string MHA pasted into every `ssh` command line. mha's own SSH client
//! honours the few options that change how it connects and names every other one in a warning
//! (the string still goes, word for word, to the `ssh` that check_ssh runs on the database
//! hosts, as in MHA).
//!
//! As in OpenSSH, the first value given for an option wins (`-p 1 -p 2` is port 1), so the
//! result is the same whether mha or the `ssh` it runs reads the string.

use std::path::PathBuf;
use std::time::Duration;

/// What `ssh_options` asks of mha's own SSH connections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshOptions {
    /// `-i FILE`
    pub identity_file: Option<PathBuf>,
    /// `-p PORT`
    pub port: Option<u16>,
    /// `-o StrictHostKeyChecking=...`: `Some(false)` for `no`/`off`.
    pub strict_host_key_checking: Option<bool>,
    /// `-o UserKnownHostsFile=FILE` (`none` reads as `/dev/null`: no host is known).
    pub known_hosts_file: Option<PathBuf>,
    /// `-o ConnectTimeout=N`
    pub connect_timeout: Option<Duration>,
    /// One message per option mha ignores or could not read, naming the option.
    pub warnings: Vec<String>,
}

/// `ssh` flags that take an argument (ssh(1)); named with their argument in warnings.
const FLAGS_WITH_ARGUMENT: &str = "BbcDEeFIiJLlmOopQRSWw";

/// Options that only restate what mha's client always does (public-key authentication, never a
/// prompt), so ignoring them changes nothing and is not worth a warning.
const ALREADY_SO: &[(&str, &str)] = &[
    ("batchmode", "yes"),
    ("passwordauthentication", "no"),
    ("kbdinteractiveauthentication", "no"),
    ("challengeresponseauthentication", "no"),
    ("pubkeyauthentication", "yes"),
];

fn ignored(what: &str) -> String {
    format!(
        "ssh_options: `{what}` is not supported by mha's own SSH connections and is ignored there \
         (check_ssh still passes it to ssh on the database hosts)"
    )
}

fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
}

/// Split like a POSIX shell does (MHA's options went through `sh -c`): blanks separate words,
/// single quotes are literal, double quotes and backslashes escape.
pub fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => cur.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') => {}
                    Some(c) => cur.push(c),
                    None => return Err("trailing backslash".into()),
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Quote one word for a POSIX shell; plain words stay as they are for readable commands.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Read `ssh_options` as OpenSSH would and keep what mha's client honours.
pub fn parse(options: &str) -> SshOptions {
    let mut out = SshOptions::default();
    let words = match split_words(options) {
        Ok(w) => w,
        Err(e) => {
            out.warnings.push(format!(
                "ssh_options: cannot read {options:?} ({e}); mha's own SSH connections ignore it"
            ));
            return out;
        }
    };
    let mut words = words.into_iter();
    while let Some(word) = words.next() {
        let Some(flags) = word.strip_prefix('-').filter(|f| !f.is_empty()) else {
            out.warnings.push(format!(
                "ssh_options: unexpected argument `{word}` (not an option) is ignored"
            ));
            continue;
        };
        // `-i FILE` and `-iFILE` alike; boolean flags may be grouped (`-qT`).
        let mut rest = flags;
        while let Some(flag) = rest.chars().next() {
            rest = &rest[flag.len_utf8()..];
            if !FLAGS_WITH_ARGUMENT.contains(flag) {
                out.warnings.push(ignored(&format!("-{flag}")));
                continue;
            }
            let arg = if rest.is_empty() {
                words.next()
            } else {
                Some(std::mem::take(&mut rest).to_string())
            };
            let Some(arg) = arg else {
                out.warnings.push(format!(
                    "ssh_options: `-{flag}` lacks its argument; ignored"
                ));
                break;
            };
            match flag {
                'i' if out.identity_file.is_some() => out.warnings.push(format!(
                    "ssh_options: `-i {arg}`: mha's own SSH connections use only the first key \
                     file given with -i"
                )),
                'i' => out.identity_file = Some(expand_home(&arg)),
                'p' => match arg.parse::<u16>() {
                    Ok(p) if p > 0 => {
                        out.port.get_or_insert(p);
                    }
                    _ => out
                        .warnings
                        .push(format!("ssh_options: `-p {arg}` is not a port; ignored")),
                },
                'o' => option(&mut out, &arg),
                _ => out.warnings.push(ignored(&format!("-{flag} {arg}"))),
            }
        }
    }
    out
}

/// One `-o` argument: `Key=Value`, `Key Value` or `Key = Value`; keywords are case-insensitive.
fn option(out: &mut SshOptions, arg: &str) {
    let shown = format!("-o {arg}");
    let (key, value) = match arg.split_once(|c: char| c == '=' || c.is_whitespace()) {
        Some((k, v)) => (k.trim(), v.trim_start_matches([' ', '\t', '=']).trim()),
        None => (arg.trim(), ""),
    };
    let key = key.to_ascii_lowercase();
    let lower = value.to_ascii_lowercase();
    match key.as_str() {
        "stricthostkeychecking" => match lower.as_str() {
            "no" | "off" => {
                out.strict_host_key_checking.get_or_insert(false);
            }
            "yes" | "ask" => {
                out.strict_host_key_checking.get_or_insert(true);
            }
            "accept-new" => {
                out.strict_host_key_checking.get_or_insert(true);
                out.warnings.push(format!(
                    "ssh_options: `{shown}` is treated as `yes` by mha's own SSH connections: \
                     they never add keys to known_hosts"
                ));
            }
            _ => out
                .warnings
                .push(format!("ssh_options: `{shown}`: unknown value; ignored")),
        },
        "userknownhostsfile" => {
            let files = split_words(value).unwrap_or_default();
            match files.first().map(String::as_str) {
                None => out
                    .warnings
                    .push(format!("ssh_options: `{shown}` names no file; ignored")),
                Some(first) => {
                    out.known_hosts_file.get_or_insert_with(|| {
                        if first.eq_ignore_ascii_case("none") {
                            PathBuf::from("/dev/null")
                        } else {
                            expand_home(first)
                        }
                    });
                    if files.len() > 1 {
                        out.warnings.push(format!(
                            "ssh_options: `{shown}`: mha's own SSH connections read only the \
                             first file, {first}"
                        ));
                    }
                }
            }
        }
        "connecttimeout" => match value.parse::<u64>() {
            Ok(n) if n > 0 => {
                out.connect_timeout.get_or_insert(Duration::from_secs(n));
            }
            _ => out.warnings.push(format!(
                "ssh_options: `{shown}` is not a positive number of seconds; ignored"
            )),
        },
        _ if ALREADY_SO.contains(&(key.as_str(), lower.as_str())) => {}
        _ => out.warnings.push(ignored(&shown)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home() -> PathBuf {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
    }

    #[test]
    fn split_words_like_a_shell() {
        let cases: &[(&str, &[&str])] = &[
            ("", &[]),
            ("   ", &[]),
            ("-i key", &["-i", "key"]),
            ("  -o  A=b\t-q ", &["-o", "A=b", "-q"]),
            ("-i '/a b/key'", &["-i", "/a b/key"]),
            (
                r#"-o "UserKnownHostsFile=/x y""#,
                &["-o", "UserKnownHostsFile=/x y"],
            ),
            (r"-i /a\ b", &["-i", "/a b"]),
            (r#""a\"b" 'c\d'"#, &[r#"a"b"#, r"c\d"]),
            (r#""a\xb""#, &[r"a\xb"]),
            ("''", &[""]),
            ("x''y", &["xy"]),
        ];
        for (input, want) in cases {
            let got = split_words(input).unwrap();
            assert_eq!(got, *want, "input {input:?}");
        }
        for bad in ["'open", "\"open", "x\\"] {
            assert!(split_words(bad).is_err(), "{bad:?} should not split");
        }
    }

    #[test]
    fn quote_round_trips_through_split() {
        for w in [
            "plain",
            "user@host",
            "ConnectTimeout=5",
            "/tmp/a b",
            "it's",
            "",
            "$HOME",
            "a\"b",
            "`x`",
            "a;b",
            "~/.ssh/id",
        ] {
            let q = quote(w);
            assert_eq!(
                split_words(&q).unwrap(),
                vec![w.to_string()],
                "{w:?} -> {q}"
            );
        }
        assert_eq!(quote("-o"), "-o");
        assert_eq!(quote("root@127.0.0.1"), "root@127.0.0.1");
        assert_eq!(quote("a b"), "'a b'");
    }

    /// (ssh_options, expected options without warnings, substrings of the warnings in order)
    #[test]
    fn honoured_options_and_warnings() {
        let secs = Duration::from_secs;
        let cases: Vec<(&str, SshOptions, Vec<&str>)> = vec![
            ("", SshOptions::default(), vec![]),
            (
                "-i /k/id -p 2222",
                SshOptions {
                    identity_file: Some("/k/id".into()),
                    port: Some(2222),
                    ..Default::default()
                },
                vec![],
            ),
            (
                "-i/k/id -p2222",
                SshOptions {
                    identity_file: Some("/k/id".into()),
                    port: Some(2222),
                    ..Default::default()
                },
                vec![],
            ),
            (
                "-i ~/.ssh/mha",
                SshOptions {
                    identity_file: Some(home().join(".ssh/mha")),
                    ..Default::default()
                },
                vec![],
            ),
            (
                "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
                SshOptions {
                    strict_host_key_checking: Some(false),
                    known_hosts_file: Some("/dev/null".into()),
                    ..Default::default()
                },
                vec![],
            ),
            (
                "-ostricthostkeychecking=OFF -oUserKnownHostsFile=none",
                SshOptions {
                    strict_host_key_checking: Some(false),
                    known_hosts_file: Some("/dev/null".into()),
                    ..Default::default()
                },
                vec![],
            ),
            (
                "-o 'StrictHostKeyChecking yes' -o 'ConnectTimeout = 9'",
                SshOptions {
                    strict_host_key_checking: Some(true),
                    connect_timeout: Some(secs(9)),
                    ..Default::default()
                },
                vec![],
            ),
            (
                "-o ConnectTimeout=3 -o BatchMode=yes -o PasswordAuthentication=no",
                SshOptions {
                    connect_timeout: Some(secs(3)),
                    ..Default::default()
                },
                vec![],
            ),
            (
                "-o StrictHostKeyChecking=accept-new",
                SshOptions {
                    strict_host_key_checking: Some(true),
                    ..Default::default()
                },
                vec!["`-o StrictHostKeyChecking=accept-new` is treated as `yes`"],
            ),
            (
                "-o UserKnownHostsFile='/a /b'",
                SshOptions {
                    known_hosts_file: Some("/a".into()),
                    ..Default::default()
                },
                vec!["read only the first file, /a"],
            ),
            (
                "-q -C -o Compression=yes -i /k",
                SshOptions {
                    identity_file: Some("/k".into()),
                    ..Default::default()
                },
                vec![
                    "`-q` is not supported",
                    "`-C` is not supported",
                    "`-o Compression=yes` is not supported",
                ],
            ),
            (
                "-qT",
                SshOptions::default(),
                vec!["`-q` is not supported", "`-T` is not supported"],
            ),
            (
                "-l admin -F /etc/ssh/alt",
                SshOptions::default(),
                vec![
                    "`-l admin` is not supported",
                    "`-F /etc/ssh/alt` is not supported",
                ],
            ),
            (
                "-p 0 -p x -o ConnectTimeout=0 -o ConnectTimeout=soon",
                SshOptions::default(),
                vec![
                    "`-p 0` is not a port",
                    "`-p x` is not a port",
                    "`-o ConnectTimeout=0` is not a positive",
                    "`-o ConnectTimeout=soon` is not a positive",
                ],
            ),
            (
                "-o StrictHostKeyChecking=maybe -o UserKnownHostsFile=",
                SshOptions::default(),
                vec![
                    "`-o StrictHostKeyChecking=maybe`: unknown value",
                    "`-o UserKnownHostsFile=` names no file",
                ],
            ),
            ("-i", SshOptions::default(), vec!["`-i` lacks its argument"]),
            (
                "root@db1",
                SshOptions::default(),
                vec!["unexpected argument `root@db1`"],
            ),
            (
                "-i 'unterminated",
                SshOptions::default(),
                vec!["cannot read"],
            ),
            (
                // The first of a repeated option wins, as with OpenSSH.
                "-p 1 -p 2 -o ConnectTimeout=7 -o connecttimeout=8 \
                 -o StrictHostKeyChecking=no -o StrictHostKeyChecking=yes \
                 -o UserKnownHostsFile=/a -o UserKnownHostsFile=/b",
                SshOptions {
                    port: Some(1),
                    connect_timeout: Some(secs(7)),
                    strict_host_key_checking: Some(false),
                    known_hosts_file: Some("/a".into()),
                    ..Default::default()
                },
                vec![],
            ),
            (
                "-i /a -i /b",
                SshOptions {
                    identity_file: Some("/a".into()),
                    ..Default::default()
                },
                vec!["`-i /b`: mha's own SSH connections use only the first key"],
            ),
        ];
        for (input, want, warnings) in cases {
            let mut got = parse(input);
            let got_warnings = std::mem::take(&mut got.warnings);
            assert_eq!(got, want, "ssh_options {input:?}");
            assert_eq!(
                got_warnings.len(),
                warnings.len(),
                "ssh_options {input:?}: {got_warnings:#?}"
            );
            for (g, w) in got_warnings.iter().zip(&warnings) {
                assert!(g.contains(w), "ssh_options {input:?}: {g:?} lacks {w:?}");
                assert!(g.starts_with("ssh_options: "), "{g}");
            }
        }
    }
}
