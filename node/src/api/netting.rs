//! `Netting.*`: omni-lateral (multi-party) netting cycles on the registry, from this
//! node's party's side (MEF 114 §8.6.3 beyond two parties; CR22 for the result).
//!
//! Every registry step is signed with the node's key and sent through its registry outbox
//! as a fact (`OpenCycle` of the same cycle twice, or `JoinCycle` of one cycle twice, is
//! one transaction), and the call waits until the registry executed it. `RevealNet`
//! computes the party's own net position from its ledgers ([`net_position`]) and checks it
//! against the registry's homomorphic sum of the locked invoices' commitments before
//! opening it. `RecordCycleResult` puts a settled cycle on each bilateral it settles as a
//! [`CycleNetting`] entry: the party with the lower key proposes it, the other accepts —
//! each only after the registry shows the cycle settled with exactly those invoices.

use super::proto::netting_server::Netting;
use super::{ack, proto, status_of, NodeContext};
use crate::entry::{BilateralId, EntryBody};
use crate::net_position::net_position;
use crate::registry_client::{event_fields, registry_invoice_id, RegistryClient};
use crate::settlement::{CycleNetting, SettlementRef};
use crate::state::{Agreement, Subject};
use crate::Ledger;
use omni_core::{Currency, Hash32, PartyId};
use omni_registry_protocol::proto as registry;
use omni_registry_types::commitment;
use omni_registry_types::tx::{AmountCommitment, Blinding, CycleId, InvoiceId, TxBody};
use std::collections::BTreeSet;
use std::time::Duration;
use tonic::{Request, Response, Status};

/// How long a step waits for the registry to execute its transaction.
const COMMIT_TIMEOUT: Duration = Duration::from_secs(30);

/// The `Netting` service.
pub struct NettingApi {
    node: NodeContext,
}

impl NettingApi {
    /// Serves `node`.
    pub fn new(node: NodeContext) -> Self {
        NettingApi { node }
    }

    fn outbox(&self) -> Result<&RegistryClient, Status> {
        self.node.outbox.as_ref().ok_or_else(|| {
            Status::failed_precondition("this node reports to no registry ([registry] endpoint)")
        })
    }

    /// Sends `body` as the fact `what` and waits until the registry executed it; answers
    /// its transaction hash and events.
    async fn send(
        &self,
        what: &str,
        body: TxBody,
    ) -> Result<(Hash32, Vec<registry::Event>), Status> {
        let outbox = self.outbox()?;
        let kind = body.kind();
        let fact = Hash32::digest("omni/node/netting-step", &omni_core::encode(&(what, &body)));
        let (id, _) =
            outbox.submit_once(&fact, body).map_err(|e| Status::internal(e.to_string()))?;
        self.node.appended();
        let outcome = outbox
            .outcome(id, COMMIT_TIMEOUT)
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        match outcome {
            Some(Ok(delivered)) => Ok((delivered.tx_hash, outbox.events(&delivered).await)),
            Some(Err(refusal)) => Err(Status::failed_precondition(format!(
                "the registry refused {kind}: {} ({})",
                refusal.reason, refusal.code
            ))),
            None => Err(Status::unavailable(format!(
                "the registry did not execute the {kind} within {} s; it stays queued and is sent \
                 when the registry answers",
                COMMIT_TIMEOUT.as_secs()
            ))),
        }
    }

    /// The cycle as the registry shows it.
    async fn cycle(&self, cycle: CycleId) -> Result<registry::NettingCycle, Status> {
        registry_cycle(self.outbox()?, cycle).await
    }

    /// The cycle and this party's part in it.
    async fn view(&self, cycle: CycleId) -> Result<proto::CycleView, Status> {
        let c = self.cycle(cycle).await?;
        let locked = locked_invoices(&c)?;
        let (own_net, own_invoices) = self
            .node
            .with_ledger(move |ledger| {
                let p = net_position(ledger, &locked)
                    .map_err(|e| Status::failed_precondition(e.to_string()))?;
                Ok((p.micros, p.invoices.len() as u32))
            })
            .await?;
        Ok(view_of(&c, own_net, own_invoices))
    }

    async fn acked(
        &self,
        cycle: CycleId,
        txs: Vec<Hash32>,
    ) -> Result<Response<proto::CycleAck>, Status> {
        let view = self.view(cycle).await?;
        Ok(Response::new(proto::CycleAck {
            cycle,
            txs: txs.iter().map(Hash32::to_hex).collect(),
            cycle_view: Some(view),
        }))
    }
}

