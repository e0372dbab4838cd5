//! The manual pages: `mmhost(1)` and one page per subcommand
//! (`mmhost-run(1)`, `mmhost-plan(1)`, ...), generated from the command
//! line's own definition (clap), so that a page never disagrees with
//! `--help`.
//!
//! This module owns the layout of the pages, not their text: the text is
//! the help of each command and option. clap_mangen renders the standard
//! sections (NAME, SYNOPSIS, DESCRIPTION, OPTIONS, SUBCOMMANDS, VERSION);
//! the rest is rendered here, because clap_mangen would put a command's
//! `after_help` into one filled paragraph under "EXTRA", joining example
//! command lines and list items mid-phrase:
//!
//! - the exit codes, parsed from the top-level help's `Exit codes:` list,
//!   become an EXIT STATUS section of tagged paragraphs on every page;
//! - a subcommand's `after_help` becomes EXAMPLES (or NOTES), its indented
//!   lines kept as written (no filling) and its prose filled;
//! - `mmhost-run(1)` has a JOB FILES section (the fields of a job file);
//! - every page ends with SEE ALSO, naming only pages that are generated
//!   here, so that every `mmhost-X(1)` a page mentions exists.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap_mangen::roff::{bold, roman, Roff};
use clap_mangen::Man;

use crate::error::Error;

/// A generated page: its name (`mmhost`, `mmhost-run`) and roff text.
pub struct Page {
    /// The page's name, without the section.
    pub name: String,
    /// The page in roff, for `man -l`.
    pub roff: Vec<u8>,
}

impl Page {
    /// The page's file name in a `man1` directory: `mmhost-run.1`.
    pub fn file_name(&self) -> String {
        format!("{}.1", self.name)
    }
}

/// Every page: `mmhost` first, then one per (visible) subcommand, in the
/// order of `mmhost --help`.
pub fn pages(cmd: clap::Command) -> Vec<Page> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let exit_codes = cmd
        .get_after_help()
        .map(|h| exit_codes(&h.to_string()))
        .unwrap_or_default();
    let names: Vec<String> = std::iter::once(cmd.get_name().to_string())
        .chain(visible(&cmd).map(|s| page_name(&cmd, s)))
        .collect();
    let mut out = vec![Page {
        name: names[0].clone(),
        roff: render(&cmd, &cmd, &exit_codes, &names),
    }];
    for sub in visible(&cmd) {
        out.push(Page {
            name: page_name(&cmd, sub),
            roff: render(&cmd, sub, &exit_codes, &names),
        });
    }
    out
}

/// One page by the subcommand it documents (`None`: `mmhost(1)`); the
/// page's full name (`mmhost-run`) is accepted too.
///
/// # Errors
/// A usage error (exit 2) for a name that is no page, listing the pages.
pub fn page(cmd: clap::Command, name: Option<&str>) -> Result<Page, Error> {
    let all = pages(cmd);
    let Some(name) = name else {
        return Ok(all.into_iter().next().expect("the main page"));
    };
    let main = all[0].name.clone();
    let names: Vec<String> = all.iter().map(|p| p.name.clone()).collect();
    all.into_iter()
        .find(|p| p.name == name || p.name == format!("{main}-{name}"))
        .ok_or_else(|| {
            Error::new(
                crate::ErrorKind::Usage,
                format!("no manual page {name}; the pages are: {}", names.join(", ")),
            )
        })
}

/// Writes every page into `dir` (created if missing) as `NAME.1`; returns
/// the files written.
///
/// # Errors
/// An output error (exit 6) naming the file that could not be written.
pub fn write_all(cmd: clap::Command, dir: &Path) -> Result<Vec<PathBuf>, Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::output(dir, e))?;
    let mut written = Vec::new();
    for p in pages(cmd) {
        let path = dir.join(p.file_name());
        std::fs::write(&path, &p.roff).map_err(|e| Error::output(&path, e))?;
        written.push(path);
    }
    Ok(written)
}

