//! The registry side of the story: admission, conformance declarations (R13),
//! jurisdiction credentials and an embargo list, a supply-chain map checked as a
//! regulator would, a financier's pledge and a refused second pledge, a multi-party
//! netting cycle with its settlement instructions, anchored heads and the payers'
//! reputations. Every transaction goes through [`super::network::Member::submit`], every
//! query over gRPC.

use super::billing::{BD, DA};
use super::invoicing::registry_invoice_id;
use super::network::{lock, Member};
use super::report::{ComplianceLine, NettingLine, PledgeLine, ReputationLine, Transfer};
use super::story::{wall_clock, CarrierIx, World, A, B, C, D};
use anyhow::{anyhow, bail, ensure, Context, Result};
use omni_circuits::compliance::credential::{random_secret, secret_hash};
use omni_circuits::compliance::{
    field_from_bytes, field_to_bytes, order_commitment, verify_map, ComplianceMap,
    CompliancePolicy, ComplianceVerifier, CredentialOpening, EmbargoList, Fp, HopProver,
    HopWitness, JurisdictionCredential, MerklePath,
};
use omni_core::{Currency, Hash32, Micros};
use omni_node::api::proto::NotifyPaymentRequest;
use omni_node::entry::{supply_chain_order_id, SupplyChainMapRecord};
use omni_node::settlement::{PaymentReceipt, SettlementRef};
use omni_node::{BilateralId, EntryBody, Ledger};
use omni_registry::api::proto::{
    CheckPledgeRequest, GetComplianceStateRequest, GetCredentialPathRequest, GetInvoiceRequest,
    GetNettingCycleRequest, GetReputationRequest, ListComplianceStatusRequest,
};
use omni_registry::api::{invoice_from_proto, reputation_from_proto};
use omni_registry::commitment::{self, Scalar};
use omni_registry::pledge::{assess, FinancingPolicy, InvoiceOpening};
use omni_registry::tx::{Blinding, ConformanceDeclaration, InvoiceId, Nullifier};
use omni_registry::{Event, Role, TxBody};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// The conformance matrix each carrier declares (MEF 114 R13).
const CONFORMANCE_MATRIX: &str = include_str!("../../../docs/mef114-conformance.md");

/// Countries of carriers A–D (ISO 3166 numeric: France, Germany, Netherlands, Spain) and
/// the attribute their credential certifies.
const JURISDICTIONS: [(u16, u16); 4] = [(250, 1), (276, 2), (528, 1), (724, 2)];

/// The regulator's embargo list: North Korea, Iran, Syria, Cuba.
const EMBARGOED: [u16; 4] = [408, 364, 760, 192];

/// "65 met, 35 partly met, …" from the matrix's summary table.
pub fn matrix_summary(matrix: &str) -> String {
    let summary = matrix.split("## Summary").nth(1).unwrap_or_default();
    let counts: Vec<String> = summary
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let count: u32 = cells.get(2)?.trim_matches('*').parse().ok()?;
            let status = cells.get(1)?.trim_matches('*');
            Some(format!("{count} {status}"))
        })
        .collect();
    counts.join(", ")
}

/// The declaration a carrier publishes: the SHA-256 of the matrix (so anybody can check it
/// with `sha256sum docs/mef114-conformance.md`) and a statement of its figures.
pub fn conformance_declaration() -> ConformanceDeclaration {
    ConformanceDeclaration {
        document_hash: Hash32(Sha256::digest(CONFORMANCE_MATRIX.as_bytes()).into()),
        statement: format!(
            "MEF 114 (Nov 2021) self-declaration of Omnilateral {}: {} (docs/mef114-conformance.md)",
            env!("CARGO_PKG_VERSION"),
            matrix_summary(CONFORMANCE_MATRIX)
        ),
    }
}

/// The first event of `events` that `f` picks.
fn find<T>(events: &[Event], what: &str, f: impl Fn(&Event) -> Option<T>) -> Result<T> {
    events
        .iter()
        .find_map(f)
        .with_context(|| format!("the registry did not report {what}: {events:?}"))
}

