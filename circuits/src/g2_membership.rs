//! Membership of BN254 G2 points in the prime-order subgroup, by the endomorphism test of
//! El Housni, Guillevic and Piellard ("Co-factor clearing and subgroup membership testing
//! on pairing-friendly curves", 2022, §5.1; the test gnark-crypto uses):
//!
//! ```text
//!   P ∈ G2  ⇔  [x₀+1]P + ψ([x₀]P) + ψ²([x₀]P) = ψ³([2x₀]P)
//! ```
//!
//! where `x₀ = 4965661367192848881` is the BN parameter and `ψ` the untwist–Frobenius–twist
//! endomorphism `(x, y) ↦ (x̄·ξ^((p−1)/3), ȳ·ξ^((p−1)/2))`, `ξ = 9 + u`. One scalar
//! multiplication by the 63-bit `x₀` instead of arkworks' by the 127-bit `6x₀²`: about
//! twice as fast, and every Groth16 proof's `B` needs it (decoding is a fifth of the
//! registry's admission work). Tested against arkworks' own check on points in and out
//! of the subgroup.

use ark_bn254::{Fq2, G2Affine, G2Projective};
use ark_ec::AffineRepr;
use ark_ff::{AdditiveGroup, Field, MontFp, Zero};

/// The BN254 parameter `x₀`.
const X0: u64 = 4_965_661_367_192_848_881;

/// `ξ^((p−1)/3)`, `ξ = 9 + u` (arkworks' `P_POWER_ENDOMORPHISM_COEFF_0`).
const PSI_X: Fq2 = Fq2::new(
    MontFp!("21575463638280843010398324269430826099269044274347216827212613867836435027261"),
    MontFp!("10307601595873709700152284273816112264069230130616436755625194854815875713954"),
);

/// `ξ^((p−1)/2)` (arkworks' `P_POWER_ENDOMORPHISM_COEFF_1`).
const PSI_Y: Fq2 = Fq2::new(
    MontFp!("2821565182194536844548159561693502659359617185244120367078079554186484126554"),
    MontFp!("3505843767911556378687030309984248845540243509899259641013678093033130930403"),
);

/// `ψ` on Jacobian coordinates: conjugation is a field automorphism, so it maps
/// `(X, Y, Z)` to `(X̄·ψx, Ȳ·ψy, Z̄)`.
fn psi(p: &G2Projective) -> G2Projective {
    let conj = |mut c: Fq2| {
        c.frobenius_map_in_place(1);
        c
    };
    G2Projective::new_unchecked(conj(p.x) * PSI_X, conj(p.y) * PSI_Y, conj(p.z))
}

/// The non-adjacent form of `x₀`, most significant digit first: 24 nonzero digits
/// instead of its 28 one bits.
const fn x0_naf() -> [i8; 65] {
    let mut digits = [0i8; 65];
    let mut k = X0 as u128;
    let mut i = 0;
    while k > 0 {
        if k & 1 == 1 {
            let d: i8 = if k & 3 == 3 { -1 } else { 1 };
            digits[64 - i] = d;
            k = if d == 1 { k - 1 } else { k + 1 };
        }
        k >>= 1;
        i += 1;
    }
    digits
}

const X0_NAF: [i8; 65] = x0_naf();

/// `[x₀]p` by double-and-add over the NAF, adding the affine `p` (mixed additions).
fn times_x0(p: &G2Affine) -> G2Projective {
    let mut acc = G2Projective::zero();
    for d in X0_NAF {
        acc.double_in_place();
        match d {
            1 => acc += p,
            -1 => acc -= p,
            _ => {}
        }
    }
    acc
}

/// Whether `p` (on the curve) is in the prime-order subgroup G2.
pub fn in_subgroup(p: &G2Affine) -> bool {
    let xp = times_x0(p);
    let p = p.into_group();
    let lhs = xp + p + psi(&xp) + psi(&psi(&xp));
    let rhs = psi(&psi(&psi(&(xp + xp))));
    lhs == rhs
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ark_ec::short_weierstrass::SWCurveConfig;
    use ark_ec::CurveGroup;
    use ark_ec::PrimeGroup;
    use ark_ff::UniformRand;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn the_naf_of_x0_is_x0() {
        let value = X0_NAF.iter().fold(0i128, |acc, &d| 2 * acc + i128::from(d));
        assert_eq!(value, i128::from(X0));
        assert!(X0_NAF.windows(2).all(|w| w[0] == 0 || w[1] == 0), "no adjacent nonzero digits");
        assert_eq!(X0_NAF.iter().filter(|d| **d != 0).count(), 24);
        let p = G2Affine::generator();
        assert_eq!(times_x0(&p), p.into_group().mul_bigint([X0]));
    }

    #[test]
    fn agrees_with_arkworks_in_and_out_of_the_subgroup() {
        let mut rng = StdRng::seed_from_u64(3);
        assert!(in_subgroup(&G2Affine::identity()));
        assert!(in_subgroup(&G2Affine::generator()));
        for _ in 0..64 {
            let p = (G2Affine::generator() * ark_bn254::Fr::rand(&mut rng)).into_affine();
            assert!(in_subgroup(&p));
        }
        let mut outside = 0;
        while outside < 64 {
            let x = Fq2::rand(&mut rng);
            let Some(p) = G2Affine::get_point_from_x_unchecked(x, bool::rand(&mut rng)) else {
                continue;
            };
            assert!(p.is_on_curve());
            let arkworks = ark_bn254::g2::Config::is_in_correct_subgroup_assuming_on_curve(&p);
            assert_eq!(in_subgroup(&p), arkworks);
            outside += usize::from(!arkworks);
        }
    }
}
