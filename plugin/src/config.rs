//! Parsing the VM and plugin configurations. Pure functions, so they are tested on the host.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use gatehouse_engine::bundle::MAGIC;
use gatehouse_engine::trust::parse_trusted_key;
use gatehouse_engine::{Engine, LoadError, LoadOptions, SharedTokenCache};
use serde::Deserialize;

/// Why a configuration was refused. Logged at error level; never sent to a client.
#[derive(Debug)]
pub enum ConfigError {
    /// The VM configuration is not `{"trusted_keys": [...]}`.
    VmConfig(String),
    /// The plugin configuration is neither a bundle nor `{"bundle": "<base64>"}`.
    PluginConfig(String),
    /// The bundle itself was rejected by the engine.
    Bundle(LoadError),
    /// The bundle is valid but older (lower serial) than the one in service from the same
    /// signer, and the VM configuration does not say `"allow_rollback": true`.
    Rollback {
        serial: u64,
        in_service: u64,
        scope: SerialScope,
    },
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConfigError::VmConfig(why) => write!(f, "bad VM configuration: {why}"),
            ConfigError::PluginConfig(why) => write!(f, "bad plugin configuration: {why}"),
            ConfigError::Bundle(err) => write!(f, "bundle rejected: {err}"),
            ConfigError::Rollback {
                serial,
                in_service,
                scope,
            } => write!(
                f,
                "bundle rejected: rollback refused: serial {serial} is older than serial \
                 {in_service} in service (signer {scope}; \"allow_rollback\": true in the VM \
                 configuration permits it)"
            ),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct VmConfig {
    #[serde(default)]
    trusted_keys: Vec<String>,
    #[serde(default)]
    allow_rollback: bool,
    #[serde(default)]
    token_cache_entries: Option<usize>,
    /// Test builds only (feature `test-hooks`): without the feature the member is unknown and
    /// the VM configuration is refused, so a release build cannot be told what time it is.
    #[cfg(feature = "test-hooks")]
    #[serde(default)]
    fixed_now: Option<i64>,
    /// Test builds only: a request to exactly this path panics the VM, to prove that a panic
    /// fails closed.
    #[cfg(feature = "test-hooks")]
    #[serde(default)]
    panic_path: Option<String>,
}

/// What the VM configuration sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmSettings {
    /// Pinned bundle signing keys (Ed25519 public keys).
    pub trusted_keys: Vec<[u8; 32]>,
    /// `allow_rollback`: accept a bundle whose serial is lower than the one in service.
    pub allow_rollback: bool,
    /// `token_cache_entries`: the most verified tokens each VM remembers (0: none).
    pub token_cache_entries: usize,
    /// `fixed_now` (Unix seconds): the clock every decision uses instead of Envoy's. Only in
    /// builds with the `test-hooks` feature, for replaying golden vectors at their `now`.
    #[cfg(feature = "test-hooks")]
    pub fixed_now: Option<i64>,
    /// `panic_path`: a request to exactly this path panics the VM. Only in `test-hooks` builds.
    #[cfg(feature = "test-hooks")]
    pub panic_path: Option<String>,
}

impl Default for VmSettings {
    fn default() -> Self {
        VmSettings {
            trusted_keys: Vec::new(),
            allow_rollback: false,
            token_cache_entries: DEFAULT_TOKEN_CACHE_ENTRIES,
            #[cfg(feature = "test-hooks")]
            fixed_now: None,
            #[cfg(feature = "test-hooks")]
            panic_path: None,
        }
    }
}

/// Verified tokens each VM remembers unless `token_cache_entries` says otherwise.
pub const DEFAULT_TOKEN_CACHE_ENTRIES: usize = gatehouse_engine::cache::DEFAULT_CAPACITY;
/// The largest `token_cache_entries` accepted: about 60 MiB per VM when full.
pub const MAX_TOKEN_CACHE_ENTRIES: usize = 1 << 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginConfig {
    /// Absent (or `null`): the bundle embedded in the module (`gatehouse package`).
    #[serde(default)]
    bundle: Option<String>,
}

