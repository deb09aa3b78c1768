//! The node's API: gRPC (`proto/node.proto`, package `omni.node.v1`) for an organisation's
//! own billing systems and the `omni` commands, with server reflection so that `grpcurl`
//! can explore it. Three services:
//!
//! | service · call | does | MEF 114 |
//! |---|---|---|
//! | `Billing.ListBilaterals` | the bilaterals kept, counterparty, contract status, head | — |
//! | `Billing.SubmitUsage` | TMF635 records → de-duplicated, rated, appended as usage batches | R63–R65 |
//! | `Billing.ImportUsage` | a usage file (CSV, NDJSON): good lines ingested, bad ones reported by line and field | R63–R65 |
//! | `Billing.IssueBill`, `GetBillProof` | Option 1 (proven in the background by [`crate::proving`]) or Option 2 | §7.7, CR3, CR5 |
//! | `Billing.ListBills`, `GetBill`, `RenderBill` | invoices as TMF678 `CustomerBill`s; the human-readable invoice, text or HTML | R73 |
//! | `Billing.AcceptBill` | the buyer's acceptance of an issued bill | CR20 |
//! | `Billing.DisputeBill` | the buyer's dispute of bill items | CR21, O3 |
//! | `Billing.NotifyPayment`, `ConfirmReceipt` | the payer's payment notice, the payee's receipt | R87–R89 |
//! | `Billing.ExportBillOpening` | the opening of a proven bill's amount commitment, for a financier | — |
//! | `Lifecycle.*` ([`lifecycle`]) | contract, orders, ratings, dispute resolution, final invoices, credit notes, bilateral netting | R4–R8, R30, R65–R67, R76–R81, §8.6.3 |
//! | `Netting.*` ([`netting`]) | omni-lateral netting cycles: open, join, reveal this party's net (from its ledgers), confirm transfers, record a settled cycle on the bilaterals | §8.6.3, CR22 |
//! | `Lifecycle.RecordSupplyChainMap` | the seller's supply-chain map of an agreed order, verified by both nodes | R15 |
//! | `Node.GetStatus` ([`status`]) | bilaterals and heads, registry outbox, proving queue, peers, clock | — |
//! | `Node.GetClock`, `SetClock` | the clock entries are stamped with; a simulated one (rehearsals, demos) moved forwards | — |
//! | `Node.VerifyBilateral` | a bilateral's chain replayed from genesis: entries and state digest, equal on both nodes | R9, R23 |
//!
//! Every call runs against the [`Ledger`] under one lock, on tokio's blocking pool (ingest
//! and signing are CPU work). A request the ledger refuses changes nothing and answers
//! with the ledger's reason: `INVALID_ARGUMENT` for malformed input, `NOT_FOUND` for an
//! unknown bilateral or bill, `FAILED_PRECONDITION` for a step the lifecycle does not allow
//! now, `INTERNAL` for storage faults.

pub mod lifecycle;
pub mod netting;
pub mod status;

use crate::invoice::invoice_from_rating;
use crate::invoice::{Dispute, DisputedItem};
use crate::invoice_credit::{self, OpeningError};
use crate::invoice_document::InvoiceDocument;
use crate::net_position::{net_position, NetPositionError};
use crate::network::SyncNode;
use crate::proving::{JobState, JobStatus, KeysError, NodeKeys, Prover};
use crate::registry_client::registry_invoice_id;
use crate::registry_client::RegistryClient;
use crate::settlement::PaymentReceipt;
use crate::settlement::{PaymentNotice, SettlementRef};
use crate::state::RatingStatus;
use crate::state::{ContractStatus, InvoiceState};
use crate::usage_file::UsageFormat;
use crate::{BilateralId, Entry, EntryBody, Error, Ledger};
use omni_circuits::pedersen::scalar_to_bytes;
use omni_core::{Currency, Hash32, IntervalId, Micros};
use omni_registry_types::tx::InvoiceId;
use proto::billing_server::{Billing, BillingServer};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;
use tonic::{Request, Response, Status};

/// Messages and service stubs generated from `proto/node.proto`.
pub mod proto {
    #![allow(missing_docs, clippy::all)]
    tonic::include_proto!("omni.node.v1");

