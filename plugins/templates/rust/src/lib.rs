//! {{name}}: an mmhost plugin in Rust. Prints the number of lines (`\n`
//! bytes) in the region; change `run` to do what you need.

use mmhost_guest::{region, Plugin};

struct Main;

impl Plugin for Main {
    fn run(args: Vec<String>) -> Result<String, String> {
        if !args.is_empty() {
            return Err("usage: {{name}}".to_string()); // stderr, exit code 1
        }
        let mut lines = 0u64;
        // The whole region, 1 MiB at a time (reads are bounded, and so is
        // memory); a panic logs its message, then traps (exit code 5).
        for chunk in region::chunks().report_progress() {
            let (_offset, bytes) = chunk.map_err(|e| format!("{{name}}: {e}"))?;
            lines += bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        }
        Ok(lines.to_string()) // printed on stdout
    }
}

mmhost_guest::export!(Main);
