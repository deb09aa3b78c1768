//! The `Lifecycle` service: every step of a bilateral's life besides the bills'
//! day-to-day — contract, orders and their supply-chain maps, ratings, dispute
//! resolution, final invoices, credit notes, bilateral netting (MEF 114 §8). A two-party step is proposed here by one node and
//! accepted (or rejected) through the other node's API; the bilateral sync carries it.

use super::{ack, bilateral, bill, contract_status, proto, rfc3339, status_of, NodeContext};
use crate::contract::{Order, OrderItem};
use crate::entry::SupplyChainMapRecord;
use crate::invoice::{CreditNote, DisputeResolution, FinalInvoice, ItemResolution};
use crate::state::{BilateralState, OrderStatus, RatingStatus, Subject};
use crate::terms::{parse_terms, parse_time, write_terms};
use crate::{BilateralId, EntryBody, Ledger};
use omni_core::{IntervalId, ProductId};
use proto::lifecycle_server::Lifecycle;
use tonic::{Request, Response, Status};

/// The bilateral lifecycle service over a node.
#[derive(Clone)]
pub struct LifecycleApi {
    node: NodeContext,
}

impl LifecycleApi {
    /// Serves `node`.
    pub fn new(node: NodeContext) -> Self {
        LifecycleApi { node }
    }

    /// Accepts the pending change `subject` the counterparty proposed (`what` names it).
    async fn accept_proposed(
        &self,
        bilateral_hex: &str,
        subject: Subject,
        what: String,
    ) -> Result<Response<proto::EntryAck>, Status> {
        let id = bilateral(bilateral_hex)?;
        self.step(move |ledger| {
            let me = ledger.party(&id).map_err(|e| status_of(&e))?;
            let seq = state(ledger, &id)?
                .pending()
                .find(|p| p.subject == subject && p.proposer != me)
                .map(|p| p.seq)
                .ok_or_else(|| {
                    Status::failed_precondition(format!(
                        "bilateral {id}: no {what} proposed by the counterparty awaits this \
                         node's answer"
                    ))
                })?;
            ledger.accept(&id, seq).map_err(|e| status_of(&e))
        })
        .await
    }

    /// Appends what `f` builds, then pushes it on ([`NodeContext::append_step`]).
    async fn step<F>(&self, f: F) -> Result<Response<proto::EntryAck>, Status>
    where
        F: FnOnce(&mut Ledger) -> Result<crate::Entry, Status> + Send + 'static,
    {
        self.node.append_step(f).await
    }
}

fn state<'a>(ledger: &'a Ledger, id: &BilateralId) -> Result<&'a BilateralState, Status> {
    ledger.state(id).map_err(|e| status_of(&e))
}

fn time(field: &str, s: &str) -> Result<u64, Status> {
    parse_time(s).ok_or_else(|| {
        Status::invalid_argument(format!(
            "{field} {s:?}: a date YYYY-MM-DD or an RFC 3339 date-time"
        ))
    })
}

#[tonic::async_trait]
impl Lifecycle for LifecycleApi {
    async fn propose_contract(
        &self,
        request: Request<proto::ProposeContractRequest>,
    ) -> Result<Response<proto::EntryAck>, Status> {
        let terms = request.into_inner().terms;
        let contract =
            parse_terms(&terms).map_err(|e| Status::invalid_argument(format!("terms: {e}")))?;
        self.step(move |ledger| {
            if contract.signatory_party(&ledger.key()).is_none() {
                return Err(Status::invalid_argument(format!(
                    "terms: this node's key {} signs for neither party (parties[].party or \
                     parties[].signatories)",
                    ledger.key()
                )));
            }
            ledger.propose_contract(contract).map_err(|e| status_of(&e))
        })
        .await
    }

    async fn accept_contract(
        &self,
        request: Request<proto::BilateralRef>,
    ) -> Result<Response<proto::EntryAck>, Status> {
        let id = bilateral(&request.into_inner().bilateral)?;
        self.step(move |ledger| ledger.accept(&id, 0).map_err(|e| status_of(&e))).await
    }

    async fn reject_contract(
        &self,
        request: Request<proto::RejectRequest>,
    ) -> Result<Response<proto::EntryAck>, Status> {
        let r = request.into_inner();
        let id = bilateral(&r.bilateral)?;
        self.step(move |ledger| ledger.reject(&id, 0, &r.reason).map_err(|e| status_of(&e))).await
    }

