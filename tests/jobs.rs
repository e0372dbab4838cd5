//! JSON job files: every field reaches the run, every class of invalid job
//! fails with its precise error before touching a file, pipelines equal the
//! same plugins run one after another, the report, the schema, the example
//! jobs, and plugins built against the previous WIT version.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const FAILED: i32 = 1;
const USAGE: i32 = 2;
const INPUT: i32 = 3;
const LOAD: i32 = 4;
const TRAP: i32 = 5;

fn p(name: &str) -> String {
    plugin(name).display().to_string()
}

fn first_line(r: &Run) -> &str {
    r.stderr.lines().next().unwrap_or("")
}

/// Writes `job` to `dir/name` and returns `name`: run it from `dir`, so
/// that messages name it as `name`.
fn write_job(dir: &Path, name: &str, job: &Value) -> PathBuf {
    std::fs::write(dir.join(name), serde_json::to_string_pretty(job).unwrap()).unwrap();
    PathBuf::from(name)
}

/// `mmhost run --job JOB FLAGS...`, from `cwd`.
fn run_job(cwd: &Path, job: &Path, flags: &[&str]) -> Run {
    mmhost()
        .current_dir(cwd)
        .arg("run")
        .arg("--job")
        .arg(job)
        .args(flags)
        .output()
        .expect("spawn mmhost")
        .into()
}

/// `mmhost check JOB`, from `cwd`.
fn check_job(cwd: &Path, job: &Path) -> Run {
    mmhost()
        .current_dir(cwd)
        .arg("check")
        .arg(job)
        .output()
        .expect("spawn mmhost")
        .into()
}

/// Every file under `dir` with its bytes: equal snapshots mean nothing was
/// written, created or left behind.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.insert(path.clone(), Vec::new());
                walk(&path, out);
            } else {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, &mut out);
    out
}

/// The JSON summary printed by `--report json`: the last line of stderr.
fn report_of(r: &Run) -> Value {
    let line = r.stderr.lines().last().expect("a report line");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

#[test]
fn committed_schemas_equal_the_binarys() {
    for (flags, file) in [
        (&[][..], "schema/job.schema.json"),
        (&["--report"][..], "schema/report.schema.json"),
    ] {
        let r: Run = mmhost().arg("schema").args(flags).output().unwrap().into();
        r.assert_ok();
        let committed = std::fs::read_to_string(root().join(file)).unwrap();
        assert!(
            r.stdout_str() == committed,
            "{file} is stale: run `cargo run --release -- schema {}> {file}`",
            flags.join(" ")
        );
        let schema: Value = serde_json::from_str(&committed).unwrap();
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    }
}

/// The bytes of the example data, in the order a job names them.
fn example_data(names: &[&str]) -> Vec<u8> {
    names
        .iter()
        .flat_map(|n| std::fs::read(root().join("examples/data").join(n)).unwrap())
        .collect()
}

#[test]
fn example_jobs_check_and_run() {
    plugins();
    let examples = root().join("examples");
    let mut jobs: Vec<PathBuf> = std::fs::read_dir(&examples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    jobs.sort();
    assert!(jobs.len() >= 3, "{jobs:?}");
    for job in &jobs {
        let r = check_job(&root(), job);
        r.assert_ok();
        assert!(r.stdout_str().contains(": ok: "), "{}", r.stdout_str());
    }
    let before = snapshot(&examples);

    // Read-only: counts by config and by argument, then a checksum.
    let logs = example_data(&["app-1.log", "app-2.log"]);
    let r = run_job(&root(), &examples.join("count-errors.json"), &[]);
    r.assert_ok();
    assert_eq!(
        r.stdout_str(),
        format!(
            "{}\n{}\n{:x} {}\n",
            count(&logs, b"ERROR"),
            count(&logs, b"WARN"),
            Sha256::digest(&logs),
            logs.len()
        )
    );

    // A three-step pipeline into one output file, redirected by the flag.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("shout.txt");
    let r = run_job(
        &root(),
        &examples.join("shout.json"),
        &["-o", out.to_str().unwrap()],
    );
    r.assert_ok();
    let mut want = upper(&example_data(&["notes.txt", "app-1.log", "app-2.log"]));
    want.reverse();
    assert!(std::fs::read(&out).unwrap() == want);
    assert_eq!(
        r.stdout_str(),
        format!("{:x} {}\n", Sha256::digest(&want), want.len())
    );

    // One file per input, into a directory given by the flag.
    let dir = tmp.path().join("out");
    let r = run_job(
        &root(),
        &examples.join("per-file.json"),
        &["--output-dir", dir.to_str().unwrap()],
    );
    r.assert_ok();
    for name in ["app-1.log", "app-2.log", "notes.txt"] {
        assert_eq!(
            std::fs::read(dir.join(name)).unwrap(),
            upper(&example_data(&[name])),
            "{name}"
        );
    }
    assert_eq!(
        snapshot(&examples),
        before,
        "running the examples wrote into examples/"
    );
}

/// A directory with inputs `a.txt` (5 bytes), `b.txt` (7), `sub/a.txt` (3)
/// and an empty directory `logs/`, for the invalid-job cases.
fn invalid_job_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), b"alpha").unwrap();
    std::fs::write(dir.path().join("b.txt"), b"bravo!!").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/a.txt"), b"sub").unwrap();
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    std::fs::create_dir(dir.path().join("plugins")).unwrap();
    std::fs::write(dir.path().join("plugins/notes.wasm"), b"not wasm").unwrap();
    dir
}

