//! The node's billing API: gRPC (`proto/node.proto`, service `omni.node.v1.Billing`) for an
//! organisation's own billing systems, with server reflection so that `grpcurl` can
//! explore it.
//!
//! | call | does | MEF 114 |
//! |---|---|---|
//! | `ListBilaterals` | the bilaterals kept, counterparty, contract status, head | — |
//! | `SubmitUsage` | TMF635 records → de-duplicated, rated, appended as usage batches | R63–R65 |
//! | `ListBills`, `GetBill` | invoices as TMF678 `CustomerBill`s | R73 |
//! | `AcceptBill` | the buyer's acceptance of an issued bill | CR20 |
//! | `DisputeBill` | the buyer's dispute of bill items | CR21, O3 |
//! | `NotifyPayment` | the payer's payment notice | R87–R88 |
//!
//! Every call runs against the [`Ledger`] under one lock, on tokio's blocking pool (ingest
//! and signing are CPU work). A request the ledger refuses changes nothing and answers
//! with the ledger's reason: `INVALID_ARGUMENT` for malformed input, `NOT_FOUND` for an
//! unknown bilateral or bill, `FAILED_PRECONDITION` for a step the lifecycle does not allow
//! now, `INTERNAL` for storage faults.

use crate::invoice::{Dispute, DisputedItem};
use crate::settlement::{PaymentNotice, SettlementRef};
use crate::state::{ContractStatus, InvoiceState};
use crate::{BilateralId, Entry, EntryBody, Error, Ledger};
use omni_core::{Currency, Hash32, IntervalId, Micros};
use proto::billing_server::{Billing, BillingServer};
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
        Error::Usage { .. } | Error::Core(_) => Status::invalid_argument(message),
        _ => Status::failed_precondition(message),
    }
}

/// The billing service over one node's ledger.
#[derive(Clone)]
pub struct BillingApi {
    ledger: Arc<Mutex<Ledger>>,
}

impl BillingApi {
    /// Serves `ledger`.
    pub fn new(ledger: Arc<Mutex<Ledger>>) -> Self {
        BillingApi { ledger }
    }

    /// Runs `f` on the ledger, on the blocking pool.
    async fn with_ledger<T, F>(&self, f: F) -> Result<T, Status>
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
}

fn bilateral(hex: &str) -> Result<BilateralId, Status> {
    Hash32::from_hex(hex)
        .map(BilateralId)
        .map_err(|e| Status::invalid_argument(format!("bilateral {hex:?}: {e}")))
}

fn ack(entry: &Entry) -> proto::EntryAck {
    proto::EntryAck { seq: entry.seq, hash: entry.hash().to_hex() }
}

fn money(currency: Currency, micros: Micros) -> Option<proto::Money> {
    Some(proto::Money { unit: currency.code().to_string(), micros })
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a UTC timestamp.
pub fn rfc3339(t: u64) -> String {
    let s = t % 86_400;
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        omni_core::interval::format_date(t),
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

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

fn contract_status(s: ContractStatus) -> &'static str {
    match s {
        ContractStatus::Proposed => "proposed",
        ContractStatus::Active => "active",
        ContractStatus::Rejected { .. } => "rejected",
        ContractStatus::Terminated { .. } => "terminated",
    }
}

fn bill<'a>(
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
        let entry = self
            .with_ledger(move |ledger| {
                let seq = bill(ledger, &id, &r.bill_no)?.seq;
                ledger.accept(&id, seq).map_err(|e| status_of(&e))
            })
            .await?;
        Ok(Response::new(ack(&entry)))
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
        let entry = self
            .with_ledger(move |ledger| {
                bill(ledger, &id, &dispute.invoice)?;
                ledger.append(&id, EntryBody::Dispute(dispute)).map_err(|e| status_of(&e))
            })
            .await?;
        Ok(Response::new(ack(&entry)))
    }

    async fn notify_payment(
        &self,
        request: Request<proto::NotifyPaymentRequest>,
    ) -> Result<Response<proto::EntryAck>, Status> {
        let r = request.into_inner();
        let id = bilateral(&r.bilateral)?;
        let entry = self
            .with_ledger(move |ledger| {
                bill(ledger, &id, &r.bill_no)?;
                let notice = PaymentNotice {
                    payment: r.payment,
                    target: SettlementRef::Invoice(r.bill_no),
                    amount: r.micros,
                    reference: r.reference,
                };
                ledger.append(&id, EntryBody::PaymentNotice(notice)).map_err(|e| status_of(&e))
            })
            .await?;
        Ok(Response::new(ack(&entry)))
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
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let local_addr = listener.local_addr()?;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| std::io::Error::other(format!("reflection service: {e}")))?;
    let api = BillingServer::new(BillingApi::new(ledger));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(reflection)
            .add_service(api)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_793_491_260), "2026-11-01T00:01:00Z");
        assert_eq!(rfc3339(1_793_491_200 + 86_399), "2026-11-01T23:59:59Z");
    }
}
