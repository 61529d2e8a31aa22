//! The shape the workspace keeps, checked rather than hoped for:
//! - the HTTP adapter depends on no adapter crate (it reaches them through ports);
//! - no file of any crate of the workspace (its `src/`, and each test binary's folder) imports a
//!   file that, directly or through others, imports it back, so that each file can be read
//!   knowing only what it imports. What two files both need goes in a third that neither
//!   imports back: a parent's `mod.rs` declares its children and uses them, and what the children
//!   share lives in a sibling of theirs, never in the parent;
//! - the app crate stays a composition root: at most 4,000 lines of non-test Rust.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ADAPTERS: [&str; 9] = [
    "diesel",
    "deadpool-redis",
    "redis",
    "workbench-store",
    "workbench-cache",
    "workbench-media",
    "workbench-storage",
    "workbench-broadcast",
    "workbench-presence",
];

fn crate_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
}

#[test]
fn the_http_adapter_names_no_adapter_among_its_dependencies() {
    let manifest = std::fs::read_to_string(crate_dir("http").join("Cargo.toml")).unwrap();
    let dependencies = manifest.split("[dependencies]").nth(1).unwrap().split("\n[").next().unwrap();
    for line in dependencies.lines() {
        let name = line.split(['=', '.', ' ']).next().unwrap_or_default().trim();
        assert!(!ADAPTERS.contains(&name), "workbench-http depends on the adapter {name}: reach it through a port");
    }
}

#[test]
fn no_file_imports_one_that_imports_it_back() {
    let trees = crate_trees();
    assert!(trees.len() > 30, "every crate's tree is found: {trees:#?}");
    for tree in trees {
        let circles = circles(&imports(&tree));
        assert!(circles.is_empty(), "import circles among the files of {}: {circles:#?}", tree.display());
    }
}

/// The folders of Rust files that are each one crate target's module tree: every workspace
/// member's `src/`, the folders of its test binaries (`tests/<name>/main.rs`), and the
/// black-box suite's library and binary.
fn crate_trees() -> Vec<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut trees = vec![workspace.join("tests/support"), workspace.join("tests/api")];
    for group in ["crates", "tools", "examples"] {
        let mut members: Vec<PathBuf> =
            std::fs::read_dir(workspace.join(group)).unwrap().flatten().map(|e| e.path()).collect();
        members.sort();
        for member in members {
            trees.extend(Some(member.join("src")).filter(|src| src.is_dir()));
            if let Ok(binaries) = std::fs::read_dir(member.join("tests")) {
                trees.extend(binaries.flatten().map(|e| e.path()).filter(|p| p.join("main.rs").is_file()));
            }
        }
    }
    trees
}

#[test]
fn the_app_crate_is_a_composition_root() {
    let lines: usize = rust_files(&crate_dir("app").join("src"))
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(file).unwrap();
            // Unit tests sit at the end of a file, or in a file of their own.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            if file.file_name().is_some_and(|n| n == "tests.rs") { 0 } else { code.lines().count() }
        })
        .sum();
    assert!(lines <= 4_000, "crates/app holds {lines} lines of non-test Rust: move what is not wiring out");
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

type Module = Vec<String>;

/// The module a file defines: `lib.rs` is the root, `a/mod.rs` and `a.rs` are `a`.
fn module_of(src: &Path, file: &Path) -> Module {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut segments: Module = relative.iter().map(|s| s.to_string_lossy().into_owned()).collect();
    if matches!(segments.last().map(String::as_str), Some("lib" | "main" | "mod")) {
        segments.pop();
    }
    segments
}