/// `{"trusted_keys": ["<base64 ed25519 public key>", ...]}`; absent or empty pins no key.
pub fn trusted_keys(vm_configuration: Option<&[u8]>) -> Result<Vec<[u8; 32]>, ConfigError> {
    vm_settings(vm_configuration).map(|settings| settings.trusted_keys)
}

/// The whole VM configuration: `{"trusted_keys": [...], "allow_rollback": false,
/// "token_cache_entries": 65536}`, plus
/// `"fixed_now": <unix seconds>` in builds with the `test-hooks` feature. Absent or blank: the
/// defaults.
pub fn vm_settings(vm_configuration: Option<&[u8]>) -> Result<VmSettings, ConfigError> {
    let raw = vm_configuration.unwrap_or_default();
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(VmSettings::default());
    }
    let config: VmConfig =
        serde_json::from_slice(raw).map_err(|e| ConfigError::VmConfig(e.to_string()))?;
    let trusted_keys = config
        .trusted_keys
        .iter()
        .map(|key| {
            parse_trusted_key(key)
                .map_err(|e| ConfigError::VmConfig(format!("trusted key `{key}` {e}")))
        })
        .collect::<Result<_, _>>()?;
    let token_cache_entries = config
        .token_cache_entries
        .unwrap_or(DEFAULT_TOKEN_CACHE_ENTRIES);
    if token_cache_entries > MAX_TOKEN_CACHE_ENTRIES {
        return Err(ConfigError::VmConfig(format!(
            "token_cache_entries {token_cache_entries} is over the limit of \
             {MAX_TOKEN_CACHE_ENTRIES}"
        )));
    }
    Ok(VmSettings {
        trusted_keys,
        allow_rollback: config.allow_rollback,
        token_cache_entries,
        #[cfg(feature = "test-hooks")]
        fixed_now: config.fixed_now,
        #[cfg(feature = "test-hooks")]
        panic_path: config.panic_path,
    })
}

/// The bundle bytes of a plugin configuration: raw bundle bytes (`BytesValue`), or JSON
/// `{"bundle": "<base64>"}` (`StringValue`, as Istio's `pluginConfig` delivers it). `None` when
/// it carries no bundle: absent, empty or blank, or JSON without `"bundle"`.
pub fn configured_bundle(
    plugin_configuration: Option<Vec<u8>>,
) -> Result<Option<Vec<u8>>, ConfigError> {
    let Some(raw) = plugin_configuration.filter(|c| !c.iter().all(u8::is_ascii_whitespace)) else {
        return Ok(None);
    };
    if raw.starts_with(&MAGIC) {
        return Ok(Some(raw));
    }
    let config: PluginConfig = serde_json::from_slice(&raw).map_err(|e| {
        ConfigError::PluginConfig(format!(
            "neither a gatehouse bundle (magic) nor JSON {{\"bundle\": \"<base64>\"}}: {e}"
        ))
    })?;
    config
        .bundle
        .map(|text| {
            decode_base64(text.trim())
                .ok_or_else(|| ConfigError::PluginConfig("`bundle` is not base64".to_owned()))
        })
        .transpose()
}

/// The bundle to load: the plugin configuration's when it carries one, else the one `embedded`
/// returns (the bundle `gatehouse package` put in the module: [`crate::embedded::bundle`]).
pub fn bundle_bytes(
    plugin_configuration: Option<Vec<u8>>,
    embedded: impl FnOnce() -> Option<Vec<u8>>,
) -> Result<Vec<u8>, ConfigError> {
    if let Some(bytes) = configured_bundle(plugin_configuration)? {
        return Ok(bytes);
    }
    let bytes = embedded().ok_or_else(|| {
        ConfigError::PluginConfig(
            "no policy bundle: the plugin configuration carries none and the module embeds \
             none (`gatehouse package`)"
                .to_owned(),
        )
    })?;
    log::info!(
        "the plugin configuration carries no bundle: loading the {} bytes embedded in the module",
        bytes.len()
    );
    Ok(bytes)
}

