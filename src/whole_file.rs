//! Reading the files mmhost reads whole into memory: plugins and job files.
//!
//! Inputs are mapped and checked in [`crate::region`]; a plugin or a job
//! file is read into memory, so it needs the same care: a device
//! (`/dev/zero`), a FIFO or a directory named as a plugin or a job file
//! would otherwise be read without end, or block. [`read`] opens the path
//! without blocking, checks on the descriptor that it is a regular file,
//! and refuses one over a size cap ([`MAX_PLUGIN_FILE`], [`MAX_JOB_FILE`])
//! before reading, and reads at most the cap even if the file grows.

use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::describe_io;

/// The largest plugin file mmhost reads (256 MiB): the largest plugins of
/// `plugins/` (Python, with its interpreter and standard library) are a
/// tenth of it.
pub const MAX_PLUGIN_FILE: u64 = 256 << 20;

/// The largest job file mmhost reads (64 MiB): room for about half a
/// million input paths.
pub const MAX_JOB_FILE: u64 = 64 << 20;

/// Why a file could not be read whole.
#[derive(Debug)]
pub enum ReadError {
    /// Opening or reading failed.
    Io(io::Error),
    /// Not a regular file: what it is, in words.
    NotRegular(&'static str),
    /// Larger than the cap.
    TooLarge {
        /// Its size (at least; it may have grown while being read).
        len: u64,
        /// The cap.
        cap: u64,
    },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => f.write_str(&describe_io(e)),
            ReadError::NotRegular(what) => f.write_str(what),
            ReadError::TooLarge { len, cap } => write!(
                f,
                "is {len} bytes, over the limit of {cap} bytes for this kind of file"
            ),
        }
    }
}

/// Reads the regular file at `path`, of at most `cap` bytes; see the module
/// docs.
pub fn read(path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    // O_NONBLOCK: opening a FIFO does not wait for a writer.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY).bits() as i32)
        .open(path)
        .map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.file_type().is_file() {
        return Err(ReadError::NotRegular(
            crate::region::inputs::file_type_name(&meta.file_type()),
        ));
    }
    if meta.len() > cap {
        return Err(ReadError::TooLarge {
            len: meta.len(),
            cap,
        });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::TooLarge {
            len: bytes.len() as u64,
            cap,
        });
    }
    Ok(bytes)
}