/// Cycle `cycle` as the registry behind `outbox` shows it.
pub(crate) async fn registry_cycle(
    outbox: &RegistryClient,
    cycle: CycleId,
) -> Result<registry::NettingCycle, Status> {
    let mut rpc = outbox.query_client();
    let answer = rpc
        .get_netting_cycle(registry::GetNettingCycleRequest { cycle })
        .await
        .map_err(|s| Status::unavailable(format!("the registry: {}", s.message())))?
        .into_inner();
    answer
        .cycle
        .filter(|_| answer.found)
        .ok_or_else(|| Status::not_found(format!("the registry holds no netting cycle {cycle}")))
}

/// Checks that the result `netting` proposed on bilateral `id` is what the registry's
/// settled cycle `c` settled there: the same invoices, no more, no fewer.
pub(crate) fn check_result(
    c: &registry::NettingCycle,
    ledger: &Ledger,
    id: BilateralId,
    netting: &str,
) -> Result<(), Status> {
    let settled = check_settled(c, ledger)?;
    let invoices = settled.into_iter().find(|(b, _)| *b == id).map(|(_, i)| i).unwrap_or_default();
    let state = ledger.state(&id).map_err(|e| status_of(&e))?;
    let proposed = state
        .netting(netting)
        .ok_or_else(|| Status::failed_precondition(format!("bilateral {id}: no {netting}")))?;
    // Its credit notes go with the invoices (`crate::invoice_credit`); the invoices are
    // what the registry settled.
    let documents: BTreeSet<SettlementRef> = proposed
        .netting
        .documents
        .iter()
        .filter(|d| matches!(d, SettlementRef::Invoice(_)))
        .cloned()
        .collect();
    let expected: BTreeSet<SettlementRef> =
        invoices.into_iter().map(SettlementRef::Invoice).collect();
    if documents != expected {
        return Err(Status::failed_precondition(format!(
            "bilateral {id}: {netting} nets {} invoices, the registry's cycle {} settled {} of \
             this bilateral's: not accepted",
            documents.len(),
            c.id,
            expected.len()
        )));
    }
    Ok(())
}

/// The registry invoice ids a cycle locked.
fn locked_invoices(c: &registry::NettingCycle) -> Result<BTreeSet<InvoiceId>, Status> {
    c.invoices
        .iter()
        .map(|b| {
            let a: [u8; 32] = b
                .as_slice()
                .try_into()
                .map_err(|_| Status::internal("the registry named an invoice of bad length"))?;
            Ok(InvoiceId(Hash32(a)))
        })
        .collect()
}

fn view_of(c: &registry::NettingCycle, own_net: i64, own_invoices: u32) -> proto::CycleView {
    proto::CycleView {
        cycle: c.id,
        phase: c.phase.clone(),
        currency: c.currency.clone(),
        cutoff: super::rfc3339(c.cutoff),
        opener: hex::encode(&c.opener),
        participants: c
            .participants
            .iter()
            .map(|p| proto::CycleParticipant {
                party: hex::encode(&p.party),
                joined: p.joined,
                net: p.net,
            })
            .collect(),
        invoices: c.invoices.iter().map(hex::encode).collect(),
        instructions: c
            .instructions
            .iter()
            .map(|i| proto::CycleInstruction {
                index: i.index,
                from: hex::encode(&i.from),
                to: hex::encode(&i.to),
                micros: i.amount,
                confirmed: i.confirmed_at.is_some(),
            })
            .collect(),
        settled_volume: c.settled_volume.clone(),
        settled_at: c.settled_at.map(super::rfc3339).unwrap_or_default(),
        own_net,
        own_invoices,
    }
}

fn party(hex: &str) -> Result<PartyId, Status> {
    PartyId::from_hex(hex)
        .map_err(|e| Status::invalid_argument(format!("participant {hex:?}: {e}")))
}

/// A cut-off: RFC 3339, or a date meaning the end of that day (UTC).
fn cutoff(s: &str) -> Result<u64, Status> {
    if let Some(t) = crate::terms::parse_time(s) {
        return Ok(t);
    }
    crate::terms::parse_time(&format!("{s}T23:59:59Z")).ok_or_else(|| {
        Status::invalid_argument(format!("cutoff {s:?}: an RFC 3339 date-time or YYYY-MM-DD"))
    })
}

