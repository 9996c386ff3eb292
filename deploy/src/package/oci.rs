//! The packaged module as an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/`), in
//! the Wasm artifact format Istio's `WasmPlugin` pulls (its *oci* variant, from the Wasm
//! Artifact Image Specification): a config of media type
//! `application/vnd.module.wasm.config.v1+json` and exactly two layers, that config and the
//! module itself (`application/vnd.module.wasm.content.layer.v1+wasm`). Istio's fetcher
//! (`pkg/wasm/imagefetcher.go`) requires the two layers and takes the module from the one with
//! the wasm media type; the layout itself is pushed with any OCI tool (`skopeo copy
//! oci:DIR:TAG docker://REGISTRY/NAME:TAG`, `oras cp --from-oci-layout`).
//!
//! Deterministic: no time is recorded unless `SOURCE_DATE_EPOCH` is given, and every JSON
//! document is written in one fixed order.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use wasmparser::{Parser, Payload};

use super::sha256_hex;

/// Why an image layout cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("reading `{}`", path.display())]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("creating `{}`", path.display())]
    Create {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing `{}`", path.display())]
    Write {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` exists and is not empty: give a new directory for the image layout", .0.display())]
    NotEmpty(std::path::PathBuf),
    #[error(
        "`{0}` is not an image tag (letters, digits, `_`, `.` and `-`, at most 128, not \
         starting with `.` or `-`)"
    )]
    Tag(String),
    #[error("SOURCE_DATE_EPOCH `{0}` is not a Unix time in seconds")]
    Epoch(String),
    #[error("SOURCE_DATE_EPOCH `{epoch}`: {message}")]
    EpochRange { epoch: String, message: String },
    #[error("the module exports no `proxy_abi_version_*`: not a proxy-wasm module")]
    NotProxyWasm,
    #[error(transparent)]
    Wasm(#[from] wasmparser::BinaryReaderError),
    /// A document that could not be written as JSON or a time as RFC 3339.
    #[error("{0}")]
    Format(String),
}

type Result<T, E = OciError> = std::result::Result<T, E>;

/// The media type of the runtime configuration (the config and the first layer).
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.module.wasm.config.v1+json";
/// The media type of the layer holding the module.
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/vnd.module.wasm.content.layer.v1+wasm";
const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const TITLE: &str = "org.opencontainers.image.title";
const CREATED: &str = "org.opencontainers.image.created";
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// What [`write_layout`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// `sha256:<hex>` of the manifest: the image digest (`name@sha256:...`, and the `sha256`
    /// that Istio's `WasmPlugin` checks a pulled image against).
    pub manifest_digest: String,
    /// `sha256:<hex>` of the module layer.
    pub module_digest: String,
}

/// Write `module` as an image layout into `dir` (created; it must not exist or be empty),
/// tagged `tag`. `created` (RFC 3339, from `SOURCE_DATE_EPOCH`) is recorded when given.
pub fn write_layout(dir: &Path, module: &[u8], tag: &str, created: Option<&str>) -> Result<Image> {
    check_tag(tag)?;
    if dir.exists()
        && std::fs::read_dir(dir)
            .map_err(|source| OciError::Read {
                path: dir.to_path_buf(),
                source,
            })?
            .next()
            .is_some()
    {
        return Err(OciError::NotEmpty(dir.to_path_buf()));
    }
    let blobs = dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).map_err(|source| OciError::Create {
        path: blobs.clone(),
        source,
    })?;
    let write_blob = |bytes: &[u8]| -> Result<Descriptor> {
        let hex = sha256_hex(bytes);
        let path = blobs.join(&hex);
        std::fs::write(&path, bytes).map_err(|source| OciError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(Descriptor {
            media_type: "",
            digest: format!("sha256:{hex}"),
            size: bytes.len() as u64,
            annotations: BTreeMap::new(),
        })
    };

    let config = runtime_config(module)?;
    let config = Descriptor {
        media_type: CONFIG_MEDIA_TYPE,
        ..write_blob(&config)?
    };
    let wasm = Descriptor {
        media_type: WASM_LAYER_MEDIA_TYPE,
        annotations: BTreeMap::from([(TITLE, "plugin.wasm".to_owned())]),
        ..write_blob(module)?
    };
    let config_layer = Descriptor {
        annotations: BTreeMap::from([(TITLE, "runtime-config.json".to_owned())]),
        ..config.clone()
    };
    let mut annotations = BTreeMap::from([(TITLE, "gatehouse".to_owned())]);
    if let Some(created) = created {
        annotations.insert(CREATED, created.to_owned());
    }
    let manifest = Manifest {
        schema_version: 2,
        media_type: MANIFEST_MEDIA_TYPE,
        config,
        layers: vec![config_layer, wasm.clone()],
        annotations,
    };
    let manifest_bytes = to_json(&manifest)?;
    let manifest_descriptor = Descriptor {
        media_type: MANIFEST_MEDIA_TYPE,
        annotations: BTreeMap::from([(REF_NAME, tag.to_owned())]),
        ..write_blob(&manifest_bytes)?
    };
    let index = Index {
        schema_version: 2,
        media_type: INDEX_MEDIA_TYPE,
        manifests: vec![manifest_descriptor.clone()],
    };
    let write = |name: &str, bytes: &[u8]| -> Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|source| OciError::Write { path, source })
    };
    write("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    write("index.json", &to_json(&index)?)?;
    Ok(Image {
        manifest_digest: manifest_descriptor.digest,
        module_digest: wasm.digest,
    })
}

/// An OCI tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}` (the distribution specification's rule).
pub fn check_tag(tag: &str) -> Result<()> {
    let mut chars = tag.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !first_ok || !rest_ok || tag.len() > 128 {
        return Err(OciError::Tag(tag.to_owned()));
    }
    Ok(())
}

/// `org.opencontainers.image.created` for `SOURCE_DATE_EPOCH` (Unix seconds).
pub fn created_from_epoch(source_date_epoch: &str) -> Result<String> {
    let seconds: i64 = source_date_epoch
        .trim()
        .parse()
        .map_err(|_| OciError::Epoch(source_date_epoch.to_owned()))?;
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .map_err(|e| OciError::EpochRange {
            epoch: source_date_epoch.to_owned(),
            message: e.to_string(),
        })?
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| OciError::Format(e.to_string()))
}

/// The Envoy runtime configuration of the Wasm artifact specification: the proxy-wasm ABI
/// versions the module exports (`proxy_abi_version_*`) and its root id.
fn runtime_config(module: &[u8]) -> Result<Vec<u8>> {
    let mut abi_versions = Vec::new();
    for payload in Parser::new(0).parse_all(module) {
        if let Payload::ExportSection(exports) = payload? {
            for export in exports {
                let name = export?.name;
                if name.starts_with("proxy_abi_version_") {
                    abi_versions.push(name.to_owned());
                }
            }
        }
    }
    if abi_versions.is_empty() {
        return Err(OciError::NotProxyWasm);
    }
    abi_versions.sort();
    to_json(&RuntimeConfig {
        kind: "envoy_proxy",
        abi_versions,
        config: RootIds {
            root_ids: vec!["gatehouse"],
        },
    })
}

fn to_json(value: &impl Serialize) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| OciError::Format(e.to_string()))
}

