//! `mmhost new`: a buildable plugin project for each guest language, with
//! the WIT, a small helper library and a `build.sh`.
//!
//! The templates live in `plugins/templates/<lang>/` (plus the shared files
//! listed in `plugins/templates/FILES`, so the WIT and helper libraries exist
//! once in the repository) and are built into the binary, so `mmhost new`
//! works anywhere. A test checks that this table lists every template file.
//!
//! A scaffold must work before `mmhost` is on `PATH`: the build scripts that
//! wrap a core module default to the binary that ran `mmhost new`
//! (`{{mmhost}}` in a template; `$MMHOST` overrides it), and [`host_command`]
//! is how the hint after `new` names it. The Rust scaffold gets a copy of
//! the guest library `mmhost-guest` in `vendor/`, so it builds anywhere.

use std::path::{Path, PathBuf};

use crate::error::{describe_io, Error, ErrorKind, Result};

/// The languages `mmhost new` knows.
pub const LANGUAGES: &[&str] = &[
    "rust",
    "c",
    "assemblyscript",
    "python",
    "javascript",
    "go",
    "zig",
    "cpp",
];

/// One file of a template: `{{name}}` in it becomes the plugin's name. A
/// file named `X.in` is written as `X`: the Rust template's `Cargo.toml` is
/// stored so, because cargo, looking for `mmhost-guest` in a git dependency
/// on this repository, reads every `Cargo.toml` in it and stops at a package
/// named `{{name}}`.
struct Template {
    lang: &'static str,
    path: &'static str,
    text: &'static str,
}

/// A file shared with the repository, copied as it is, byte for byte (`*`:
/// every language; the C bindings include an object file).
struct Shared {
    lang: &'static str,
    dest: &'static str,
    bytes: &'static [u8],
}

macro_rules! template {
    ($lang:literal, $path:literal) => {
        Template {
            lang: $lang,
            path: $path,
            text: include_str!(concat!("../plugins/templates/", $lang, "/", $path)),
        }
    };
}

macro_rules! shared {
    ($lang:literal, $src:literal, $dest:literal) => {
        Shared {
            lang: $lang,
            dest: $dest,
            bytes: include_bytes!(concat!("../", $src)),
        }
    };
}

const TEMPLATES: &[Template] = &[
    template!("assemblyscript", ".gitignore"),
    template!("assemblyscript", "README.md"),
    template!("assemblyscript", "assembly/index.ts"),
    template!("assemblyscript", "build.sh"),
    template!("assemblyscript", "package.json"),
    template!("c", ".gitignore"),
    template!("c", "README.md"),
    template!("c", "build.sh"),
    template!("c", "plugin.c"),
    template!("go", ".gitignore"),
    template!("go", "README.md"),
    template!("go", "build.sh"),
    template!("go", "go.mod"),
    template!("go", "main.go"),
    template!("javascript", ".gitignore"),
    template!("javascript", "README.md"),
    template!("javascript", "build.sh"),
    template!("javascript", "package.json"),
    template!("javascript", "plugin.js"),
    template!("python", ".gitignore"),
    template!("python", "README.md"),
    template!("python", "app.py"),
    template!("python", "build.sh"),
    template!("rust", ".cargo/config.toml"),
    template!("rust", ".gitignore"),
    template!("rust", "Cargo.toml.in"),
    template!("rust", "README.md"),
    template!("rust", "build.sh"),
    template!("rust", "src/lib.rs"),
    template!("zig", ".gitignore"),
    template!("zig", "README.md"),
    template!("zig", "build.sh"),
    template!("zig", "plugin.zig"),
    template!("cpp", ".gitignore"),
    template!("cpp", "README.md"),
    template!("cpp", "build.sh"),
    template!("cpp", "plugin.cpp"),
];

