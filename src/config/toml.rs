//! The TOML format (`app1.toml`): MHA's key names unchanged, a `[server_default]` table, one
//! table per server named like MHA's blocks (`[server1]`), `[binlogN]` tables. Servers keep
//! the order written in the file.

use std::path::Path;

use toml_edit::{Document, Item, Value};

use super::error::{ConfigError, ConfigErrors};
use super::raw::{BlockKind, RawBlock, RawEntry, RawFile, RawValue};

pub fn parse(path: &Path, text: &str) -> Result<RawFile, ConfigErrors> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let doc = Document::parse(text).map_err(|e| {
        let line = e.span().map(|s| line_of(s.start));
        ConfigError::new(path, format!("invalid TOML: {}", e.message().trim())).line(line)
    })?;

    let mut blocks = Vec::new();
    let mut errors = Vec::new();
    let root = doc.as_table();
    let mut tables: Vec<(&str, &Item)> = root.iter().collect();
    // Tables come back in document position order; plain keys at the top level sort first.
    tables.sort_by_key(|(_, item)| item.as_table().and_then(|t| t.position()).unwrap_or(0));

    for (name, item) in tables {
        let name = name.to_string();
        let line = root
            .key(&name)
            .and_then(|k| k.span())
            .map(|s| line_of(s.start));
        let Some(table) = item.as_table() else {
            errors.push(
                ConfigError::new(
                    path,
                    format!("`{name}` is outside any table; put it under [server_default]"),
                )
                .line(line)
                .key(&name),
            );
            continue;
        };
        let Some(kind) = BlockKind::of(&name) else {
            errors.push(
                ConfigError::new(path, super::mha_cnf::invalid_block_message(&name)).line(line),
            );
            continue;
        };
        let mut entries = Vec::new();
        for (k, v) in table.iter() {
            let key_line = table
                .key(k)
                .and_then(|k| k.span())
                .map(|s| line_of(s.start));
            let err = |msg: String| {
                ConfigError::new(path, msg)
                    .line(key_line)
                    .block(&name)
                    .key(k)
            };
            let value = match v {
                Item::Value(Value::String(s)) => RawValue::Text(s.value().clone()),
                Item::Value(Value::Integer(i)) => RawValue::Int(*i.value()),
                Item::Value(Value::Float(f)) => RawValue::Float(*f.value()),
                Item::Value(Value::Boolean(b)) => RawValue::Bool(*b.value()),
                Item::Value(Value::Array(a)) => {
                    let items: Option<Vec<String>> =
                        a.iter().map(|v| v.as_str().map(str::to_string)).collect();
                    match items {
                        Some(items) => RawValue::List(items),
                        None => {
                            errors.push(err("expected an array of strings".into()));
                            continue;
                        }
                    }
                }
                Item::Table(_) | Item::ArrayOfTables(_) | Item::Value(Value::InlineTable(_)) => {
                    errors.push(err(
                        "nested tables are not allowed; write plain `key = value` lines".into(),
                    ));
                    continue;
                }
                other => {
                    errors.push(err(format!("unsupported value {}", other.type_name())));
                    continue;
                }
            };
            entries.push(RawEntry {
                key: k.to_string(),
                value,
                line: key_line,
            });
        }
        blocks.push(RawBlock {
            name,
            kind,
            line,
            entries,
        });
    }
    if blocks
        .iter()
        .filter(|b| b.kind == BlockKind::ServerDefault)
        .count()
        > 1
    {
        errors.push(ConfigError::new(
            path,
            "both [server_default] and [\"server default\"] are present; keep one",
        ));
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    Ok(RawFile {
        path: path.to_path_buf(),
        blocks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_order_and_lines() {
        let t = "[server_default]\nuser = \"mha\"\n\n[server10]\nhostname = \"a\"\n[server2]\nhostname = \"b\"\nport = 3307\n";
        let f = parse(Path::new("a.toml"), t).unwrap();
        let names: Vec<_> = f.blocks.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["server_default", "server10", "server2"]);
        let port = f.blocks[2].get("port").unwrap();
        assert_eq!(
            (port.value.clone(), port.line),
            (RawValue::Int(3307), Some(8))
        );
    }
}
