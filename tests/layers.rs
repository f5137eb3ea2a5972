//! The layer check: every `crate::` / `super::` path in `src/` must respect
//! the layer table in `src/lib.rs`, and no two modules may import each other
//! (directly or around a loop), parents and their own children aside.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One row of the table: its number, name, and the top-level modules in it.
struct Layer {
    rank: usize,
    name: String,
    modules: Vec<String>,
}

/// A `crate::` or `super::` path found in a file, resolved to a module path.
struct Import {
    file: PathBuf,
    line: usize,
    /// The written path, for the message.
    text: String,
    /// The module path it names, from the crate root (`["pool", "call"]`).
    target: Vec<String>,
    /// Whether it is in a `mod tests { ... }`: layers apply there, cycles do not.
    in_tests: bool,
}

const ADAPTER_LAYER: &str = "adapters";

#[test]
fn imports_follow_the_layer_table() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let layers = layer_table(&std::fs::read_to_string(root.join("lib.rs")).unwrap());
    assert!(layers.len() >= 5, "src/lib.rs: the layer table has {} rows", layers.len());
    let problems = check(&root, &layers);
    assert!(problems.is_empty(), "{} layer violation(s):\n{}", problems.len(), problems.join("\n"));
}

/// Every violation of the table and every import cycle under `root`, one line each.
fn check(root: &Path, layers: &[Layer]) -> Vec<String> {
    let files = module_files(root);
    let mut problems = Vec::new();
    let layer_of = |module: &str| layers.iter().find(|l| l.modules.iter().any(|m| m == module));
    let top: BTreeSet<String> = files.keys().filter(|p| p.len() == 1).map(|p| p[0].clone()).collect();
    for module in &top {
        if layer_of(module).is_none() {
            problems.push(format!("src/lib.rs: module `{module}` is in no layer of the table"));
        }
    }
    for layer in layers {
        for module in &layer.modules {
            if module != "bin" && !top.contains(module) {
                problems.push(format!("src/lib.rs: the table's layer {} lists `{module}`, which is not a module", layer.name));
            }
        }
    }
    // Modules the crate makes public (`pub mod knobs;`): part of the public API adapters may use.
    let lib = std::fs::read_to_string(root.join("lib.rs")).unwrap();
    let public: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod ").and_then(|m| m.strip_suffix(';')))
        .map(str::to_string)
        .collect();
    let mut edges: Edges = BTreeMap::new();
    for (module, file) in files.iter().filter(|(m, _)| !m.is_empty()) {
        for import in imports(file, module, &files).into_iter().filter(|i| !i.target.is_empty()) {
            let rel = import.file.strip_prefix(root.parent().unwrap()).unwrap().display().to_string();
            let (from, to) = (&module[0], &import.target[0]);
            if let (Some(a), Some(b)) = (layer_of(from), layer_of(to)) {
                if a.name == ADAPTER_LAYER && from != to && !public.contains(to) {
                    problems.push(format!(
                        "{rel}:{}: `{}`: layer {} {} reaches into `{to}`; adapters use the public API only (root re-exports and `pub mod`s)",
                        import.line, import.text, a.rank, a.name
                    ));
                } else if b.rank > a.rank {
                    problems.push(format!(
                        "{rel}:{}: `{}`: `{from}` (layer {} {}) imports `{to}` (layer {} {}); a module may import only its own layer and lower ones",
                        import.line, import.text, a.rank, a.name, b.rank, b.name
                    ));
                }
            }
            if !import.in_tests && !is_lineage(module, &import.target) {
                edges.entry((module.clone(), import.target.clone())).or_insert((import.file.clone(), import.line));
            }
        }
    }
    problems.dedup();
    problems.extend(cycles(&edges, root.parent().unwrap()));
    problems
}

