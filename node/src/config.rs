//! A node's configuration file (`omni node start --config FILE`), JSON:
//!
//! ```json
//! {
//!   "name": "carrier-a",
//!   "key_file": "carrier-a.key",
//!   "data_dir": "carrier-a-data",
//!   "billing_api": "127.0.0.1:7600",
//!   "sync_listen": "127.0.0.1:7700",
//!   "peers": [{ "party": "5f1c…64 hex digits", "address": "127.0.0.1:7701" }],
//!   "registry": "http://127.0.0.1:7800",
//!   "rating_keys": { "verifying_key": "keys/rating-500.vk", "hash": "1c0f…64 hex digits" },
//!   "anchor_every_secs": 60,
//!   "clock": { "simulated_from": "2026-08-01" },
//!   "rating_proposal": { "after_interval_close_secs": 3600 },
//!   "conformance": { "document": "mef114-conformance.md", "statement": "Option 1 invoices, …" }
//! }
//! ```
//!
//! `key_file` holds the organisation's Ed25519 seed as 64 hex digits (`omni keys
//! generate`); relative paths are relative to the configuration file. `sync_listen` is
//! where the node's libp2p sync listens (default `127.0.0.1:0`, any free port); `peers`
//! are the counterparties' nodes: each one's signing key (its libp2p identity) and sync
//! address; `registry` is the omni-lateral registry's gRPC endpoint — or a list of its
//! validators' endpoints, tried in turn when one does not answer — if the node reports
//! to one ([`crate::registry_reporter`], through the outbox in `<data_dir>/registry-outbox`).
//!
//! `rating_keys` names the rating circuits' verifying keys (`rating-K.vk`) and the hash
//! they must have (the one the registry publishes): with them the node checks the rating
//! proof of every Option 1 invoice it receives, and — when the proving keys
//! (`rating-K.pk` and the manifest `rating-K.json`) lie beside the verifying keys —
//! proves its own. Without `rating_keys` the node refuses to issue or accept an Option 1
//! invoice, naming this setting; Option 2 invoices need no keys.
//!
//! `anchor_every_secs` is the shortest time between two anchors of the same bilateral's
//! head on the registry (default 60; the first head is anchored at once).
//!
//! `clock` is for rehearsals and demos only, never for real billing: with
//! `simulated_from` (a date `YYYY-MM-DD` or an RFC 3339 date-time) the node stamps its
//! entries with a simulated clock that starts there (or at its latest entry's time, if
//! later) and moves only when told through the API (`Node.SetClock`, `omni node clock
//! --set`), so that a month of billing can be played in minutes. Without it the node
//! runs on the system clock.
//!
//! `rating_proposal`, e.g. `{ "after_interval_close_secs": 3600 }`, makes the node
//! propose the rating of each interval of each order it sells once the interval has been
//! closed that long ([`crate::interval_close`]); without it ratings are proposed by hand
//! (`omni rating propose`).
//!
//! `conformance` is the member's MEF 114 conformance declaration (R13): the node publishes
//! the document's SHA-256 and the statement (at most 1 024 bytes) on the registry once the
//! registry shows its party a member, and again whenever either changes.
//!
//! Unknown fields are refused, so that a misspelt setting is an error rather than a
//! silent default.