    /// The encoded file descriptor set, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("node_descriptor");
}

/// The gRPC status for a ledger error (module docs).
pub fn status_of(e: &Error) -> Status {
    let message = e.to_string();
    match e {
        Error::UnknownBilateral(_) | Error::NotOurBilateral { .. } => Status::not_found(message),
        Error::Store(_) | Error::Corrupt(_) | Error::ReplayMismatch { .. } => {
            Status::internal(message)
        }
        Error::Usage { .. } | Error::UsageFile(_) | Error::Core(_) => {
            Status::invalid_argument(message)
        }
        _ => Status::failed_precondition(message),
    }
}

/// What a node's API serves: its ledger and, when the node runs them, its prover, rating
/// keys, registry outbox and sync.
#[derive(Clone)]
pub struct NodeContext {
    /// The ledger.
    pub ledger: Arc<Mutex<Ledger>>,
    /// The node's name (configuration).
    pub name: String,
    /// The rating keys, if configured.
    pub keys: Option<Arc<NodeKeys>>,
    /// The background prover of Option 1 invoices.
    pub prover: Option<Prover>,
    /// The registry outbox, if the node reports to a registry.
    pub outbox: Option<RegistryClient>,
    /// The bilateral sync, if running.
    pub sync: Option<Arc<SyncNode>>,
    /// Wakes the registry reporter, if the node runs one.
    pub reporter: Option<Arc<tokio::sync::Notify>>,
}

impl NodeContext {
    /// A context of just `ledger` (no keys, prover, registry or sync).
    pub fn of(ledger: Arc<Mutex<Ledger>>) -> NodeContext {
        NodeContext {
            ledger,
            name: String::new(),
            keys: None,
            prover: None,
            outbox: None,
            sync: None,
            reporter: None,
        }
    }

    /// Runs `f` on the ledger, on the blocking pool.
    pub(crate) async fn with_ledger<T, F>(&self, f: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(&mut Ledger) -> Result<T, Status> + Send + 'static,
    {
        let ledger = self.ledger.clone();
        tokio::task::spawn_blocking(move || {
            let mut ledger =
                ledger.lock().map_err(|_| Status::internal("the ledger lock is poisoned"))?;
            f(&mut ledger)
        })
        .await
        .map_err(|e| Status::internal(format!("ledger task failed: {e}")))?
    }

    /// Appends the entry `f` builds, on the blocking pool, then pushes it on at once
    /// ([`NodeContext::appended`]); answers with the entry's sequence number and hash.
    pub(crate) async fn append_step<F>(&self, f: F) -> Result<Response<proto::EntryAck>, Status>
    where
        F: FnOnce(&mut Ledger) -> Result<Entry, Status> + Send + 'static,
    {
        let entry = self.with_ledger(f).await?;
        self.appended();
        Ok(Response::new(ack(&entry)))
    }

    /// Pushes what was appended to the counterparties, and reports it to the registry,
    /// now rather than at the next tick.
    pub fn appended(&self) {
        if let Some(sync) = &self.sync {
            sync.wake();
        }
        if let Some(reporter) = &self.reporter {
            reporter.notify_one();
        }
    }

    /// The clock the ledger stamps entries with (a handle: a simulated clock moved through
    /// it moves the ledger's).
    pub async fn clock(&self) -> Result<crate::Clock, Status> {
        self.with_ledger(|ledger| Ok(ledger.clock().clone())).await
    }

    /// Refuses an Option 1 step when the node has no rating keys (names the setting).
    pub(crate) fn keys(&self) -> Result<&Arc<NodeKeys>, Status> {
        self.keys
            .as_ref()
            .ok_or_else(|| Status::failed_precondition(KeysError::NotConfigured.to_string()))
    }
}

/// The billing service over one node's ledger.
#[derive(Clone)]
pub struct BillingApi {
    node: NodeContext,
}

impl BillingApi {
    /// Serves `ledger`.
    pub fn new(ledger: Arc<Mutex<Ledger>>) -> Self {
        BillingApi { node: NodeContext::of(ledger) }
    }