    async fn get_contract(
        &self,
        request: Request<proto::BilateralRef>,
    ) -> Result<Response<proto::ContractView>, Status> {
        let id = bilateral(&request.into_inner().bilateral)?;
        let view = self
            .node
            .with_ledger(move |ledger| {
                let state = state(ledger, &id)?;
                let c = state.contract();
                Ok(proto::ContractView {
                    bilateral: id.0.to_hex(),
                    status: contract_status(state.status()).to_string(),
                    reference: c.reference.clone(),
                    currency: c.currency.code().to_string(),
                    parties: c
                        .parties
                        .iter()
                        .map(|p| proto::ContractParty {
                            name: p.name.clone(),
                            party: p.id.to_hex(),
                            signatories: p.signatories.iter().map(|k| k.to_hex()).collect(),
                        })
                        .collect(),
                    tariffs: c.tariffs.iter().map(|t| t.id.clone()).collect(),
                    net_days: c.payment_terms.net_days,
                    netting: c.netting,
                    effective_from: rfc3339(c.effective_from),
                    terms_json: serde_json::to_string(c).unwrap_or_default(),
                    head_seq: state.head().seq,
                    terms_toml: write_terms(c),
                })
            })
            .await?;
        Ok(Response::new(view))
    }

    async fn place_order(
        &self,
        request: Request<proto::PlaceOrderRequest>,
    ) -> Result<Response<proto::EntryAck>, Status> {
        let r = request.into_inner();
        let id = bilateral(&r.bilateral)?;
        let start = if r.start.is_empty() { None } else { Some(time("start", &r.start)?) };
        let end = if r.end.is_empty() { None } else { Some(time("end", &r.end)?) };
        let mut items = Vec::new();
        for p in &r.products {
            let (product, quantity) = match p.split_once('=') {
                Some((name, n)) => (
                    name,
                    n.parse().map_err(|_| {
                        Status::invalid_argument(format!("product {p:?}: quantity is not a number"))
                    })?,
                ),
                None => (p.as_str(), 1),
            };
            items.push(OrderItem { product: ProductId::new(product), quantity });
        }
        self.step(move |ledger| {
            let seller = ledger.party(&id).map_err(|e| status_of(&e))?;
            let c = state(ledger, &id)?.contract();
            let tariff = c.tariff(&r.tariff).ok_or_else(|| {
                let known: Vec<&str> = c.tariffs.iter().map(|t| t.id.as_str()).collect();
                Status::invalid_argument(format!(
                    "tariff {:?} is not in the contract (it has {})",
                    r.tariff,
                    known.join(", ")
                ))
            })?;
            if items.is_empty() {
                items = tariff
                    .products
                    .iter()
                    .map(|p| OrderItem { product: p.product.clone(), quantity: 1 })
                    .collect();
            }
            let order = Order {
                id: r.order.clone(),
                seller,
                tariff: r.tariff.clone(),
                items,
                start: start.unwrap_or(c.effective_from),
                end,
            };
            ledger.append(&id, EntryBody::Order(order)).map_err(|e| status_of(&e))
        })
        .await
    }

    async fn accept_order(
        &self,
        request: Request<proto::OrderRef>,
    ) -> Result<Response<proto::EntryAck>, Status> {
        let r = request.into_inner();
        let what = format!("order {:?}", r.order);
        self.accept_proposed(&r.bilateral, Subject::Order(r.order), what).await
    }

    async fn list_orders(
        &self,
        request: Request<proto::BilateralRef>,
    ) -> Result<Response<proto::ListOrdersResponse>, Status> {
        let id = bilateral(&request.into_inner().bilateral)?;
        let orders = self
            .node
            .with_ledger(move |ledger| {
                let state = state(ledger, &id)?;
                Ok(state
                    .snapshot()
                    .orders
                    .values()
                    .map(|o| proto::OrderView {
                        order: o.order.id.clone(),
                        seller: o.order.seller.to_hex(),
                        tariff: o.order.tariff.clone(),
                        products: o
                            .order
                            .items
                            .iter()
                            .map(|i| format!("{}={}", i.product, i.quantity))
                            .collect(),
                        start: rfc3339(o.order.start),
                        status: match o.status {
                            OrderStatus::Proposed => "proposed",
                            OrderStatus::Agreed => "agreed",
                            OrderStatus::Rejected => "rejected",
                        }
                        .to_string(),
                    })
                    .collect())
            })
            .await?;
        Ok(Response::new(proto::ListOrdersResponse { orders }))
    }