#[test]
fn every_class_of_invalid_job_fails_precisely_and_touches_no_file() {
    let dir = invalid_job_dir();
    let up = p("upper");
    let probe = p("probe");
    // (job text, exit code, the whole first line of stderr)
    let cases: Vec<(String, i32, String)> = vec![
        // Syntax: line and column.
        (
            format!("{{\"inputs\": [\"a.txt\"], \"write\": \"in_place\",\n  \"steps\": [{{\"plugin\": \"{up}\"}},]\n}}"),
            USAGE,
            format!("job.json:2:{}: syntax error: trailing comma", 28 + up.len()),
        ),
        (
            "{\"inputs\": [\"a.txt\"]".to_string(),
            USAGE,
            "job.json:1:20: syntax error: EOF while parsing an object".to_string(),
        ),
        // Unknown fields, at every level.
        (
            format!(r#"{{"inputs": ["a.txt"], "write": "in_place", "step": [{{"plugin": "{up}"}}]}}"#),
            USAGE,
            "job.json:1:49: step: unknown field `step`, expected one of `$schema`, `inputs`, \
             `inputs_from`, `write`, `dry_run`, `limits`, `steps`"
                .to_string(),
        ),
        (
            format!(r#"{{"inputs": ["a.txt"], "write": "in_place", "steps": [{{"plugin": "{up}", "confg": {{}}}}]}}"#),
            USAGE,
            format!(
                "job.json:1:{}: steps[0].confg: unknown field `confg`, expected one of `name`, \
                 `plugin`, `args`, `config`, `limits`",
                75 + up.len()
            ),
        ),
        (
            format!(r#"{{"inputs": ["a.txt"], "write": "in_place", "limits": {{"memory": "1G"}}, "steps": [{{"plugin": "{up}"}}]}}"#),
            USAGE,
            "job.json:1:62: limits.memory: unknown field `memory`, expected one of \
             `max_memory`, `timeout`, `fuel`, `jobs`"
                .to_string(),
        ),
        // Wrong types.
        (
            format!(r#"{{"inputs": ["a.txt"], "write": "in_place", "steps": [{{"plugin": "{up}", "args": ["x", 5]}}]}}"#),
            USAGE,
            format!(
                "job.json:1:{}: steps[0].args[1]: invalid type: integer `5`, expected a string",
                83 + up.len()
            ),
        ),
        (
            format!(r#"{{"inputs": "a.txt", "write": "in_place", "steps": [{{"plugin": "{up}"}}]}}"#),
            USAGE,
            "job.json:1:18: inputs: invalid type: string \"a.txt\", expected a sequence".to_string(),
        ),
        (
            format!(r#"{{"inputs": ["a.txt"], "write": "in_place", "dry_run": "yes", "steps": [{{"plugin": "{up}"}}]}}"#),
            USAGE,
            "job.json:1:59: dry_run: invalid type: string \"yes\", expected a boolean".to_string(),
        ),
        (
            format!(r#"{{"inputs": ["a.txt"], "write": "inplace", "steps": [{{"plugin": "{up}"}}]}}"#),
            USAGE,
            "job.json:1:40: write: unknown write target \"inplace\", expected \"read_only\", \
             \"in_place\", {\"output\": \"FILE\"} or {\"output_dir\": \"DIR\"}"
                .to_string(),
        ),
        (
            format!(r#"{{"inputs": ["a.txt"], "write": "in_place", "limits": {{"max_memory": "12X"}}, "steps": [{{"plugin": "{up}"}}]}}"#),
            USAGE,
            "job.json:1:73: limits.max_memory: unknown unit in `12X` (use K, M, G or T)".to_string(),
        ),
        (
            format!(r#"{{"inputs": ["a.txt"], "write": "in_place", "steps": {{"plugin": "{up}"}}}}"#),
            USAGE,
            "job.json:1:52: steps: invalid type: map, expected a sequence".to_string(),
        ),
        (
            format!(r#"[["a.txt"], "in_place", false, {{}}, [{{"plugin": "{up}"}}]]"#),
            USAGE,
            "job.json: invalid type: array, expected a job: an object with \"inputs\" and \"steps\""
                .to_string(),
        ),
        // Missing or empty parts.
        (
            r#"{"inputs": ["a.txt"], "write": "in_place"}"#.to_string(),
            USAGE,
            "job.json:1:42: missing field `steps`".to_string(),
        ),
        (
            r#"{"inputs": ["a.txt"], "write": "in_place", "steps": []}"#.to_string(),
            USAGE,
            "job.json: steps: a job needs at least one step, e.g. [{\"plugin\": \"upper.wasm\"}]"
                .to_string(),
        ),
        (
            format!(r#"{{"inputs": [], "write": "in_place", "steps": [{{"plugin": "{up}"}}]}}"#),
            USAGE,
            "job.json: inputs: a job needs at least one input: a path or a glob pattern (or \"inputs_from\": \"LIST\")".to_string(),
        ),
        (
            format!(r#"{{"inputs": ["a.txt", ""], "write": "in_place", "steps": [{{"plugin": "{up}"}}]}}"#),
            USAGE,
            "job.json: inputs[1]: empty path".to_string(),
        ),
        (
            format!(r#"{{"inputs": ["a.txt"], "write": {{"output": ""}}, "steps": [{{"plugin": "{up}"}}]}}"#),
            USAGE,
            "job.json: write.output: empty path".to_string(),
        ),
        (
            format!(r#"{{"inputs": ["[a.txt"], "write": "in_place", "steps": [{{"plugin": "{up}"}}]}}"#),
            USAGE,
            "job.json: inputs[0]: invalid glob pattern `[a.txt`: invalid range pattern".to_string(),
        ),
        // Plugins: missing, a directory, not wasm.
        (
            format!(r#"{{"inputs": ["a.txt"], "write": "in_place", "steps": [{{"plugin": "{up}"}}, {{"plugin": "plugins/uppr.wasm"}}]}}"#),
            LOAD,
            "job.json: steps[1].plugin: file not found: plugins/uppr.wasm".to_string(),
        ),
        (
            r#"{"inputs": ["a.txt"], "write": "in_place", "steps": [{"plugin": "plugins/"}]}"#.to_string(),
            LOAD,
            "job.json: steps[0].plugin: is a directory: plugins/".to_string(),
        ),
        (
            format!(r#"{{"inputs": ["a.txt"], "write": "in_place", "steps": [{{"plugin": "{probe}", "args": ["emit", "x"]}}, {{"plugin": "plugins/notes.wasm"}}]}}"#),
            LOAD,
            "job.json: steps[1]: plugin plugins/notes.wasm: not a WebAssembly file (no \\0asm \
             header, and not .wat text)"
                .to_string(),
        ),
        // Inputs: missing, a directory, a pattern that matches nothing.
        (
            format!(r#"{{"inputs": ["a.txt", "nope.txt"], "write": "in_place", "steps": [{{"plugin": "{up}"}}]}}"#),
            INPUT,
            "job.json: inputs[1]: file not found: nope.txt".to_string(),
        ),
        (
            format!(r#"{{"inputs": ["a.txt", "sub"], "write": "in_place", "steps": [{{"plugin": "{up}"}}]}}"#),
            INPUT,
            "job.json: inputs[1]: sub: is a directory".to_string(),
        ),
        (
            format!(r#"{{"inputs": ["a.txt", "logs/*.log"], "write": "in_place", "steps": [{{"plugin": "{up}"}}]}}"#),
            INPUT,
            "job.json: inputs[1]: pattern matched no file: logs/*.log".to_string(),
        ),
        // Duplicates where writes cannot take them.
        (
            format!(r#"{{"inputs": ["a.txt", "b.txt", "./a.txt"], "write": "in_place", "steps": [{{"plugin": "{up}"}}]}}"#),
            INPUT,
            "job.json: inputs[2]: ./a.txt: same file as a.txt; a file may be named only once \
             when writes go in place"
                .to_string(),
        ),
        (
            format!(r#"{{"inputs": ["*.txt", "b.txt"], "write": "in_place", "steps": [{{"plugin": "{up}"}}]}}"#),
            INPUT,
            "job.json: inputs[1]: b.txt: same file as b.txt; a file may be named only once when \
             writes go in place"
                .to_string(),
        ),
        (
            format!(r#"{{"inputs": ["a.txt", "sub/*.txt"], "write": {{"output_dir": "out"}}, "steps": [{{"plugin": "{up}"}}]}}"#),
            INPUT,
            "job.json: inputs[1]: sub/a.txt has the same name as a.txt (inputs[0]); both would be \
             written to out/a.txt"
                .to_string(),
        ),
    ];
    let before = snapshot(dir.path());
    let job = dir.path().join("job.json");
    let mut wrong = Vec::new();
    for (text, code, want) in &cases {
        std::fs::write(&job, text).unwrap();
        let before = snapshot(dir.path());
        for r in [
            check_job(dir.path(), Path::new("job.json")),
            run_job(dir.path(), Path::new("job.json"), &[]),
        ] {
            let want = format!("mmhost: error: {want}");
            if r.code != *code || first_line(&r) != want {
                wrong.push(format!(
                    "{text}\n  want {code} {want}\n  got  {} {}",
                    r.code,
                    first_line(&r)
                ));
            }
            assert!(r.stdout.is_empty(), "{text}: {}", r.stdout_str());
            assert_eq!(snapshot(dir.path()), before, "{text} touched a file");
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    std::fs::remove_file(&job).unwrap();
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn job_file_and_command_line_errors() {
    let dir = invalid_job_dir();
    // No such job file, or a directory: a job error.
    let r = run_job(dir.path(), Path::new("nope.json"), &[]);
    r.assert_code(USAGE);
    assert_eq!(
        first_line(&r),
        "mmhost: error: nope.json: cannot read the job file: no such file or directory"
    );
    let r = check_job(dir.path(), Path::new("sub"));
    r.assert_code(USAGE);
    assert_eq!(
        first_line(&r),
        "mmhost: error: sub: cannot read the job file: is a directory"
    );
    // Plugin arguments belong in the file.
    let job = write_job(
        dir.path(),
        "job.json",
        &json!({"inputs": ["a.txt"], "steps": [{"plugin": p("checksum")}]}),
    );
    let r = run_job(dir.path(), &job, &["--", "x"]);
    r.assert_code(USAGE);
    assert!(
        first_line(&r).contains("do not go with --job"),
        "{}",
        r.stderr
    );
    // `run` without a plugin or a job is a usage error, as before.
    let r: Run = mmhost().arg("run").output().unwrap().into();
    r.assert_code(USAGE);
    let r: Run = mmhost()
        .arg("run")
        .arg(plugin("checksum"))
        .output()
        .unwrap()
        .into();
    r.assert_code(USAGE);
}

/// Runs `mmhost run FLAGS PLUGIN FILES -- ARGS` from a job step's shape.
fn run_one(flags: &[&str], name: &str, files: &[PathBuf], args: &[&str]) -> Run {
    run(flags, &plugin(name), files, args)
}

#[test]
fn three_step_pipeline_equals_three_runs() {
    let steps: [(&str, &[&str]); 3] = [
        ("upper", &[]),
        ("reverse", &[]),
        (
            "probe",
            &[
                "write", "5", "414243", "fill", "-3", "3", "21", "read", "0", "8",
            ],
        ),
    ];
    for (k, lens) in [
        vec![1usize, 4095, 4097, 0, 70000],
        vec![2 * MIB + 1, 3, 65536],
        vec![10, 20, 30],
    ]
    .iter()
    .enumerate()
    {
        let job_steps: Vec<Value> = steps
            .iter()
            .map(|(name, args)| json!({"plugin": p(name), "args": args}))
            .collect();

        // In place: the pipeline against three in-place runs over a copy.
        let piped = Files::new(lens, 40 + k as u64, TEXTISH);
        let one_by_one = Files::new(lens, 40 + k as u64, TEXTISH);
        let inputs: Vec<String> = piped
            .paths
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        let job = write_job(
            piped.dir.path(),
            "job.json",
            &json!({"inputs": inputs, "write": "in_place", "steps": job_steps}),
        );
        let r = run_job(piped.dir.path(), &job, &["-q"]);
        r.assert_ok();
        let mut stdout = Vec::new();
        for (name, args) in steps {
            let s = run_one(&["-q", "--in-place"], name, &one_by_one.paths, args);
            s.assert_ok();
            stdout.extend(s.stdout);
        }
        assert_eq!(r.stdout_str(), String::from_utf8_lossy(&stdout), "{lens:?}");
        for (a, b) in piped.paths.iter().zip(&one_by_one.paths) {
            assert!(
                std::fs::read(a).unwrap() == std::fs::read(b).unwrap(),
                "{lens:?}: {} differs",
                a.display()
            );
        }
        let after: Vec<u8> = piped
            .paths
            .iter()
            .flat_map(|p| std::fs::read(p).unwrap())
            .collect();
        assert!(after != piped.concat());

        // Into one output file: the pipeline against a chain of -o runs.
        let fresh = Files::new(lens, 40 + k as u64, TEXTISH);
        let out = fresh.dir.path().join("piped.out");
        let job = write_job(
            fresh.dir.path(),
            "job.json",
            &json!({"inputs": inputs, "write": {"output": "piped.out"}, "steps": job_steps}),
        );
        run_job(fresh.dir.path(), &job, &["-q"]).assert_ok();
        fresh.assert_unchanged();
        let mut last = fresh.paths.clone();
        for (i, (name, args)) in steps.iter().enumerate() {
            let next = fresh.dir.path().join(format!("chain{i}.out"));
            run_one(&["-q", "-o", next.to_str().unwrap()], name, &last, args).assert_ok();
            last = vec![next];
        }
        assert!(std::fs::read(&out).unwrap() == std::fs::read(&last[0]).unwrap());
        // ... which is what the in-place runs left, concatenated.
        let in_place: Vec<u8> = one_by_one
            .paths
            .iter()
            .flat_map(|p| std::fs::read(p).unwrap())
            .collect();
        assert!(std::fs::read(&out).unwrap() == in_place);

        // Into a directory: each file as the in-place runs left it.
        let job = write_job(
            fresh.dir.path(),
            "dir.json",
            &json!({"inputs": inputs, "write": {"output_dir": "outdir"}, "steps": job_steps}),
        );
        run_job(fresh.dir.path(), &job, &["-q"]).assert_ok();
        fresh.assert_unchanged();
        for (p, want) in piped.paths.iter().zip(&one_by_one.paths) {
            let got = fresh.dir.path().join("outdir").join(p.file_name().unwrap());
            assert!(std::fs::read(got).unwrap() == std::fs::read(want).unwrap());
        }
    }
}

#[test]
fn later_steps_see_earlier_writes_and_stdout_keeps_step_order() {
    let files = Files::new(&[3, 4], 7, b"abc");
    let all = files.concat();
    let job = write_job(
        files.dir.path(),
        "job.json",
        &json!({
            "inputs": ["in000.dat", "in001.dat"],
            "write": {"output": "out.bin"},
            "steps": [
                {"plugin": p("probe"), "args": ["read", "0", "7"]},
                {"plugin": p("upper")},
                {"plugin": p("checksum")},
                {"plugin": p("probe"), "args": ["read", "0", "7", "emit", "done"]},
            ]
        }),
    );
    let r = run_job(files.dir.path(), &job, &[]);
    r.assert_ok();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let up = upper(&all);
    assert_eq!(
        r.stdout_str(),
        format!(
            "ok {}\n{:x} 7\nok {}\ndone",
            hex(&all),
            Sha256::digest(&up),
            hex(&up)
        )
    );
    files.assert_unchanged();
    assert_eq!(std::fs::read(files.dir.path().join("out.bin")).unwrap(), up);
}

#[test]
fn a_failing_step_commits_nothing() {
    for (last_args, code, what) in [
        (&["fail", "boom"][..], FAILED, "plugin probe failed: boom"),
        (&["trap"][..], TRAP, "plugin probe: trapped: "),
        (
            &["grow", "64"][..],
            TRAP,
            "plugin probe: memory limit exceeded",
        ),
    ] {
        for write in [
            json!("in_place"),
            json!({"output": "out.bin"}),
            json!({"output_dir": "out"}),
        ] {
            let files = Files::new(&[10, 5000, 70000], 9, TEXTISH);
            let job = write_job(
                files.dir.path(),
                "job.json",
                &json!({
                    "inputs": ["in*.dat"],
                    "write": write,
                    "steps": [
                        {"plugin": p("upper")},
                        {"plugin": p("reverse")},
                        {"plugin": p("probe"), "args": last_args, "limits": {"max_memory": "16M"}},
                    ]
                }),
            );
            let before = snapshot(files.dir.path());
            let r = run_job(files.dir.path(), &job, &[]);
            r.assert_code(code);
            assert!(
                first_line(&r).starts_with(&format!("mmhost: error: job.json: steps[2]: {what}")),
                "{}",
                r.stderr
            );
            files.assert_unchanged();
            // An output directory is created before the run (as with
            // --output-dir); it stays empty.
            let out = files.dir.path().join("out");
            if out.is_dir() {
                std::fs::remove_dir(&out).expect("the output directory is empty");
            }
            assert_eq!(snapshot(files.dir.path()), before, "{write} {last_args:?}");
        }
    }
}

#[test]
fn every_plugin_loads_before_any_step_runs() {
    let files = Files::new(&[100], 11, TEXTISH);
    let bad = files.dir.path().join("bad.wat");
    std::fs::write(&bad, "(module)").unwrap();
    let job = write_job(
        files.dir.path(),
        "job.json",
        &json!({
            "inputs": ["in000.dat"],
            "write": "in_place",
            "steps": [
                {"plugin": p("probe"), "args": ["emit", "ran", "write", "0", "58"]},
                {"plugin": p("upper")},
                {"plugin": "bad.wat"},
            ]
        }),
    );
    let before = snapshot(files.dir.path());
    let r = run_job(files.dir.path(), &job, &[]);
    r.assert_code(LOAD);
    assert!(
        first_line(&r).starts_with("mmhost: error: job.json: steps[2]: plugin bad.wat: "),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "a step ran: {}", r.stdout_str());
    assert_eq!(snapshot(files.dir.path()), before);
    // `check` finds it too, without running anything.
    let r = check_job(files.dir.path(), &job);
    r.assert_code(LOAD);
    assert!(
        first_line(&r).contains("steps[2]: plugin bad.wat"),
        "{}",
        r.stderr
    );
}

#[test]
fn every_field_reaches_the_run() {
    // Inputs as paths and patterns, relative to the job file's directory,
    // run from another directory.
    let root_dir = tempfile::tempdir().unwrap();
    let base = root_dir.path().join("proj");
    for (name, body) in [
        ("data/b.txt", "b"),
        ("data/a.txt", "aa"),
        ("data/sub/c.txt", "ccc"),
        ("data/sub/deeper/d.txt", "dddd"),
        ("data/.hidden.txt", "h"),
        ("data/notes.md", "md"),
        ("data/odd[1].txt", "odd"),
    ] {
        let path = base.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    std::fs::create_dir_all(base.join("data/dir.txt")).unwrap(); // skipped by patterns
    let config = json!({"z": 1, "a": [1.5, null, true, "é\n\"q\""], "nested": {"k": -3}, "big": 18446744073709551615u64});
    let job = write_job(
        root_dir.path(),
        "proj/job.json",
        &json!({
            "$schema": "../schema/job.schema.json",
            "inputs": ["data/notes.md", "data/*.txt", "data/**/*.txt", "data/odd[[]1].txt"],
            "write": {"output": "out/joined.txt"},
            "dry_run": false,
            "limits": {"max_memory": "64M", "timeout": "1m"},
            "steps": [
                {
                    "name": "look",
                    "plugin": p("probe"),
                    "args": ["segments", "config", "configvalue", "writable"],
                    "config": config,
                    "limits": {"max_memory": 33554432, "timeout": 30},
                },
                {"plugin": p("upper")},
                {"plugin": p("probe"), "args": ["config"]},
            ]
        }),
    );
    std::fs::create_dir_all(base.join("out")).unwrap();
    let r = run_job(root_dir.path(), &job, &["--report", "json"]);
    r.assert_ok();
    // Names are the paths as resolved: relative to the current directory.
    let d = |n: &str| format!("proj/data/{n}");
    // `*` matches neither dot files nor directories; `**` any depth, sorted.
    let order = [
        ("notes.md", 2),
        ("a.txt", 2),
        ("b.txt", 1),
        ("odd[1].txt", 3),
        ("a.txt", 2),
        ("b.txt", 1),
        ("odd[1].txt", 3),
        ("sub/c.txt", 3),
        ("sub/deeper/d.txt", 4),
        ("odd[1].txt", 3),
    ];
    let mut want = String::new();
    let mut start = 0;
    for (name, len) in order {
        want += &format!("seg {} {start} {len}\n", d(name));
        start += len;
    }
    want += &format!("config {config}\nconfigvalue {}\nwritable true\n", {
        // probe parses with serde_json without preserve_order: keys sorted.
        let v: BTreeMap<String, Value> = serde_json::from_value(config.clone()).unwrap();
        serde_json::to_string(&v).unwrap()
    });
    want += "config null\n";
    assert_eq!(r.stdout_str(), want);
    let joined: Vec<u8> = order
        .iter()
        .flat_map(|(n, _)| std::fs::read(base.join("data").join(n)).unwrap())
        .collect();
    assert_eq!(
        std::fs::read(base.join("out/joined.txt")).unwrap(),
        upper(&joined)
    );
    let report = report_of(&r);
    assert_eq!(report["steps"][0]["name"], "look");
    assert_eq!(report["steps"][1]["name"], "upper");
    assert_eq!(report["write"], json!({"output": "proj/out/joined.txt"}));
    assert_eq!(report["job_file"], "proj/job.json");
    let segments = report["segments"].as_array().unwrap();
    assert_eq!(segments.len(), order.len());
    // --output maps the inputs too (writes go to the output file).
    assert!(
        segments
            .iter()
            .all(|s| s["placement"] == "packed" || s["placement"] == "mapped"),
        "{segments:?}"
    );

    // dry_run from the file: nothing is written.
    let dry = write_job(
        root_dir.path(),
        "proj/dry.json",
        &json!({"inputs": ["data/a.txt"], "write": "in_place", "dry_run": true,
                "steps": [{"plugin": p("upper")}]}),
    );
    let r = run_job(root_dir.path(), &dry, &[]);
    r.assert_ok();
    assert!(
        r.stderr.contains("dry run: 2 bytes would change in 1 file"),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read(base.join("data/a.txt")).unwrap(), b"aa");
}

#[test]
fn config_reaches_the_plugin_as_json_text() {
    let files = Files::new(&[16], 12, b"ab");
    for (config, text) in [
        (None, "null".to_string()),
        (Some(json!(null)), "null".to_string()),
        (Some(json!("plain")), "\"plain\"".to_string()),
        (Some(json!(-12.5)), "-12.5".to_string()),
        (
            Some(json!([1, "two", {"3": false}])),
            "[1,\"two\",{\"3\":false}]".to_string(),
        ),
        (
            Some(json!({"b": {"y": 1, "x": 2}, "a": "\u{1F600}\t"})),
            "{\"b\":{\"y\":1,\"x\":2},\"a\":\"\u{1F600}\\t\"}".to_string(),
        ),
    ] {
        let mut step = json!({"plugin": p("probe"), "args": ["config"]});
        if let Some(c) = &config {
            step["config"] = c.clone();
        }
        let job = write_job(
            files.dir.path(),
            "job.json",
            &json!({"inputs": ["in000.dat"], "steps": [step]}),
        );
        let r = run_job(files.dir.path(), &job, &[]);
        r.assert_ok();
        assert_eq!(r.stdout_str(), format!("config {text}\n"), "{config:?}");
    }
    // A plain `mmhost run` has no configuration.
    let r = run(&[], &plugin("probe"), &files.paths, &["config"]);
    r.assert_ok();
    assert_eq!(r.stdout_str(), "config null\n");

    // count takes its pattern from the configuration, or says what it wants.
    let all = files.concat();
    let job = write_job(
        files.dir.path(),
        "count.json",
        &json!({"inputs": ["in000.dat"], "steps": [
            {"plugin": p("count"), "config": {"pattern": "ab"}},
            {"plugin": p("count"), "args": ["ba"], "config": {"pattern": "ignored"}},
        ]}),
    );
    let r = run_job(files.dir.path(), &job, &[]);
    r.assert_ok();
    assert_eq!(
        r.stdout_str(),
        format!("{}\n{}\n", count(&all, b"ab"), count(&all, b"ba"))
    );
    let job = write_job(
        files.dir.path(),
        "count.json",
        &json!({"inputs": ["in000.dat"], "steps": [
            {"plugin": p("count"), "config": {"patern": "ab"}}]}),
    );
    let r = run_job(files.dir.path(), &job, &[]);
    r.assert_code(FAILED);
    assert!(
        first_line(&r).starts_with(
            "mmhost: error: count.json: steps[0]: plugin count failed: count: invalid config: \
             unknown field `patern`"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn command_line_flags_override_the_file() {
    let files = Files::new(&[6, 9], 13, TEXTISH);
    let job = write_job(
        files.dir.path(),
        "job.json",
        &json!({
            "inputs": ["in000.dat"],
            "write": "in_place",
            "limits": {"max_memory": "4M", "timeout": "20s"},
            "steps": [{"plugin": p("probe"), "args": ["grow", "8", "size"], "limits": {"max_memory": "2M"}}],
        }),
    );
    // The file's limits: the step's cap wins over the job's.
    let r = run_job(files.dir.path(), &job, &[]);
    r.assert_code(TRAP);
    assert!(
        first_line(&r).contains("over the limit of 2097152 bytes"),
        "{}",
        r.stderr
    );
    // --max-memory wins over both; FILEs replace the inputs; -o the target.
    let out = files.dir.path().join("o.bin");
    let r = run_job(
        files.dir.path(),
        &job,
        &[
            "--max-memory",
            "64M",
            "-o",
            "o.bin",
            "in000.dat",
            "in001.dat",
        ],
    );
    r.assert_ok();
    assert_eq!(r.stdout_str(), "grew 8\nsize 15\n");
    assert_eq!(std::fs::read(&out).unwrap(), files.concat());
    files.assert_unchanged();
    // --dry-run.
    let job = write_job(
        files.dir.path(),
        "up.json",
        &json!({"inputs": ["in001.dat"], "write": "in_place", "steps": [{"plugin": p("upper")}]}),
    );
    run_job(files.dir.path(), &job, &["--dry-run"]).assert_ok();
    files.assert_unchanged();
    // --timeout replaces the file's time limits (the job's and the steps').
    let job = write_job(
        files.dir.path(),
        "loop.json",
        &json!({"inputs": ["in000.dat"], "limits": {"timeout": "1h"},
                "steps": [{"plugin": p("probe"), "args": ["loop"], "limits": {"timeout": "1h"}}]}),
    );
    let r = run_job(files.dir.path(), &job, &["--timeout", "200ms"]);
    r.assert_code(TRAP);
    assert_eq!(
        first_line(&r),
        "mmhost: error: loop.json: steps[0]: plugin probe: timeout: the job's time limit of \
         200ms ran out"
    );
}

#[test]
fn time_limits_per_step_and_for_the_whole_job() {
    let files = Files::new(&[6], 14, TEXTISH);
    // A step's own limit.
    let job = write_job(
        files.dir.path(),
        "step.json",
        &json!({"inputs": ["in000.dat"], "limits": {"timeout": "1h"}, "steps": [
            {"plugin": p("probe"), "args": ["size"]},
            {"plugin": p("probe"), "args": ["loop"], "limits": {"timeout": "150ms"}},
        ]}),
    );
    let r = run_job(files.dir.path(), &job, &[]);
    r.assert_code(TRAP);
    assert_eq!(
        first_line(&r),
        "mmhost: error: step.json: steps[1]: plugin probe: timeout after 150 ms"
    );
    assert_eq!(r.stdout_str(), "size 6\n");
    // The job's limit bounds the steps together.
    let job = write_job(
        files.dir.path(),
        "job.json",
        &json!({"inputs": ["in000.dat"], "limits": {"timeout": "300ms"}, "steps": [
            {"plugin": p("probe"), "args": ["size"]},
            {"plugin": p("probe"), "args": ["loop"], "limits": {"timeout": "1h"}},
        ]}),
    );
    let started = std::time::Instant::now();
    let r = run_job(files.dir.path(), &job, &[]);
    r.assert_code(TRAP);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(
        first_line(&r),
        "mmhost: error: job.json: steps[1]: plugin probe: timeout: the job's time limit of \
         300ms ran out"
    );
}

#[test]
fn report_json_tells_each_step_bytes_times_and_segments() {
    let files = Files::new(&[5, 0, 70000], 15, TEXTISH);
    let job = write_job(
        files.dir.path(),
        "job.json",
        &json!({
            "inputs": ["in*.dat"],
            "write": "in_place",
            "steps": [
                {"plugin": p("upper")},
                {"name": "peek", "plugin": p("probe"), "args": ["read", "0", "3"]},
            ]
        }),
    );
    let report_file = files.dir.path().join("report.json");
    let r = run_job(
        files.dir.path(),
        &job,
        &[
            "--report",
            "json",
            "--report-file",
            report_file.to_str().unwrap(),
        ],
    );
    r.assert_ok();
    // With --report-file the report goes there, not to stderr.
    assert!(!r.stderr.contains("report_version"), "{}", r.stderr);
    let text = std::fs::read_to_string(&report_file).unwrap();
    assert!(text.ends_with('\n') && text.lines().count() == 1);
    let rep: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(rep["report_version"], 1);
    assert_eq!(rep["ok"], true);
    assert_eq!(rep["exit_code"], 0);
    assert_eq!(rep["error"], Value::Null);
    assert_eq!(rep["job_file"], "job.json");
    assert_eq!(rep["write"], "in_place");
    assert_eq!(rep["dry_run"], false);
    assert_eq!(rep["size"], 70005);
    assert_eq!(rep["bytes_read"], 70005 + 3);
    assert_eq!(rep["bytes_written"], 70005);
    assert!(rep["time_ms"].as_f64().unwrap() > 0.0);
    let steps = rep["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["name"], "upper");
    assert_eq!(steps[0]["status"], "ok");
    assert_eq!(steps[0]["message"], "");
    assert_eq!(steps[0]["bytes_read"], 70005);
    assert_eq!(steps[0]["bytes_written"], 70005);
    assert_eq!(steps[1]["name"], "peek");
    assert_eq!(steps[1]["bytes_read"], 3);
    assert_eq!(steps[1]["bytes_written"], 0);
    assert!(steps.iter().all(|s| s["time_ms"].as_f64().unwrap() >= 0.0));
    let segs = rep["segments"].as_array().unwrap();
    let want = [(5, "packed"), (0, "empty"), (70000, "mapped")];
    let mut start = 0;
    for (i, (seg, (len, placement))) in segs.iter().zip(want).enumerate() {
        assert_eq!(
            seg["name"],
            files.paths[i].file_name().unwrap().to_str().unwrap()
        );
        assert_eq!(seg["start"], start);
        assert_eq!(seg["len"], len);
        assert_eq!(seg["end"], start + len);
        assert_eq!(seg["placement"], placement);
        start += len;
    }
    let written: Vec<PathBuf> = serde_json::from_value(rep["files_written"].clone()).unwrap();
    assert_eq!(written.len(), 2, "{written:?}"); // the empty file is not written

    // A failed run: the report is the last line of stderr, after the error.
    let job = write_job(
        files.dir.path(),
        "fail.json",
        &json!({"inputs": ["in*.dat"], "write": "in_place", "steps": [
            {"plugin": p("checksum")},
            {"plugin": p("probe"), "args": ["fail", "nope"]},
            {"plugin": p("upper")},
        ]}),
    );
    let r = run_job(files.dir.path(), &job, &["--report", "json"]);
    r.assert_code(FAILED);
    assert_eq!(
        first_line(&r),
        "mmhost: error: fail.json: steps[1]: plugin probe failed: nope"
    );
    let rep = report_of(&r);
    assert_eq!(rep["ok"], false);
    assert_eq!(rep["exit_code"], FAILED);
    assert_eq!(
        rep["error"],
        "fail.json: steps[1]: plugin probe failed: nope"
    );
    let status: Vec<&str> = rep["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(status, ["ok", "failed", "not_run"]);
    assert_eq!(rep["steps"][1]["exit_code"], FAILED);
    assert_eq!(rep["files_written"], json!([]));

    // An invalid job still gives a report, with no steps.
    let bad = files.dir.path().join("bad.json");
    std::fs::write(&bad, "{").unwrap();
    let r = run_job(files.dir.path(), &bad, &["--report", "json"]);
    r.assert_code(USAGE);
    let rep = report_of(&r);
    assert_eq!(rep["exit_code"], USAGE);
    assert_eq!(rep["steps"], json!([]));
    assert_eq!(rep["write"], Value::Null);

    // `mmhost run PLUGIN FILE...` reports too: one step.
    let r = run(
        &["--report", "json"],
        &plugin("checksum"),
        &files.paths,
        &[],
    );
    r.assert_ok();
    let rep = report_of(&r);
    assert_eq!(rep["job_file"], Value::Null);
    assert_eq!(rep["steps"][0]["name"], "checksum");
    assert_eq!(rep["steps"][0]["message"], r.stdout_str().trim_end());
    files.assert_concat_is(&upper(&files.concat()));
}

/// A plugin written against `mmhost:plugin@0.1.0`: it calls `region.size`
/// and `output.emit`, and returns `ok "0.1.0"`.
const PLUGIN_0_1_0: &str = r#"(module
  (import "mmhost:plugin/region@0.1.0" "size" (func $size (result i64)))
  (import "mmhost:plugin/output@0.1.0" "emit" (func $emit (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "non-empty\n")
  (data (i32.const 32) "0.1.0")
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "run") (param i32 i32) (result i32)
    (if (i64.gt_u (call $size) (i64.const 0))
      (then (call $emit (i32.const 16) (i32.const 10))))
    (i32.store8 (i32.const 0) (i32.const 0))
    (i32.store (i32.const 4) (i32.const 32))
    (i32.store (i32.const 8) (i32.const 5))
    (i32.const 0))
)"#;

#[test]
fn plugins_built_against_0_1_0_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "x").unwrap();

    // A component whose imports are named @0.1.0, built with the 0.1.0 WIT
    // kept in wit/history/, as a plugin built before the bump is.
    let wit = std::fs::read_to_string(root().join("wit/history/mmhost@0.1.0.wit")).unwrap();
    let mut resolve = wit_parser::Resolve::default();
    let pkg = resolve.push_str("mmhost@0.1.0.wit", &wit).unwrap();
    let world = resolve.select_world(&[pkg], Some("transform")).unwrap();
    let mut module = wat::parse_str(PLUGIN_0_1_0).unwrap();
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .unwrap();
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .unwrap()
        .validate(true)
        .encode()
        .unwrap();
    let contains = |needle: &[u8]| component.windows(needle.len()).any(|w| w == needle);
    assert!(contains(b"mmhost:plugin/region@0.1.0"));
    assert!(!contains(b"@0.1.1"));
    let old = dir.path().join("old.wasm");
    std::fs::write(&old, &component).unwrap();
    // The core module with its 0.1.0 metadata, wrapped by mmhost; and
    // without metadata (wrapped with the current WIT).
    let old_core = dir.path().join("old-core.wasm");
    std::fs::write(&old_core, &module).unwrap();
    let old_wat = dir.path().join("old.wat");
    std::fs::write(&old_wat, PLUGIN_0_1_0).unwrap();

    for plugin in [&old, &old_core, &old_wat] {
        let r = run(&[], plugin, std::slice::from_ref(&input), &[]);
        r.assert_ok();
        assert_eq!(r.stdout_str(), "non-empty\n0.1.0\n", "{}", plugin.display());
        // ... and as a step of a job, beside a 0.1.1 plugin that reads its
        // configuration.
        let job = write_job(
            dir.path(),
            "job.json",
            &json!({"inputs": ["in.txt"], "steps": [
                {"plugin": plugin, "config": {"ignored": true}},
                {"plugin": p("probe"), "args": ["config"], "config": [1]},
            ]}),
        );
        let r = run_job(dir.path(), &job, &[]);
        r.assert_ok();
        assert_eq!(r.stdout_str(), "non-empty\n0.1.0\nconfig [1]\n");
    }
}

/// `fuel` in a step's or the job's limits gives the same deterministic
/// cut-off as `--fuel`.
#[test]
fn fuel_from_the_job_file() {
    let files = Files::new(&[10], 71, TEXTISH);
    for limits in [
        json!({"steps": [{"plugin": p("probe"), "args": ["loop"], "limits": {"fuel": 100000}}]}),
        json!({"limits": {"fuel": 100000}, "steps": [{"plugin": p("probe"), "args": ["loop"]}]}),
    ] {
        let mut job = limits.clone();
        job["inputs"] = json!([files.paths[0]]);
        let path = write_job(files.dir.path(), "fuel.json", &job);
        let r = run_job(files.dir.path(), &path, &[]);
        r.assert_code(5);
        assert!(first_line(&r).contains("out of fuel"), "{}", r.stderr);
    }
    files.assert_unchanged();
}
