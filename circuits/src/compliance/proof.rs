//! Keys, proving and verifying one hop.
//!
//! The IPA parameters are `Params::new(HOP_CIRCUIT_K)`: their generators are hashed to
//! Vesta, so every party derives the same ones, and the keys are derived from the
//! circuit's shape alone. There is no setup secret and nothing to download:
//! [`ComplianceVerifier::setup`] (parameters and verifying key) is what a regulator runs
//! on a laptop, [`HopProver::setup`] adds the proving key. [`HopProver::shared`] caches
//! one prover per process.

use std::sync::OnceLock;

use halo2_proofs::{
    pasta::EqAffine,
    plonk::{
        create_proof, keygen_pk, keygen_vk, verify_proof, BatchVerifier, ProvingKey,
        SingleVerifier, VerifyingKey,
    },
    poly::commitment::Params,
    transcript::{Blake2bRead, Blake2bWrite, Challenge255},
};
use rand_halo2::{rand_core::UnwrapErr, rngs::SysRng};
use serde::{Deserialize, Serialize};

use super::circuit::{HopCircuit, HOP_CIRCUIT_K};
use super::statement::{HopPublicInputs, HopWitness};
use super::{Error, Result};

/// Size in bytes of every hop proof (the circuit's shape fixes it; a test pins it
/// against a real proof). Proofs of another length are refused before verification, so
/// trailing bytes cannot make two encodings of one proof.
pub const HOP_PROOF_LEN: usize = 4_224;

/// Format version of [`HopProof::to_bytes`].
pub const HOP_PROOF_FORMAT: u8 = 1;

/// A hop proof with its public inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HopProof {
    /// The statement's public inputs.
    pub public: HopPublicInputs,
    /// The halo2 proof ([`HOP_PROOF_LEN`] bytes).
    pub proof: Vec<u8>,
}

impl HopProof {
    /// `HOP_PROOF_FORMAT ‖ postcard(self)`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![HOP_PROOF_FORMAT];
        // Serializing plain data into a Vec cannot fail.
        bytes.extend(postcard::to_allocvec(self).unwrap_or_default());
        bytes
    }

    /// Decodes [`HopProof::to_bytes`], refusing other versions and trailing bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        decode_versioned("hop proof", HOP_PROOF_FORMAT, bytes)
    }
}

/// Decodes `version ‖ postcard(T)` with no trailing bytes.
pub(crate) fn decode_versioned<T: serde::de::DeserializeOwned>(
    what: &'static str,
    supported: u8,
    bytes: &[u8],
) -> Result<T> {
    let (&version, body) =
        bytes.split_first().ok_or(Error::Decode { what, reason: "no bytes".into() })?;
    if version != supported {
        return Err(Error::UnsupportedVersion { what, found: version, supported });
    }
    let (value, rest) = postcard::take_from_bytes(body)
        .map_err(|e| Error::Decode { what, reason: e.to_string() })?;
    if !rest.is_empty() {
        return Err(Error::Decode { what, reason: format!("{} trailing bytes", rest.len()) });
    }
    Ok(value)
}

fn halo2_error(stage: &'static str) -> impl Fn(halo2_proofs::plonk::Error) -> Error {
    move |e| Error::Halo2 { stage, reason: e.to_string() }
}

/// Parameters and verifying key of the hop circuit: all a verifier needs.
#[derive(Debug, Clone)]
pub struct ComplianceVerifier {
    params: Params<EqAffine>,
    vk: VerifyingKey<EqAffine>,
}

impl ComplianceVerifier {
    /// Derives the parameters (`Params::new(HOP_CIRCUIT_K)`) and the verifying key.
    pub fn setup() -> Result<Self> {
        let params = Params::new(HOP_CIRCUIT_K);
        let vk = keygen_vk(&params, &HopCircuit::default()).map_err(halo2_error("keygen"))?;
        Ok(Self { params, vk })
    }