/// The blinding of `number`'s amount commitment, from the rating-proof entry on the ledger.
fn proof_blinding(
    l: &Ledger,
    id: &BilateralId,
    number: &str,
) -> omni_node::Result<Option<[u8; 32]>> {
    Ok(l.entries(id, 0)?.into_iter().find_map(|e| match e.body {
        EntryBody::RatingProof(p) if p.invoice == number => Some(p.blinding),
        _ => None,
    }))
}

impl World {
    /// The administrator admits every member with its role; carriers publish their
    /// conformance declarations; the administrator issues each carrier a jurisdiction
    /// credential and the regulator publishes the embargo list.
    pub fn admit_members(&mut self) -> Result<()> {
        let mut admissions: Vec<(&Member, Role)> =
            self.carriers.iter().map(|c| (&c.member, Role::Member)).collect();
        admissions.push((&self.regulator, Role::Regulator));
        admissions.extend(self.financiers.iter().map(|f| (f, Role::Financier)));
        for (m, role) in admissions {
            self.admin.submit(TxBody::AdmitMember { member: m.party(), role })?;
        }
        let declaration = conformance_declaration();
        for c in &self.carriers {
            c.member.submit(TxBody::PublishConformance(declaration.clone()))?;
        }
        // Each carrier keeps its secret; the administrator sees only the credential's
        // commitment and certifies country and attribute.
        for (i, c) in self.carriers.iter().enumerate() {
            let (country, attribute) = JURISDICTIONS[i];
            let secret = random_secret();
            let credential = JurisdictionCredential::issue(
                Fp::from(0xca_0000 + i as u64),
                country,
                attribute,
                secret_hash(&secret),
            )?;
            let commitment = Hash32(field_to_bytes(&credential.commitment()));
            let events =
                self.admin.submit(TxBody::IssueCredential { member: c.party, commitment })?;
            let leaf = find(&events, "the credential's leaf", |e| match e {
                Event::CredentialIssued { leaf, .. } => Some(*leaf),
                _ => None,
            })?;
            self.credentials.push(CredentialOpening { credential, secret, leaf_index: leaf });
        }
        let embargo = EmbargoList::new(1, EMBARGOED.to_vec())?;
        self.regulator.submit(TxBody::PublishEmbargoList(embargo))?;
        self.say(format!(
            "0. registry: {} carriers, a regulator and {} financiers admitted; each carrier \
             publishes its MEF 114 conformance declaration (R13: {}) and holds a jurisdiction \
             credential; the regulator publishes embargo list v1",
            self.carriers.len(),
            self.financiers.len(),
            matrix_summary(CONFORMANCE_MATRIX)
        ));
        Ok(())
    }

    /// What the registry published for supply-chain maps, as `member` reads it over gRPC.
    fn published(
        member: &Member,
        map: Option<&ComplianceMap>,
    ) -> Result<omni_circuits::compliance::PublishedState> {
        let state = member.query("GetComplianceState", |mut c| async move {
            c.get_compliance_state(GetComplianceStateRequest {}).await
        })?;
        crate::compliance_cmd::published_state(&state, map)
    }