    /// Serves a node.
    pub fn with(node: NodeContext) -> Self {
        BillingApi { node }
    }

    async fn with_ledger<T, F>(&self, f: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(&mut Ledger) -> Result<T, Status> + Send + 'static,
    {
        self.node.with_ledger(f).await
    }
}

pub(crate) fn bilateral(hex: &str) -> Result<BilateralId, Status> {
    Hash32::from_hex(hex)
        .map(BilateralId)
        .map_err(|e| Status::invalid_argument(format!("bilateral {hex:?}: {e}")))
}

pub(crate) fn ack(entry: &Entry) -> proto::EntryAck {
    proto::EntryAck { seq: entry.seq, hash: entry.hash().to_hex() }
}

pub(crate) fn money(currency: Currency, micros: Micros) -> Option<proto::Money> {
    Some(proto::Money { unit: currency.code().to_string(), micros })
}

// Every time the API answers is written as the terms file writes it.
pub use crate::terms::rfc3339;

/// An invoice as a TMF678 `CustomerBill`.
pub fn customer_bill(inv: &InvoiceState) -> proto::CustomerBill {
    let i = &inv.invoice;
    let currency = i.currency;
    proto::CustomerBill {
        id: i.number.clone(),
        bill_no: i.number.clone(),
        state: inv.status().to_string(),
        bill_date: rfc3339(inv.issued_at),
        billing_period: i.interval.0.clone(),
        order: i.order.clone(),
        seller: inv.seller.to_hex(),
        buyer: inv.buyer.to_hex(),
        tax_excluded_amount: money(currency, i.net),
        tax_included_amount: money(currency, i.total),
        amount_due: money(currency, inv.amount_due()),
        remaining_amount: money(currency, inv.outstanding()),
        items: i
            .items
            .iter()
            .map(|item| proto::BillItem {
                item: item.item,
                description: item.description.clone(),
                amount: money(currency, item.amount),
            })
            .collect(),
        generated: inv.generated,
        rating_proof: inv.rating_proof.map(|h| h.to_hex()).unwrap_or_default(),
        entry_seq: inv.seq,
    }
}

pub(crate) fn contract_status(s: ContractStatus) -> &'static str {
    match s {
        ContractStatus::Proposed => "proposed",
        ContractStatus::Active => "active",
        ContractStatus::Rejected { .. } => "rejected",
        ContractStatus::Terminated { .. } => "terminated",
    }
}

pub(crate) fn bill<'a>(
    ledger: &'a Ledger,
    id: &BilateralId,
    number: &str,
) -> Result<&'a InvoiceState, Status> {
    ledger
        .state(id)
        .map_err(|e| status_of(&e))?
        .invoice(number)
        .ok_or_else(|| Status::not_found(format!("bilateral {id} has no bill {number:?}")))
}

/// An Option 1 bill: the agreed rating's invoice, issued only when this node can prove
/// it (its tariff within the rating circuit's limits); the proof follows in the background.
fn issue_option1(
    ledger: &mut Ledger,
    id: &BilateralId,
    order: &str,
    interval: &IntervalId,
    number: &str,
) -> Result<Entry, Status> {
    let state = ledger.state(id).map_err(|e| status_of(&e))?;
    let rating = match state.account(order, interval).map(|a| &a.rating) {
        Some(RatingStatus::Agreed { rating, .. }) => rating.clone(),
        _ => {
            return Err(Status::failed_precondition(format!(
                "order {order:?} in interval {interval} has no agreed rating (MEF 114 R66): the \
                 seller proposes it (`omni rating propose`), the buyer agrees it (`omni rating \
                 agree`)"
            )))
        }
    };
    let tariff = state
        .order(order)
        .and_then(|o| state.contract().tariff(&o.order.tariff))
        .ok_or_else(|| Status::failed_precondition(format!("order {order:?} has no tariff")))?;
    if let Err(e) = omni_circuits::rating::tariff_to_fields(tariff) {
        return Err(Status::failed_precondition(format!(
            "tariff {} cannot be covered by a rating proof: the rating circuit supports at most \
             {} products, {} price tiers, {} volume discounts and no per-record rounding ({e}); \
             issue this bill as an Option 2 invoice, which the ledger generates (--option 2)",
            tariff.id,
            omni_circuits::rating::MAX_PRODUCTS,
            omni_circuits::rating::MAX_TIERS,
            omni_circuits::rating::MAX_DISCOUNTS,
        )));
    }
    let invoice = invoice_from_rating(number, order, interval, state.contract().currency, &rating);
    ledger.append(id, EntryBody::Invoice(invoice)).map_err(|e| status_of(&e))
}