use crate::network::Peer;
use omni_core::{Hash32, Keypair, PartyId};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid configuration.
    #[error("{path} is not a valid node configuration: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// One organisation's node (module docs).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// A name for logs and reports.
    #[serde(default)]
    pub name: String,
    /// File with the organisation's key seed (64 hex digits).
    pub key_file: PathBuf,
    /// The RocksDB directory.
    pub data_dir: PathBuf,
    /// Where the gRPC billing API listens.
    pub billing_api: SocketAddr,
    /// Where the libp2p sync with counterparties listens.
    #[serde(default = "any_local_port")]
    pub sync_listen: SocketAddr,
    /// The counterparties' nodes.
    #[serde(default)]
    pub peers: Vec<PeerConfig>,
    /// The registry's gRPC endpoint (e.g. `http://127.0.0.1:7800`), or a list of them
    /// (its validators' APIs), tried in turn when one does not answer.
    #[serde(default)]
    pub registry: Option<RegistryEndpoints>,
    /// The rating circuits' keys (module docs).
    #[serde(default)]
    pub rating_keys: Option<RatingKeysConfig>,
    /// Shortest time between two registry anchors of the same bilateral, seconds.
    #[serde(default = "sixty")]
    pub anchor_every_secs: u64,
    /// A simulated clock (module docs): rehearsals and demos only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockConfig>,
    /// Propose ratings when intervals close (module docs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating_proposal: Option<crate::interval_close::RatingProposal>,
    /// This member's MEF 114 conformance declaration (R13), published on the registry
    /// once the registry shows the node's party a member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conformance: Option<ConformanceConfig>,
}

impl ConformanceConfig {
    /// The declaration: the document's SHA-256 and the statement; a document that cannot
    /// be read or a statement too long is refused, naming the setting.
    pub fn declaration(&self) -> Result<omni_registry_types::tx::ConformanceDeclaration, String> {
        use sha2::Digest;
        let max = omni_registry_types::tx::MAX_STATEMENT_BYTES;
        if self.statement.len() > max {
            return Err(format!(
                "conformance.statement: {} bytes, at most {max}",
                self.statement.len()
            ));
        }
        let bytes = std::fs::read(&self.document)
            .map_err(|e| format!("conformance.document {}: {e}", self.document.display()))?;
        Ok(omni_registry_types::tx::ConformanceDeclaration {
            document_hash: Hash32(sha2::Sha256::digest(&bytes).into()),
            statement: self.statement.clone(),
        })
    }
}

/// The conformance declaration a node publishes: the declaration document (only its
/// SHA-256 is published) and a statement of at most 1 024 bytes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConformanceConfig {
    /// The declaration document (relative paths: to the configuration's directory).
    pub document: PathBuf,
    /// What the member claims to implement.
    pub statement: String,
}

fn sixty() -> u64 {
    60
}

/// A simulated clock: entry times start at `simulated_from` and move only through the
/// node's API (module docs).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClockConfig {
    /// Where the clock starts: `YYYY-MM-DD` (midnight UTC) or an RFC 3339 date-time.
    pub simulated_from: String,
}

/// The name of the clock setting, for errors that ask for it.
pub const SIMULATED_CLOCK_SETTING: &str = "clock.simulated_from";

impl ClockConfig {
    /// Where the clock starts, UTC seconds; the reason names the setting.
    pub fn start(&self) -> Result<u64, String> {
        crate::terms::parse_time(&self.simulated_from).ok_or_else(|| {
            format!(
                "{SIMULATED_CLOCK_SETTING} {:?}: a date YYYY-MM-DD or an RFC 3339 date-time",
                self.simulated_from
            )
        })
    }
}

/// One registry endpoint or several.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum RegistryEndpoints {
    /// One endpoint.
    One(String),
    /// Several, tried in turn.
    Many(Vec<String>),
}

impl RegistryEndpoints {
    /// The endpoints, in the order they are tried.
    pub fn list(&self) -> Vec<String> {
        match self {
            RegistryEndpoints::One(e) => vec![e.clone()],
            RegistryEndpoints::Many(list) => list.clone(),
        }
    }
}

impl std::fmt::Display for RegistryEndpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.list().join(", "))
    }
}

/// Where a node's rating keys are and what they must hash to.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RatingKeysConfig {
    /// The verifying keys file (`rating-K.vk`); proving keys, if any, lie beside it.
    pub verifying_key: PathBuf,
    /// The hash the verifying keys must have (hex), as the registry publishes it.
    pub hash: String,
}