    /// Order O-DA (D sells to A) rests on C's and B's capacity: D, C and B each prove one
    /// hop (credential in the registry's tree, country not embargoed, link to the order);
    /// D records the map on the bilateral — A's node verifies it — and submits it to the
    /// registry; the regulator checks it against what the registry published.
    pub fn supply_chain(&mut self) -> Result<()> {
        let p = self.pairs[DA].clone();
        let (seller, buyer) = (self.carrier(D).party, self.carrier(A).party);
        let chain: [CarrierIx; 3] = [D, C, B];
        let order = "O-DA";
        let order_id = supply_chain_order_id(&p.id, order);
        let published = Self::published(&self.carrier(D).member, None)?;
        let policy = CompliancePolicy::new(vec![1, 2], 4)?;
        let mut map = ComplianceMap::new(
            order_commitment(&order_id),
            policy.clone(),
            &published.embargo,
            published.credential_root,
        );
        let prover = HopProver::shared()?;
        let bar = self.bar("proving supply-chain hops");
        bar.update(0, chain.len());
        for (k, &ix) in chain.iter().enumerate() {
            // Each participant proves alone, with its own credential and the path the
            // registry gives it; only the links pass between them.
            let opening = self.credentials[ix].clone();
            let leaf = opening.leaf_index;
            let answer =
                self.carrier(ix).member.query("GetCredentialPath", |mut c| async move {
                    c.get_credential_path(GetCredentialPathRequest { leaf }).await
                })?;
            let siblings = answer
                .siblings
                .iter()
                .map(|b| {
                    let b: [u8; 32] = b
                        .as_slice()
                        .try_into()
                        .map_err(|_| anyhow!("a path node of {} bytes", b.len()))?;
                    Ok(field_from_bytes(&b)?)
                })
                .collect::<Result<Vec<Fp>>>()?;
            let (link_prev, upstream_count) = map.hop_context(chain.len())?;
            let witness = HopWitness {
                opening,
                path: MerklePath { leaf_index: leaf, siblings },
                credential_root: published.credential_root,
                embargo: published.embargo.clone(),
                policy: policy.clone(),
                link_prev,
                upstream_count,
            };
            map.push(
                prover
                    .prove(&witness)
                    .with_context(|| format!("{}'s hop", self.carrier(ix).name))?,
            );
            bar.update(k + 1, chain.len());
        }
        bar.finish();

        let bytes = map.to_bytes();
        p.append(
            seller,
            EntryBody::SupplyChainMap(SupplyChainMapRecord {
                order: order.into(),
                map: bytes.clone(),
            }),
        )?;
        let buyer_verified = p.read(buyer, |l, id| {
            Ok(l.state(id)?.order(order).is_some_and(|o| {
                o.supply_chain_maps.iter().any(|m| m.commitment == map.commitment())
            }))
        })?;
        let events = self.carrier(D).member.submit(TxBody::SubmitComplianceMap { map: bytes })?;
        let hops = find(&events, "the map verified", |e| match e {
            Event::ComplianceMapVerified { hops, .. } => Some(*hops),
            _ => None,
        })?;

        // The regulator: the map as the buyer holds it, checked on its own against what the
        // registry published, and the registry's status of the order.
        let held = p.read(buyer, |l, id| {
            Ok(l.entries(id, 0)?.into_iter().find_map(|e| match e.body {
                EntryBody::SupplyChainMap(r) if r.order == order => Some(r.map),
                _ => None,
            }))
        })?;
        let held = ComplianceMap::from_bytes(&held.context("the buyer holds no map")?)?;
        let published = Self::published(&self.regulator, Some(&held))?;
        let verified = verify_map(ComplianceVerifier::shared()?, &held, &published)?;
        let status = self.regulator.query("ListComplianceStatus", |mut c| async move {
            c.list_compliance_status(ListComplianceStatusRequest { embargo_version: 0 }).await
        })?;
        let commitment = field_to_bytes(&held.order_commitment);
        let listed = status.orders.iter().find(|o| o.order == commitment);
        let registry_status = listed.map_or("absent".to_string(), |o| o.status.clone());
        let regulator_verified = verified.hops == chain.len()
            && listed.is_some_and(|o| {
                o.status == "compliant" && o.map_commitment == held.commitment().0
            });
        ensure!(
            regulator_verified,
            "the regulator could not confirm the map: registry says {registry_status}"
        );
        self.outcome.compliance_maps_verified += usize::from(buyer_verified && regulator_verified);
        self.outcome.compliance.push(ComplianceLine {
            order: order.into(),
            seller: self.carrier(D).name.clone(),
            buyer: self.carrier(A).name.clone(),
            hops: hops as usize,
            max_hops: policy.max_hops() as usize,
            embargo_version: held.embargo_version,
            embargoed: EMBARGOED.to_vec(),
            buyer_verified,
            registry_status,
            regulator_verified,
            map_commitment: held.commitment().to_hex(),
        });
        self.say(format!(
            "9. supply chain of O-DA: D ← C ← B prove {hops} hops (halo2) without naming \
             themselves; A's node verifies the map, the registry verifies it against embargo \
             list v{}, and the regulator checks it alone: compliant",
            held.embargo_version
        ));
        Ok(())
    }

