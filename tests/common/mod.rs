//! Shared helpers of the integration tests: the real binary, the reference
//! plugins (built once per test binary), temporary files and deterministic
//! test data.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// The mmhost binary under test.
pub fn mmhost() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mmhost"));
    // A cache per test run would hide nothing and cost compile time; the
    // shared cache is safe for concurrent use.
    c.env_remove("NO_COLOR");
    c
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Builds every plugin once (per test binary) with the repository's build
/// script, using the mmhost binary under test to wrap them into components.
/// Returns the directory holding `<name>.wasm`.
pub fn plugins() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let status = Command::new("bash")
            .arg(root().join("scripts/build-plugins.sh"))
            .env("MMHOST", env!("CARGO_BIN_EXE_mmhost"))
            .status()
            .expect("run scripts/build-plugins.sh");
        assert!(status.success(), "building the plugins failed");
        root().join("target/plugins")
    })
}

pub fn plugin(name: &str) -> PathBuf {
    let p = plugins().join(format!("{name}.wasm"));
    assert!(p.exists(), "plugin {name} was not built: {}", p.display());
    p
}

/// Result of a run: exit code, stdout, stderr.
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert_eq!(self.code, 0, "stderr: {}", self.stderr);
        self
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "stderr: {}", self.stderr);
        self
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: o.stdout,
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// `mmhost run [flags] PLUGIN FILES... -- ARGS...`
pub fn run(flags: &[&str], plugin: &Path, files: &[PathBuf], args: &[&str]) -> Run {
    let mut c = mmhost();
    c.arg("run").args(flags).arg(plugin).args(files);
    if !args.is_empty() {
        c.arg("--").args(args);
    }
    c.output().expect("spawn mmhost").into()
}

/// Deterministic bytes (xorshift64*), optionally restricted to an alphabet.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    pub fn bytes(&mut self, len: usize, alphabet: &[u8]) -> Vec<u8> {
        (0..len)
            .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize])
            .collect()
    }
}