/// The name of the setting, for errors that ask for it.
pub const RATING_KEYS_SETTING: &str = "rating_keys";

fn any_local_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A counterparty's node in the configuration file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// Its signing key, 64 hex digits.
    pub party: String,
    /// Its sync address.
    pub address: SocketAddr,
}

impl NodeConfig {
    /// Reads `path`, resolving relative paths against its directory.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let mut config: NodeConfig = serde_json::from_str(&text).map_err(|e| {
            ConfigError::Invalid { path: path.to_path_buf(), reason: e.to_string() }
        })?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        config.key_file = base.join(&config.key_file);
        config.data_dir = base.join(&config.data_dir);
        if let Some(keys) = &mut config.rating_keys {
            keys.verifying_key = base.join(&keys.verifying_key);
        }
        if let Some(c) = &mut config.conformance {
            c.document = base.join(&c.document);
        }
        let invalid = |reason| ConfigError::Invalid { path: path.to_path_buf(), reason };
        config.sync_peers().map_err(invalid)?;
        config.simulated_from().map_err(invalid)?;
        Ok(config)
    }

    /// The counterparties' nodes, their keys decoded.
    pub fn sync_peers(&self) -> Result<Vec<Peer>, String> {
        self.peers
            .iter()
            .map(|p| {
                let party = PartyId::from_hex(&p.party)
                    .map_err(|e| format!("peer key {:?}: {e}", p.party))?;
                Ok(Peer { party, address: p.address })
            })
            .collect()
    }

    /// Where the simulated clock starts, if the node runs on one ([`ClockConfig`]).
    pub fn simulated_from(&self) -> Result<Option<u64>, String> {
        self.clock.as_ref().map(ClockConfig::start).transpose()
    }

    /// The organisation's key, from [`NodeConfig::key_file`].
    pub fn keypair(&self) -> Result<Keypair, ConfigError> {
        read_key_file(&self.key_file)
    }
}

