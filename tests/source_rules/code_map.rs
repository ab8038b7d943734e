//! Issue 15: ARCHITECTURE.md's code map lists every module. A contributor reads it
//! first; a module it does not name is one they will not find. A module counts as
//! listed when the document names it in backticks (`` `outbox` ``) or by its file
//! (`outbox.rs`). The store's entities are described together ("one sea-orm
//! entity per table") and are not listed one by one.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
    {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

/// The module a source file is: its stem, or its directory's name for `mod.rs`;
/// `None` for a crate root.
fn module_name(file: &Path) -> Option<String> {
    let stem = file.file_stem()?.to_str()?;
    match stem {
        "lib" | "main" => None,
        "mod" => Some(file.parent()?.file_name()?.to_str()?.to_owned()),
        _ => Some(stem.to_owned()),
    }
}

/// The modules of `files` that `map` does not name.
fn unlisted(files: &[PathBuf], map: &str) -> Vec<String> {
    let mut missing: Vec<String> = files
        .iter()
        .filter(|file| !file.components().any(|part| part.as_os_str() == "entities"))
        .filter_map(|file| module_name(file))
        .filter(|name| !map.contains(&format!("`{name}`")) && !map.contains(&format!("{name}.rs")))
        .collect();
    missing.sort();
    missing.dedup();
    missing
}

#[test]
fn a_module_is_listed_by_name_or_by_file_and_entities_are_exempt() {
    let files = [
        PathBuf::from("crates/mailer/src/outbox.rs"),
        PathBuf::from("crates/api/src/scim/mod.rs"),
        PathBuf::from("crates/api/src/pages/german.rs"),
        PathBuf::from("crates/store/src/entities/team.rs"),
        PathBuf::from("crates/store/src/lib.rs"),
    ];
    let map = "- `outbox`: the worker. `scim`: SCIM.";
    assert_eq!(unlisted(&files, map), vec!["german".to_owned()]);
    assert!(unlisted(&files, "outbox.rs, `scim`, german.rs").is_empty());
}

#[test]
fn the_code_map_lists_every_module_of_every_crate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace above tests/");
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root.join("crates")).expect("crates/") {
        let src = entry.expect("a directory entry").path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    assert!(
        files.len() > 50,
        "only {} files under crates/*/src",
        files.len()
    );
    let missing = unlisted(&files, &map);
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's code map does not name these modules: {missing:?}"
    );
}