const SHARED: &[Shared] = &[
    shared!("*", "wit/mmhost.wit", "wit/mmhost.wit"),
    shared!("c", "plugins/c/mmhost_guest.h", "mmhost_guest.h"),
    shared!("c", "plugins/c/mmhost_guest.c", "mmhost_guest.c"),
    shared!(
        "c",
        "plugins/c/bindings/transform.h",
        "bindings/transform.h"
    ),
    shared!(
        "c",
        "plugins/c/bindings/transform.c",
        "bindings/transform.c"
    ),
    shared!(
        "c",
        "plugins/c/bindings/transform_component_type.o",
        "bindings/transform_component_type.o"
    ),
    shared!(
        "assemblyscript",
        "plugins/assemblyscript/assembly/mmhost.ts",
        "assembly/mmhost.ts"
    ),
    shared!(
        "assemblyscript",
        "plugins/assemblyscript/producers.mjs",
        "producers.mjs"
    ),
    shared!(
        "python",
        "plugins/python/mmhost_guest.py",
        "mmhost_guest.py"
    ),
    shared!(
        "javascript",
        "plugins/javascript/mmhost-guest.js",
        "mmhost-guest.js"
    ),
    shared!(
        "rust",
        "plugins/mmhost-guest/Cargo.toml",
        "vendor/mmhost-guest/Cargo.toml"
    ),
    shared!(
        "rust",
        "plugins/mmhost-guest/src/lib.rs",
        "vendor/mmhost-guest/src/lib.rs"
    ),
    shared!(
        "rust",
        "plugins/mmhost-guest/src/config.rs",
        "vendor/mmhost-guest/src/config.rs"
    ),
    shared!(
        "rust",
        "plugins/mmhost-guest/src/error.rs",
        "vendor/mmhost-guest/src/error.rs"
    ),
    shared!(
        "rust",
        "plugins/mmhost-guest/src/log.rs",
        "vendor/mmhost-guest/src/log.rs"
    ),
    shared!(
        "rust",
        "plugins/mmhost-guest/src/partial.rs",
        "vendor/mmhost-guest/src/partial.rs"
    ),
    shared!(
        "rust",
        "plugins/mmhost-guest/src/progress.rs",
        "vendor/mmhost-guest/src/progress.rs"
    ),
    shared!(
        "rust",
        "plugins/mmhost-guest/src/region.rs",
        "vendor/mmhost-guest/src/region.rs"
    ),
    shared!("go", "plugins/go/mmhost/abi.go", "mmhost/abi.go"),
    shared!("go", "plugins/go/mmhost/errors.go", "mmhost/errors.go"),
    shared!("go", "plugins/go/mmhost/host.go", "mmhost/host.go"),
    shared!("go", "plugins/go/mmhost/parallel.go", "mmhost/parallel.go"),
    shared!("go", "plugins/go/mmhost/region.go", "mmhost/region.go"),
    shared!("zig", "plugins/zig/mmhost.zig", "mmhost.zig"),
    shared!(
        "zig",
        "scripts/wasm-producers.py",
        "tools/wasm-producers.py"
    ),
    shared!("cpp", "plugins/cpp/mmhost.hpp", "mmhost.hpp"),
    shared!("cpp", "plugins/cpp/mmhost.cpp", "mmhost.cpp"),
    shared!(
        "cpp",
        "scripts/wasm-producers.py",
        "tools/wasm-producers.py"
    ),
];

/// How a shell command names the `mmhost` binary that is running: `mmhost`
/// when that name on `PATH` is this binary, else its absolute path, quoted
/// for a POSIX shell where needed. So a scaffold's hint works before mmhost
/// is installed.
pub fn host_command() -> String {
    let Some(exe) = running_binary() else {
        return "mmhost".to_string();
    };
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path)
            .any(|d| std::fs::canonicalize(d.join("mmhost")).is_ok_and(|p| p == exe))
    });
    if on_path {
        return "mmhost".to_string();
    }
    let text = exe.to_string_lossy();
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@".contains(c))
    {
        text.into_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// The canonical path of the running binary, if it can be known.
fn running_binary() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|p| std::fs::canonicalize(p).ok())
}

/// `{{mmhost}}` of a build script: the running binary's path, to go between
/// single quotes in a shell script (a `'` in it becomes `'\''`); `mmhost`
/// when it cannot be known.
fn host_for_script() -> String {
    running_binary()
        .map(|p| p.to_string_lossy().replace('\'', "'\\''"))
        .unwrap_or_else(|| "mmhost".to_string())
}

