//! `mmhost new`: a buildable plugin project for each guest language, with
//! the WIT, a small helper library and a `build.sh`.
//!
//! The templates live in `plugins/templates/<lang>/` (plus the shared files
//! listed in `plugins/templates/FILES`, so the WIT and helper libraries exist
//! once in the repository) and are built into the binary, so `mmhost new`
//! works anywhere. A test checks that this table lists every template file.

use std::path::{Path, PathBuf};

use crate::error::{describe_io, Error, ErrorKind, Result};

/// The languages `mmhost new` knows.
pub const LANGUAGES: &[&str] = &["rust", "c", "assemblyscript", "python", "javascript", "go"];

/// One file of a template: `{{name}}` in it becomes the plugin's name.
struct Template {
    lang: &'static str,
    path: &'static str,
    text: &'static str,
}

/// A file shared with the repository, copied as it is (`*`: every language).
struct Shared {
    lang: &'static str,
    dest: &'static str,
    text: &'static str,
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
            text: include_str!(concat!("../", $src)),
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
    template!("rust", "Cargo.toml"),
    template!("rust", "README.md"),
    template!("rust", "build.sh"),
    template!("rust", "src/lib.rs"),
];

const SHARED: &[Shared] = &[
    shared!("*", "wit/mmhost.wit", "wit/mmhost.wit"),
    shared!("c", "plugins/c/mmhost_guest.h", "mmhost_guest.h"),
    shared!("c", "plugins/c/mmhost_guest.c", "mmhost_guest.c"),
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
    shared!("go", "plugins/go/mmhost/abi.go", "mmhost/abi.go"),
    shared!("go", "plugins/go/mmhost/errors.go", "mmhost/errors.go"),
    shared!("go", "plugins/go/mmhost/host.go", "mmhost/host.go"),
    shared!("go", "plugins/go/mmhost/parallel.go", "mmhost/parallel.go"),
    shared!("go", "plugins/go/mmhost/region.go", "mmhost/region.go"),
];

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
    if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(Error::output(dir, "exists and is not empty"));
    }
    let mut written = Vec::new();
    let files = TEMPLATES
        .iter()
        .filter(|t| t.lang == lang)
        .map(|t| (t.path, t.text.replace("{{name}}", name)))
        .chain(
            SHARED
                .iter()
                .filter(|s| s.lang == "*" || s.lang == lang)
                .map(|s| (s.dest, s.text.to_string())),
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
