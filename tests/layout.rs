//! The layout's invariants (ARCHITECTURE.md): which crate may name which dependency, no two
//! modules of a crate importing each other (directly or round a longer loop), no test file
//! left out of every test target, and no source file over 600 lines.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The direct normal dependencies of crate `name` (cargo tree, depth 1).
fn direct_dependencies(name: &str) -> Vec<String> {
    let output = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "--edges",
            "normal",
            "--prefix",
            "none",
            "--depth",
            "1",
            "-p",
            name,
            "--manifest-path",
        ])
        .arg(root().join("Cargo.toml"))
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn each_crate_depends_only_on_what_its_layer_may_know() {
    let rules: [(&str, &[&str]); 3] = [
        // The use cases know no HTTP and no flags.
        (
            "journey-app",
            &[
                "axum",
                "tower",
                "tower-http",
                "tower-sessions",
                "utoipa",
                "clap",
            ],
        ),
        // The web app knows no SQL and no store: it calls journey-app.
        (
            "journey-web",
            &["sqlx", "postgres-es", "journey-postgres", "clap"],
        ),
        // The binary knows neither SQL nor the store (the benchmarks, behind a feature, do).
        (
            "journey-cli",
            &["sqlx", "postgres-es", "journey-postgres", "axum", "polars"],
        ),
    ];
    for (name, banned) in rules {
        let deps = direct_dependencies(name);
        assert!(!deps.is_empty(), "cargo tree listed {name}'s dependencies");
        for dep in banned {
            assert!(
                !deps.iter().any(|d| d == dep),
                "{name} depends on {dep}: {deps:?}"
            );
        }
    }
}

#[test]
fn each_crate_names_only_what_its_layer_may_know() {
    let rules: [(&str, &[&str], &[&str]); 3] = [
        ("journey-app", &["axum::", "clap::", "tower", "utoipa"], &[]),
        // (tower-sessions-sqlx-store keeps the sessions; the web names no sqlx item.)
        ("journey-web", &["sqlx::", "journey_postgres"], &[]),
        (
            "journey-cli",
            &["sqlx::", "postgres_es", "journey_postgres", "axum::"],
            &["src/bench.rs", "src/bench/"],
        ),
    ];
    for (name, banned, except) in rules {
        let files = rust_files(&root().join("crates").join(name).join("src"));
        assert!(!files.is_empty(), "{name} has sources");
        for file in files {
            if except.iter().any(|e| file.to_string_lossy().contains(e)) {
                continue;
            }
            let text = std::fs::read_to_string(&file).expect("a source file");
            for word in banned {
                assert!(
                    !text.contains(word),
                    "{} names {word}",
                    file.strip_prefix(root()).unwrap_or(&file).display()
                );
            }
        }
    }
}

#[test]
fn every_test_file_is_compiled_into_a_test_target() {
    let mut manifests = String::new();
    for entry in std::fs::read_dir(root().join("crates"))
        .expect("crates/")
        .flatten()
    {
        if let Ok(text) = std::fs::read_to_string(entry.path().join("Cargo.toml")) {
            manifests.push_str(&text);
        }
    }
    // The top-level files that are the root of a [[test]] target, and what they declare.
    let mut roots = String::new();
    for file in rust_files(&root().join("tests")) {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        if manifests.contains(&format!("\"../../tests/{name}\"")) {
            roots.push_str(&std::fs::read_to_string(&file).expect("a test file"));
        }
    }
    assert!(
        roots.contains("mod layout;"),
        "tests/integration.rs is a target"
    );
    for file in rust_files(&root().join("tests")) {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let folder = file.parent().expect("a folder");
        let (stem, declared_in) = if name == "mod.rs" {
            // A module of the targets' (`mod common;`, `mod webkit;`).
            let stem = folder.file_name().unwrap().to_string_lossy().to_string();
            (stem, folder.parent().expect("tests/").to_path_buf())
        } else {
            (
                name.trim_end_matches(".rs").to_string(),
                folder.to_path_buf(),
            )
        };
        let declaration = format!("mod {stem};");
        if declared_in == root().join("tests") {
            assert!(
                roots.contains(&declaration)
                    || manifests.contains(&format!("\"../../tests/{name}\"")),
                "{} is neither a [[test]] target nor declared by one: it would never run",
                file.display()
            );
            continue;
        }
        // A submodule of such a module: declared in its folder's mod.rs.
        let parent = std::fs::read_to_string(declared_in.join("mod.rs")).unwrap_or_default();
        assert!(
            parent.contains(&declaration),
            "{} is declared by no module: it would never run",
            file.display()
        );
    }
}

