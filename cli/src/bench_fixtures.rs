//! Proven invoices kept between benchmark runs. Proving is not what `omni bench registry`
//! and `omni bench consensus` measure, and it takes minutes (about 0.8 s per invoice on
//! two cores), so both read their invoices from a fixtures directory (by default
//! `~/.cache/omni/bench`): the development keys that proved them (`rating-4.*`) and the
//! invoices under the keys' hash, `invoices-{hash}-{records}r-{count}.bin`. What is
//! missing is made once; a larger file of the same keys and records serves a smaller
//! count with its first invoices.

use anyhow::{bail, Context, Result};
use omni_core::{Currency, Hash32, IntervalId, PartyId};
use omni_prover::sample::{proven_invoices, ProvenInvoice};
use omni_prover::RatingKeys;
use omni_registry::commitment::{encode, PedersenCommitment};
use omni_registry_types::tx::{InvoiceId, InvoiceSubmission};
use omni_registry_types::{RegistryInvoice, TxBody};
use omni_verifier::{RatingProofBundle, RatingVerifier, VerifyError};
use std::path::{Path, PathBuf};

/// Records per chunk proof of the bench keys.
const CHUNK_RECORDS: usize = 4;

/// A proven invoice as a `SubmitInvoice` carries it.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct ProvenSubmission {
    bilateral: [u8; 32],
    interval: String,
    amount_commitment: [u8; 32],
    /// The proof bundle's bytes.
    pub(crate) bundle: Vec<u8>,
}

impl From<&ProvenInvoice> for ProvenSubmission {
    fn from(inv: &ProvenInvoice) -> Self {
        ProvenSubmission {
            bilateral: inv.bilateral_id,
            interval: inv.interval_id.clone(),
            amount_commitment: encode(&PedersenCommitment::commit(inv.total, &inv.blinding)).0,
            bundle: inv.bundle.to_bytes(),
        }
    }
}

impl ProvenSubmission {
    /// Bench invoice `n`, from `payee` to `payer`, built as a node builds its submissions.
    pub(crate) fn submit_invoice(
        &self,
        n: usize,
        payer: PartyId,
        payee: PartyId,
        due_date: u64,
    ) -> Result<TxBody> {
        let bundle = RatingProofBundle::from_bytes(&self.bundle)?;
        let invoice = RegistryInvoice {
            invoice: InvoiceId(Hash32::digest("bench/invoice", &(n as u64).to_le_bytes())),
            bilateral: Hash32(self.bilateral),
            interval: IntervalId(self.interval.clone()),
            payer,
            payee,
            currency: Currency::EUR,
            due_date,
        };
        Ok(TxBody::SubmitInvoice(InvoiceSubmission::proven(invoice, &bundle)?))
    }
}

/// `given`, else `$XDG_CACHE_HOME/omni/bench` or `~/.cache/omni/bench`.
pub(crate) fn dir(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = given {
        return Ok(dir.to_path_buf());
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .context("neither XDG_CACHE_HOME nor HOME is set: pass --fixtures DIR")?;
    Ok(cache.join("omni").join("bench"))
}

/// The kept file of the keys `key_hash` with at least `count` invoices of `records`
/// records, the smallest such.
fn kept(dir: &Path, key_hash: &str, records: usize, count: usize) -> Option<(PathBuf, usize)> {
    let prefix = format!("invoices-{key_hash}-{records}r-");
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            let n: usize = name.strip_prefix(&prefix)?.strip_suffix(".bin")?.parse().ok()?;
            (n >= count).then(|| (dir.join(name), n))
        })
        .min_by_key(|(_, n)| *n)
}

/// The rating verifier of the bench's development keys and `count` invoices of `records`
/// records proven with them, made (and kept in `dir`) if not there yet.
pub(crate) fn load(
    dir: &Path,
    count: usize,
    records: usize,
    quiet: bool,
) -> Result<(RatingVerifier, Vec<ProvenSubmission>)> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let bar = crate::proofs::Bar::new("setting up rating keys (development-only)", quiet);
    let (keys, _) = RatingKeys::load_or_setup(dir, CHUNK_RECORDS, &|d, t| bar.update(d, t))?;
    bar.finish();
    let key_hash = hex::encode(&keys.verifying.hash().0[..8]);
    let verifier = RatingVerifier::new(keys.verifying.clone());
    let reusable = match kept(dir, &key_hash, records, count) {
        Some((path, _)) => {
            let kept: Vec<ProvenSubmission> =
                omni_core::decode("bench invoices", &std::fs::read(&path)?)
                    .with_context(|| format!("{} is damaged: delete it", path.display()))?;
            // Kept by an older build, the bundles may be of a format this one refuses:
            // then they are proven again.
            let verifies = kept.first().is_some_and(|f| {
                RatingProofBundle::from_bytes(&f.bundle)
                    .map_err(VerifyError::from)
                    .and_then(|b| verifier.verify(&b))
                    .is_ok()
            });
            verifies.then_some(kept)
        }
        None => None,
    };
    let mut fixtures: Vec<ProvenSubmission> = match reusable {
        Some(kept) => kept,
        None => {
            let path = dir.join(format!("invoices-{key_hash}-{records}r-{count}.bin"));
            let bar =
                crate::proofs::Bar::new("proving bench invoices (kept for later runs)", quiet);
            let proven = proven_invoices(&keys, count, records, 11, &|d, t| bar.update(d, t))?;
            bar.finish();
            let fixtures: Vec<ProvenSubmission> =
                proven.iter().map(ProvenSubmission::from).collect();
            let partial = path.with_extension("partial");
            std::fs::write(&partial, omni_core::encode(&fixtures))
                .with_context(|| format!("cannot write {}", partial.display()))?;
            std::fs::rename(&partial, &path)?;
            fixtures
        }
    };
    if fixtures.len() < count {
        bail!("the kept bench invoices are {}, not {count}", fixtures.len());
    }
    fixtures.truncate(count);
    Ok((verifier, fixtures))
}
