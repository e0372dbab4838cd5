//! {{name}}: an mmhost plugin in Rust. Prints the number of lines (`\n`
//! bytes) in the region; change `run` to do what you need.

wit_bindgen::generate!({ path: "wit", world: "transform" });

use mmhost::plugin::region;

/// Bytes per read: reads are bounded (64 MiB at most), and so is memory.
const CHUNK: u64 = 1 << 20;

struct Plugin;

impl Guest for Plugin {
    fn run(args: Vec<String>) -> Result<String, String> {
        if !args.is_empty() {
            return Err("usage: {{name}}".to_string()); // stderr, exit code 1
        }
        let size = region::size();
        let mut lines = 0u64;
        let mut pos = 0;
        while pos < size {
            let len = CHUNK.min(size - pos);
            let bytes = region::read(pos as i64, len).map_err(|e| format!("{e:?}"))?;
            lines += bytes.iter().filter(|&&b| b == b'\n').count() as u64;
            pos += len;
        }
        Ok(lines.to_string()) // printed on stdout
    }
}

export!(Plugin);