#[test]
fn no_source_file_grows_over_600_lines() {
    let mut files = rust_files(&root().join("crates"));
    files.extend(rust_files(&root().join("tests")));
    for file in files {
        let relative = file
            .strip_prefix(root())
            .unwrap_or(&file)
            .to_string_lossy()
            .replace("crates/../", "");
        let lines = std::fs::read_to_string(&file)
            .expect("a source file")
            .lines()
            .count();
        assert!(lines <= 600, "{relative} has {lines} lines (at most 600)");
    }
}

/// The top-level modules a file of a crate's `src/` names (`crate::x`, and `super::x` in a
/// file directly under `src/`, `use super::{x, y::{..}}` included), comments left out.
fn modules_named(text: &str, directly_under_src: bool) -> Vec<String> {
    let mut prefixes = vec!["crate::"];
    if directly_under_src {
        prefixes.push("super::");
    }
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut named = Vec::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for prefix in &prefixes {
            for (at, _) in line.match_indices(prefix) {
                let rest = &line[at + prefix.len()..];
                let Some(group) = rest.strip_prefix('{') else {
                    named.push(ident(rest));
                    continue;
                };
                // The group's items at depth 0: `a`, `b::{c, d}` -> a, b.
                let (mut depth, mut item_start) = (0, true);
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => item_start = true,
                        c if item_start && !c.is_whitespace() => {
                            named.push(ident(&group[i..]));
                            item_start = false;
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    named.retain(|n| !n.is_empty());
    named
}

type Graph = std::collections::BTreeMap<String, std::collections::BTreeSet<String>>;

/// A path from a module back to itself, if the graph has one.
fn cycle(edges: &Graph) -> Option<Vec<String>> {
    for start in edges.keys() {
        let mut seen = std::collections::BTreeSet::new();
        let mut stack: Vec<Vec<String>> = vec![vec![start.clone()]];
        while let Some(path) = stack.pop() {
            let at = path.last().unwrap();
            for next in edges.get(at).into_iter().flatten().filter(|m| *m != at) {
                let mut longer = path.clone();
                longer.push(next.clone());
                if next == start {
                    return Some(longer);
                }
                if seen.insert(next.clone()) {
                    stack.push(longer);
                }
            }
        }
    }
    None
}

#[test]
fn no_two_modules_of_a_crate_import_each_other() {
    for krate in [
        "journey-app",
        "journey-web",
        "journey-cli",
        "journey-postgres",
    ] {
        let src = root().join("crates").join(krate).join("src");
        let mut edges = Graph::new();
        for file in rust_files(&src) {
            let rel = file.strip_prefix(&src).unwrap();
            let top = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy();
            let module = top.trim_end_matches(".rs").to_string();
            if module == "lib" || module == "main" {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            let named = modules_named(&text, rel.components().count() == 1);
            edges.entry(module).or_default().extend(named);
        }
        let modules: std::collections::BTreeSet<String> = edges.keys().cloned().collect();
        assert!(modules.len() >= 3, "{krate}: its modules were found");
        for set in edges.values_mut() {
            set.retain(|m| modules.contains(m));
        }
        if let Some(path) = cycle(&edges) {
            panic!("{krate}: modules import each other: {}", path.join(" -> "));
        }
    }
}

#[test]
fn the_module_scan_reads_grouped_paths_and_finds_a_cycle() {
    assert_eq!(
        modules_named(
            "use super::{auth::{self, X}, error};\n// crate::notes\nlet a = crate::views::f();",
            true
        ),
        ["auth", "error", "views"].map(String::from).to_vec()
    );
    assert_eq!(
        modules_named("use super::Batch;", false),
        Vec::<String>::new()
    );
    let graph = |pairs: &[(&str, &str)]| {
        let mut g = Graph::new();
        for (from, to) in pairs {
            g.entry(from.to_string())
                .or_default()
                .insert(to.to_string());
            g.entry(to.to_string()).or_default();
        }
        g
    };
    assert_eq!(cycle(&graph(&[("a", "b"), ("b", "c")])), None);
    let found = cycle(&graph(&[("a", "b"), ("b", "c"), ("c", "a")])).expect("a cycle");
    assert_eq!(found.first(), found.last());
    assert_eq!(found.len(), 4);
}