/// A bill's proof status from its job on this node, if any, and the proof on the ledger.
pub(crate) fn bill_proof(job: Option<&JobStatus>, attached: &str) -> proto::BillProof {
    let mut out = proto::BillProof { rating_proof: attached.to_string(), ..Default::default() };
    match job {
        Some(j) => {
            out.state = j.state.name().to_string();
            out.done = j.done as u64;
            out.total = j.total as u64;
            out.records = j.records as u64;
            out.seconds = j.seconds;
            if let JobState::Failed(e) = &j.state {
                out.error = e.clone();
            }
        }
        None if !attached.is_empty() => out.state = "proven".into(),
        None => out.state = "none".into(),
    }
    out
}

#[tonic::async_trait]
impl Billing for BillingApi {
    async fn list_bilaterals(
        &self,
        _: Request<proto::ListBilateralsRequest>,
    ) -> Result<Response<proto::ListBilateralsResponse>, Status> {
        let bilaterals = self
            .with_ledger(|ledger| {
                let mut out = Vec::new();
                for id in ledger.bilaterals() {
                    let state = ledger.state(&id).map_err(|e| status_of(&e))?;
                    let party = ledger.party(&id).map_err(|e| status_of(&e))?;
                    let counterparty = state
                        .contract()
                        .parties
                        .iter()
                        .map(|p| p.id)
                        .find(|p| *p != party)
                        .map(|p| p.to_hex())
                        .unwrap_or_default();
                    out.push(proto::Bilateral {
                        id: id.0.to_hex(),
                        party: party.to_hex(),
                        counterparty,
                        status: contract_status(state.status()).to_string(),
                        head_seq: state.head().seq,
                    });
                }
                Ok(out)
            })
            .await?;
        Ok(Response::new(proto::ListBilateralsResponse { bilaterals }))
    }

    async fn submit_usage(
        &self,
        request: Request<proto::SubmitUsageRequest>,
    ) -> Result<Response<proto::UsageReport>, Status> {
        let r = request.into_inner();
        let id = bilateral(&r.bilateral)?;
        let report = self
            .with_ledger(move |ledger| {
                let lines: Vec<&str> = r.usage.iter().map(String::as_str).collect();
                ledger
                    .ingest_tmf635_lines(&id, &r.order, &IntervalId(r.interval.clone()), &lines)
                    .map_err(|e| status_of(&e))
            })
            .await?;
        Ok(Response::new(proto::UsageReport {
            received: report.received as u64,
            accepted: report.accepted as u64,
            duplicates: report.duplicates as u64,
            entries: report.entries,
        }))
    }

    async fn list_bills(
        &self,
        request: Request<proto::ListBillsRequest>,
    ) -> Result<Response<proto::ListBillsResponse>, Status> {
        let id = bilateral(&request.get_ref().bilateral)?;
        let bills = self
            .with_ledger(move |ledger| {
                let state = ledger.state(&id).map_err(|e| status_of(&e))?;
                Ok(state.invoices().map(customer_bill).collect())
            })
            .await?;
        Ok(Response::new(proto::ListBillsResponse { bills }))
    }

    async fn get_bill(
        &self,
        request: Request<proto::BillRef>,
    ) -> Result<Response<proto::CustomerBill>, Status> {
        let r = request.into_inner();
        let id = bilateral(&r.bilateral)?;
        let bill = self
            .with_ledger(move |ledger| Ok(customer_bill(bill(ledger, &id, &r.bill_no)?)))
            .await?;
        Ok(Response::new(bill))
    }

