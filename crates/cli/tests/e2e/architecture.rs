//! Guards the lines the architecture draws between crates: the API never talks SQL, a backend
//! never knows HTTP, log math and domain do no I/O. Reads `cargo metadata`, so a new dependency
//! that crosses a line fails here, not in review.

use std::collections::{HashMap, HashSet};

fn host() -> String {
    let out = std::process::Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc -vV");
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("host line")
        .to_owned()
}

fn dependencies() -> HashMap<String, HashSet<String>> {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--filter-platform",
            &host(),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: HashMap<&str, &str> = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let mut deps = HashMap::new();
    for node in v["resolve"]["nodes"].as_array().unwrap() {
        let name = names[node["id"].as_str().unwrap()].to_owned();
        // Normal (non-dev) dependencies only: tests may use anything.
        let normal: HashSet<String> = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["kind"].is_null())
            })
            .map(|d| names[d["pkg"].as_str().unwrap()].to_owned())
            .collect();
        deps.insert(name, normal);
    }
    deps
}

/// Everything `krate` pulls in at run time, transitively.
fn closure(deps: &HashMap<String, HashSet<String>>, krate: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    let mut stack = vec![krate.to_owned()];
    while let Some(k) = stack.pop() {
        for d in deps.get(&k).into_iter().flatten() {
            if seen.insert(d.clone()) {
                stack.push(d.clone());
            }
        }
    }
    seen
}

#[test]
fn crates_respect_the_architecture() {
    let deps = dependencies();
    let forbidden: &[(&str, &[&str])] = &[
        (
            "sealbook-logmath",
            &["tokio", "rusqlite", "axum", "reqwest", "sealbook-domain"],
        ),
        (
            "sealbook-domain",
            &["tokio", "rusqlite", "axum", "reqwest", "getrandom"],
        ),
        (
            "sealbook-catalog",
            &["tokio", "rusqlite", "axum", "reqwest", "sealbook-store"],
        ),
        ("sealbook-store", &["rusqlite", "axum", "hyper", "reqwest"]),
        ("sealbook-store-sqlite", &["axum", "hyper", "reqwest"]),
        (
            "sealbook-store-postgres",
            &["axum", "hyper", "reqwest", "rusqlite"],
        ),
        ("sealbook-pipeline", &["rusqlite", "axum", "hyper"]),
        (
            "sealbook-api",
            &[
                "rusqlite",
                "libsqlite3-sys",
                "sealbook-store-sqlite",
                "sealbook-store-postgres",
                "tokio-postgres",
                "anyhow",
            ],
        ),
        (
            "sealbook-client",
            &[
                "rusqlite",
                "axum",
                "anyhow",
                "sealbook-api",
                "sealbook-pipeline",
                "sealbook-store",
                "sealbook-store-sqlite",
                "sealbook-store-postgres",
            ],
        ),
        // The test kit may use the store crates, nothing above them.
        (
            "sealbook-testkit",
            &[
                "axum",
                "hyper",
                "reqwest",
                "sealbook-pipeline",
                "sealbook-api",
                "sealbook-client",
                "sealbook",
            ],
        ),
    ];
    for (krate, banned) in forbidden {
        let all = closure(&deps, krate);
        for b in *banned {
            assert!(!all.contains(*b), "{krate} must not depend on {b}");
        }
    }
    // Test code stays out of the production libraries: of the workspace's crates only the
    // `sealbook` binary depends on the test kit, for `sealbook bench baseline`.
    for krate in [
        "sealbook-logmath",
        "sealbook-domain",
        "sealbook-catalog",
        "sealbook-store",
        "sealbook-store-sqlite",
        "sealbook-store-postgres",
        "sealbook-pipeline",
        "sealbook-api",
        "sealbook-client",
    ] {
        assert!(
            !closure(&deps, krate).contains("sealbook-testkit"),
            "{krate} must not depend on sealbook-testkit"
        );
    }
}