fn visible(cmd: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    cmd.get_subcommands().filter(|s| !s.is_hide_set())
}

fn page_name(main: &clap::Command, sub: &clap::Command) -> String {
    format!("{}-{}", main.get_name(), sub.get_name())
}

/// `(code, meaning)` pairs of an `Exit codes:` list as `mmhost --help`
/// prints it: `  N  text`, continued on lines indented deeper.
fn exit_codes(help: &str) -> Vec<(String, String)> {
    let mut codes: Vec<(String, String)> = Vec::new();
    let mut inside = false;
    for line in help.lines() {
        if line.trim_end() == "Exit codes:" {
            inside = true;
            continue;
        }
        if !inside {
            continue;
        }
        let body = line.trim_start();
        let first = body.split_whitespace().next().unwrap_or("");
        let indent = line.len() - body.len();
        if body.is_empty() {
            break;
        } else if indent <= 2 && first.chars().all(|c| c.is_ascii_digit()) {
            let text = body[first.len()..].trim();
            codes.push((first.to_string(), text.to_string()));
        } else if let Some(last) = codes.last_mut() {
            last.1.push(' ');
            last.1.push_str(body.trim());
        } else {
            break;
        }
    }
    codes
}

fn render(
    main: &clap::Command,
    cmd: &clap::Command,
    exit_codes: &[(String, String)],
    names: &[String],
) -> Vec<u8> {
    let is_main = std::ptr::eq(main, cmd);
    let man = Man::new(cmd.clone())
        .section("1")
        .source(format!("mmhost {}", env!("CARGO_PKG_VERSION")))
        .manual("mmhost manual");
    let mut out = Vec::new();
    // Writes into a Vec cannot fail.
    let _ = man.render_title(&mut out);
    // No hyphenation: option names and page names must stay whole.
    out.extend_from_slice(b".nh\n");
    let _ = man.render_name_section(&mut out);
    let _ = man.render_synopsis_section(&mut out);
    let _ = man.render_description_section(&mut out);
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        let _ = man.render_options_section(&mut out);
    }
    if is_main {
        let _ = man.render_subcommands_section(&mut out);
    }
    let mut roff = Roff::new();
    if !is_main {
        if let Some(text) = cmd.get_after_long_help().or_else(|| cmd.get_after_help()) {
            after_help(&mut roff, &text.to_string());
        }
        if cmd.get_name() == "run" {
            job_files(&mut roff);
        }
    }
    if !exit_codes.is_empty() {
        roff.control("SH", ["EXIT STATUS"]);
        for (code, meaning) in exit_codes {
            roff.control("TP", []);
            roff.text([bold(code.as_str())]);
            roff.text([roman(meaning.as_str())]);
        }
    }
    if is_main {
        roff.control("SH", ["ENVIRONMENT"]);
        roff.control("TP", []);
        roff.text([bold("NO_COLOR")]);
        roff.text([roman(
            "When set and not empty, error messages are not coloured.",
        )]);
        roff.control("TP", []);
        roff.text([bold("TMPDIR")]);
        roff.text([roman(
            "Where standard input and small files are copied to be mapped, \
             and where dry runs stage their copies.",
        )]);
    }
    roff.control("SH", ["SEE ALSO"]);
    let own = if is_main {
        main.get_name().to_string()
    } else {
        page_name(main, cmd)
    };
    let others: Vec<&String> = names.iter().filter(|n| **n != own).collect();
    for (i, n) in others.iter().enumerate() {
        let sep = if i + 1 < others.len() { "," } else { "" };
        roff.text([bold(n.as_str()), roman(format!("(1){sep}"))]);
    }
    roff.control("PP", []);
    roff.text([roman(
        "The README of the mmhost repository: the region, writes, job files, \
         the plugin contract and the distributed protocol.",
    )]);
    roff.control("SH", ["VERSION"]);
    roff.text([roman(format!("v{}", env!("CARGO_PKG_VERSION")))]);
    let _ = roff.to_writer(&mut out);
    let _ = out.flush();
    out
}

