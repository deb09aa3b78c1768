//! Export to snarkjs's JSON format, so that a proof can be checked by outside tools
//! (`snarkjs groth16 verify verification_key.json public.json proof.json`).
//!
//! snarkjs names BN254 `bn128` and writes every field element as a decimal string; points
//! are projective triples with `z = 1` (G1: `[x, y, "1"]`; G2: `[[x.c0, x.c1], [y.c0,
//! y.c1], ["1", "0"]]`). Its verification equation is Groth16's,
//! `e(−A, B)·e(α, β)·e(L, γ)·e(C, δ) = 1` with `L = IC₀ + Σ xⱼ·ICⱼ₊₁`, the same as
//! arkworks', so keys and proofs carry over unchanged.

use crate::{Result, VerifyError};
use ark_bn254::{Bn254, Fq, Fq12, Fq2, Fr, G1Affine, G2Affine};
use ark_ec::pairing::Pairing;
use ark_ec::short_weierstrass::{Affine, SWCurveConfig};
use ark_ec::AffineRepr;
use ark_ff::{PrimeField, Zero};
use ark_groth16::{Proof, VerifyingKey};
use serde_json::{json, Value};
use std::path::Path;
use std::str::FromStr;

fn fq(x: &Fq) -> Value {
    Value::String(x.into_bigint().to_string())
}

fn fq2(x: &Fq2) -> Value {
    json!([fq(&x.c0), fq(&x.c1)])
}

fn g1(p: &G1Affine) -> Value {
    if p.is_zero() {
        return json!(["0", "1", "0"]);
    }
    json!([fq(&p.x), fq(&p.y), "1"])
}

fn g2(p: &G2Affine) -> Value {
    if p.is_zero() {
        return json!([["0", "0"], ["1", "0"], ["0", "0"]]);
    }
    json!([fq2(&p.x), fq2(&p.y), ["1", "0"]])
}

fn fq12(x: &Fq12) -> Value {
    let fq6 = |c: &ark_bn254::Fq6| json!([fq2(&c.c0), fq2(&c.c1), fq2(&c.c2)]);
    json!([fq6(&x.c0), fq6(&x.c1)])
}

/// `proof.json`.
pub fn proof_json(proof: &Proof<Bn254>) -> Value {
    json!({
        "pi_a": g1(&proof.a),
        "pi_b": g2(&proof.b),
        "pi_c": g1(&proof.c),
        "protocol": "groth16",
        "curve": "bn128",
    })
}

/// `public.json`: the public inputs as decimal strings.
pub fn public_json(inputs: &[Fr]) -> Value {
    Value::Array(inputs.iter().map(|x| Value::String(x.into_bigint().to_string())).collect())
}

/// `verification_key.json`.
pub fn verification_key_json(vk: &VerifyingKey<Bn254>) -> Value {
    let alphabeta = Bn254::pairing(vk.alpha_g1, vk.beta_g2).0;
    json!({
        "protocol": "groth16",
        "curve": "bn128",
        "nPublic": vk.gamma_abc_g1.len().saturating_sub(1),
        "vk_alpha_1": g1(&vk.alpha_g1),
        "vk_beta_2": g2(&vk.beta_g2),
        "vk_gamma_2": g2(&vk.gamma_g2),
        "vk_delta_2": g2(&vk.delta_g2),
        "vk_alphabeta_12": fq12(&alphabeta),
        "IC": vk.gamma_abc_g1.iter().map(g1).collect::<Vec<_>>(),
    })
}

/// Writes `proof.json`, `public.json` and `verification_key.json` into `dir`.
pub fn write(
    dir: &Path,
    vk: &VerifyingKey<Bn254>,
    proof: &Proof<Bn254>,
    inputs: &[Fr],
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    std::fs::write(dir.join("proof.json"), pretty(&proof_json(proof)))?;
    std::fs::write(dir.join("public.json"), pretty(&public_json(inputs)))?;
    std::fs::write(dir.join("verification_key.json"), pretty(&verification_key_json(vk)))?;
    Ok(())
}

fn bad(what: &str) -> VerifyError {
    VerifyError::Malformed(format!("snarkjs JSON: {what}"))
}

fn parse_fq(v: &Value) -> Result<Fq> {
    let s = v.as_str().ok_or_else(|| bad("a field element is not a string"))?;
    let x =
        Fq::from_str(s).map_err(|_| bad("a field element is not a decimal below the modulus"))?;
    if x.into_bigint().to_string() != s {
        return Err(bad("a field element is not canonical"));
    }
    Ok(x)
}

fn parse_fq2(v: &Value) -> Result<Fq2> {
    Ok(Fq2::new(parse_fq(&v[0])?, parse_fq(&v[1])?))
}

fn checked<P: SWCurveConfig>(p: Affine<P>) -> Result<Affine<P>> {
    if !p.is_zero() && !p.is_in_correct_subgroup_assuming_on_curve() {
        return Err(bad("a point is not in the prime-order subgroup"));
    }
    Ok(p)
}

fn parse_g1(v: &Value) -> Result<G1Affine> {
    if v[2].as_str() != Some("1") {
        return Err(bad("a G1 point is not affine (z ≠ 1)"));
    }
    let p = G1Affine::new_unchecked(parse_fq(&v[0])?, parse_fq(&v[1])?);
    if !p.is_on_curve() {
        return Err(bad("a G1 point is not on the curve"));
    }
    checked(p)
}

fn parse_g2(v: &Value) -> Result<G2Affine> {
    if v[2][0].as_str() != Some("1") || v[2][1].as_str() != Some("0") {
        return Err(bad("a G2 point is not affine (z ≠ 1)"));
    }
    let p = G2Affine::new_unchecked(parse_fq2(&v[0])?, parse_fq2(&v[1])?);
    if !p.is_on_curve() {
        return Err(bad("a G2 point is not on the curve"));
    }
    checked(p)
}

/// Reads `proof.json` back, checking every point.
pub fn parse_proof(v: &Value) -> Result<Proof<Bn254>> {
    Ok(Proof { a: parse_g1(&v["pi_a"])?, b: parse_g2(&v["pi_b"])?, c: parse_g1(&v["pi_c"])? })
}

/// Reads `public.json` back.
pub fn parse_public(v: &Value) -> Result<Vec<Fr>> {
    let items = v.as_array().ok_or_else(|| bad("public inputs are not an array"))?;
    items
        .iter()
        .map(|x| {
            let s = x.as_str().ok_or_else(|| bad("a public input is not a string"))?;
            let f = Fr::from_str(s).map_err(|_| bad("a public input is not a field element"))?;
            if f.is_zero() && s != "0" {
                return Err(bad("a public input is not canonical"));
            }
            Ok(f)
        })
        .collect()
}

/// Reads `verification_key.json` back, checking every point.
pub fn parse_verification_key(v: &Value) -> Result<VerifyingKey<Bn254>> {
    let ic = v["IC"].as_array().ok_or_else(|| bad("IC is not an array"))?;
    Ok(VerifyingKey {
        alpha_g1: parse_g1(&v["vk_alpha_1"])?,
        beta_g2: parse_g2(&v["vk_beta_2"])?,
        gamma_g2: parse_g2(&v["vk_gamma_2"])?,
        delta_g2: parse_g2(&v["vk_delta_2"])?,
        gamma_abc_g1: ic.iter().map(parse_g1).collect::<Result<_>>()?,
    })
}