    /// A verifier shared by the whole process, set up on first use (about a second).
    pub fn shared() -> Result<&'static Self> {
        static SHARED: OnceLock<ComplianceVerifier> = OnceLock::new();
        if let Some(verifier) = SHARED.get() {
            return Ok(verifier);
        }
        let verifier = Self::setup()?;
        Ok(SHARED.get_or_init(|| verifier))
    }

    /// The IPA parameters.
    pub fn params(&self) -> &Params<EqAffine> {
        &self.params
    }

    /// The verifying key.
    pub fn vk(&self) -> &VerifyingKey<EqAffine> {
        &self.vk
    }

    fn check_length(hop: usize, proof: &HopProof) -> Result<()> {
        if proof.proof.len() != HOP_PROOF_LEN {
            return Err(Error::ProofLength {
                hop,
                expected: HOP_PROOF_LEN,
                found: proof.proof.len(),
            });
        }
        Ok(())
    }

    /// Verifies one hop proof against its public inputs (`hop` only labels errors).
    pub fn verify_hop(&self, hop: usize, proof: &HopProof) -> Result<()> {
        Self::check_length(hop, proof)?;
        let instance = HopCircuit::instance(&proof.public);
        let mut transcript = Blake2bRead::<_, EqAffine, Challenge255<_>>::init(&proof.proof[..]);
        verify_proof(
            &self.params,
            &self.vk,
            SingleVerifier::new(&self.params),
            &[&[&instance[..]]],
            &mut transcript,
        )
        .map_err(|e| Error::InvalidHopProof { hop, reason: e.to_string() })
    }

    /// Verifies several hop proofs in one batch (one multi-scalar multiplication over
    /// the parameters' generators for all of them). If the batch fails, the proofs are
    /// verified one by one so the error names the first bad hop.
    pub fn verify_hops(&self, proofs: &[HopProof]) -> Result<()> {
        for (hop, proof) in proofs.iter().enumerate() {
            Self::check_length(hop, proof)?;
        }
        let mut batch = BatchVerifier::new();
        for proof in proofs {
            batch.add_proof(vec![vec![HopCircuit::instance(&proof.public)]], proof.proof.clone());
        }
        if batch.finalize(&self.params, &self.vk) {
            return Ok(());
        }
        for (hop, proof) in proofs.iter().enumerate() {
            self.verify_hop(hop, proof)?;
        }
        Err(Error::InvalidHopProof {
            hop: 0,
            reason: "the batch does not verify although each proof does".into(),
        })
    }
}

/// A hop prover: the verifier's parameters and key plus the proving key.
#[derive(Debug)]
pub struct HopProver {
    verifier: ComplianceVerifier,
    pk: ProvingKey<EqAffine>,
}

impl HopProver {
    /// Derives parameters, verifying and proving keys.
    pub fn setup() -> Result<Self> {
        let verifier = ComplianceVerifier::setup()?;
        let pk = keygen_pk(&verifier.params, verifier.vk.clone(), &HopCircuit::default())
            .map_err(halo2_error("keygen"))?;
        Ok(Self { verifier, pk })
    }

    /// A prover shared by the whole process, set up on first use.
    pub fn shared() -> Result<&'static Self> {
        static SHARED: OnceLock<HopProver> = OnceLock::new();
        if let Some(prover) = SHARED.get() {
            return Ok(prover);
        }
        let prover = Self::setup()?;
        // A concurrent caller may have won the race; either prover is the same.
        Ok(SHARED.get_or_init(|| prover))
    }

    /// The matching verifier.
    pub fn verifier(&self) -> &ComplianceVerifier {
        &self.verifier
    }

    /// Proves a hop. The statement is checked natively first, so a participant that
    /// cannot prove (embargoed country, credential not under the root, attribute not
    /// allowed, …) gets that reason rather than a proof that would not verify.
    pub fn prove(&self, witness: &HopWitness) -> Result<HopProof> {
        let public = witness.public_inputs()?;
        let circuit = HopCircuit::new(witness)?;
        let instance = HopCircuit::instance(&public);
        let mut transcript = Blake2bWrite::<_, EqAffine, Challenge255<_>>::init(vec![]);
        create_proof(
            &self.verifier.params,
            &self.pk,
            &[circuit],
            &[&[&instance[..]]],
            UnwrapErr(SysRng),
            &mut transcript,
        )
        .map_err(halo2_error("proving"))?;
        Ok(HopProof { public, proof: transcript.finalize() })
    }
}
