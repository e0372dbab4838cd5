//! The step's configuration: the `config` value that a job file gives the
//! step the plugin runs as.

use crate::bindings::mmhost::plugin::config as wit;

/// The configuration of the step this plugin runs as, as JSON text: the
/// step's `config` value in the job file, compact, keys in the order written;
/// `"null"` when the step has none (always so for `mmhost run PLUGIN FILE...`).
///
/// The text is the same on every call. A plugin that calls this needs a host
/// of `mmhost:plugin@0.1.1` or later.
///
/// ```ignore
/// let config = mmhost_guest::config();
/// if config != "null" {
///     mmhost_guest::log::debug(&format!("config: {config}"));
/// }
/// ```
pub fn config() -> String {
    wit::get()
}

/// The step's configuration parsed into `T` with serde_json (feature `json`).
///
/// A step without `config` has the JSON value `null`: use `Option<T>` to
/// accept that, or `T` with `#[serde(default)]` fields and
/// [`config_or_default`].
///
/// ```ignore
/// #[derive(serde::Deserialize)]
/// struct Config { pattern: String }
///
/// let Config { pattern } = mmhost_guest::config_as::<Config>().map_err(|e| e.to_string())?;
/// ```
#[cfg(feature = "json")]
pub fn config_as<T: serde::de::DeserializeOwned>() -> Result<T, ConfigError> {
    serde_json::from_str(&config()).map_err(ConfigError)
}

/// Like [`config_as`], but a step without `config` gives `T::default()`.
#[cfg(feature = "json")]
pub fn config_or_default<T: serde::de::DeserializeOwned + Default>() -> Result<T, ConfigError> {
    let text = config();
    if text == "null" {
        return Ok(T::default());
    }
    serde_json::from_str(&text).map_err(ConfigError)
}

/// The step's configuration does not have the shape the plugin expects.
#[cfg(feature = "json")]
#[derive(Debug)]
pub struct ConfigError(serde_json::Error);

#[cfg(feature = "json")]
impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid config: {}", self.0)
    }
}

#[cfg(feature = "json")]
impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}