    async fn propose_rating(
        &self,
        request: Request<proto::RatingRef>,
    ) -> Result<Response<proto::EntryAck>, Status> {
        let r = request.into_inner();
        let id = bilateral(&r.bilateral)?;
        self.step(move |ledger| {
            ledger
                .propose_rating(&id, &r.order, &IntervalId(r.interval.clone()))
                .map_err(|e| status_of(&e))
        })
        .await
    }

    async fn agree_rating(
        &self,
        request: Request<proto::RatingRef>,
    ) -> Result<Response<proto::EntryAck>, Status> {
        let r = request.into_inner();
        let id = bilateral(&r.bilateral)?;
        self.step(move |ledger| {
            let interval = IntervalId(r.interval.clone());
            let seq = match state(ledger, &id)?.account(&r.order, &interval).map(|a| &a.rating) {
                Some(RatingStatus::Proposed { seq, .. }) => *seq,
                Some(RatingStatus::Agreed { seq, .. }) => {
                    return Err(Status::failed_precondition(format!(
                        "the rating of order {:?} in {interval} was already agreed (entry {seq})",
                        r.order
                    )))
                }
                _ => {
                    return Err(Status::failed_precondition(format!(
                        "no rating of order {:?} in {interval} is proposed",
                        r.order
                    )))
                }
            };
            ledger.accept(&id, seq).map_err(|e| status_of(&e))
        })
        .await
    }

    async fn resolve_dispute(
        &self,
        request: Request<proto::ResolveDisputeRequest>,
    ) -> Result<Response<proto::EntryAck>, Status> {
        let r = request.into_inner();
        let id = bilateral(&r.bilateral)?;
        let resolution = DisputeResolution {
            invoice: r.bill_no.clone(),
            resolutions: r
                .items
                .into_iter()
                .map(|i| ItemResolution {
                    item: i.item,
                    adjustment: i.adjustment_micros,
                    note: i.note,
                })
                .collect(),
        };
        self.step(move |ledger| {
            bill(ledger, &id, &resolution.invoice)?;
            ledger.append(&id, EntryBody::DisputeResolution(resolution)).map_err(|e| status_of(&e))
        })
        .await
    }

    async fn issue_final_bill(
        &self,
        request: Request<proto::BillRef>,
    ) -> Result<Response<proto::EntryAck>, Status> {
        let r = request.into_inner();
        let id = bilateral(&r.bilateral)?;
        self.step(move |ledger| {
            let revision =
                bill(ledger, &id, &r.bill_no)?.revision.as_ref().map_or(1, |v| v.number + 1);
            let (net, tax, total, _) = state(ledger, &id)?
                .reconciled_amounts(&r.bill_no)
                .map_err(|e| Status::failed_precondition(e.to_string()))?;
            let body = EntryBody::FinalInvoice(FinalInvoice {
                invoice: r.bill_no.clone(),
                revision,
                net,
                tax,
                total,
            });
            ledger.append(&id, body).map_err(|e| status_of(&e))
        })
        .await
    }

    async fn issue_credit_note(
        &self,
        request: Request<proto::IssueCreditNoteRequest>,
    ) -> Result<Response<proto::EntryAck>, Status> {
        let r = request.into_inner();
        let id = bilateral(&r.bilateral)?;
        let note = CreditNote {
            number: r.number,
            invoice: (!r.bill_no.is_empty()).then_some(r.bill_no),
            amount: r.micros,
            reason: r.reason,
        };
        self.step(move |ledger| {
            ledger.append(&id, EntryBody::CreditNote(note)).map_err(|e| status_of(&e))
        })
        .await
    }