#[derive(Debug, Clone, Serialize)]
struct Descriptor {
    #[serde(rename = "mediaType")]
    media_type: &'static str,
    digest: String,
    size: u64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<&'static str, String>,
}

#[derive(Debug, Serialize)]
struct Manifest {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'static str,
    config: Descriptor,
    layers: Vec<Descriptor>,
    annotations: BTreeMap<&'static str, String>,
}

#[derive(Debug, Serialize)]
struct Index {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'static str,
    manifests: Vec<Descriptor>,
}

#[derive(Debug, Serialize)]
struct RuntimeConfig {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "abiVersions")]
    abi_versions: Vec<String>,
    config: RootIds,
}

#[derive(Debug, Serialize)]
struct RootIds {
    root_ids: Vec<&'static str>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("gatehouse-oci-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn read_json(path: &Path) -> Value {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    fn blob(dir: &Path, digest: &str) -> Vec<u8> {
        let hex = digest.strip_prefix("sha256:").unwrap();
        let bytes = std::fs::read(dir.join("blobs/sha256").join(hex)).unwrap();
        assert_eq!(sha256_hex(&bytes), hex, "a blob is named by its digest");
        bytes
    }

    #[test]
    fn layout_in_the_format_istio_pulls() {
        let module = super::super::embed(&super::super::tests::plugin(), b"bundle").unwrap();
        let dir = scratch("layout");
        let image = write_layout(&dir, &module, "v1.2", None).unwrap();
        assert_eq!(
            read_json(&dir.join("oci-layout")),
            serde_json::json!({"imageLayoutVersion": "1.0.0"})
        );
        let index = read_json(&dir.join("index.json"));
        let manifests = index["manifests"].as_array().unwrap();
        assert_eq!(manifests.len(), 1);
        assert_eq!(manifests[0]["mediaType"], MANIFEST_MEDIA_TYPE);
        assert_eq!(manifests[0]["annotations"][REF_NAME], "v1.2");
        assert_eq!(manifests[0]["digest"], image.manifest_digest.as_str());
        let manifest_bytes = blob(&dir, &image.manifest_digest);
        assert_eq!(manifests[0]["size"], manifest_bytes.len());
        let manifest: Value = serde_json::from_slice(&manifest_bytes).unwrap();
        assert_eq!(manifest["schemaVersion"], 2);
        assert_eq!(manifest["config"]["mediaType"], CONFIG_MEDIA_TYPE);
        assert!(manifest["annotations"].get(CREATED).is_none());
        // Istio's *oci* variant: exactly two layers, one of them the module itself.
        let layers = manifest["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 2);
        assert_eq!(layers[0]["mediaType"], CONFIG_MEDIA_TYPE);
        assert_eq!(layers[1]["mediaType"], WASM_LAYER_MEDIA_TYPE);
        assert_eq!(layers[1]["digest"], image.module_digest.as_str());
        assert_eq!(blob(&dir, &image.module_digest), module);
        assert_eq!(layers[1]["size"], module.len());
        let config: Value =
            serde_json::from_slice(&blob(&dir, manifest["config"]["digest"].as_str().unwrap()))
                .unwrap();
        assert_eq!(config["type"], "envoy_proxy");
        assert_eq!(
            config["abiVersions"],
            serde_json::json!(["proxy_abi_version_0_2_1"])
        );
        assert_eq!(layers[0]["digest"], manifest["config"]["digest"]);

        // The same inputs, the same bytes; a date only from SOURCE_DATE_EPOCH.
        let again = scratch("again");
        assert_eq!(write_layout(&again, &module, "v1.2", None).unwrap(), image);
        assert_eq!(
            std::fs::read(again.join("index.json")).unwrap(),
            std::fs::read(dir.join("index.json")).unwrap()
        );
        let dated = scratch("dated");
        let created = created_from_epoch("1700000000").unwrap();
        assert_eq!(created, "2023-11-14T22:13:20Z");
        let dated_image = write_layout(&dated, &module, "v1.2", Some(&created)).unwrap();
        let manifest = read_json(
            &dated
                .join("blobs/sha256")
                .join(dated_image.manifest_digest.strip_prefix("sha256:").unwrap()),
        );
        assert_eq!(manifest["annotations"][CREATED], created.as_str());
        assert_eq!(dated_image.module_digest, image.module_digest);
        assert!(created_from_epoch("yesterday").is_err());

        // A directory that holds something already is not written over.
        let err = write_layout(&dir, &module, "v2", None).unwrap_err();
        assert!(err.to_string().contains("not empty"), "{err}");
        for dir in [dir, again, dated] {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    #[test]
    fn tags() {
        for good in ["latest", "v1", "1.2.3-rc.1", "_x", "a".repeat(128).as_str()] {
            assert!(check_tag(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".x",
            "-x",
            "a/b",
            "a:b",
            "a b",
            "a".repeat(129).as_str(),
        ] {
            assert!(check_tag(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_module_that_is_not_proxy_wasm_has_no_runtime_config() {
        let empty = wasm_encoder::Module::new().finish();
        assert!(runtime_config(&empty).is_err());
    }
}