/// Reads a key file (`omni keys generate`: the Ed25519 seed as 64 hex digits).
/// A key file others may read is refused ([`omni_core::key_file`]).
pub fn read_key_file(path: &Path) -> Result<Keypair, ConfigError> {
    let seed = omni_core::key_file::read(path)
        .map_err(|reason| ConfigError::Invalid { path: path.to_path_buf(), reason })?;
    Ok(Keypair::from_seed(seed))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn loads_resolves_paths_and_refuses_mistakes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.json");
        std::fs::write(
            &path,
            r#"{"name":"a","key_file":"a.key","data_dir":"data","billing_api":"127.0.0.1:7600"}"#,
        )
        .unwrap();
        let config = NodeConfig::load(&path).unwrap();
        assert_eq!(config.key_file, dir.path().join("a.key"));
        assert_eq!(config.data_dir, dir.path().join("data"));
        let err = config.keypair().unwrap_err().to_string();
        assert!(err.contains("cannot read") && err.contains("a.key"), "{err}");
        let key_file = dir.path().join("a.key");
        let write_key = |text: String, mode: u32| {
            std::fs::write(&key_file, text).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(mode)).unwrap();
            }
            #[cfg(not(unix))]
            let _ = mode;
        };
        write_key("zz".into(), 0o600);
        assert!(config.keypair().unwrap_err().to_string().contains("not hex"));
        write_key("00ff".into(), 0o600);
        assert!(config.keypair().unwrap_err().to_string().contains("32 bytes"));
        let key = Keypair::from_seed([7; 32]);
        write_key(format!("{}\n", hex::encode(key.seed())), 0o600);
        assert_eq!(config.keypair().unwrap().party(), key.party());
        // A key others may read is refused, naming the fix.
        #[cfg(unix)]
        {
            write_key(format!("{}\n", hex::encode(key.seed())), 0o644);
            let err = config.keypair().unwrap_err().to_string();
            assert!(err.contains("chmod 600"), "{err}");
        }

        std::fs::write(
            &path,
            r#"{"key_file":"a.key","data_dir":"d","billing_api":"127.0.0.1:1","biling":1}"#,
        )
        .unwrap();
        let err = NodeConfig::load(&path).unwrap_err().to_string();
        assert!(err.contains("unknown field") && err.contains("biling"), "{err}");
        std::fs::write(&path, r#"{"key_file":"a.key","data_dir":"d","billing_api":"nowhere"}"#)
            .unwrap();
        assert!(NodeConfig::load(&path).is_err());

        let peer = Keypair::from_seed([8; 32]).party();
        std::fs::write(
            &path,
            format!(
                r#"{{"key_file":"a.key","data_dir":"d","billing_api":"127.0.0.1:1",
                "sync_listen":"127.0.0.1:7700","registry":"http://127.0.0.1:7800",
                "peers":[{{"party":"{}","address":"127.0.0.1:7701"}}]}}"#,
                peer.to_hex()
            ),
        )
        .unwrap();
        let config = NodeConfig::load(&path).unwrap();
        assert_eq!(config.sync_peers().unwrap()[0].party, peer);
        assert_eq!(
            config.registry.map(|r| r.list()),
            Some(vec!["http://127.0.0.1:7800".to_string()])
        );
        std::fs::write(
            &path,
            r#"{"key_file":"a.key","data_dir":"d","billing_api":"127.0.0.1:1",
            "registry":["http://127.0.0.1:7800","http://127.0.0.1:7801"]}"#,
        )
        .unwrap();
        let config = NodeConfig::load(&path).unwrap();
        assert_eq!(config.registry.map(|r| r.list().len()), Some(2));
        std::fs::write(
            &path,
            r#"{"key_file":"a.key","data_dir":"d","billing_api":"127.0.0.1:1",
            "peers":[{"party":"00zz","address":"127.0.0.1:7701"}]}"#,
        )
        .unwrap();
        let err = NodeConfig::load(&path).unwrap_err().to_string();
        assert!(err.contains("peer key"), "{err}");
    }

    #[test]
    fn a_simulated_clock_and_the_anchoring_frequency() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.json");
        let base = r#""key_file":"a.key","data_dir":"d","billing_api":"127.0.0.1:1""#;
        std::fs::write(&path, format!("{{{base}}}")).unwrap();
        let config = NodeConfig::load(&path).unwrap();
        assert_eq!((config.anchor_every_secs, config.simulated_from()), (60, Ok(None)));

        let text = format!(
            r#"{{{base},"anchor_every_secs":1,"clock":{{"simulated_from":"2026-08-01"}}}}"#
        );
        std::fs::write(&path, text).unwrap();
        let config = NodeConfig::load(&path).unwrap();
        assert_eq!(config.anchor_every_secs, 1);
        assert_eq!(config.simulated_from(), Ok(Some(1_785_542_400)));
        let again = serde_json::to_string(&config).unwrap();
        assert!(again.contains(r#""simulated_from":"2026-08-01""#), "{again}");

        let text = format!(r#"{{{base},"clock":{{"simulated_from":"2026-08-01T12:00:00Z"}}}}"#);
        std::fs::write(&path, text).unwrap();
        let config = NodeConfig::load(&path).unwrap();
        assert_eq!(config.simulated_from(), Ok(Some(1_785_542_400 + 12 * 3600)));

        for (clock, named) in [
            (r#"{"simulated_from":"August"}"#, "clock.simulated_from"),
            (r#"{"simulated_from":"2026-08-01","speed":2}"#, "speed"),
        ] {
            std::fs::write(&path, format!(r#"{{{base},"clock":{clock}}}"#)).unwrap();
            let err = NodeConfig::load(&path).unwrap_err().to_string();
            assert!(err.contains(named), "{named}: {err}");
        }
    }
}