/// Which of this node's bilaterals' invoices a settled cycle settled, by bilateral.
fn settled_on_ledger(
    ledger: &Ledger,
    locked: &BTreeSet<InvoiceId>,
) -> Vec<(BilateralId, Vec<String>)> {
    let mut out = Vec::new();
    for id in ledger.bilaterals() {
        let Ok(state) = ledger.state(&id) else { continue };
        let numbers: Vec<String> = state
            .invoices()
            .filter(|inv| locked.contains(&registry_invoice_id(&id, &inv.invoice.number)))
            .map(|inv| inv.invoice.number.clone())
            .collect();
        if !numbers.is_empty() {
            out.push((id, numbers));
        }
    }
    out
}

/// Proposes or accepts the result of `cycle` on bilateral `id` (module docs).
fn record_on(
    ledger: &mut Ledger,
    c: &registry::NettingCycle,
    id: BilateralId,
    invoices: Vec<String>,
) -> Result<proto::CycleResult, Status> {
    let cycle = c.id;
    let netting = CycleNetting::netting_id(cycle);
    let me = ledger.party(&id).map_err(|e| status_of(&e))?;
    let state = ledger.state(&id).map_err(|e| status_of(&e))?;
    let counterparty = state.snapshot().contract.counterparty(&me).ok_or_else(|| {
        Status::internal(format!("bilateral {id}: no counterparty of this node's party"))
    })?;
    let mut result = proto::CycleResult {
        bilateral: id.to_string(),
        netting: netting.clone(),
        invoices: invoices.clone(),
        step: String::new(),
        entry: None,
    };
    if let Some(n) = state.netting(&netting) {
        let status = n.status;
        check_result(c, ledger, id, &netting)?;
        let state = ledger.state(&id).map_err(|e| status_of(&e))?;
        let pending = state
            .pending()
            .find(|p| p.subject == Subject::Netting(netting.clone()) && p.proposer != me)
            .map(|p| p.seq);
        match (&status, pending) {
            (Agreement::Proposed, Some(seq)) => {
                let entry = ledger.accept(&id, seq).map_err(|e| status_of(&e))?;
                result.step = "accepted".into();
                result.entry = Some(ack(&entry));
            }
            (Agreement::Proposed, None) => result.step = "proposed".into(),
            (Agreement::Accepted, _) => result.step = "recorded".into(),
            (Agreement::Rejected, _) => {
                return Err(Status::failed_precondition(format!(
                    "bilateral {id}: the counterparty rejected {netting}"
                )))
            }
        }
        return Ok(result);
    }
    // One proposer per bilateral, so that the two nodes never write at once.
    if me > counterparty {
        result.step = "awaiting".into();
        return Ok(result);
    }
    let entry = ledger
        .append(&id, EntryBody::CycleNetting(CycleNetting { cycle, invoices }))
        .map_err(|e| status_of(&e))?;
    result.step = "proposed".into();
    result.entry = Some(ack(&entry));
    Ok(result)
}

/// Checks that the registry's cycle is settled and, for each bilateral, that it locked
/// exactly `invoices` of it; answers the bilaterals with the invoices it settled.
pub(crate) fn check_settled(
    c: &registry::NettingCycle,
    ledger: &Ledger,
) -> Result<Vec<(BilateralId, Vec<String>)>, Status> {
    if c.phase != "settled" {
        return Err(Status::failed_precondition(format!(
            "netting cycle {} is {} on the registry, not settled",
            c.id, c.phase
        )));
    }
    Ok(settled_on_ledger(ledger, &locked_invoices(c)?))
}

#[tonic::async_trait]
impl Netting for NettingApi {
    async fn open_cycle(
        &self,
        request: Request<proto::OpenCycleRequest>,
    ) -> Result<Response<proto::CycleAck>, Status> {
        let r = request.into_inner();
        let currency = Currency::new(&r.currency)
            .map_err(|e| Status::invalid_argument(format!("currency {:?}: {e}", r.currency)))?;
        let cutoff = cutoff(&r.cutoff)?;
        let mut participants: Vec<PartyId> =
            r.participants.iter().map(|p| party(p)).collect::<Result<_, _>>()?;
        participants.push(self.outbox()?.member());
        participants.sort();
        participants.dedup();
        let body = TxBody::OpenNettingCycle { currency, cutoff, participants };
        let (tx, events) = self.send("open", body).await?;
        let cycle = event_fields(&events, "NettingCycleOpened")
            .and_then(|v| v["cycle"].as_u64())
            .ok_or_else(|| {
            Status::internal("the registry did not say which cycle it opened")
        })?;
        self.acked(cycle, vec![tx]).await
    }

