//! Rating circuit keys: the development setup, key files and their manifest (crate docs).

use crate::{Error, Progress, Result};
use ark_bn254::{Bn254, Fr};
use ark_groth16::{prepare_verifying_key, Groth16, PreparedVerifyingKey, ProvingKey};
use ark_relations::r1cs::{ConstraintSynthesizer, ConstraintSystem, SynthesisMode};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use ark_snark::SNARK;
use omni_circuits::bundle::RatingKeySet;
use omni_circuits::rating::{FinalCircuit, IntervalCircuit, UsageChunkCircuit};
use rand::{CryptoRng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Records per chunk unless configured otherwise: 127,319 constraints, just under the
/// 2^17 evaluation domain Groth16's prover works in (so no FFT work is wasted on a
/// half-empty domain), and 1,000 records make two chunks proven in parallel.
pub const DEFAULT_CHUNK_SIZE: usize = 500;

/// What the manifest of keys made by [`RatingKeys::setup_development`] says.
pub const DEVELOPMENT_SETUP: &str =
    "single-party development setup: NOT FOR PRODUCTION (whoever ran it can forge proofs)";

/// The manifest written next to the key files.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct KeyManifest {
    /// Records per chunk.
    pub chunk_size: u32,
    /// [`RatingKeySet::hash`], hex: the value the registry publishes.
    pub verifying_keys_hash: String,
    /// SHA-256 of the proving key file, hex.
    pub proving_key_sha256: String,
    /// SHA-256 of the verifying key file, hex.
    pub verifying_key_sha256: String,
    /// How the keys were made ([`DEVELOPMENT_SETUP`] or a ceremony's description).
    pub setup: String,
    /// Constraints of one chunk proof.
    pub chunk_constraints: usize,
    /// Constraints of the final proof.
    pub final_constraints: usize,
    /// Constraints of the interval proof; absent (0) in the manifests of older key sets.
    #[serde(default)]
    pub interval_constraints: usize,
    /// Records the interval circuit holds ([`interval_fit`]); absent (0) in the
    /// manifests of older key sets.
    #[serde(default)]
    pub interval_records: usize,
}

/// Proving keys of the rating circuits for one chunk size, with their verifying keys.
pub struct RatingKeys {
    /// Records per chunk.
    pub chunk_size: usize,
    /// Records the interval circuit holds: an interval of at most this many is one proof.
    pub interval_records: usize,
    /// Proving key of the chunk circuit.
    pub chunk: ProvingKey<Bn254>,
    /// Proving key of the final circuit.
    pub final_: ProvingKey<Bn254>,
    /// Proving key of the interval circuit.
    pub interval: ProvingKey<Bn254>,
    /// The verifying keys (what verifiers load).
    pub verifying: RatingKeySet,
    /// The manifest.
    pub manifest: KeyManifest,
    pub(crate) chunk_pvk: PreparedVerifyingKey<Bn254>,
    pub(crate) final_pvk: PreparedVerifyingKey<Bn254>,
    pub(crate) interval_pvk: PreparedVerifyingKey<Bn254>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.display().to_string(), source }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Constraints of a circuit, counted by synthesizing it without values.
pub fn count_constraints<C: ConstraintSynthesizer<Fr>>(circuit: C) -> Result<usize> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_mode(SynthesisMode::Setup);
    circuit.generate_constraints(cs.clone()).map_err(|e| Error::Proving(e.to_string()))?;
    Ok(cs.num_constraints())
}

/// Writes `bytes` to `path` atomically (temporary file, sync, rename).
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Groth16's evaluation domain for a circuit of `constraints` and `inputs` public inputs.
fn domain(constraints: usize, inputs: usize) -> usize {
    (constraints + inputs + 1).next_power_of_two()
}

/// The interval circuit's size for chunks of `chunk_size` ([`interval_fit`]), with the
/// constraint counts found on the way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntervalFit {
    /// Records of the interval circuit.
    pub records: usize,
    /// Its constraints.
    pub constraints: usize,
    /// Constraints of the chunk circuit.
    pub chunk_constraints: usize,
}