/// The native module's filter configuration (`filter_config` of Envoy's dynamic-module filter):
/// the VM configuration's settings and the bundle in one JSON object, since a dynamic module has
/// one configuration where a wasm filter has two:
///
/// `{"bundle": "<base64>"}` or `{"bundle_path": "/etc/gatehouse/policy.bundle"}`, plus
/// `"trusted_keys"`, `"allow_rollback"` and `"token_cache_entries"` as in [`vm_settings`] (and
/// the test builds' `"fixed_now"` and `"panic_path"`). Raw bundle bytes (a `BytesValue`) are
/// accepted too, with every setting at its default.
#[derive(Debug)]
pub struct ModuleConfig {
    pub settings: VmSettings,
    pub bundle: BundleSource,
}

/// Where the native module's bundle comes from.
#[derive(Debug, PartialEq, Eq)]
pub enum BundleSource {
    Bytes(Vec<u8>),
    /// Read when the configuration is loaded (on Envoy's main thread), never per request.
    Path(String),
}

/// Unknown members are refused by [`vm_settings`], which reads what `bundle` and `bundle_path`
/// leave (`deny_unknown_fields` does not combine with `flatten`).
#[derive(Debug, Deserialize)]
struct ModuleConfigJson {
    #[serde(default)]
    bundle: Option<String>,
    #[serde(default)]
    bundle_path: Option<String>,
    #[serde(flatten)]
    vm: serde_json::Map<String, serde_json::Value>,
}

/// Parse the native module's filter configuration ([`ModuleConfig`]).
pub fn module_config(raw: &[u8]) -> Result<ModuleConfig, ConfigError> {
    if raw.starts_with(&MAGIC) {
        return Ok(ModuleConfig {
            settings: VmSettings::default(),
            bundle: BundleSource::Bytes(raw.to_vec()),
        });
    }
    let config: ModuleConfigJson = serde_json::from_slice(raw).map_err(|e| {
        ConfigError::PluginConfig(format!(
            "neither a gatehouse bundle (magic) nor a JSON object with \"bundle\" or \
             \"bundle_path\": {e}"
        ))
    })?;
    // The remaining members are the VM configuration's, read by the one parser of it (which
    // refuses unknown members).
    let vm =
        serde_json::to_vec(&config.vm).map_err(|e| ConfigError::PluginConfig(e.to_string()))?;
    let settings = vm_settings(Some(&vm)).map_err(|e| match e {
        ConfigError::VmConfig(why) => ConfigError::PluginConfig(why),
        other => other,
    })?;
    let bundle = match (config.bundle, config.bundle_path) {
        (Some(text), None) => BundleSource::Bytes(
            decode_base64(text.trim())
                .ok_or_else(|| ConfigError::PluginConfig("`bundle` is not base64".to_owned()))?,
        ),
        (None, Some(path)) if !path.trim().is_empty() => BundleSource::Path(path),
        (Some(_), Some(_)) => {
            return Err(ConfigError::PluginConfig(
                "`bundle` and `bundle_path` both given: which one is meant?".to_owned(),
            ))
        }
        (None, _) => {
            return Err(ConfigError::PluginConfig(
                "no policy bundle: give `bundle` (base64) or `bundle_path`".to_owned(),
            ))
        }
    };
    Ok(ModuleConfig { settings, bundle })
}

/// Parse a plugin configuration into an engine; without a bundle in it, the module's embedded
/// one. Either goes through the same checks (signature pinning, then the caller's serial check).
/// The engine uses `token_cache`, the VM's: what earlier engines verified stays verified where
/// the new bundle verifies the same way.
pub fn load_engine(
    plugin_configuration: Option<Vec<u8>>,
    trusted_keys: &[[u8; 32]],
    token_cache: &SharedTokenCache,
) -> Result<Engine, ConfigError> {
    load_engine_with(
        plugin_configuration,
        crate::embedded::bundle,
        trusted_keys,
        token_cache,
    )
}