    async fn accept_bill(
        &self,
        request: Request<proto::BillRef>,
    ) -> Result<Response<proto::EntryAck>, Status> {
        let r = request.into_inner();
        let id = bilateral(&r.bilateral)?;
        self.node
            .append_step(move |ledger| {
                let inv = bill(ledger, &id, &r.bill_no)?;
                if !inv.generated && !ledger.verifies_rating_proofs() {
                    return Err(Status::failed_precondition(format!(
                        "bill {}: {}",
                        r.bill_no,
                        KeysError::NotConfigured
                    )));
                }
                let seq = inv.seq;
                ledger.accept(&id, seq).map_err(|e| status_of(&e))
            })
            .await
    }

    async fn dispute_bill(
        &self,
        request: Request<proto::DisputeBillRequest>,
    ) -> Result<Response<proto::EntryAck>, Status> {
        let r = request.into_inner();
        let id = bilateral(&r.bilateral)?;
        let dispute = Dispute {
            invoice: r.bill_no,
            items: r
                .items
                .into_iter()
                .map(|i| DisputedItem { item: i.item, amount: i.micros, reason: i.reason })
                .collect(),
        };
        self.node
            .append_step(move |ledger| {
                bill(ledger, &id, &dispute.invoice)?;
                ledger.append(&id, EntryBody::Dispute(dispute)).map_err(|e| status_of(&e))
            })
            .await
    }

    async fn notify_payment(
        &self,
        request: Request<proto::NotifyPaymentRequest>,
    ) -> Result<Response<proto::EntryAck>, Status> {
        let r = request.into_inner();
        let id = bilateral(&r.bilateral)?;
        self.node
            .append_step(move |ledger| {
                let target = if r.netting.is_empty() {
                    bill(ledger, &id, &r.bill_no)?;
                    SettlementRef::Invoice(r.bill_no)
                } else {
                    SettlementRef::Netting(r.netting)
                };
                let notice = PaymentNotice {
                    payment: r.payment,
                    target,
                    amount: r.micros,
                    reference: r.reference,
                };
                ledger.append(&id, EntryBody::PaymentNotice(notice)).map_err(|e| status_of(&e))
            })
            .await
    }

    async fn import_usage(
        &self,
        request: Request<proto::ImportUsageRequest>,
    ) -> Result<Response<proto::ImportReport>, Status> {
        let r = request.into_inner();
        let id = bilateral(&r.bilateral)?;
        let format = UsageFormat::from_name(&r.format).ok_or_else(|| {
            Status::invalid_argument(format!("usage file format {:?}: csv or ndjson", r.format))
        })?;
        let report = self
            .with_ledger(move |ledger| {
                let interval = IntervalId(r.interval.clone());
                ledger
                    .import_usage_file(&id, &r.order, &interval, format, &r.content)
                    .map_err(|e| status_of(&e))
            })
            .await?;
        self.node.appended();
        Ok(Response::new(proto::ImportReport {
            received: report.received as u64,
            accepted: report.accepted as u64,
            duplicates: report.duplicates as u64,
            refused: report
                .refused
                .into_iter()
                .map(|l| proto::RefusedLine {
                    line: l.line as u64,
                    field: l.field.unwrap_or_default(),
                    reason: l.reason,
                })
                .collect(),
            entries: report.entries,
        }))
    }

    async fn issue_bill(
        &self,
        request: Request<proto::IssueBillRequest>,
    ) -> Result<Response<proto::IssueBillResponse>, Status> {
        let r = request.into_inner();
        let id = bilateral(&r.bilateral)?;
        let option = r.option;
        if option != 1 && option != 2 {
            return Err(Status::invalid_argument(format!(
                "option {option}: 1 (issued with a rating proof) or 2 (generated by the ledger)"
            )));
        }
        let prover = match option {
            1 => {
                self.node.keys()?;
                Some(self.node.prover.clone().ok_or_else(|| {
                    Status::failed_precondition("this node runs no rating prover")
                })?)
            }
            _ => None,
        };
        let number = r.bill_no.clone();
        let (entry, bill) = self
            .with_ledger(move |ledger| {
                let interval = IntervalId(r.interval.clone());
                let entry = if option == 1 {
                    issue_option1(ledger, &id, &r.order, &interval, &r.bill_no)?
                } else {
                    ledger
                        .generate_invoice(&id, &r.bill_no, &r.order, &interval)
                        .map_err(|e| status_of(&e))?
                };
                Ok((entry, customer_bill(bill(ledger, &id, &r.bill_no)?)))
            })
            .await?;
        let proof = prover.map(|p| {
            p.enqueue(id, &number);
            bill_proof(p.status(&id, &number).as_ref(), &bill.rating_proof)
        });
        self.node.appended();
        Ok(Response::new(proto::IssueBillResponse {
            bill: Some(bill),
            entry: Some(ack(&entry)),
            proof,
        }))
    }

