//! MHA's INI format (`app1.cnf`, `/etc/masterha_default.cnf`), read as Perl's Config::Tiny
//! reads it: `[block]` headers, `key=value` lines, `#`/`;` comment lines, surrounding quotes
//! stripped. Line numbers are kept for error messages.

use std::path::Path;

use super::error::{ConfigError, ConfigErrors};
use super::raw::{BlockKind, RawBlock, RawEntry, RawFile, RawValue};

pub fn parse(path: &Path, text: &str) -> Result<RawFile, ConfigErrors> {
    let mut blocks: Vec<RawBlock> = Vec::new();
    let mut errors = Vec::new();
    let mut in_invalid_block = false;
    let err = |line: usize, msg: String| ConfigError::new(path, msg).line(Some(line));

    for (idx, raw_line) in text.lines().enumerate() {
        let n = idx + 1;
        let line = raw_line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some(name) = rest.strip_suffix(']') else {
                errors.push(err(n, format!("block header {line:?} has no closing `]`")));
                in_invalid_block = true;
                continue;
            };
            let name = name.trim().to_string();
            let Some(kind) = BlockKind::of(&name) else {
                errors.push(err(n, invalid_block_message(&name)));
                // Keep reading so later errors are reported too; skip this block's entries.
                in_invalid_block = true;
                continue;
            };
            if let Some(prev) = blocks.iter().find(|b| b.name == name) {
                errors.push(err(
                    n,
                    format!(
                        "block [{name}] is defined twice (first at line {})",
                        prev.line.unwrap_or(0)
                    ),
                ));
            }
            blocks.push(RawBlock {
                name,
                kind,
                line: Some(n),
                entries: vec![],
            });
            in_invalid_block = false;
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            errors.push(err(
                n,
                format!("expected `[block]` or `key=value`, found {line:?}"),
            ));
            continue;
        };
        let key = key.trim().to_string();
        let value = unquote(value.trim()).to_string();
        if in_invalid_block {
            continue;
        }
        let Some(block) = blocks.last_mut() else {
            errors.push(
                err(
                    n,
                    format!("`{key}` appears before any block; put it under [server default]"),
                )
                .key(&key),
            );
            continue;
        };
        if let Some(prev) = block.get(&key) {
            errors.push(
                err(
                    n,
                    format!(
                        "set twice in this block (first at line {})",
                        prev.line.unwrap_or(0)
                    ),
                )
                .block(&block.name)
                .key(&key),
            );
            continue;
        }
        block.entries.push(RawEntry {
            key,
            value: RawValue::Text(value),
            line: Some(n),
        });
    }

    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    sort_servers_like_mha(&mut blocks);
    Ok(RawFile {
        path: path.to_path_buf(),
        blocks,
    })
}

pub(crate) fn invalid_block_message(name: &str) -> String {
    format!(
        "block name {name:?} is invalid: it must be \"server default\" or start with \"server\" or \"binlog\" (+ non-whitespace characters)"
    )
}

fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

/// MHA orders server blocks by name, or numerically by the number in the name when every
/// server block name has one (`server2` before `server10`). That order breaks ties when a new
/// master is chosen, so an app1.cnf must yield MHA's order, not file order.
fn sort_servers_like_mha(blocks: &mut [RawBlock]) {
    fn number(name: &str) -> Option<u64> {
        let digits: String = name
            .chars()
            .skip_while(|c| !c.is_ascii_digit())
            .take_while(|c| c.is_ascii_digit())
            .collect();
        digits.parse().ok()
    }
    for kind in [BlockKind::Server, BlockKind::Binlog] {
        let mut idx: Vec<usize> = (0..blocks.len())
            .filter(|&i| blocks[i].kind == kind)
            .collect();
        let mut group: Vec<RawBlock> = idx.iter().map(|&i| blocks[i].clone()).collect();
        if group.iter().all(|b| number(&b.name).is_some()) {
            group.sort_by_key(|b| number(&b.name));
        } else {
            group.sort_by(|a, b| a.name.cmp(&b.name));
        }
        idx.sort_unstable();
        for (slot, block) in idx.into_iter().zip(group) {
            blocks[slot] = block;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        parse(Path::new("t.cnf"), text)
            .unwrap()
            .blocks
            .iter()
            .map(|b| b.name.clone())
            .collect()
    }

    #[test]
    fn numeric_block_order_like_mha() {
        let t = "[server default]\nuser=a\n[server10]\nhostname=x\n[server2]\nhostname=y\n[server_1]\nhostname=z\n";
        assert_eq!(
            names(t),
            ["server default", "server_1", "server2", "server10"]
        );
    }

    #[test]
    fn name_order_when_a_block_has_no_number() {
        let t = "[serverb]\nhostname=x\n[servera]\nhostname=y\n[server3]\nhostname=z\n";
        assert_eq!(names(t), ["server3", "servera", "serverb"]);
    }

    #[test]
    fn quotes_comments_and_spaces() {
        let f = parse(
            Path::new("t.cnf"),
            "# c\n; c\n[server default]\n  user = \"mha\" \nssh_options='-i /k'\n",
        )
        .unwrap();
        let b = f.server_default().unwrap();
        assert_eq!(b.get("user").unwrap().value, RawValue::Text("mha".into()));
        assert_eq!(
            b.get("ssh_options").unwrap().value,
            RawValue::Text("-i /k".into())
        );
        assert_eq!(b.get("ssh_options").unwrap().line, Some(5));
    }
}