/// Records of the interval circuit for chunks of `chunk_size`: as many as a chunk, less
/// whole blocks of 4 while that makes it fit the chunk circuit's evaluation domain, so
/// that proving an invoice in one proof costs no more than proving one chunk (the prover's
/// FFTs work on the whole domain: 500 records would need 2^18 where a chunk takes 2^17;
/// 496 fit). All of a chunk when no smaller size fits.
pub fn interval_fit(chunk_size: usize) -> Result<IntervalFit> {
    let chunk_constraints = count_constraints(UsageChunkCircuit::blank(chunk_size))?;
    let room = domain(chunk_constraints, omni_circuits::bundle::CHUNK_PUBLIC_INPUTS);
    let fits = |c| domain(c, omni_circuits::rating::INTERVAL_PUBLIC_INPUTS) <= room;
    let constraints = |n| count_constraints(IntervalCircuit::blank(n));
    let (mut records, mut count) = (chunk_size, constraints(chunk_size)?);
    while records > 4 && !fits(count) {
        records -= 4;
        count = constraints(records)?;
    }
    if !fits(count) {
        (records, count) = (chunk_size, constraints(chunk_size)?);
    }
    Ok(IntervalFit { records, constraints: count, chunk_constraints })
}

/// The proving keys of the chunk, final and interval circuits, in that order.
type Circuits = [ProvingKey<Bn254>; 3];

/// One of the rating circuits, blank, for its setup.
enum Blank {
    Chunk(UsageChunkCircuit),
    Final(FinalCircuit),
    Interval(IntervalCircuit),
}

impl Blank {
    fn setup(
        self,
        rng: &mut ChaCha20Rng,
    ) -> std::result::Result<ProvingKey<Bn254>, ark_relations::r1cs::SynthesisError> {
        let keys = match self {
            Blank::Chunk(c) => Groth16::<Bn254>::circuit_specific_setup(c, rng),
            Blank::Final(c) => Groth16::<Bn254>::circuit_specific_setup(c, rng),
            Blank::Interval(c) => Groth16::<Bn254>::circuit_specific_setup(c, rng),
        };
        keys.map(|(pk, _)| pk)
    }
}

impl RatingKeys {
    /// Paths of the proving key, verifying key and manifest for `chunk_size` in `dir`.
    pub fn paths(dir: &Path, chunk_size: usize) -> (PathBuf, PathBuf, PathBuf) {
        let stem = format!("rating-{chunk_size}");
        (
            dir.join(format!("{stem}.pk")),
            dir.join(format!("{stem}.vk")),
            dir.join(format!("{stem}.json")),
        )
    }

    fn assemble(
        chunk_size: usize,
        [chunk, final_, interval]: Circuits,
        manifest: KeyManifest,
    ) -> Self {
        let interval_records = manifest.interval_records;
        let verifying = RatingKeySet {
            chunk_size: chunk_size as u32,
            chunk: chunk.vk.clone(),
            final_: final_.vk.clone(),
            interval: interval.vk.clone(),
        };
        RatingKeys {
            chunk_size,
            interval_records,
            chunk_pvk: prepare_verifying_key(&chunk.vk),
            final_pvk: prepare_verifying_key(&final_.vk),
            interval_pvk: prepare_verifying_key(&interval.vk),
            chunk,
            final_,
            interval,
            verifying,
            manifest,
        }
    }

    /// **Development only**: a single-party Groth16 setup of the three rating circuits,
    /// run in this process (crate docs). Its manifest says [`DEVELOPMENT_SETUP`].
    pub fn setup_development(
        chunk_size: usize,
        rng: &mut (impl RngCore + CryptoRng),
        progress: Progress<'_>,
    ) -> Result<Self> {
        if chunk_size == 0 || !chunk_size.is_multiple_of(4) || chunk_size > u32::MAX as usize {
            return Err(Error::Proving(format!(
                "chunk size {chunk_size}: a positive multiple of 4 is needed"
            )));
        }
        let fit = interval_fit(chunk_size)?;
        let mut seeds = [[0u8; 32]; 3];
        for s in &mut seeds {
            rng.fill_bytes(s);
        }
        let done = AtomicUsize::new(0);
        let step = || progress(done.fetch_add(1, Ordering::SeqCst) + 1, 3);
        progress(0, 3);
        let setup = |what: &str, seed: [u8; 32], circuit: Blank| {
            let keys = circuit.setup(&mut ChaCha20Rng::from_seed(seed));
            step();
            keys.map_err(|e| Error::Proving(format!("{what} circuit setup: {e}")))
        };
        // The two chunk-sized setups side by side; the small final one after the interval's.
        let (chunk, (interval, final_)) = rayon::join(
            || setup("chunk", seeds[0], Blank::Chunk(UsageChunkCircuit::blank(chunk_size))),
            || {
                let interval = setup(
                    "interval",
                    seeds[2],
                    Blank::Interval(IntervalCircuit::blank(fit.records)),
                );
                (interval, setup("final", seeds[1], Blank::Final(FinalCircuit::default())))
            },
        );
        let manifest = KeyManifest {
            chunk_size: chunk_size as u32,
            verifying_keys_hash: String::new(),
            proving_key_sha256: String::new(),
            verifying_key_sha256: String::new(),
            setup: DEVELOPMENT_SETUP.into(),
            chunk_constraints: fit.chunk_constraints,
            final_constraints: count_constraints(FinalCircuit::default())?,
            interval_constraints: fit.constraints,
            interval_records: fit.records,
        };
        let mut keys = Self::assemble(chunk_size, [chunk?, final_?, interval?], manifest);
        keys.manifest.verifying_keys_hash = hex::encode(keys.verifying.hash().0);
        Ok(keys)
    }