    /// B finances its Net 60 invoice to D: financier 1 checks it over gRPC (verified,
    /// accepted, not overdue, payer reputation, the opening B shows it) and pledges its
    /// nullifier; financier 2, shown the same invoice, is refused — by its own check and,
    /// when it submits anyway, by the registry.
    pub fn pledge(&mut self) -> Result<()> {
        let ix = self
            .book
            .iter()
            .position(|b| b.pair == BD && b.interval == self.second.id)
            .context("B's Net 60 invoice")?;
        let bk = self.book[ix].clone();
        let invoice = bk.registry.context("the invoice is on the registry")?;
        let opening = InvoiceOpening {
            amount: u64::try_from(bk.total)?,
            blinding: Blinding(bk.blinding.context("a proven invoice")?),
        };
        let policy = FinancingPolicy { min_paydex: Some(50), min_on_time_bp: None };
        let check =
            |fin: &Member| -> Result<omni_registry::Result<omni_registry::pledge::Assessment>> {
                let invoice_id = invoice.0 .0.to_vec();
                let answer = fin.query("GetInvoice", |mut c| async move {
                    c.get_invoice(GetInvoiceRequest { invoice_id }).await
                })?;
                ensure!(answer.found, "the registry does not know invoice {invoice}");
                let record = invoice_from_proto(answer.invoice.as_ref().context("no invoice")?)?;
                let reputation = reputation_from_proto(
                    answer.payer_reputation.as_ref().context("no reputation")?,
                )?;
                let pledged = |n: &Nullifier| {
                    let nullifier = n.0.to_vec();
                    fin.query("CheckPledge", |mut c| async move {
                        c.check_pledge(CheckPledgeRequest { nullifier }).await
                    })
                    // A check that cannot be made counts as pledged: never finance blind.
                    .map_or(true, |r| r.pledged)
                };
                Ok(assess(&record, &opening, &reputation, pledged, wall_clock()?, &policy))
            };
        let first = check(&self.financiers[0])?.map_err(|e| anyhow!("financier 1's check: {e}"))?;
        let events = self.financiers[0].submit(TxBody::Pledge { nullifier: first.nullifier })?;
        find(&events, "the pledge", |e| matches!(e, Event::InvoicePledged { .. }).then_some(()))?;
        let own_check = match check(&self.financiers[1])? {
            Err(e @ omni_registry::Error::AlreadyPledged(_)) => e.to_string(),
            Err(e) => bail!("financier 2's check failed for another reason: {e}"),
            Ok(_) => bail!("financier 2's check would finance a pledged invoice"),
        };
        // The registry's own words for it, which its refusal must carry.
        let already_pledged = omni_registry::Error::AlreadyPledged(first.nullifier).to_string();
        let registry_refusal =
            match self.financiers[1].submit(TxBody::Pledge { nullifier: first.nullifier }) {
                Err(r) if r.message == already_pledged => r.message,
                Err(r) => return Err(r.into()),
                Ok(_) => bail!("the registry accepted a second pledge of the same invoice"),
            };
        self.outcome.double_pledge_refused = true;
        self.book[ix].notes.push(format!("pledged to {}", self.financiers[0].name));
        self.outcome.pledge = Some(PledgeLine {
            invoice: bk.number.clone(),
            seller: self.carrier(bk.seller).name.clone(),
            amount: first.amount,
            due_date: first.due_date,
            payer_paydex: first.reputation.paydex,
            financier: self.financiers[0].name.clone(),
            nullifier: first.nullifier.to_string(),
            second_financier: self.financiers[1].name.clone(),
            second_check: own_check,
            registry_refusal,
        });
        self.say(format!(
            "10. {} pledges {} (B's Net 60 invoice to D) under its nullifier; {} is refused the \
             same invoice by its own check and by the registry (already pledged)",
            self.financiers[0].name, bk.number, self.financiers[1].name
        ));
        Ok(())
    }

    /// `who`'s net position in the cycle, from its own ledgers: receivables minus payables
    /// among `invoices`, with the matching sum of blindings.
    fn own_net(&self, who: CarrierIx, invoices: &BTreeSet<InvoiceId>) -> Result<(Micros, Scalar)> {
        let me = self.carrier(who).party;
        let (mut net, mut r) = (0i64, Scalar::from(0u64));
        for p in self.pairs.iter().filter(|p| p.counterparty_name(me).is_ok()) {
            let mine: Vec<(String, Micros, bool)> = p.read(me, |l, id| {
                Ok(l.state(id)?
                    .invoices()
                    .filter(|i| invoices.contains(&registry_invoice_id(id, &i.invoice.number)))
                    .map(|i| (i.invoice.number.clone(), i.invoice.total, i.seller == me))
                    .collect())
            })?;
            for (number, total, receivable) in mine {
                let blinding = p
                    .read(me, |l, id| proof_blinding(l, id, &number))?
                    .with_context(|| format!("{number} has no rating proof on the ledger"))?;
                let b = commitment::decode_blinding(&Blinding(blinding))?;
                if receivable {
                    net += total;
                    r += b;
                } else {
                    net -= total;
                    r -= b;
                }
            }
        }
        Ok((net, r))
    }