/// Writes a new plugin project for `lang` named `name` into `dir` (which
/// must not exist, or be empty). Returns the files written.
pub fn scaffold(lang: &str, name: &str, dir: &Path) -> Result<Vec<PathBuf>> {
    if !LANGUAGES.contains(&lang) {
        return Err(Error::new(
            ErrorKind::Usage,
            format!(
                "no template for language `{lang}` (known: {})",
                LANGUAGES.join(", ")
            ),
        ));
    }
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(Error::new(
            ErrorKind::Usage,
            format!(
                "`{name}` is not a plugin name: use lower-case letters, digits and `-`, \
                 starting with a letter"
            ),
        ));
    }
    if dir.exists() && !dir.is_dir() {
        return Err(Error::new(
            ErrorKind::Usage,
            format!(
                "{}: exists and is not a directory (choose another --dir)",
                crate::escape::Quoted(dir)
            ),
        ));
    }
    if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(Error::new(
            ErrorKind::Usage,
            format!(
                "{}: exists and is not empty (choose another --dir, or remove it)",
                crate::escape::Quoted(dir)
            ),
        ));
    }
    let mut written = Vec::new();
    let host = host_for_script();
    let files = TEMPLATES
        .iter()
        .filter(|t| t.lang == lang)
        .map(|t| {
            let text = t.text.replace("{{name}}", name);
            let text = if t.path.ends_with(".sh") {
                text.replace("{{mmhost}}", &host)
            } else {
                text
            };
            (
                t.path.strip_suffix(".in").unwrap_or(t.path),
                text.into_bytes(),
            )
        })
        .chain(
            SHARED
                .iter()
                .filter(|s| s.lang == "*" || s.lang == lang)
                .map(|s| (s.dest, s.bytes.to_vec())),
        );
    for (path, text) in files {
        let dest = dir.join(path);
        let fail = |e: std::io::Error| Error::output(&dest, describe_io(&e));
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(fail)?;
        }
        std::fs::write(&dest, text).map_err(fail)?;
        if path.ends_with(".sh") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755))
                .map_err(fail)?;
        }
        written.push(dest);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Rust scaffold: `Cargo.toml.in` written as `Cargo.toml`, the guest
    /// library copied byte for byte, no placeholder left, and the build
    /// script defaulting to the running binary (here the test binary).
    #[test]
    fn rust_scaffold_is_complete() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("p");
        scaffold("rust", "line-count", &project).unwrap();
        assert!(project.join("Cargo.toml").is_file());
        assert!(!project.join("Cargo.toml.in").exists());
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        for f in ["Cargo.toml", "src/lib.rs", "src/region.rs", "src/error.rs"] {
            assert_eq!(
                std::fs::read(project.join("vendor/mmhost-guest").join(f)).unwrap(),
                std::fs::read(repo.join("plugins/mmhost-guest").join(f)).unwrap(),
                "{f}"
            );
        }
        let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("name = \"line-count\""), "{manifest}");
        let build = std::fs::read_to_string(project.join("build.sh")).unwrap();
        assert!(!build.contains("{{"), "{build}");
        let exe = std::fs::canonicalize(std::env::current_exe().unwrap()).unwrap();
        assert!(build.contains(&format!("p='{}'", exe.display())), "{build}");
    }

    /// The table lists every file of every template directory.
    #[test]
    fn every_template_file_is_built_in() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/templates");
        for lang in LANGUAGES {
            let mut on_disk = Vec::new();
            let mut stack = vec![root.join(lang)];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).unwrap().flatten() {
                    if e.path().is_dir() {
                        stack.push(e.path());
                    } else {
                        let rel = e
                            .path()
                            .strip_prefix(root.join(lang))
                            .unwrap()
                            .to_path_buf();
                        on_disk.push(rel.display().to_string());
                    }
                }
            }
            on_disk.sort();
            let mut listed: Vec<String> = TEMPLATES
                .iter()
                .filter(|t| t.lang == *lang)
                .map(|t| t.path.to_string())
                .collect();
            listed.sort();
            assert_eq!(
                listed, on_disk,
                "templates of {lang}: update src/scaffold.rs"
            );
        }
    }
}
