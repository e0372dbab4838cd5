//! What compiling a plugin may cost, bounded before compiling starts.
//!
//! Cranelift's time and memory grow faster than linearly with the size of
//! one function: a component of 2.8 MB holding one function of 400,000
//! statements took 15 s and 1.9 GB to compile, and twice that aborted the
//! host. Compilation cannot be interrupted by `--timeout` (it happens before
//! the plugin runs, and may fill the cache for later runs), so the host
//! refuses such a plugin up front instead, after one cheap pass over its
//! bytes (wasmparser, no validation): every function body of every core
//! module inside it must be at most [`MAX_FUNCTION_BODY`] bytes, and all of
//! them together at most [`MAX_CODE`] bytes. The largest function of the
//! plugins in `plugins/` is 427 KB (CPython's, in the componentize-py
//! plugins; SpiderMonkey's in the JavaScript ones is 172 KB), and their
//! code is at most 9.2 MB in all.
//!
//! The size bound does not bound everything: 0.8 MB of dense branches over
//! many locals still took 25 s and 585 MB to compile on a 2-core machine.
//! A run's `--timeout` covers compiling too (see `load::compile`).

/// The largest function body mmhost compiles, in bytes of wasm code (1 MiB).
pub const MAX_FUNCTION_BODY: usize = 1 << 20;

/// The most code (all function bodies together) mmhost compiles, in bytes
/// (128 MiB).
pub const MAX_CODE: usize = 128 << 20;

/// Why `binary` (a component or core module) is too costly to compile, or
/// `None`. Bytes that do not parse are left for the compiler to refuse,
/// with its own message.
pub(super) fn too_costly(binary: &[u8]) -> Option<String> {
    let mut module = 0usize;
    let mut function = 0usize;
    let mut total = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(binary) {
        match payload.ok()? {
            wasmparser::Payload::CodeSectionStart { .. } => function = 0,
            wasmparser::Payload::CodeSectionEntry(body) => {
                let len = body.range().len();
                if len > MAX_FUNCTION_BODY {
                    return Some(format!(
                        "function {function} of core module {module} has a body of {len} bytes, \
                         over the limit of {MAX_FUNCTION_BODY} bytes of one function that mmhost \
                         compiles (compiling a huge function takes time and memory without \
                         bound); split it into smaller functions"
                    ));
                }
                total += len;
                if total > MAX_CODE {
                    return Some(format!(
                        "its functions hold over {MAX_CODE} bytes of code, the most mmhost \
                         compiles"
                    ));
                }
                function += 1;
            }
            wasmparser::Payload::End(_) => module += 1,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module_with_body(statements: usize) -> Vec<u8> {
        let body = "i32.const 1 drop\n".repeat(statements);
        wat::parse_str(format!("(module (func {body}) (func nop))")).unwrap()
    }

    #[test]
    fn a_huge_function_is_refused_a_large_one_is_not() {
        // `i32.const 1; drop` is three bytes.
        assert_eq!(too_costly(&module_with_body(1000)), None);
        let why = too_costly(&module_with_body(MAX_FUNCTION_BODY / 3 + 1)).unwrap();
        assert!(
            why.starts_with("function 0 of core module 0 has a body of"),
            "{why}"
        );
    }
}
