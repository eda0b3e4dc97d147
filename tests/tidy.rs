//! The rules review keeps missing, checked on every test run (after TigerBeetle's `tidy.zig`):
//!
//! 1. No source file in `src/` is over [`LINES_MAX`] lines outside its tests (a file named
//!    `tests.rs` or `test_*.rs` is all test; elsewhere, counting stops at the first top-level
//!    `#[cfg(test)]`).
//! 2. No stage folder imports another stage folder outside tests: what two stages share lives in
//!    a neutral module beside `records.rs`.
//! 3. No allocation, lock, I/O or clock read in the hot-path modules (`matcher`, `sequencer`,
//!    `ring`) outside construction, diagnostics and tests. A function is construction if it is
//!    named `new` or `with_*`, or if the comments and attributes right above its `fn` line
//!    contain `tidy: start-up` (built once, before the stage runs) or `tidy: diagnostics`
//!    (invariant checks and test accessors, never on the command path). A single line may say
//!    `tidy: <why>` itself.
//!
//! The checks read the source text, not the syntax tree: they are meant to catch the slip, not
//! to resist someone who wants around them.

use std::path::{Path, PathBuf};

/// Longest source file, in lines outside its tests.
const LINES_MAX: usize = 800;

/// The stage folders, in pipeline order.
const STAGES: [&str; 6] = ["net", "verify", "sequencer", "matcher", "journal", "netout"];

/// Modules whose steady state must not allocate, lock, do I/O or read a clock.
const HOT_MODULES: [&str; 4] = ["matcher", "sequencer", "ring", "fixed"];

/// What the hot modules must not say outside construction, diagnostics and tests.
const DENIED: [&str; 25] = [
    "vec!",
    "Vec::new",
    "Vec::with_capacity",
    "Box::new",
    "Arc::new",
    "Rc::new",
    "String::",
    "format!",
    ".to_string()",
    ".to_owned()",
    ".to_vec()",
    ".collect(",
    "HashMap",
    "BTreeMap",
    "Mutex",
    "RwLock",
    "Condvar",
    "std::fs",
    "File::",
    "println!",
    "eprintln!",
    "Instant::now",
    "SystemTime",
    "thread::sleep",
    "clock::",
];

fn source_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            source_files(&path, into);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            into.push(path);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `src/`'s files, as (path relative to `src/`, text).
fn sources() -> Vec<(String, String)> {
    let mut paths = Vec::new();
    source_files(&src(), &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(src()).unwrap().to_string_lossy().replace('\\', "/");
            (relative, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

fn is_test_file(relative: &str) -> bool {
    let name = relative.rsplit('/').next().unwrap();
    name == "tests.rs" || name.ends_with("_tests.rs") || name.starts_with("test_")
}

/// The lines before the first top-level `#[cfg(test)]` (all of them if there is none).
fn production_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let is_test =
        |line: &str| line.starts_with("#[cfg(test)]") || line.starts_with("#[cfg(all(test");
    text.lines().enumerate().take_while(move |(_, line)| !is_test(line))
}

/// The line without its `//` comment and string literals' contents (roughly: enough for
/// braces and tokens in this codebase).
fn code_of(line: &str) -> String {
    let mut code = String::new();
    let mut in_string = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_string => {
                chars.next();
            }
            '"' => {
                in_string = !in_string;
                code.push('"');
            }
            '/' if !in_string && chars.peek() == Some(&'/') => break,
            '\'' if !in_string => {
                // A char literal such as '{' or '"': skip it; a lifetime has no closing quote.
                let rest: String = chars.clone().take(3).collect();
                if let Some(end) = rest.find('\'')
                    && end > 0
                {
                    for _ in 0..=end {
                        chars.next();
                    }
                } else {
                    code.push(c);
                }
            }
            _ if in_string => {}
            _ => code.push(c),
        }
    }
    code
}

#[test]
fn no_source_file_is_over_the_line_limit() {
    let too_long: Vec<String> = sources()
        .iter()
        .filter(|(relative, _)| !is_test_file(relative))
        .map(|(relative, text)| (relative, production_lines(text).count()))
        .filter(|&(_, lines)| lines > LINES_MAX)
        .map(|(relative, lines)| format!("src/{relative}: {lines} lines outside tests"))
        .collect();
    assert!(too_long.is_empty(), "split these (at most {LINES_MAX}):\n{}", too_long.join("\n"));
}

/// The stage a path inside `src/` belongs to, if any.
fn stage_of(relative: &str) -> Option<&'static str> {
    let first = relative.split('/').next()?;
    STAGES.into_iter().find(|&stage| stage == first)
}

