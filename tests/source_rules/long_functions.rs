//! Issue 15: no function in `crates/*/src` (outside tests) is longer than 80 lines
//! unless a comment says why. A long function reads as a wall; split into named
//! steps it reads as what it does. Where a split would make the code worse (a flat
//! table, one match over many variants), a `// long: <reason>` comment directly
//! above the function, its doc comment or its attributes keeps it whole.
//!
//! The check parses every file with `syn`, skips `#[cfg(test)]` modules (inline or
//! in their own file) and test functions, and counts a function's body from its
//! opening to its closing brace, both included.

use std::path::{Path, PathBuf};

use syn::visit::{self, Visit};

/// The longest body, in lines, a function may have without a reason.
const MAX_LINES: usize = 80;

/// A function longer than `MAX_LINES` without a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LongFunction {
    name: String,
    /// The line of its `fn` keyword (1-based).
    line: usize,
    /// Its body's lines, braces included.
    lines: usize,
}

/// What one file holds that the rule cares about.
#[derive(Debug, Default)]
struct Findings {
    long: Vec<LongFunction>,
    /// `#[cfg(test)] mod name;`: modules in files of their own, skipped too.
    test_module_files: Vec<String>,
}

fn findings(source: &str) -> syn::Result<Findings> {
    let file = syn::parse_file(source)?;
    let mut finder = Finder {
        lines: source.lines().collect(),
        findings: Findings::default(),
    };
    finder.visit_file(&file);
    Ok(finder.findings)
}

struct Finder<'source> {
    lines: Vec<&'source str>,
    findings: Findings,
}

impl Finder<'_> {
    fn measure(&mut self, attrs: &[syn::Attribute], sig: &syn::Signature, block: &syn::Block) {
        let open = block.brace_token.span.open().start().line;
        let close = block.brace_token.span.close().end().line;
        let lines = close - open + 1;
        let fn_line = sig.fn_token.span.start().line;
        if lines > MAX_LINES && !self.has_reason(attrs, fn_line) {
            self.findings.long.push(LongFunction {
                name: sig.ident.to_string(),
                line: fn_line,
                lines,
            });
        }
    }

    /// A `// long: <reason>` line among the function's doc comment and attributes,
    /// or in the block of `//` comments directly above them.
    fn has_reason(&self, attrs: &[syn::Attribute], fn_line: usize) -> bool {
        let first = attrs
            .iter()
            .map(|attr| attr.pound_token.span.start().line)
            .chain(std::iter::once(fn_line))
            .min()
            .unwrap_or(fn_line);
        let line = |number: usize| self.lines.get(number - 1).map_or("", |line| line.trim());
        let comments_above = (1..first)
            .rev()
            .map(line)
            .take_while(|text| text.starts_with("//") && !text.starts_with("///"));
        let attribute_lines = (first..fn_line).map(line);
        comments_above.chain(attribute_lines).any(|text| {
            text.strip_prefix("// long:")
                .is_some_and(|reason| !reason.trim().is_empty())
        })
    }
}

impl<'ast> Visit<'ast> for Finder<'_> {
    fn visit_item_mod(&mut self, module: &'ast syn::ItemMod) {
        if is_test_only(&module.attrs) {
            if module.content.is_none() {
                self.findings
                    .test_module_files
                    .push(module.ident.to_string());
            }
            return;
        }
        visit::visit_item_mod(self, module);
    }

    fn visit_item_impl(&mut self, block: &'ast syn::ItemImpl) {
        if !is_test_only(&block.attrs) {
            visit::visit_item_impl(self, block);
        }
    }

    fn visit_item_fn(&mut self, function: &'ast syn::ItemFn) {
        if is_test_only(&function.attrs) {
            return;
        }
        self.measure(&function.attrs, &function.sig, &function.block);
        visit::visit_item_fn(self, function);
    }

    fn visit_impl_item_fn(&mut self, function: &'ast syn::ImplItemFn) {
        if is_test_only(&function.attrs) {
            return;
        }
        self.measure(&function.attrs, &function.sig, &function.block);
        visit::visit_impl_item_fn(self, function);
    }

    fn visit_trait_item_fn(&mut self, function: &'ast syn::TraitItemFn) {
        if let Some(block) = &function.default {
            self.measure(&function.attrs, &function.sig, block);
        }
        visit::visit_trait_item_fn(self, function);
    }
}

/// `#[cfg(test)]`, or a test function (`#[test]`, `#[tokio::test]`, `#[actix_web::test]`).
fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        let path = attr.path();
        let cfg_test = path.is_ident("cfg")
            && attr
                .meta
                .require_list()
                .is_ok_and(|list| list.tokens.to_string() == "test");
        let test = path
            .segments
            .last()
            .is_some_and(|last| last.ident == "test");
        cfg_test || test
    })
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

/// Where `#[cfg(test)] mod name;` in `file` lives: `name.rs` and `name/` beside a
/// `lib.rs`, `main.rs` or `mod.rs`, else in the directory named after `file`.
fn test_module_paths(file: &Path, name: &str) -> [PathBuf; 2] {
    let parent = file.parent().expect("a file in a directory");
    let stem = file
        .file_stem()
        .and_then(|stem| stem.to_str())
        .unwrap_or_default();
    let dir = if matches!(stem, "lib" | "main" | "mod") {
        parent.to_path_buf()
    } else {
        parent.join(stem)
    };
    [dir.join(format!("{name}.rs")), dir.join(name)]
}