    async fn get_bill_proof(
        &self,
        request: Request<proto::BillRef>,
    ) -> Result<Response<proto::BillProof>, Status> {
        let r = request.into_inner();
        let id = bilateral(&r.bilateral)?;
        let number = r.bill_no.clone();
        let attached = self
            .with_ledger(move |ledger| {
                Ok(bill(ledger, &id, &r.bill_no)?
                    .rating_proof
                    .map(|h| h.to_hex())
                    .unwrap_or_default())
            })
            .await?;
        let job = self.node.prover.as_ref().and_then(|p| p.status(&id, &number));
        Ok(Response::new(bill_proof(job.as_ref(), &attached)))
    }

    async fn confirm_receipt(
        &self,
        request: Request<proto::ConfirmReceiptRequest>,
    ) -> Result<Response<proto::EntryAck>, Status> {
        let r = request.into_inner();
        let id = bilateral(&r.bilateral)?;
        self.node
            .append_step(move |ledger| {
                let state = ledger.state(&id).map_err(|e| status_of(&e))?;
                let payment = state.payment(&r.payment).ok_or_else(|| {
                    Status::not_found(format!("bilateral {id} has no payment {:?}", r.payment))
                })?;
                let receipt = PaymentReceipt {
                    payment: r.payment.clone(),
                    target: payment.notice.target.clone(),
                    amount: payment.notice.amount,
                };
                ledger.append(&id, EntryBody::PaymentReceipt(receipt)).map_err(|e| status_of(&e))
            })
            .await
    }

    async fn render_bill(
        &self,
        request: Request<proto::RenderBillRequest>,
    ) -> Result<Response<proto::BillDocument>, Status> {
        let r = request.into_inner();
        let id = bilateral(&r.bilateral)?;
        let format = match r.format.as_str() {
            "" | "text" => "text",
            "html" => "html",
            other => {
                return Err(Status::invalid_argument(format!(
                    "document format {other:?}: text or html"
                )))
            }
        };
        let content = self
            .with_ledger(move |ledger| {
                let state = ledger.state(&id).map_err(|e| status_of(&e))?;
                let doc = InvoiceDocument::of(state, &r.bill_no).ok_or_else(|| {
                    Status::not_found(format!("bilateral {id} has no bill {:?}", r.bill_no))
                })?;
                Ok(if format == "html" { doc.to_html() } else { doc.to_text() })
            })
            .await?;
        Ok(Response::new(proto::BillDocument { format: format.to_string(), content }))
    }

    async fn get_net_position(
        &self,
        request: Request<proto::GetNetPositionRequest>,
    ) -> Result<Response<proto::NetPosition>, Status> {
        let r = request.into_inner();
        let wanted = r
            .registry_invoices
            .iter()
            .map(|h| {
                Hash32::from_hex(h)
                    .map(InvoiceId)
                    .map_err(|e| Status::invalid_argument(format!("registry invoice {h:?}: {e}")))
            })
            .collect::<Result<BTreeSet<InvoiceId>, Status>>()?;
        let position = self
            .with_ledger(move |ledger| {
                net_position(ledger, &wanted).map_err(|e| match e {
                    NetPositionError::Ledger(e)
                    | NetPositionError::Opening(OpeningError::Ledger(e)) => status_of(&e),
                    other => Status::failed_precondition(other.to_string()),
                })
            })
            .await?;
        Ok(Response::new(proto::NetPosition {
            micros: position.micros,
            blinding: hex::encode(position.blinding),
            invoices: position.invoices.iter().map(|i| i.0.to_hex()).collect(),
        }))
    }