/// The stages a line of code names through `crate::<stage>`.
fn stages_named(code: &str) -> Vec<&'static str> {
    STAGES
        .into_iter()
        .filter(|stage| {
            let pattern = format!("crate::{stage}");
            code.match_indices(&pattern).any(|(at, _)| {
                let after = code[at + pattern.len()..].chars().next();
                !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        })
        .collect()
}

#[test]
fn no_stage_imports_another_stage() {
    let mut crossings = Vec::new();
    for (relative, text) in sources() {
        let Some(stage) = stage_of(&relative) else { continue };
        if is_test_file(&relative) {
            continue;
        }
        for (number, line) in production_lines(&text) {
            let code = code_of(line);
            for other in stages_named(&code) {
                if other != stage {
                    crossings.push(format!("src/{relative}:{}: {stage} → {other}", number + 1));
                }
            }
            if code.contains("super::super::") {
                crossings
                    .push(format!("src/{relative}:{}: reaches out with super::super", number + 1));
            }
        }
    }
    assert!(
        crossings.is_empty(),
        "stages import each other (move the shared piece to a neutral module):\n{}",
        crossings.join("\n")
    );
}

/// The name of the function a `fn` line declares.
fn declared_fn(code: &str) -> Option<&str> {
    let at = code.find("fn ")?;
    let before = &code[..at];
    if !before.split_whitespace().all(|word| {
        matches!(word, "pub" | "const" | "unsafe" | "async" | "extern" | "\"C\"" | "\"\"")
            || word.starts_with("pub(")
    }) {
        return None;
    }
    let name = code[at + 3..].split(|c: char| !(c.is_alphanumeric() || c == '_')).next()?;
    (!name.is_empty()).then_some(name)
}

/// Whether the comments and attributes right above line `index` mark its function exempt.
fn marked_exempt(lines: &[&str], index: usize) -> bool {
    lines[..index]
        .iter()
        .rev()
        .take_while(|line| {
            let line = line.trim_start();
            line.starts_with("//") || line.starts_with("#[")
        })
        .any(|line| line.contains("tidy: start-up") || line.contains("tidy: diagnostics"))
}

/// The hot-path violations in one file.
fn hot_path_violations(relative: &str, text: &str) -> Vec<String> {
    let lines: Vec<&str> = production_lines(text).map(|(_, line)| line).collect();
    let mut violations = Vec::new();
    // The exempt function being walked: the brace depth its body opened at.
    let mut exempt_depth: Option<i64> = None;
    let mut depth: i64 = 0;
    for (index, line) in lines.iter().enumerate() {
        let code = code_of(line);
        if exempt_depth.is_none()
            && let Some(name) = declared_fn(&code)
            && (name == "new" || name.starts_with("with_") || marked_exempt(&lines, index))
        {
            exempt_depth = Some(depth);
        }
        let exempt = exempt_depth.is_some() || line.contains("tidy:");
        if !exempt && !line.trim_start().starts_with("//") {
            for token in DENIED.iter().filter(|token| code.contains(**token)) {
                violations.push(format!(
                    "src/{relative}:{}: `{token}`: {}",
                    index + 1,
                    line.trim()
                ));
            }
        }
        depth += code.matches('{').count() as i64 - code.matches('}').count() as i64;
        if let Some(start) = exempt_depth
            && depth <= start
            && code.contains('}')
        {
            exempt_depth = None;
        }
    }
    violations
}

#[test]
fn the_hot_path_never_allocates_locks_or_does_io() {
    let mut violations = Vec::new();
    for (relative, text) in sources() {
        let module = relative.split('/').next().unwrap().trim_end_matches(".rs");
        if !HOT_MODULES.contains(&module) || is_test_file(&relative) {
            continue;
        }
        violations.extend(hot_path_violations(&relative, &text));
    }
    assert!(
        violations.is_empty(),
        "allocation, lock, I/O or clock on the hot path (mark construction `// tidy: start-up`, \
         checks `// tidy: diagnostics`, or move it):\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_checks_see_what_they_look_for() {
    // The tidy rules themselves, on small inputs: a check that finds nothing proves nothing.
    let hot = "impl X {\n    fn new() -> X {\n        let v = vec![0; 4];\n    }\n    fn apply(&mut self) {\n        let s = format!(\"{}\", 1);\n        let t = \"vec!\"; // vec! in a string\n    }\n    // tidy: diagnostics\n    fn check(&self) -> Result<(), String> {\n        Err(format!(\"bad\"))\n    }\n}\n";
    let found = hot_path_violations("matcher/x.rs", hot);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains(":6:") && found[0].contains("format!"), "{found:?}");
    assert_eq!(stages_named("use crate::netout::view::View;"), vec!["netout"]);
    assert_eq!(stages_named("use crate::network::x; crate::net_x"), Vec::<&str>::new());
    assert_eq!(code_of("let c = '{'; // {"), "let c = ; ");
    let text = "fn a() {}\n#[cfg(test)]\nmod tests {}\n";
    assert_eq!(production_lines(text).count(), 1);
}