#[test]
fn no_function_in_the_crates_is_longer_than_80_lines_without_a_reason() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace above tests/");
    let mut files = Vec::new();
    let mut crates: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .expect("crates/")
        .map(|entry| entry.expect("a directory entry").path().join("src"))
        .filter(|src| src.is_dir())
        .collect();
    crates.sort();
    for src in &crates {
        rust_files(src, &mut files);
    }
    assert!(
        files.len() > 50,
        "only {} files found under crates/*/src",
        files.len()
    );

    let mut parsed = Vec::new();
    let mut test_paths = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).expect("a readable source file");
        let found = findings(&source)
            .unwrap_or_else(|error| panic!("cannot parse {}: {error}", file.display()));
        for name in &found.test_module_files {
            test_paths.extend(test_module_paths(&file, name));
        }
        parsed.push((file, found.long));
    }

    let mut unexplained = Vec::new();
    for (file, long) in parsed {
        if test_paths.iter().any(|test| file.starts_with(test)) {
            continue;
        }
        let relative = file.strip_prefix(root).expect("under the root");
        let relative = relative.to_string_lossy().replace('\\', "/");
        for function in long {
            unexplained.push(format!(
                "{relative}:{} {}: {} lines",
                function.line, function.name, function.lines
            ));
        }
    }
    assert!(
        unexplained.is_empty(),
        "functions longer than {MAX_LINES} lines: split them into named steps, or say why \
         not with a `// long: <reason>` comment above the function:\n{}",
        unexplained.join("\n")
    );
}

/// A function `name` whose body has `lines` lines, braces included.
fn function_of(name: &str, lines: usize) -> String {
    let mut source = format!("fn {name}() {{\n");
    for step in 0..lines - 2 {
        source.push_str(&format!("    let _step_{step} = {step};\n"));
    }
    source.push_str("}\n");
    source
}

fn long_names(source: &str) -> Vec<(String, usize)> {
    findings(source)
        .expect("valid Rust")
        .long
        .into_iter()
        .map(|function| (function.name, function.lines))
        .collect()
}

#[test]
fn a_function_of_81_lines_is_reported_and_one_of_80_is_not() {
    let source = format!("{}\n{}", function_of("short", 80), function_of("long", 81));
    assert_eq!(long_names(&source), [("long".to_owned(), 81)]);
}

#[test]
fn the_line_reported_is_the_fn_keyword_after_the_doc_comment() {
    let source = format!("/// Docs.\n#[inline]\n{}", function_of("long", 90));
    let long = findings(&source).expect("valid Rust").long;
    assert_eq!(long.len(), 1);
    assert_eq!(long[0].line, 3);
}

#[test]
fn methods_and_default_trait_methods_are_measured_too() {
    let body = function_of("method", 85);
    let source = format!("struct S;\nimpl S {{\n{body}}}\ntrait T {{\n{body}}}\n");
    assert_eq!(
        long_names(&source),
        [("method".to_owned(), 85), ("method".to_owned(), 85)]
    );
}

#[test]
fn a_long_reason_above_the_function_its_doc_or_its_attributes_lets_it_pass() {
    let long = function_of("long", 120);
    for above in [
        "// long: one match over every command.\n",
        "// long: a flat table of translations,\n// which reads best in one piece.\n",
        "// long: a flat table.\n/// Docs.\n#[allow(clippy::too_many_lines)]\n",
        "/// Docs.\n// long: a flat table.\n",
    ] {
        assert_eq!(long_names(&format!("{above}{long}")), [], "{above:?}");
    }
}

#[test]
fn a_reason_must_say_something_and_sit_right_above_the_function() {
    let long = function_of("long", 120);
    for above in [
        "// long:\n",
        "// long:   \n",
        "/// long: a doc comment is not a reason.\n",
        "// long: too far away.\n\n",
        "// long: belongs to the constant.\nconst X: u8 = 1;\n",
        "// this is long.\n",
    ] {
        assert_eq!(
            long_names(&format!("{above}{long}")),
            [("long".to_owned(), 120)],
            "{above:?}"
        );
    }
}

#[test]
fn test_modules_and_test_functions_are_skipped() {
    let long = function_of("helper", 120);
    let test = format!("#[test]\n{}", function_of("a_test", 120));
    let tokio_test = format!("#[tokio::test]\nasync {}", function_of("async_test", 120));
    let source = format!(
        "#[cfg(test)]\nmod tests {{\n{long}{test}}}\n{test}{tokio_test}#[cfg(test)]\nmod fixtures;\n"
    );
    let found = findings(&source).expect("valid Rust");
    assert_eq!(found.long, []);
    assert_eq!(found.test_module_files, ["fixtures"]);
}

#[test]
fn a_long_function_inside_a_module_that_is_not_a_test_module_is_reported() {
    let source = format!(
        "#[cfg(feature = \"x\")]\nmod inner {{\n{}}}\n",
        function_of("long", 81)
    );
    assert_eq!(long_names(&source), [("long".to_owned(), 81)]);
}

#[test]
fn a_test_module_in_its_own_file_sits_beside_lib_rs_or_under_its_parent() {
    assert_eq!(
        test_module_paths(Path::new("crates/a/src/lib.rs"), "fixtures"),
        [
            PathBuf::from("crates/a/src/fixtures.rs"),
            PathBuf::from("crates/a/src/fixtures")
        ]
    );
    assert_eq!(
        test_module_paths(Path::new("crates/a/src/pages/chart.rs"), "tests"),
        [
            PathBuf::from("crates/a/src/pages/chart/tests.rs"),
            PathBuf::from("crates/a/src/pages/chart/tests")
        ]
    );
}
