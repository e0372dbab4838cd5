//! Copying between files in the kernel (`copy_file_range`), hole-aware, with a
//! buffered fallback: used by the region (packing) and the commit (filling in
//! copies), so neither imports the other for it.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Copies `len` bytes from the start of `src` to `dst` at `at`, in the kernel
/// where it can (`copy_file_range`, a reflink on file systems that share
/// extents), through a buffer where it cannot (across some file systems).
/// Only the data extents of `src` are copied (`SEEK_DATA`/`SEEK_HOLE`), so a
/// sparse input stays sparse and costs no time for its holes; `dst` is
/// extended to `at + len` if it is shorter.
pub(crate) fn copy_range(src: &File, dst: &File, at: u64, len: u64) -> io::Result<()> {
    copy_span(src, 0, dst, at, len)
}

/// Copies `len` bytes of `src` from offset `from` to `dst` at `to`, as
/// [`copy_range`] does (in the kernel, data extents only); `dst` is extended
/// to `to + len` if it is shorter.
pub(crate) fn copy_span(src: &File, from: u64, dst: &File, to: u64, len: u64) -> io::Result<()> {
    use rustix::fs::{seek, SeekFrom};
    use rustix::io::Errno;
    let end = from + len;
    let mut pos = from;
    while pos < end {
        let data = match seek(src, SeekFrom::Data(pos)) {
            Ok(d) => d,
            Err(Errno::NXIO) => end, // only a hole is left
            Err(Errno::INVAL | Errno::OPNOTSUPP) => pos, // no hole support: all data
            Err(e) => return Err(e.into()),
        };
        if data >= end {
            break;
        }
        let hole = match seek(src, SeekFrom::Hole(data)) {
            Ok(h) => h.min(end),
            Err(_) => end,
        };
        copy_data(src, dst, data, to + (data - from), hole - data)?;
        pos = hole;
    }
    // A hole at the end and a file cut short look alike to SEEK_DATA.
    if src.metadata()?.len() < end {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "file shrank while being copied",
        ));
    }
    if dst.metadata()?.len() < to + len {
        dst.set_len(to + len)?;
    }
    Ok(())
}

/// Copies one data extent, `len` bytes at `from` in `src` to `to` in `dst`.
pub(crate) fn copy_data(src: &File, dst: &File, from: u64, to: u64, len: u64) -> io::Result<()> {
    let (mut off_in, mut off_out) = (from, to);
    let end = from + len;
    while off_in < end {
        let want = (end - off_in).min(1 << 30) as usize;
        match rustix::fs::copy_file_range(src, Some(&mut off_in), dst, Some(&mut off_out), want) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file shrank while being copied",
                ))
            }
            Ok(_) => {}
            Err(
                rustix::io::Errno::XDEV
                | rustix::io::Errno::NOSYS
                | rustix::io::Errno::INVAL
                | rustix::io::Errno::OPNOTSUPP,
            ) => return copy_buffered(src, dst, off_in, off_out, end - off_in),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn copy_buffered(src: &File, dst: &File, from: u64, to: u64, len: u64) -> io::Result<()> {
    let mut buf = vec![0u8; (1 << 20).min(len as usize)];
    let mut done = 0u64;
    while done < len {
        let n = buf.len().min((len - done) as usize);
        src.read_exact_at(&mut buf[..n], from + done)?;
        dst.write_all_at(&buf[..n], to + done)?;
        done += n as u64;
    }
    Ok(())
}