/// [`load_engine`] with the embedded bundle from `embedded` (tests give their own).
pub fn load_engine_with(
    plugin_configuration: Option<Vec<u8>>,
    embedded: impl FnOnce() -> Option<Vec<u8>>,
    trusted_keys: &[[u8; 32]],
    token_cache: &SharedTokenCache,
) -> Result<Engine, ConfigError> {
    let bytes = bundle_bytes(plugin_configuration, embedded)?;
    let options = LoadOptions {
        trusted_keys: trusted_keys.to_vec(),
    };
    Engine::load_with_shared_token_cache(bytes, &options, token_cache).map_err(ConfigError::Bundle)
}

/// Whether a valid bundle of serial `serial` from `scope` may go into service (`in_service`:
/// the serial last accepted in that scope, `None` before the first). Equal serials are accepted
/// (a re-push); a lower one only with `allow_rollback`.
pub fn check_serial(
    scope: SerialScope,
    serial: u64,
    in_service: Option<u64>,
    allow_rollback: bool,
) -> Result<(), ConfigError> {
    match in_service {
        Some(in_service) if serial < in_service && !allow_rollback => Err(ConfigError::Rollback {
            serial,
            in_service,
            scope,
        }),
        _ => Ok(()),
    }
}

/// Whose bundles one serial in service orders: the Ed25519 key that signed them, or every
/// unsigned bundle together.
///
/// Not the filter's name, root id or VM id: those travel in the same resource as the bundle (an
/// ECDS update sets them all), so a delivery channel could pick a name nothing has served under
/// and have an older bundle accepted as a first one. The signer it cannot choose: with
/// `trusted_keys` pinned, only bundles a pinned key signed load at all. One consequence: a signer's
/// serials order everything it signs, across every filter of a VM, so serials must increase
/// across all of a signer's bundles (the compiler's default, the compile time, does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SerialScope {
    /// Bundles signed by this Ed25519 public key.
    Signer([u8; 32]),
    /// Unsigned bundles (only loadable when no key is pinned).
    Unsigned,
}

impl SerialScope {
    /// The scope of a bundle whose signature (if any) verified under `signer`.
    pub fn of(signer: Option<&[u8; 32]>) -> SerialScope {
        signer.map_or(SerialScope::Unsigned, |key| SerialScope::Signer(*key))
    }

    /// The Envoy shared-data key of the serial last accepted in this scope (shared by every VM
    /// of a `vm_id` in the process).
    pub fn shared_data_key(&self) -> String {
        format!("gatehouse.serial_in_service.{self}")
    }
}

impl core::fmt::Display for SerialScope {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SerialScope::Signer(key) => write!(f, "ed25519:{}", STANDARD.encode(key)),
            SerialScope::Unsigned => f.write_str("unsigned"),
        }
    }
}

/// A serial as stored in Envoy's shared data (8 bytes, little-endian); `None` if malformed.
pub fn serial_from_shared(value: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(value).ok().map(u64::from_le_bytes)
}

/// Standard base64 with or without padding, or URL-safe without padding.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(text)
        .ok()
        .or_else(|| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok())
}

/// A number for the revision gauge: the revision itself when it is a decimal integer (e.g.
/// `--revision 42` or a Unix timestamp), else 0.
pub fn numeric_revision(revision: &str) -> u64 {
    revision.parse().unwrap_or(0)
}