    /// A multi-party netting cycle among the four carriers over their accepted invoices due
    /// by the cut-off: each opens only its own net position (checked by the registry
    /// against the sum of the commitments), the registry instructs the fewest transfers,
    /// the receivers confirm them, and the ledgers record the invoices as settled.
    pub fn netting_cycle(&mut self) -> Result<()> {
        let cutoff = self
            .book
            .iter()
            .filter(|b| b.registry.is_some() && b.interval == self.second.id && b.pair != BD)
            .map(|b| b.due_date)
            .max()
            .context("no invoice to net")?;
        let everyone = [A, B, C, D];
        let participants = everyone.iter().map(|&c| self.carrier(c).party).collect();
        let events = self.carrier(A).member.submit(TxBody::OpenNettingCycle {
            currency: Currency::EUR,
            cutoff,
            participants,
        })?;
        let cycle = find(&events, "the cycle", |e| match e {
            Event::NettingCycleOpened { cycle, .. } => Some(*cycle),
            _ => None,
        })?;
        for &c in &everyone[1..] {
            self.carrier(c).member.submit(TxBody::JoinNettingCycle { cycle })?;
        }
        let read = |m: &Member| {
            m.query("GetNettingCycle", |mut c| async move {
                c.get_netting_cycle(GetNettingCycleRequest { cycle }).await
            })?
            .cycle
            .context("the registry does not know the cycle")
        };
        let locked = read(&self.carrier(A).member)?;
        let ids: BTreeSet<InvoiceId> = locked
            .invoices
            .iter()
            .map(|b| Ok(InvoiceId(Hash32(b.as_slice().try_into()?))))
            .collect::<Result<_>>()?;
        let mut nets = Vec::new();
        for &c in &everyone {
            let (net, r) = self.own_net(c, &ids)?;
            // Checked against the registry's homomorphic sum before it is opened.
            let mine = locked.participants.iter().find(|p| p.party == self.carrier(c).party.0);
            let position = mine.context("not a participant")?.position_commitment.as_slice();
            let position =
                commitment::decode(&omni_registry::tx::AmountCommitment(position.try_into()?))?;
            ensure!(
                commitment::opens_to_signed(&position, net, &r),
                "{}'s opening does not match",
                self.carrier(c).name
            );
            self.carrier(c).member.submit(TxBody::SubmitNetOpening {
                cycle,
                amount: net,
                blinding: commitment::encode_blinding(&r),
            })?;
            nets.push((self.carrier(c).name.clone(), net));
        }
        let instructed = read(&self.carrier(A).member)?;
        let name_of = |party: &[u8]| {
            self.carriers
                .iter()
                .find(|c| c.party.0 == party)
                .map_or("?".to_string(), |c| c.name.clone())
        };
        // Each debtor pays (off-ledger, e.g. SEPA); each receiver confirms.
        let mut transfers = Vec::new();
        for ins in &instructed.instructions {
            let to = self
                .carriers
                .iter()
                .find(|c| c.party.0 == ins.to.as_slice())
                .context("a transfer to a non-participant")?;
            to.member.submit(TxBody::ConfirmSettlement { cycle, instruction: ins.index })?;
            transfers.push(Transfer {
                from: name_of(&ins.from),
                to: name_of(&ins.to),
                amount: ins.amount,
            });
        }
        let settled = read(&self.regulator)?;
        ensure!(settled.phase == "settled", "the cycle is {}, not settled", settled.phase);

        // The bilaterals record each netted invoice as settled by the cycle.
        let netted: Vec<usize> = (0..self.book.len())
            .filter(|&i| self.book[i].registry.is_some_and(|id| ids.contains(&id)))
            .collect();
        let reference = format!("settled in omni-lateral netting cycle {cycle}");
        let mut gross = 0;
        for &ix in &netted {
            let bk = self.book[ix].clone();
            let payment = format!("PAY-{}", bk.number);
            let (bilateral, bill_no, micros) =
                (self.pairs[bk.pair].id.0.to_hex(), bk.number.clone(), bk.total);
            let (pay, refer) = (payment.clone(), reference.clone());
            self.carrier(bk.buyer).billing("NotifyPayment", |mut c| async move {
                c.notify_payment(NotifyPaymentRequest {
                    bilateral,
                    bill_no,
                    payment: pay,
                    micros,
                    reference: refer,
                    netting: String::new(),
                })
                .await
            })?;
            self.pairs[bk.pair].deliver(self.carrier(bk.buyer).party)?;
            let receipt = EntryBody::PaymentReceipt(PaymentReceipt {
                payment,
                target: SettlementRef::Invoice(bk.number.clone()),
                amount: bk.total,
            });
            self.pairs[bk.pair].append(self.carrier(bk.seller).party, receipt)?;
            self.book[ix].notes.push(format!("netted in cycle {cycle}"));
            gross += bk.total;
        }
        let optimal: Micros = nets.iter().map(|(_, n)| (*n).max(0)).sum();
        let settled_volume: Micros = transfers.iter().map(|t| t.amount).sum();
        self.outcome.netting = Some(NettingLine {
            cycle,
            invoices: netted.len(),
            gross,
            settled: settled_volume,
            optimal,
            registry_settled_volume: settled.settled_volume.clone(),
            nets,
            transfers,
        });
        self.say(format!(
            "11. netting cycle {cycle}: A, B, C and D join; {} invoices locked; each opens only its own \
             net; the registry instructs {} transfers of {} EUR in all instead of {} EUR gross; \
             receivers confirm; the cycle is settled",
            netted.len(),
            instructed.instructions.len(),
            omni_core::money::format_micros(settled_volume),
            omni_core::money::format_micros(gross)
        ));
        Ok(())
    }