/// Whether one module path is the other's ancestor (or the same module).
fn is_lineage(a: &[String], b: &[String]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// Module-to-module imports (importer, imported), each with where it was first seen.
type Edges = BTreeMap<(Vec<String>, Vec<String>), (PathBuf, usize)>;

/// Each strongly connected set of modules (two or more) named with one import per edge.
fn cycles(edges: &Edges, base: &Path) -> Vec<String> {
    let mut graph: BTreeMap<&Vec<String>, Vec<&Vec<String>>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        graph.entry(from).or_default().push(to);
        graph.entry(to).or_default();
    }
    let reach = |start: &Vec<String>| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![start];
        while let Some(node) = stack.pop() {
            for next in &graph[node] {
                if seen.insert(*next) {
                    stack.push(next);
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&Vec<String>, BTreeSet<&Vec<String>>> = graph.keys().map(|n| (*n, reach(n))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for node in graph.keys() {
        if done.contains(node) || !reachable[node].contains(node) {
            continue;
        }
        let group: Vec<&Vec<String>> =
            graph.keys().filter(|other| reachable[node].contains(*other) && reachable[*other].contains(node)).copied().collect();
        let mut text = format!("import cycle between {}:", group.iter().map(|m| m.join("::")).collect::<Vec<_>>().join(", "));
        for ((from, to), (file, line)) in edges {
            if group.contains(&from) && group.contains(&to) {
                let rel = file.strip_prefix(base).unwrap_or(file).display();
                let _ = write!(text, "\n    {rel}:{line}: {} -> {}", from.join("::"), to.join("::"));
            }
        }
        out.push(text);
        done.extend(group);
    }
    out
}

/// The table's rows: lines of `src/lib.rs` docs like `//! | 2 | capabilities | `host`, `state` | ... |`.
fn layer_table(lib: &str) -> Vec<Layer> {
    let mut layers = Vec::new();
    for line in lib.lines() {
        let Some(row) = line.strip_prefix("//! |") else { continue };
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let Some(Ok(rank)) = cells.first().map(|c| c.parse::<usize>()) else { continue };
        let modules = cells.get(2).map(|c| backticked(c)).unwrap_or_default();
        layers.push(Layer { rank, name: cells[1].to_string(), modules });
    }
    layers
}

/// The `names` written in backticks in a table cell.
fn backticked(cell: &str) -> Vec<String> {
    cell.split('`').skip(1).step_by(2).map(|s| s.trim_end_matches('/').to_string()).collect()
}

/// Every module of the library kept in its own file, by module path (`[]` is `lib.rs`).
fn module_files(root: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut files = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap();
            if rel.starts_with("bin") {
                continue; // the binary is its own crate: it reaches the library through `camel_wasm::` only
            }
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let mut module: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
                let last = module.pop().unwrap();
                match last.as_str() {
                    "lib.rs" | "mod.rs" => {}
                    name => module.push(name.trim_end_matches(".rs").to_string()),
                }
                // A file like templates/x.rs that is no module (not declared) is harmless: nothing resolves to it.
                files.insert(module, path);
            }
        }
    }
    files
}

/// The `crate::` and `super::` paths of one file, resolved against the module tree.
fn imports(file: &Path, module: &[String], files: &BTreeMap<Vec<String>, PathBuf>) -> Vec<Import> {
    let source = std::fs::read_to_string(file).unwrap();
    let code = strip_comments_and_strings(&source);
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    // Inline modules (`mod tests { ... }`): their name and the brace depth they opened at.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => {
                depth += 1;
                i += 1;
                continue;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                i += 1;
                continue;
            }
            _ => {}
        }
        let at_word = i == 0 || !is_ident(bytes[i - 1]) && bytes[i - 1] != b':';
        if at_word && code[i..].starts_with("mod ") {
            let rest = &code[i + 4..];
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let after = rest[name.len()..].trim_start();
            if after.starts_with('{') {
                inline.push((name, depth));
            }
        }
        if at_word && (code[i..].starts_with("crate::") || code[i..].starts_with("super::")) {
            let end = path_end(bytes, i);
            let text = &code[i..end];
            let line = source[..i].matches('\n').count() + 1;
            let mut base: Vec<String> = module.to_vec();
            base.extend(inline.iter().map(|(n, _)| n.clone()));
            for path in expand(text) {
                if let Some(target) = resolve(&path, &base, files) {
                    let in_tests = inline.iter().any(|(n, _)| n == "tests");
                    out.push(Import { file: file.to_path_buf(), line, text: text.to_string(), target, in_tests });
                }
            }
            i = end;
            continue;
        }
        i += 1;
    }
    out
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Where a path (with `{...}` groups, as in a `use`) that starts at `start` ends.
fn path_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    let mut depth = 0usize;
    while i < bytes.len() {
        let b = bytes[i];
        let inside = depth > 0 && (b == b',' || b.is_ascii_whitespace());
        if b == b'{' && bytes[i - 1] == b':' {
            depth += 1;
        } else if b == b'}' && depth > 0 {
            depth -= 1;
        } else if !(is_ident(b) || b == b':' || b == b'*' || inside) {
            break;
        }
        i += 1;
    }
    i
}

