//! Log messages on the host's stderr.
//!
//! Each message is prefixed with the plugin's name by the host and shown only
//! if the user's verbosity (`-v`/`-q`) lets its level through; by default
//! [`info`] and above are shown. Use these instead of printing: a plugin has
//! no stderr of its own.
//!
//! ```ignore
//! mmhost_guest::log::info(&format!("scanning {} bytes", region::size()));
//! ```

/// Severity of a log message, from [`Level::Trace`] to [`Level::Error`].
pub use crate::bindings::mmhost::plugin::host::Level;

/// Logs `message` at `level`.
pub fn log(level: Level, message: &str) {
    crate::bindings::mmhost::plugin::host::log(level, message);
}

/// Logs `message` at trace level, the most verbose (hidden by default).
pub fn trace(message: &str) {
    log(Level::Trace, message);
}

/// Logs `message` at debug level (hidden by default).
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Logs `message` at info level (shown by default).
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Logs `message` at warn level.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Logs `message` at error level.
pub fn error(message: &str) {
    log(Level::Error, message);
}