/// Text-like test data: lower and upper case letters, digits, punctuation,
/// newlines and a few non-ASCII bytes, so `upper` has work and edge cases.
pub const TEXTISH: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCXYZ0189 .,\n\x00\xff\xe9`{@[";

/// A set of files in a fresh temporary directory, and their contents.
pub struct Files {
    pub dir: tempfile::TempDir,
    pub paths: Vec<PathBuf>,
    pub contents: Vec<Vec<u8>>,
}

impl Files {
    pub fn new(lens: &[usize], seed: u64, alphabet: &[u8]) -> Files {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut rng = Rng(seed | 1);
        let mut paths = Vec::new();
        let mut contents = Vec::new();
        for (i, &len) in lens.iter().enumerate() {
            let data = rng.bytes(len, alphabet);
            let p = dir.path().join(format!("in{i:03}.dat"));
            std::fs::write(&p, &data).expect("write input");
            paths.push(p);
            contents.push(data);
        }
        Files {
            dir,
            paths,
            contents,
        }
    }

    pub fn concat(&self) -> Vec<u8> {
        self.contents.concat()
    }

    /// Asserts the files still hold exactly their original bytes.
    #[track_caller]
    pub fn assert_unchanged(&self) {
        for (p, c) in self.paths.iter().zip(&self.contents) {
            let now = std::fs::read(p).expect("read input");
            assert!(now == *c, "{} changed", p.display());
        }
    }

    /// Asserts the files hold `expected` split at the original lengths.
    #[track_caller]
    pub fn assert_concat_is(&self, expected: &[u8]) {
        let mut pos = 0;
        for (p, c) in self.paths.iter().zip(&self.contents) {
            let now = std::fs::read(p).expect("read input");
            assert_eq!(now.len(), c.len(), "{} changed size", p.display());
            assert!(
                now == expected[pos..pos + c.len()],
                "{} has the wrong bytes",
                p.display()
            );
            pos += c.len();
        }
    }
}

pub const KIB: usize = 1024;
pub const MIB: usize = 1024 * KIB;

/// File-size sets around the page and 2 MiB boundaries, as the tests use them.
pub fn size_sets() -> Vec<Vec<usize>> {
    vec![
        vec![0],
        vec![1],
        vec![4095],
        vec![4096],
        vec![4097],
        vec![2 * MIB - 1],
        vec![2 * MIB + 1],
        vec![0, 1, 0, 4095, 4096, 4097, 0],
        vec![4097, 2 * MIB - 1, 1, 2 * MIB + 1, 4096],
        vec![2 * MIB + 1, 0, 3, 65535, 65536, 65537, 2 * MIB - 1],
        vec![100, 200, 300, 5 * MIB + 7, 13],
    ]
}

/// ASCII upper-casing, the reference for the `upper` plugin.
pub fn upper(data: &[u8]) -> Vec<u8> {
    data.to_ascii_uppercase()
}

/// Non-overlapping occurrences, as Python's `bytes.count`.
pub fn count(hay: &[u8], needle: &[u8]) -> usize {
    if needle.is_empty() {
        return hay.len() + 1;
    }
    let (mut i, mut n) = (0, 0);
    while i + needle.len() <= hay.len() {
        if &hay[i..i + needle.len()] == needle {
            n += 1;
            i += needle.len();
        } else {
            i += 1;
        }
    }
    n
}

/// The languages other than Rust that plugins are written in, as directory
/// names under `plugins/` and `target/plugins/`.
pub const LANGUAGES: &[&str] = &["c", "assemblyscript", "python", "javascript", "wat", "go"];

/// Builds the plugins in other languages once (per test binary) with
/// `scripts/build-lang-plugins.sh`, which builds every language whose
/// toolchain is present and records why the others are skipped. A build that
/// fails with its toolchain present fails the test.
pub fn lang_plugins() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let _ = plugins(); // the host must exist for wrapping; Rust first
        let status = Command::new("bash")
            .arg(root().join("scripts/build-lang-plugins.sh"))
            .env("MMHOST", env!("CARGO_BIN_EXE_mmhost"))
            .status()
            .expect("run scripts/build-lang-plugins.sh");
        assert!(
            status.success(),
            "building the plugins in other languages failed (a toolchain is there but a build broke)"
        );
        // Compile them ahead of time, as a user of large components would
        // (`mmhost compile`): the runs compared below then come from the
        // cache and print no first-compile notice.
        let built: Vec<PathBuf> = LANGUAGES
            .iter()
            .flat_map(|l| std::fs::read_dir(root().join("target/plugins").join(l)).into_iter().flatten())
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
            .collect();
        if !built.is_empty() {
            let status = mmhost().arg("-q").arg("compile").args(&built).status().expect("mmhost compile");
            assert!(status.success(), "mmhost compile of the language plugins failed");
        }
        root().join("target/plugins")
    })
}

/// The plugin `name` in `lang`, or why it is not available (the language's
/// toolchain is missing: see `scripts/install-toolchains.sh`).
pub fn lang_plugin(lang: &str, name: &str) -> Result<PathBuf, String> {
    let dir = lang_plugins().join(lang);
    if let Ok(reason) = std::fs::read_to_string(dir.join("SKIPPED")) {
        return Err(reason.trim().to_string());
    }
    let p = dir.join(format!("{name}.wasm"));
    if p.exists() {
        Ok(p)
    } else {
        Err(format!("{} was not built", p.display()))
    }
}

/// Whether a missing language must fail rather than be skipped:
/// `MMHOST_REQUIRE_LANGS=all` or a comma-separated list of languages.
pub fn lang_required(lang: &str) -> bool {
    std::env::var("MMHOST_REQUIRE_LANGS")
        .is_ok_and(|v| v.split(',').map(str::trim).any(|l| l == "all" || l == lang))
}
pub mod sparse100k;

/// Runs a standard tool in `dir` with `LC_ALL=C`; panics (fails) if it is
/// not installed.
pub fn tool(dir: &Path, program: &str, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut c = Command::new(program);
    c.current_dir(dir).env("LC_ALL", "C").args(args);
    c.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap_or_else(|e| {
        panic!("{program} is needed by this test and could not run ({e}); install it (scripts/test.sh does)")
    });
    if let Some(data) = stdin {
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), data).unwrap();
    }
    child.wait_with_output().unwrap().into()
}