    async fn join_cycle(
        &self,
        request: Request<proto::CycleRef>,
    ) -> Result<Response<proto::CycleAck>, Status> {
        let cycle = request.into_inner().cycle;
        let (tx, _) = self.send("join", TxBody::JoinNettingCycle { cycle }).await?;
        self.acked(cycle, vec![tx]).await
    }

    async fn reveal_net(
        &self,
        request: Request<proto::CycleRef>,
    ) -> Result<Response<proto::CycleAck>, Status> {
        let cycle = request.into_inner().cycle;
        let c = self.cycle(cycle).await?;
        if c.phase != "opening" {
            return Err(Status::failed_precondition(format!(
                "netting cycle {cycle} is {}: net positions are opened in the opening phase",
                c.phase
            )));
        }
        let me = self.outbox()?.member();
        let mine = c.participants.iter().find(|p| p.party == me.0).ok_or_else(|| {
            Status::failed_precondition(format!("this party is not in cycle {cycle}"))
        })?;
        let position: [u8; 32] =
            mine.position_commitment.as_slice().try_into().map_err(|_| {
                Status::internal("the registry's position commitment is not 32 bytes")
            })?;
        let locked = locked_invoices(&c)?;
        let p = self
            .node
            .with_ledger(move |ledger| {
                net_position(ledger, &locked)
                    .map_err(|e| Status::failed_precondition(e.to_string()))
            })
            .await?;
        // Checked against the registry's homomorphic sum before anything is opened.
        let sum = commitment::decode(&AmountCommitment(position))
            .map_err(|e| Status::internal(format!("the registry's position commitment: {e}")))?;
        let r = commitment::decode_blinding(&Blinding(p.blinding))
            .map_err(|e| Status::internal(format!("this node's blinding sum: {e}")))?;
        if !commitment::opens_to_signed(&sum, p.micros, &r) {
            return Err(Status::failed_precondition(format!(
                "this node's net position over cycle {cycle}'s {} invoices on its ledgers does \
                 not open the registry's sum of their commitments: the ledgers and the registry \
                 disagree on an invoice",
                p.invoices.len()
            )));
        }
        let body =
            TxBody::SubmitNetOpening { cycle, amount: p.micros, blinding: Blinding(p.blinding) };
        let (tx, _) = self.send("reveal", body).await?;
        self.acked(cycle, vec![tx]).await
    }

    async fn confirm_settlement(
        &self,
        request: Request<proto::ConfirmSettlementRequest>,
    ) -> Result<Response<proto::CycleAck>, Status> {
        let r = request.into_inner();
        let c = self.cycle(r.cycle).await?;
        let me = self.outbox()?.member();
        let mine: Vec<&registry::SettlementInstruction> = c
            .instructions
            .iter()
            .filter(|i| i.to == me.0 && r.instruction.is_none_or(|n| n == i.index))
            .collect();
        if let Some(n) = r.instruction {
            if mine.is_empty() {
                return Err(Status::failed_precondition(format!(
                    "instruction {n} of cycle {} does not pay this party",
                    r.cycle
                )));
            }
        }
        let mut txs = Vec::new();
        for i in mine.into_iter().filter(|i| i.confirmed_at.is_none()) {
            let body = TxBody::ConfirmSettlement { cycle: r.cycle, instruction: i.index };
            txs.push(self.send("confirm", body).await?.0);
        }
        self.acked(r.cycle, txs).await
    }

    async fn get_cycle(
        &self,
        request: Request<proto::CycleRef>,
    ) -> Result<Response<proto::CycleView>, Status> {
        Ok(Response::new(self.view(request.into_inner().cycle).await?))
    }

    async fn record_cycle_result(
        &self,
        request: Request<proto::CycleRef>,
    ) -> Result<Response<proto::CycleResults>, Status> {
        let cycle = request.into_inner().cycle;
        let c = self.cycle(cycle).await?;
        let results = self
            .node
            .with_ledger(move |ledger| {
                let settled = check_settled(&c, ledger)?;
                settled
                    .into_iter()
                    .map(|(id, invoices)| record_on(ledger, &c, id, invoices))
                    .collect::<Result<Vec<_>, Status>>()
            })
            .await?;
        self.node.appended();
        Ok(Response::new(proto::CycleResults { cycle, results }))
    }
}
