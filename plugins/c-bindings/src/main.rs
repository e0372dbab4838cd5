//! `c-bindings`: the C bindings of mmhost's `transform` world
//! (`transform.h`, `transform.c`, `transform_component_type.o`), generated
//! by the `wit-bindgen-c` crate used as a library, exactly as
//! `wit-bindgen c WIT --world transform` (wit-bindgen-cli at the same
//! version) writes them.
//!
//! The C plugins (`plugins/c`) and the C template of `mmhost new` use the
//! copies committed in `plugins/c/bindings/`, so building them needs no
//! wit-bindgen at all; `scripts/test.sh` runs this with `--check` so that
//! the copies cannot drift from the WIT.
//!
//! ```text
//! cargo run -p c-bindings -- WIT_DIR OUT_DIR           # (re)write them
//! cargo run -p c-bindings -- --check WIT_DIR OUT_DIR   # exit 1 if any differs
//! ```
//!
//! Run from `plugins/` (a host build: this is not a plugin).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use wit_bindgen_core::wit_parser::Resolve;
use wit_bindgen_core::Files;

const WORLD: &str = "transform";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let check = args.first().is_some_and(|a| a == "--check");
    if check {
        args.remove(0);
    }
    let [wit, out] = args.as_slice() else {
        eprintln!("usage: c-bindings [--check] WIT_DIR OUT_DIR");
        return ExitCode::from(2);
    };
    let files = match generate(Path::new(wit)) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("c-bindings: {wit}: {e:#}");
            return ExitCode::from(3);
        }
    };
    let out = PathBuf::from(out);
    let mut stale = Vec::new();
    for (name, contents) in files.iter() {
        let path = out.join(name);
        if check {
            if std::fs::read(&path).ok().as_deref() != Some(contents) {
                stale.push(path.display().to_string());
            }
        } else if let Err(e) =
            std::fs::create_dir_all(&out).and_then(|()| std::fs::write(&path, contents))
        {
            eprintln!("c-bindings: {}: {e}", path.display());
            return ExitCode::from(6);
        }
    }
    if !stale.is_empty() {
        eprintln!(
            "c-bindings: not up to date with {wit}: {} (regenerate: cd plugins && cargo run -p c-bindings -- {wit} {})",
            stale.join(", "),
            out.display()
        );
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// The files `wit-bindgen c WIT --world transform` writes, by name.
fn generate(wit: &Path) -> anyhow::Result<Files> {
    let mut resolve = Resolve::default();
    let (pkg, _sources) = resolve.push_path(wit)?;
    let world = resolve.select_world(&[pkg], Some(WORLD))?;
    let mut files = Files::default();
    wit_bindgen_c::Opts::default()
        .build()
        .generate(&mut resolve, world, &mut files)?;
    Ok(files)
}
