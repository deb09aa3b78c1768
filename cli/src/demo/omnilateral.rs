//! The registry side of the story: admission, conformance declarations (R13),
//! jurisdiction credentials and an embargo list, a supply-chain map checked as a
//! regulator would, a financier's pledge and a refused second pledge, a multi-party
//! netting cycle with its settlement instructions, anchored heads and the payers'
//! reputations. What a carrier's node holds (the supply-chain map of an order, the opening
//! of an invoice's amount, its net position) comes from the node's API, and the node
//! reports what it records (the map, the anchors); what no node does yet goes through
//! [`super::network::Member::submit`]; every query goes over gRPC.

use super::billing::{BD, DA};
use super::network::{wait_for, Member};
use super::report::{ComplianceLine, NettingLine, PledgeLine, ReputationLine, Transfer};
use super::story::{CarrierIx, World, A, B, C, D};
use anyhow::{anyhow, bail, ensure, Context, Result};
use omni_circuits::compliance::credential::{random_secret, secret_hash};
use omni_circuits::compliance::{
    field_to_bytes, order_commitment, verify_map, ComplianceMap, CompliancePolicy,
    ComplianceVerifier, CredentialOpening, EmbargoList, Fp, HopProver, HopWitness,
    JurisdictionCredential,
};
use omni_core::{Hash32, Micros};
use omni_node::api::proto::{
    BillRef, ConfirmSettlementRequest, CycleRef, OpenCycleRequest, RecordSupplyChainMapRequest,
};
use omni_node::entry::supply_chain_order_id;
use omni_registry::pledge::{assess, FinancingPolicy, InvoiceOpening};
use omni_registry::tx::{Blinding, ConformanceDeclaration, InvoiceId, Nullifier};
use omni_registry::{Event, Role, TxBody};
use omni_registry_protocol::convert::{
    credits_from_proto, invoice_from_proto, reputation_from_proto,
};
use omni_registry_protocol::proto::{
    CheckPledgeRequest, GetComplianceStateRequest, GetCredentialPathRequest, GetInvoiceRequest,
    GetNettingCycleRequest, GetReputationRequest, ListAnchorsRequest, ListComplianceStatusRequest,
};
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
    /// D's node records the map on the bilateral — A's node verifies it before storing it —
    /// and reports it to the registry, which verifies it too; the regulator checks it
    /// against what the registry published.
    pub fn supply_chain(&mut self) -> Result<()> {
        let p = self.pairs[DA].clone();
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
            let path = crate::supply_chain_cmd::credential_path(&answer)?;
            let (link_prev, upstream_count) = map.hop_context(chain.len())?;
            let witness = HopWitness {
                opening,
                path,
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
        let file = self.root.join("terms").join(format!("{order}.map"));
        std::fs::write(&file, &bytes)
            .with_context(|| format!("cannot write {}", file.display()))?;
        let (bilateral, o, m) = (p.hex(), order.to_string(), bytes.clone());
        let ack = self.carrier(D).lifecycle("RecordSupplyChainMap", |mut c| async move {
            c.record_supply_chain_map(RecordSupplyChainMapRequest { bilateral, order: o, map: m })
                .await
        })?;
        // A's node stores the map only once it has verified every hop proof: delivered is
        // verified (the wait fails otherwise).
        self.deliver(DA, D, &ack)?;
        let buyer_verified = true;
        let hops = map.hops.len();

        // The regulator: the map on its own, checked against what the registry published,
        // and the registry's status of the order (D's node reported the map).
        let held = ComplianceMap::from_bytes(&bytes)?;
        let published = Self::published(&self.regulator, Some(&held))?;
        let verified = verify_map(ComplianceVerifier::shared()?, &held, &published)?;
        let commitment = field_to_bytes(&held.order_commitment);
        let listed = wait_for("the registry to list the order's map", || {
            let status = self.regulator.query("ListComplianceStatus", |mut c| async move {
                c.list_compliance_status(ListComplianceStatusRequest { embargo_version: 0 }).await
            })?;
            Ok(status.orders.into_iter().find(|o| o.order == commitment))
        })
        .map_err(|e| self.with_outboxes(e))?;
        let registry_status = listed.status.clone();
        let regulator_verified = verified.hops == chain.len()
            && listed.status == "compliant"
            && listed.map_commitment == held.commitment().0;
        ensure!(
            regulator_verified,
            "the regulator could not confirm the map: registry says {registry_status}"
        );
        self.outcome.compliance_maps_verified += usize::from(buyer_verified && regulator_verified);
        self.outcome.compliance.push(ComplianceLine {
            order: order.into(),
            seller: self.carrier(D).name.clone(),
            buyer: self.carrier(A).name.clone(),
            hops,
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
             themselves; D's node records the map, A's node verifies it, D's node reports it and \
             the registry verifies it against embargo list v{}; the regulator checks it alone: \
             compliant",
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
        // The opening B's node exports for the financier B chooses.
        let (bilateral, bill_no) = (self.pairs[bk.pair].hex(), bk.number.clone());
        let exported =
            self.carrier(bk.seller).billing("ExportBillOpening", |mut c| async move {
                c.export_bill_opening(BillRef { bilateral, bill_no }).await
            })?;
        let blinding: [u8; 32] = hex::decode(&exported.blinding)?
            .try_into()
            .map_err(|_| anyhow!("the exported blinding is not 32 bytes"))?;
        let credits = exported
            .credits
            .iter()
            .map(|c| Ok((Hash32::from_hex(&c.reference)?, u64::try_from(c.micros)?)))
            .collect::<Result<Vec<_>>>()?;
        let opening = InvoiceOpening {
            amount: u64::try_from(exported.micros)?,
            blinding: Blinding(blinding),
            credits,
        };
        let policy = FinancingPolicy { min_paydex: Some(50), min_on_time_bp: None };
        let check =
            |fin: &Member| -> Result<omni_registry::Result<omni_registry::pledge::Assessment>> {
                let invoice_id = invoice.0 .0.to_vec();
                let answer = fin.query("GetInvoice", |mut c| async move {
                    c.get_invoice(GetInvoiceRequest { invoice_id }).await
                })?;
                ensure!(answer.found, "the registry does not know invoice {invoice}");
                let found = answer.invoice.as_ref().context("no invoice")?;
                let (record, credits) = (invoice_from_proto(found)?, credits_from_proto(found)?);
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
                Ok(assess(
                    &record,
                    &credits,
                    &opening,
                    &reputation,
                    pledged,
                    omni_core::Clock::System.now(),
                    &policy,
                ))
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

    /// A multi-party netting cycle among the four carriers over their accepted invoices due
    /// by the cut-off, each step through the carrier's own node (`Netting` service, what
    /// `omni netting open|join|reveal|confirm|record` call): A opens it, the others join;
    /// each node opens only its own net, computed from its ledgers and checked against the
    /// registry's sum of the commitments; the registry instructs the fewest transfers; the
    /// receivers confirm them; then each bilateral records the cycle's result (MEF 114
    /// CR22), proposed by one party and accepted by the other, instead of payments.
    pub fn netting_cycle(&mut self) -> Result<()> {
        let mut cutoff = None;
        for (ix, b) in self.book.iter().enumerate() {
            if b.registry.is_some() && b.interval == self.second.id && b.pair != BD {
                cutoff = cutoff.max(Some(self.registry_invoice(ix)?.due_date));
            }
        }
        let cutoff = omni_node::api::rfc3339(cutoff.context("no invoice to net")?);
        let everyone = [A, B, C, D];
        let participants: Vec<String> =
            everyone[1..].iter().map(|&c| self.carrier(c).party.to_hex()).collect();
        let opened = self.carrier(A).netting("OpenCycle", |mut c| async move {
            c.open_cycle(OpenCycleRequest { currency: "EUR".into(), cutoff, participants }).await
        })?;
        let cycle = opened.cycle;
        for &c in &everyone[1..] {
            self.carrier(c).netting("JoinCycle", |mut n| async move {
                n.join_cycle(CycleRef { cycle }).await
            })?;
        }
        let mut nets = Vec::new();
        for &c in &everyone {
            let revealed = self.carrier(c).netting("RevealNet", |mut n| async move {
                n.reveal_net(CycleRef { cycle }).await
            })?;
            let net = revealed.cycle_view.context("the cycle after the opening")?.own_net;
            nets.push((self.carrier(c).name.clone(), net));
        }
        let view = self
            .carrier(A)
            .netting("GetCycle", |mut n| async move { n.get_cycle(CycleRef { cycle }).await })?;
        let ids: BTreeSet<InvoiceId> = view
            .invoices
            .iter()
            .map(|h| Ok(InvoiceId(Hash32::from_hex(h)?)))
            .collect::<Result<_>>()?;
        let name_of = |party: &str| {
            self.carriers
                .iter()
                .find(|c| c.party.to_hex() == party)
                .map_or("?".to_string(), |c| c.name.clone())
        };
        // Each debtor pays (off-ledger, e.g. SEPA); each receiver's node confirms.
        let transfers: Vec<Transfer> = view
            .instructions
            .iter()
            .map(|i| Transfer { from: name_of(&i.from), to: name_of(&i.to), amount: i.micros })
            .collect();
        let receivers: BTreeSet<&str> = view.instructions.iter().map(|i| i.to.as_str()).collect();
        for to in receivers {
            let c = self
                .carriers
                .iter()
                .find(|c| c.party.to_hex() == to)
                .context("a transfer to a non-participant")?;
            c.netting("ConfirmSettlement", |mut n| async move {
                n.confirm_settlement(ConfirmSettlementRequest { cycle, instruction: None }).await
            })?;
        }
        let settled = self.regulator.query("GetNettingCycle", |mut c| async move {
            c.get_netting_cycle(GetNettingCycleRequest { cycle }).await
        })?;
        let settled = settled.cycle.context("the registry does not know the cycle")?;
        ensure!(settled.phase == "settled", "the cycle is {}, not settled", settled.phase);

        // Each bilateral records the cycle's result: the party with the lower key proposes
        // it, the other accepts it once it arrived; the registry already shows the invoices
        // paid by the cycle, so the nodes have nothing more to report.
        wait_for("every bilateral to record the netting cycle's result", || {
            let mut done = true;
            for &c in &everyone {
                let recorded =
                    self.carrier(c).netting("RecordCycleResult", |mut n| async move {
                        n.record_cycle_result(CycleRef { cycle }).await
                    })?;
                done &=
                    recorded.results.iter().all(|r| r.step == "recorded" || r.step == "accepted");
            }
            Ok(done.then_some(()))
        })
        .map_err(|e| self.with_outboxes(e))?;
        let netted: Vec<usize> = (0..self.book.len())
            .filter(|&i| self.book[i].registry.is_some_and(|id| ids.contains(&id)))
            .collect();
        let mut gross = 0;
        for &ix in &netted {
            gross += self.book[ix].total;
            self.book[ix].notes.push(format!("netted in cycle {cycle}"));
        }
        let optimal: Micros = nets.iter().map(|(_, n)| (*n).max(0)).sum();
        let settled_volume: Micros = transfers.iter().map(|t| t.amount).sum();
        let instructed = transfers.len();
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
            "11. netting cycle {cycle}: A, B, C and D join through their nodes; {} invoices locked; \
             each node opens only its own net; the registry instructs {instructed} transfers of {} \
             EUR in all instead of {} EUR gross; receivers confirm; each bilateral records the \
             cycle's result (CR22)",
            netted.len(),
            omni_core::money::format_micros(settled_volume),
            omni_core::money::format_micros(gross)
        ));
        Ok(())
    }

    /// Each carrier's node anchors its view of each of its bilaterals' heads on the
    /// registry (R24), so that its counterparty cannot censor what it has appended: the
    /// story waits until the registry shows both nodes' anchors of every final head.
    pub fn anchor_heads(&mut self) -> Result<()> {
        let mut anchors = 0;
        for p in &self.pairs {
            let head = self.carrier(p.ends[0]).head(&p.id)?.context("a bilateral's head")?;
            let parties: Vec<Vec<u8>> =
                p.ends.iter().map(|&e| self.carrier(e).party.0.to_vec()).collect();
            let bilateral = p.id.0 .0.to_vec();
            let what = format!("both nodes' anchors of {} at entry {head}", p.reference);
            wait_for(&what, || {
                let bilateral = bilateral.clone();
                let listed = self.regulator.query("ListAnchors", |mut c| async move {
                    c.list_anchors(ListAnchorsRequest { bilateral }).await
                })?;
                let by = |party: &Vec<u8>| {
                    listed.anchors.iter().any(|a| a.anchored_by == *party && a.seq == head)
                };
                Ok(parties.iter().all(by).then_some(()))
            })
            .map_err(|e| self.with_outboxes(e))?;
            anchors += parties.len();
        }
        self.outcome.anchors = anchors;
        self.say(format!(
            "12. each carrier's node has anchored its bilaterals' heads on the registry \
             ({anchors} anchors of the final heads, R24)"
        ));
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