    async fn accept_bill_changes(
        &self,
        request: Request<proto::BillRef>,
    ) -> Result<Response<proto::AcceptedChanges>, Status> {
        let r = request.into_inner();
        let id = bilateral(&r.bilateral)?;
        let accepted = self
            .node
            .with_ledger(move |ledger| {
                bill(ledger, &id, &r.bill_no)?;
                let me = ledger.party(&id).map_err(|e| status_of(&e))?;
                let state = state(ledger, &id)?;
                let number = r.bill_no.as_str();
                let on_bill = |s: &Subject| match s {
                    Subject::Resolution(res) => res.invoice == number,
                    Subject::FinalInvoice { invoice, .. } => invoice == number,
                    Subject::CreditNote(n) => state
                        .credit_note(n)
                        .is_some_and(|c| c.note.invoice.as_deref() == Some(number)),
                    _ => false,
                };
                let seqs: Vec<u64> = state
                    .pending()
                    .filter(|p| p.proposer != me && on_bill(&p.subject))
                    .map(|p| p.seq)
                    .collect();
                if seqs.is_empty() {
                    return Err(Status::failed_precondition(format!(
                        "bill {number}: the counterparty proposed no change that awaits this \
                         node's answer"
                    )));
                }
                let mut out = Vec::new();
                for seq in seqs {
                    out.push(ack(&ledger.accept(&id, seq).map_err(|e| status_of(&e))?));
                }
                Ok(out)
            })
            .await?;
        self.node.appended();
        Ok(Response::new(proto::AcceptedChanges { accepted }))
    }

    async fn propose_netting(
        &self,
        request: Request<proto::ProposeNettingRequest>,
    ) -> Result<Response<proto::NettingView>, Status> {
        let r = request.into_inner();
        let id = bilateral(&r.bilateral)?;
        let view = self
            .node
            .with_ledger(move |ledger| {
                let proposal = state(ledger, &id)?
                    .netting_proposal(&r.netting, &IntervalId(r.period.clone()))
                    .map_err(|e| Status::failed_precondition(e.to_string()))?;
                let mut view = proto::NettingView {
                    netting: proposal.id.clone(),
                    payer: proposal.payer.map(|p| p.to_hex()).unwrap_or_default(),
                    micros: proposal.amount,
                    documents: proposal
                        .documents
                        .iter()
                        .map(|d| match d {
                            crate::settlement::SettlementRef::Invoice(n) => format!("invoice:{n}"),
                            crate::settlement::SettlementRef::CreditNote(n) => {
                                format!("credit-note:{n}")
                            }
                            crate::settlement::SettlementRef::Netting(n) => format!("netting:{n}"),
                        })
                        .collect(),
                    entry: None,
                };
                let entry =
                    ledger.append(&id, EntryBody::Netting(proposal)).map_err(|e| status_of(&e))?;
                view.entry = Some(ack(&entry));
                Ok(view)
            })
            .await?;
        self.node.appended();
        Ok(Response::new(view))
    }

    async fn accept_netting(
        &self,
        request: Request<proto::NettingRef>,
    ) -> Result<Response<proto::EntryAck>, Status> {
        let r = request.into_inner();
        // The result of a registry netting cycle is accepted only as the registry shows it.
        if let Some(cycle) = crate::settlement::CycleNetting::cycle_of(&r.netting) {
            let outbox = self.node.outbox.as_ref().ok_or_else(|| {
                Status::failed_precondition(
                    "a netting cycle's result is accepted by a node that reports to the registry",
                )
            })?;
            let c = super::netting::registry_cycle(outbox, cycle).await?;
            let (id, netting) = (bilateral(&r.bilateral)?, r.netting.clone());
            self.node
                .with_ledger(move |ledger| super::netting::check_result(&c, ledger, id, &netting))
                .await?;
        }
        let what = format!("netting {:?}", r.netting);
        self.accept_proposed(&r.bilateral, Subject::Netting(r.netting), what).await
    }

    async fn record_supply_chain_map(
        &self,
        request: Request<proto::RecordSupplyChainMapRequest>,
    ) -> Result<Response<proto::EntryAck>, Status> {
        let r = request.into_inner();
        let id = bilateral(&r.bilateral)?;
        self.step(move |ledger| {
            state(ledger, &id)?;
            // Both ledgers verify the hop proofs and the state machine checks that the map
            // belongs to this agreed order, sold by this node's party (MEF 114 R15).
            let record = SupplyChainMapRecord { order: r.order, map: r.map };
            ledger.append(&id, EntryBody::SupplyChainMap(record)).map_err(|e| status_of(&e))
        })
        .await
    }
}
