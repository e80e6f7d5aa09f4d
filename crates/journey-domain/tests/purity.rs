//! The domain depends on neither sqlx, axum, polars nor plotters.

#[test]
fn the_domain_depends_on_no_database_web_dataframe_or_plotting_crate() {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let output = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "--edges",
            "normal",
            "--prefix",
            "none",
            "--manifest-path",
            manifest,
        ])
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8(output.stdout).expect("utf-8");
    assert!(tree.contains("cqrs-es"), "the tree was read: {tree}");
    for banned in ["sqlx", "axum", "polars", "plotters", "postgres-es"] {
        assert!(
            !tree
                .lines()
                .any(|line| line.starts_with(&format!("{banned} "))),
            "journey-domain depends on {banned}"
        );
    }
}