/// The plain paths a written path stands for: `crate::{a::B, c}` is `crate::a::B` and `crate::c`.
fn expand(text: &str) -> Vec<Vec<String>> {
    fn tree(text: &str, prefix: &[String], out: &mut Vec<Vec<String>>) {
        let text = text.trim();
        if let Some(open) = text.find('{') {
            let mut base = prefix.to_vec();
            base.extend(segments(&text[..open]));
            let inner = &text[open + 1..text.rfind('}').unwrap_or(text.len())];
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        tree(&inner[start..i], &base, out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            tree(&inner[start..], &base, out);
        } else {
            let text = text.split(" as ").next().unwrap_or(text);
            let mut path = prefix.to_vec();
            path.extend(segments(text));
            if !path.is_empty() {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    tree(text, &[], &mut out);
    out
}

fn segments(text: &str) -> Vec<String> {
    text.split("::").map(str::trim).filter(|s| !s.is_empty() && *s != "*" && *s != "self").map(str::to_string).collect()
}

/// The module a path names, from the crate root: the longest prefix that is a module file.
fn resolve(path: &[String], base: &[String], files: &BTreeMap<Vec<String>, PathBuf>) -> Option<Vec<String>> {
    let mut at: Vec<String> = Vec::new();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => rest = &rest[1..],
        Some("super") => {
            at = base.to_vec();
            while rest.first().is_some_and(|s| s == "super") {
                at.pop()?;
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    // The deepest module kept in a file: inline modules (`mod bindings { ... }`) belong to their file.
    while files.get(&at).is_none() && !at.is_empty() {
        at.pop();
    }
    for segment in rest {
        let mut next = at.clone();
        next.push(segment.clone());
        if files.contains_key(&next) {
            at = next;
        } else {
            break;
        }
    }
    Some(at)
}

/// The source with comments, string and char literals blanked (newlines kept, so lines still count).
fn strip_comments_and_strings(source: &str) -> String {
    let bytes = source.as_bytes();
    let mut out = bytes.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for b in &mut out[from..to] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    };
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        if rest.starts_with(b"//") {
            let end = bytes[i..].iter().position(|b| *b == b'\n').map_or(bytes.len(), |p| i + p);
            blank(&mut out, i, end);
            i = end;
        } else if rest.starts_with(b"/*") {
            let end = source[i + 2..].find("*/").map_or(bytes.len(), |p| i + 2 + p + 2);
            blank(&mut out, i, end);
            i = end;
        } else if (rest.starts_with(b"r\"") || rest.starts_with(b"r#")) && (i == 0 || !is_ident(bytes[i - 1])) {
            let hashes = rest[1..].iter().take_while(|b| **b == b'#').count();
            if rest.get(1 + hashes) != Some(&b'"') {
                i += 1;
                continue;
            }
            let close = format!("\"{}", "#".repeat(hashes));
            let body = i + 2 + hashes;
            let end = source[body..].find(&close).map_or(bytes.len(), |p| body + p + close.len());
            blank(&mut out, i, end);
            i = end;
        } else if rest[0] == b'"' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut out, i, (j + 1).min(bytes.len()));
            i = j + 1;
        } else if rest[0] == b'\'' {
            // A char literal ('x', '\n', '"'), not a lifetime ('a).
            let len = if rest.get(1) == Some(&b'\\') {
                rest[2..].iter().position(|b| *b == b'\'').map(|p| p + 3)
            } else {
                let ch = source[i + 1..].chars().next().map_or(1, char::len_utf8);
                (rest.get(1 + ch) == Some(&b'\'')).then_some(ch + 2)
            };
            match len {
                Some(len) => {
                    blank(&mut out, i, i + len);
                    i += len;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_default()
}

#[test]
fn the_check_sees_grouped_and_relative_imports() {
    let paths = expand("crate::{error::WasmError, host::{self, HostCtx}, Limits}");
    let names: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(names, ["crate::error::WasmError", "crate::host", "crate::host::HostCtx", "crate::Limits"]);
    let stripped = strip_comments_and_strings("let s = \"crate::pool\"; // crate::runtime\nuse crate::error; let c = '\"';");
    assert!(!stripped.contains("pool") && !stripped.contains("runtime") && stripped.contains("crate::error"));
}