    fn proving_key_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = self.chunk.serialize_uncompressed(&mut out);
        let _ = self.final_.serialize_uncompressed(&mut out);
        let _ = self.interval.serialize_uncompressed(&mut out);
        out
    }

    /// Writes the key files and the manifest into `dir` (crate docs), each atomically.
    pub fn save(&mut self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let (pk_path, vk_path, manifest_path) = Self::paths(dir, self.chunk_size);
        let pk = self.proving_key_bytes();
        let vk = self.verifying.to_bytes();
        self.manifest.proving_key_sha256 = sha256_hex(&pk);
        self.manifest.verifying_key_sha256 = sha256_hex(&vk);
        write_atomically(&pk_path, &pk)?;
        write_atomically(&vk_path, &vk)?;
        let manifest = serde_json::to_vec_pretty(&self.manifest)
            .map_err(|e| Error::Proving(format!("manifest: {e}")))?;
        write_atomically(&manifest_path, &manifest)
    }

    /// Reads the manifest for `chunk_size` in `dir`.
    pub fn read_manifest(dir: &Path, chunk_size: usize) -> Result<KeyManifest> {
        let (_, _, manifest_path) = Self::paths(dir, chunk_size);
        let bytes = std::fs::read(&manifest_path).map_err(io(&manifest_path))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::BadKeyFile {
            path: manifest_path.display().to_string(),
            reason: format!("not a key manifest: {e}"),
        })
    }

    /// Loads keys written by [`RatingKeys::save`], refusing files whose SHA-256 or
    /// verifying key hash differ from the manifest's.
    pub fn load(dir: &Path, chunk_size: usize) -> Result<Self> {
        let (pk_path, vk_path, _) = Self::paths(dir, chunk_size);
        let manifest = Self::read_manifest(dir, chunk_size)?;
        let bad = |path: &Path, reason: String| Error::BadKeyFile {
            path: path.display().to_string(),
            reason,
        };
        let vk_bytes = std::fs::read(&vk_path).map_err(io(&vk_path))?;
        if sha256_hex(&vk_bytes) != manifest.verifying_key_sha256 {
            return Err(bad(&vk_path, "SHA-256 differs from the manifest's".into()));
        }
        let verifying =
            RatingKeySet::from_bytes(&vk_bytes).map_err(|e| bad(&vk_path, e.to_string()))?;
        if hex::encode(verifying.hash().0) != manifest.verifying_keys_hash
            || verifying.chunk_size as usize != chunk_size
            || manifest.interval_records == 0
            || manifest.interval_records > chunk_size
        {
            return Err(bad(&vk_path, "verifying keys are not the manifest's".into()));
        }
        let pk_bytes = std::fs::read(&pk_path).map_err(io(&pk_path))?;
        if sha256_hex(&pk_bytes) != manifest.proving_key_sha256 {
            return Err(bad(&pk_path, "SHA-256 differs from the manifest's".into()));
        }
        // The file's hash is the manifest's, so the points are the ones written by `save`:
        // skip the (slow) subgroup checks. A corrupted proving key could only make invalid
        // proofs, which every verifier refuses.
        let mut reader = &pk_bytes[..];
        let mut read_pk = |what: &str| {
            ProvingKey::<Bn254>::deserialize_with_mode(&mut reader, Compress::No, Validate::No)
                .map_err(|e| bad(&pk_path, format!("{what} proving key: {e}")))
        };
        let chunk = read_pk("chunk")?;
        let final_ = read_pk("final")?;
        let interval = read_pk("interval")?;
        if chunk.vk != verifying.chunk
            || final_.vk != verifying.final_
            || interval.vk != verifying.interval
        {
            return Err(bad(&pk_path, "proving keys do not match the verifying keys".into()));
        }
        Ok(Self::assemble(chunk_size, [chunk, final_, interval], manifest))
    }

    /// Loads the keys for `chunk_size` from `dir`, or — when there are none — runs the
    /// development setup and saves them. Returns whether a setup was run.
    pub fn load_or_setup(
        dir: &Path,
        chunk_size: usize,
        progress: Progress<'_>,
    ) -> Result<(Self, bool)> {
        let (_, vk_path, manifest_path) = Self::paths(dir, chunk_size);
        if manifest_path.exists() {
            match Self::load(dir, chunk_size) {
                Ok(keys) => return Ok((keys, false)),
                // Development keys of an older format are set up again: nothing proven
                // under them verifies with this build anyway. Other keys are an error.
                Err(_) if Self::older_development_keys(dir, chunk_size, &vk_path) => {}
                Err(e) => return Err(e),
            }
        }
        let mut keys = Self::setup_development(chunk_size, &mut rand::rngs::OsRng, progress)?;
        keys.save(dir)?;
        Ok((keys, true))
    }

    /// Whether the keys for `chunk_size` in `dir` are development keys made by an older
    /// build: verifying keys without the interval key, or a manifest without its size.
    fn older_development_keys(dir: &Path, chunk_size: usize, vk_path: &Path) -> bool {
        let Ok(manifest) = Self::read_manifest(dir, chunk_size) else { return false };
        manifest.setup == DEVELOPMENT_SETUP
            && (manifest.interval_records == 0
                || std::fs::read(vk_path).is_ok_and(|vk| RatingKeySet::is_older_format(&vk)))
    }

    /// Whether these keys come from the single-party development setup.
    pub fn is_development(&self) -> bool {
        self.manifest.setup == DEVELOPMENT_SETUP
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_tampered_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        let mut keys = RatingKeys::setup_development(4, &mut rng, &crate::no_progress).unwrap();
        assert!(keys.is_development());
        keys.save(dir.path()).unwrap();
        let loaded = RatingKeys::load(dir.path(), 4).unwrap();
        assert_eq!(loaded.verifying, keys.verifying);
        assert_eq!(loaded.manifest, keys.manifest);
        assert!(loaded.manifest.chunk_constraints > 1000);

        // Another chunk size has no keys; a flipped byte in either file is refused.
        assert!(matches!(RatingKeys::load(dir.path(), 8), Err(Error::Io { .. })));
        let (pk, vk, manifest) = RatingKeys::paths(dir.path(), 4);
        for path in [&pk, &vk] {
            let original = std::fs::read(path).unwrap();
            let mut tampered = original.clone();
            let mid = tampered.len() / 2;
            tampered[mid] ^= 1;
            std::fs::write(path, &tampered).unwrap();
            let err = RatingKeys::load(dir.path(), 4).err().unwrap();
            assert!(err.to_string().contains("SHA-256"), "{err}");
            std::fs::write(path, &original).unwrap();
        }
        std::fs::write(&manifest, b"{").unwrap();
        assert!(matches!(RatingKeys::load(dir.path(), 4), Err(Error::BadKeyFile { .. })));
    }

    #[test]
    fn the_interval_circuit_fits_the_chunk_circuits_domain() {
        // 500 records would need 2^18; 496 fit the chunk's 2^17.
        assert_eq!(interval_fit(500).unwrap().records, 496);
        // No smaller size fits a 4-record chunk's domain: all 4.
        assert_eq!(interval_fit(4).unwrap().records, 4);
    }

    #[test]
    fn development_keys_of_the_older_format_are_set_up_again_and_others_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = ChaCha20Rng::from_seed([4; 32]);
        let mut keys = RatingKeys::setup_development(4, &mut rng, &crate::no_progress).unwrap();
        keys.save(dir.path()).unwrap();
        let (_, vk, manifest) = RatingKeys::paths(dir.path(), 4);
        let older = |path: &Path| {
            let mut bytes = std::fs::read(path).unwrap();
            bytes[..8].copy_from_slice(b"omniRVK1");
            std::fs::write(path, bytes).unwrap();
        };
        // Keys from a ceremony are never replaced behind the operator's back.
        let mut ceremony = keys.manifest.clone();
        ceremony.setup = "a ceremony".into();
        std::fs::write(&manifest, serde_json::to_vec(&ceremony).unwrap()).unwrap();
        older(&vk);
        assert!(RatingKeys::load_or_setup(dir.path(), 4, &crate::no_progress).is_err());
        // Development keys are made again, and the new files load.
        keys.save(dir.path()).unwrap();
        older(&vk);
        let (again, made) = RatingKeys::load_or_setup(dir.path(), 4, &crate::no_progress).unwrap();
        assert!(made);
        assert_ne!(again.verifying, keys.verifying);
        assert_eq!(RatingKeys::load(dir.path(), 4).unwrap().verifying, again.verifying);
    }
}