/// Which file each file imports: `use` trees, `crate::`/`super::` paths in code, and paths
/// through child modules, each resolved to the deepest module that is a file.
fn imports(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let files: BTreeMap<Module, String> = rust_files(src)
        .into_iter()
        .map(|file| (module_of(src, &file), without_comments_and_strings(&std::fs::read_to_string(&file).unwrap())))
        .collect();
    let path = regex::Regex::new(r"\b(?:crate|super|self)(?:::\w+)+").unwrap();
    let use_tree = regex::Regex::new(r"(?s)\buse\s+([^;]+);").unwrap();
    let inline_module = regex::Regex::new(r"\bmod\s+\w+\s*\{").unwrap();
    let mut graph = BTreeMap::new();
    for (here, code) in &files {
        let children: Vec<&str> = files
            .keys()
            .filter(|m| m.len() == here.len() + 1 && m.starts_with(here))
            .map(|m| m.last().unwrap().as_str())
            .collect();
        // Inside `mod tests { ... }`, `super` is this file's module.
        let blocks: Vec<(usize, usize)> =
            inline_module.find_iter(code).map(|m| (m.end(), block_end(code, m.end()))).collect();
        let depth = |at: usize| blocks.iter().filter(|(a, b)| (*a..=*b).contains(&at)).count();
        let mut paths: Vec<(usize, String)> = Vec::new();
        for tree in use_tree.captures_iter(code) {
            let at = tree.get(0).unwrap().start();
            let text: String = tree[1].chars().filter(|c| !c.is_whitespace()).collect();
            paths.extend(expand(&text).into_iter().map(|p| (depth(at), p)));
        }
        paths.extend(path.find_iter(code).map(|m| (depth(m.start()), m.as_str().to_owned())));
        for child in &children {
            let through = regex::Regex::new(&format!(r"(?:^|[^:\w]){child}(?:::\w+)+")).unwrap();
            paths.extend(
                through
                    .find_iter(code)
                    .map(|m| (0, m.as_str().trim_start_matches(|c: char| !c.is_alphanumeric() && c != '_').to_owned())),
            );
        }
        let mut targets = BTreeSet::new();
        for (depth, path) in paths {
            let mut segments = path.split("::").filter(|s| !s.is_empty()).map(|s| s.split(" as ").next().unwrap());
            let mut base: Module = match segments.next() {
                Some("crate") => Vec::new(),
                Some("self") => here.clone(),
                Some("super") => {
                    let mut base = here.clone();
                    base.extend(std::iter::repeat_n("<inline>".to_owned(), depth));
                    base.pop();
                    base
                }
                Some(child) if children.contains(&child) => {
                    let mut base = here.clone();
                    base.push(child.to_owned());
                    base
                }
                _ => continue,
            };
            for segment in segments {
                if segment == "super" {
                    base.pop();
                } else {
                    base.push(segment.to_owned());
                }
            }
            while !base.is_empty() && !files.contains_key(&base) {
                base.pop();
            }
            if !base.is_empty() && &base != here {
                targets.insert(base);
            }
        }
        graph.insert(here.clone(), targets);
    }
    graph
}

/// Where the block opened just before `start` closes.
fn block_end(code: &str, start: usize) -> usize {
    let mut depth = 1;
    for (i, c) in code[start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return start + i;
                }
            }
            _ => {}
        }
    }
    code.len()
}

/// `a::{b, c::{d, e}}` as `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let Some(open) = tree.find('{') else { return vec![tree.to_owned()] };
    let (prefix, inner) = (&tree[..open], &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())]);
    let (mut parts, mut depth, mut current) = (Vec::new(), 0, String::new());
    for c in inner.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if c == ',' && depth == 0 {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    parts.push(current);
    parts.iter().filter(|p| !p.is_empty()).flat_map(|p| expand(p)).map(|p| format!("{prefix}{p}")).collect()
}

/// The code without `//` comments and with string literals emptied, so that neither a doc link
/// nor a message can pass for an import.
fn without_comments_and_strings(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' => {
                out.push('"');
                while let Some(c) = chars.next() {
                    if c == '\\' {
                        chars.next();
                    } else if c == '"' {
                        break;
                    }
                }
                out.push('"');
            }
            _ => out.push(c),
        }
    }
    out
}

/// The groups of files that import each other (strongly connected components of two or more).
fn circles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<String>> {
    let reaches = |from: &Module, to: &Module| {
        let (mut seen, mut stack) = (BTreeSet::new(), vec![from.clone()]);
        while let Some(m) = stack.pop() {
            if &m == to {
                return true;
            }
            if seen.insert(m.clone()) {
                stack.extend(graph.get(&m).into_iter().flatten().cloned());
            }
        }
        false
    };
    let mut circles: Vec<Vec<String>> = Vec::new();
    for (file, targets) in graph {
        for target in targets {
            if reaches(target, file) {
                let pair = vec![file.join("/"), target.join("/")];
                if !circles.iter().any(|c| c.contains(&pair[0]) && c.contains(&pair[1])) {
                    circles.push(pair);
                }
            }
        }
    }
    circles
}

#[test]
fn the_checker_sees_a_circle_through_super_and_ignores_comments() {
    let dir = tempdir();
    std::fs::create_dir_all(dir.join("a")).unwrap();
    std::fs::write(dir.join("lib.rs"), "mod a;\n").unwrap();
    std::fs::write(dir.join("a/mod.rs"), "mod b;\nuse b::Thing;\n// crate::c::X\n").unwrap();
    std::fs::write(dir.join("a/b.rs"), "pub struct Thing;\nfn f() { super::helper(); }\n").unwrap();
    let graph = imports(&dir);
    assert_eq!(circles(&graph), vec![vec!["a".to_owned(), "a/b".to_owned()]]);
    std::fs::write(dir.join("a/b.rs"), "pub struct Thing;\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n").unwrap();
    assert!(circles(&imports(&dir)).is_empty(), "a test module's super is its own file");
    std::fs::remove_dir_all(dir).unwrap();
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wb-architecture-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