    /// Each carrier anchors its view of each of its bilaterals' heads on the registry
    /// (R24), so that its counterparty cannot censor what it has appended.
    pub fn anchor_heads(&mut self) -> Result<()> {
        let mut anchors = 0;
        for p in &self.pairs {
            for node in p.nodes() {
                let (party, head) = {
                    let l = lock(node)?;
                    (l.key(), l.state(&p.id)?.head())
                };
                let m =
                    &self.carriers.iter().find(|c| c.party == party).context("a carrier")?.member;
                m.submit(TxBody::AnchorHead { bilateral: p.id.0, seq: head.seq, head: head.hash })?;
                anchors += 1;
            }
        }
        self.outcome.anchors = anchors;
        self.say(format!("12. each carrier anchors its bilaterals' heads on the registry ({anchors} anchors, R24)"));
        Ok(())
    }

    /// Each payer's reputation as a financier reads it from the registry.
    pub fn reputations(&mut self) -> Result<()> {
        for c in &self.carriers {
            let payer = c.party.0.to_vec();
            let answer = self.financiers[0].query("GetReputation", |mut rpc| async move {
                rpc.get_reputation(GetReputationRequest { payer, at_time: 0 }).await
            })?;
            let r = reputation_from_proto(answer.reputation.as_ref().context("no reputation")?)?;
            self.outcome.reputation.push(ReputationLine {
                payer: c.name.clone(),
                invoices: r.invoices,
                assessed: r.assessed,
                paid_on_time: r.paid_on_time,
                paid_late: r.paid_late,
                overdue: r.overdue,
                on_time_ratio_bp: r.on_time_ratio_bp,
                average_days_beyond_terms: r.average_days_beyond_terms,
                paydex: r.paydex,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_declaration_states_the_matrix_summary() {
        let summary = matrix_summary(CONFORMANCE_MATRIX);
        assert!(summary.contains(" met, ") && summary.contains(" open"), "{summary}");
        assert!(summary.ends_with("total"), "{summary}");
        let d = conformance_declaration();
        assert!(d.statement.len() <= omni_registry::tx::MAX_STATEMENT_BYTES);
        assert_eq!(
            d.document_hash.0,
            <[u8; 32]>::from(Sha256::digest(CONFORMANCE_MATRIX.as_bytes()))
        );
        assert_eq!(matrix_summary("no summary"), "");
    }
}