/// The first 48 bits of the bundle digest, exact in a float64 (Prometheus); its hex form is the
/// first 12 hex digits of the digest `gatehouse inspect` prints.
pub fn digest48(digest: &[u8; 32]) -> u64 {
    digest
        .iter()
        .take(6)
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_configuration() {
        assert!(trusted_keys(None).unwrap().is_empty());
        assert!(trusted_keys(Some(b"")).unwrap().is_empty());
        assert!(trusted_keys(Some(b"{}")).unwrap().is_empty());
        let key = STANDARD.encode([7u8; 32]);
        let json = format!("{{\"trusted_keys\": [\"{key}\"]}}");
        assert_eq!(
            trusted_keys(Some(json.as_bytes())).unwrap(),
            vec![[7u8; 32]]
        );
        assert!(trusted_keys(Some(b"{\"trusted_keys\": [\"AAAA\"]}")).is_err());
        assert!(trusted_keys(Some(b"{\"trusted_key\": []}")).is_err());
        assert!(trusted_keys(Some(b"not json")).is_err());
        assert!(!vm_settings(None).unwrap().allow_rollback);
        assert!(!vm_settings(Some(b"{}")).unwrap().allow_rollback);
        let settings = vm_settings(Some(b"{\"trusted_keys\": [], \"allow_rollback\": true}"));
        assert!(settings.unwrap().allow_rollback);
        assert!(vm_settings(Some(b"{\"allow_rollback\": \"yes\"}")).is_err());
        assert!(vm_settings(Some(b"{\"allow_rollbacks\": true}")).is_err());
    }

    #[test]
    fn token_cache_entries() {
        let entries =
            |json: &str| vm_settings(Some(json.as_bytes())).map(|s| s.token_cache_entries);
        assert_eq!(entries("{}").unwrap(), DEFAULT_TOKEN_CACHE_ENTRIES);
        assert_eq!(
            vm_settings(None).unwrap().token_cache_entries,
            DEFAULT_TOKEN_CACHE_ENTRIES
        );
        assert_eq!(entries("{\"token_cache_entries\": 0}").unwrap(), 0);
        assert_eq!(
            entries("{\"token_cache_entries\": 200000}").unwrap(),
            200_000
        );
        assert!(entries("{\"token_cache_entries\": 1048577}").is_err());
        assert!(entries("{\"token_cache_entries\": -1}").is_err());
        assert!(entries("{\"token_cache_entries\": \"many\"}").is_err());
    }

    #[test]
    fn rollback() {
        let scope = SerialScope::Signer([7; 32]);
        // The first bundle of a scope: any serial.
        assert!(check_serial(scope, 0, None, false).is_ok());
        assert!(check_serial(scope, 5, None, false).is_ok());
        // Newer and equal (a re-push) are accepted.
        assert!(check_serial(scope, 11, Some(10), false).is_ok());
        assert!(check_serial(scope, 10, Some(10), false).is_ok());
        // Older is refused, unless the VM configuration allows rollback.
        let err = check_serial(scope, 5, Some(10), false).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Rollback {
                serial: 5,
                in_service: 10,
                scope: SerialScope::Signer(key),
            } if key == [7; 32]
        ));
        let message = err.to_string();
        assert!(
            message.contains("rollback refused: serial 5 is older than serial 10 in service")
                && message.contains(&format!("signer ed25519:{}", STANDARD.encode([7; 32])))
                && message.contains("allow_rollback"),
            "{message}"
        );
        assert!(check_serial(scope, 5, Some(10), true).is_ok());
        assert!(check_serial(scope, 0, Some(u64::MAX), true).is_ok());
        assert!(check_serial(scope, u64::MAX - 1, Some(u64::MAX), false).is_err());
        let unsigned = check_serial(SerialScope::Unsigned, 1, Some(2), false).unwrap_err();
        assert!(
            unsigned.to_string().contains("signer unsigned"),
            "{unsigned}"
        );
        assert_eq!(serial_from_shared(&10u64.to_le_bytes()), Some(10));
        assert_eq!(serial_from_shared(b"short"), None);
        assert_eq!(serial_from_shared(&[0; 9]), None);
    }

    /// The serial in service is keyed by the signer alone: nothing the resource carrying the
    /// bundle also sets (filter name, root id, VM id) enters the key, so renaming the filter in
    /// an update cannot make an older bundle look like a first one.
    #[test]
    fn serials_are_keyed_by_the_signer() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        assert_eq!(SerialScope::of(Some(&a)), SerialScope::Signer(a));
        assert_eq!(SerialScope::of(None), SerialScope::Unsigned);
        assert_ne!(SerialScope::of(Some(&a)), SerialScope::of(Some(&b)));
        assert_ne!(SerialScope::of(Some(&a)), SerialScope::of(None));
        // What the shared data holds under: one key per signer, all unsigned bundles under one.
        let key = SerialScope::Signer(a).shared_data_key();
        assert_eq!(
            key,
            format!("gatehouse.serial_in_service.ed25519:{}", STANDARD.encode(a))
        );
        assert_ne!(key, SerialScope::Signer(b).shared_data_key());
        assert_eq!(
            SerialScope::Unsigned.shared_data_key(),
            "gatehouse.serial_in_service.unsigned"
        );
        // A VM's serials in service, as the filter keeps them: whatever filter accepted the
        // signer's serial 10, that signer's serial 5 is refused; another signer's is its own.
        let mut in_service = std::collections::BTreeMap::new();
        in_service.insert(SerialScope::of(Some(&a)), 10u64);
        let admit = |signer: Option<&[u8; 32]>, serial: u64| {
            let scope = SerialScope::of(signer);
            check_serial(scope, serial, in_service.get(&scope).copied(), false)
        };
        assert!(admit(Some(&a), 5).is_err());
        assert!(admit(Some(&a), 10).is_ok());
        assert!(admit(Some(&b), 5).is_ok());
        assert!(admit(None, 5).is_ok());
    }

    #[cfg(not(feature = "test-hooks"))]
    #[test]
    fn a_release_build_cannot_be_given_a_clock() {
        assert!(vm_settings(Some(b"{\"fixed_now\": 1795867200}")).is_err());
    }

    #[cfg(feature = "test-hooks")]
    #[test]
    fn a_test_hooks_build_reads_fixed_now() {
        let settings =
            vm_settings(Some(b"{\"trusted_keys\": [], \"fixed_now\": 1795867200}")).unwrap();
        assert_eq!(settings.fixed_now, Some(1_795_867_200));
        assert_eq!(vm_settings(Some(b"{}")).unwrap().fixed_now, None);
        assert!(vm_settings(Some(b"{\"fixed_now\": \"now\"}")).is_err());
    }

    #[test]
    fn module_configuration() {
        let key = STANDARD.encode([7u8; 32]);
        let json = format!(
            r#"{{"bundle_path": "/etc/p.bundle", "trusted_keys": ["{key}"], "allow_rollback": true, "token_cache_entries": 10}}"#
        );
        let config = module_config(json.as_bytes()).unwrap();
        assert_eq!(
            config.bundle,
            BundleSource::Path("/etc/p.bundle".to_owned())
        );
        assert_eq!(config.settings.trusted_keys, vec![[7u8; 32]]);
        assert!(config.settings.allow_rollback);
        assert_eq!(config.settings.token_cache_entries, 10);

        let mut raw = MAGIC.to_vec();
        raw.extend_from_slice(b"rest");
        let config = module_config(&raw).unwrap();
        assert_eq!(config.bundle, BundleSource::Bytes(raw.clone()));
        assert_eq!(config.settings, VmSettings::default());

        let inline = format!(r#"{{"bundle": "{}"}}"#, STANDARD.encode(&raw));
        assert_eq!(
            module_config(inline.as_bytes()).unwrap().bundle,
            BundleSource::Bytes(raw)
        );
        for bad in [
            r#"{}"#,
            r#"{"bundle": "!!", "x": 1}"#,
            r#"{"bundle": "AAAA", "bundle_path": "/p"}"#,
            r#"{"bundle_path": "/p", "unknown": true}"#,
            r#"{"bundle_path": "/p", "token_cache_entries": 99999999}"#,
            r#"{"bundle_path": "/p", "fixed_now": 1}"#,
            "not json",
        ] {
            let result = module_config(bad.as_bytes());
            #[cfg(feature = "test-hooks")]
            if bad.contains("fixed_now") {
                assert!(result.is_ok());
                continue;
            }
            assert!(result.is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn plugin_configuration() {
        let none = || -> Option<Vec<u8>> { None };
        let mut raw = MAGIC.to_vec();
        raw.extend_from_slice(b"rest");
        assert_eq!(bundle_bytes(Some(raw.clone()), none).unwrap(), raw);
        let json = format!("{{\"bundle\": \"{}\"}}", STANDARD.encode(&raw));
        assert_eq!(bundle_bytes(Some(json.into_bytes()), none).unwrap(), raw);
        assert!(bundle_bytes(None, none).is_err());
        assert!(bundle_bytes(Some(Vec::new()), none).is_err());
        assert!(bundle_bytes(Some(b"{}".to_vec()), none).is_err());
        assert!(bundle_bytes(Some(b"{\"bundle\": \"!!\"}".to_vec()), none).is_err());
        assert!(bundle_bytes(Some(b"garbage".to_vec()), none).is_err());
        // A bundle-shaped configuration that is corrupt is refused by the engine.
        assert!(matches!(
            load_engine_with(
                Some(raw),
                none,
                &[],
                &SharedTokenCache::new(DEFAULT_TOKEN_CACHE_ENTRIES)
            ),
            Err(ConfigError::Bundle(_))
        ));
    }

    #[test]
    fn embedded_bundle_when_the_configuration_carries_none() {
        let embedded = || Some(b"embedded".to_vec());
        for carries_none in [
            None,
            Some(Vec::new()),
            Some(b" \n".to_vec()),
            Some(b"{}".to_vec()),
            Some(b"{\"bundle\": null}".to_vec()),
        ] {
            assert_eq!(
                bundle_bytes(carries_none.clone(), embedded).unwrap(),
                b"embedded",
                "{carries_none:?}"
            );
            let err = bundle_bytes(carries_none, || None).unwrap_err();
            assert!(err.to_string().contains("no policy bundle"), "{err}");
        }
        // A bundle in the configuration wins; the embedded one is not even read.
        let mut raw = MAGIC.to_vec();
        raw.extend_from_slice(b"configured");
        let unread = || -> Option<Vec<u8>> { unreachable!("the embedded bundle was read") };
        assert_eq!(bundle_bytes(Some(raw.clone()), unread).unwrap(), raw);
        // A configuration that is bad is an error, not a reason to fall back.
        assert!(bundle_bytes(Some(b"{\"bundle\": \"!!\"}".to_vec()), embedded).is_err());
        assert!(bundle_bytes(Some(b"{\"bundles\": \"\"}".to_vec()), embedded).is_err());
        assert!(bundle_bytes(Some(b"garbage".to_vec()), embedded).is_err());
        // The embedded bundle goes through the engine like any other: a corrupt one is refused.
        let corrupt = || Some([MAGIC.as_slice(), b"corrupt"].concat());
        assert!(matches!(
            load_engine_with(
                None,
                corrupt,
                &[],
                &SharedTokenCache::new(DEFAULT_TOKEN_CACHE_ENTRIES)
            ),
            Err(ConfigError::Bundle(_))
        ));
    }

    #[test]
    fn gauges() {
        assert_eq!(numeric_revision("42"), 42);
        assert_eq!(numeric_revision("v1.2"), 0);
        let mut digest = [0u8; 32];
        digest[..7].copy_from_slice(&[0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67]);
        assert_eq!(digest48(&digest), 0xabcd_ef01_2345);
    }
}