    async fn export_bill_opening(
        &self,
        request: Request<proto::BillRef>,
    ) -> Result<Response<proto::BillOpening>, Status> {
        let r = request.into_inner();
        let id = bilateral(&r.bilateral)?;
        let opening = self
            .with_ledger(move |ledger| {
                let me = ledger.party(&id).map_err(|e| status_of(&e))?;
                let state = ledger.state(&id).map_err(|e| status_of(&e))?;
                let inv = bill(ledger, &id, &r.bill_no)?;
                if inv.seller != me {
                    return Err(Status::permission_denied(format!(
                        "bill {}: only its seller holds the opening of its amount",
                        r.bill_no
                    )));
                }
                let opening = invoice_credit::opening(ledger, state, inv).map_err(|e| match e {
                    OpeningError::Unproven { .. } => Status::failed_precondition(format!(
                        "bill {} has no rating proof (yet): only a proven Option 1 bill has an \
                         amount commitment to open",
                        r.bill_no
                    )),
                    other => Status::internal(other.to_string()),
                })?;
                let target = SettlementRef::Invoice(r.bill_no.clone());
                Ok(proto::BillOpening {
                    bilateral: id.0.to_hex(),
                    bill_no: r.bill_no.clone(),
                    registry_invoice: registry_invoice_id(&id, &r.bill_no).0.to_hex(),
                    currency: inv.invoice.currency.code().to_string(),
                    micros: opening.proven,
                    blinding: hex::encode(scalar_to_bytes(&opening.blinding)),
                    payer: inv.buyer.to_hex(),
                    payee: inv.seller.to_hex(),
                    credits: opening
                        .credits
                        .iter()
                        .map(|c| proto::BillCredit {
                            reference: c.reference.to_hex(),
                            micros: c.micros,
                            credit_note: c.credit_note.clone().unwrap_or_default(),
                        })
                        .collect(),
                    amount_due_micros: opening.amount_due(),
                    due_date: state.due_date(&target).map(rfc3339).unwrap_or_default(),
                })
            })
            .await?;
        Ok(Response::new(opening))
    }
}

/// A billing API being served; stops when [`RunningBillingApi::shutdown`] is called or
/// it is dropped.
pub struct RunningBillingApi {
    /// The address it listens on (useful with port 0).
    pub local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl RunningBillingApi {
    /// Stops serving and waits for the server to finish.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(std::io::Error::other(format!("billing API: {e}"))),
            Err(e) => Err(std::io::Error::other(format!("billing API task: {e}"))),
        }
    }
}

impl Drop for RunningBillingApi {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves the billing API of `ledger` (with reflection) on `listen`; returns once it is
/// listening.
pub async fn serve_billing(
    ledger: Arc<Mutex<Ledger>>,
    listen: SocketAddr,
) -> std::io::Result<RunningBillingApi> {
    serve(NodeContext::of(ledger), listen).await
}

/// Serves a node's whole API (`Billing`, `Bilateral`, `Node`, with reflection) on
/// `listen`; returns once it is listening.
pub async fn serve(node: NodeContext, listen: SocketAddr) -> std::io::Result<RunningBillingApi> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let local_addr = listener.local_addr()?;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| std::io::Error::other(format!("reflection service: {e}")))?;
    let api = BillingServer::new(BillingApi::with(node.clone()));
    let lifecycle =
        proto::lifecycle_server::LifecycleServer::new(lifecycle::LifecycleApi::new(node.clone()));
    let netting = proto::netting_server::NettingServer::new(netting::NettingApi::new(node.clone()));
    let status = proto::node_server::NodeServer::new(status::NodeApi::new(node));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(reflection)
            .add_service(api)
            .add_service(lifecycle)
            .add_service(netting)
            .add_service(status)
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                async {
                    let _ = stopped.await;
                },
            )
            .await
    });
    tracing::info!(%local_addr, "node billing API listening");
    Ok(RunningBillingApi { local_addr, stop: Some(stop), task })
}
