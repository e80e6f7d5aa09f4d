//! The layout's invariants (ARCHITECTURE.md): which crate may name which dependency, no
//! test file left out of every test target, and the files over 600 lines only shrink.

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