/// A subcommand's `after_help`: EXAMPLES when it starts with
/// `Example(s):` (that line dropped), else NOTES. Indented lines are shown as written; other
/// lines are filled into paragraphs, a blank line between them.
fn after_help(roff: &mut Roff, text: &str) {
    let examples = text.starts_with("Example");
    roff.control("SH", [if examples { "EXAMPLES" } else { "NOTES" }]);
    let mut verbatim = false;
    for (i, line) in text.lines().enumerate() {
        if i == 0 && examples {
            // The section's title says it.
            continue;
        }
        let indented = line.starts_with(' ') && !line.trim().is_empty();
        if indented != verbatim {
            if indented {
                roff.control("RS", []);
                roff.control("nf", []);
            } else {
                roff.control("fi", []);
                roff.control("RE", []);
            }
            verbatim = indented;
        }
        if line.trim().is_empty() {
            roff.control("PP", []);
        } else {
            // Verbatim lines keep their indentation beyond the first two
            // spaces (hanging indents of a list).
            let shown = if verbatim {
                line.strip_prefix("  ").unwrap_or(line).trim_end()
            } else {
                line
            };
            roff.text([roman(shown)]);
        }
    }
    if verbatim {
        roff.control("fi", []);
        roff.control("RE", []);
    }
}

/// The fields of a job file, for `mmhost-run(1)` (the README has the long
/// form; `mmhost schema` the JSON Schema).
const JOB_FIELDS: &[(&str, &str)] = &[
    ("inputs", "Paths or glob patterns (*, ?, [abc], ** for any depth), in region order; each pattern must match a file."),
    ("inputs_from", "A list file, one path a line, taken after inputs (as --files-from)."),
    ("write", "\"read_only\" (default), \"in_place\", {\"output\": FILE} or {\"output_dir\": DIR}."),
    ("dry_run", "true: as --dry-run."),
    ("limits", "{\"max_memory\": SIZE, \"timeout\": DURATION, \"fuel\": N, \"jobs\": N}; the timeout bounds all steps together."),
    ("steps", "The plugins, run one after another over the same region; writes are committed once, after the last."),
    ("steps[i].plugin", "A component, core module or .wat file, or a built-in's name."),
    ("steps[i].args", "The strings passed to the plugin (what follows -- on the command line)."),
    ("steps[i].config", "Any JSON value, handed to the plugin by config.get."),
    ("steps[i].limits", "The step's own max_memory, fuel, jobs and timeout."),
    ("steps[i].name", "A label for the report (default: the plugin's file stem)."),
];

fn job_files(roff: &mut Roff) {
    roff.control("SH", ["JOB FILES"]);
    roff.text([roman(
        "A job file (--job) is strict JSON; relative paths are relative to its \
         directory. Flags given on the command line override its values, and \
         FILEs replace its inputs. mmhost check validates one without running \
         it; mmhost schema prints its JSON Schema. Fields:",
    )]);
    for (field, meaning) in JOB_FIELDS {
        roff.control("TP", []);
        roff.text([bold(*field)]);
        roff.text([roman(*meaning)]);
    }
    roff.control("PP", []);
    roff.text([roman(
        "A SIZE is a number of bytes or a string such as \"64M\"; a DURATION a \
         number of seconds or a string such as \"500ms\", \"30s\", \"5m\".",
    )]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_parsed_with_their_continuation_lines() {
        let help =
            "Exit codes:\n  0  success\n  2  usage error (bad\n     command line)\n  141  closed\n";
        assert_eq!(
            exit_codes(help),
            [
                ("0".to_string(), "success".to_string()),
                (
                    "2".to_string(),
                    "usage error (bad command line)".to_string()
                ),
                ("141".to_string(), "closed".to_string()),
            ]
        );
    }
}
