//! The human-readable invoice (MEF 114 R73), as plain text and as an HTML page.
//!
//! [`InvoiceDocument::of`] reads everything R73 asks an invoice to show off a
//! [`BilateralState`]: the invoice as issued, the contract's parties, reference and payment
//! terms, the due date, and what happened since (reconciliation, credit notes, payments).
//! [`InvoiceDocument::to_text`] and [`InvoiceDocument::to_html`] render it; both are pure
//! functions of the document, so the CLI, the API and a carrier's own systems print the
//! same invoice.
//!
//! Every amount is printed rounded on its own to the currency's minor unit
//! ([`format_minor`]); the ledger keeps micro-units, so printed items need not add up to
//! the printed net to the last cent. Both renderings say so.

use crate::invoice::Charge;
use crate::settlement::SettlementRef;
use crate::state::BilateralState;
use omni_core::interval::format_date;
use omni_core::money::format_minor;
use omni_core::{Currency, IntervalId, Micros, PartyId};
use std::fmt::Write;

/// The footnote both renderings end with.
pub const ROUNDING_NOTE: &str =
    "Amounts are rounded to the currency's minor unit (ISO 4217); the ledger keeps micro-units.";

/// One party as printed on the invoice.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DocParty {
    /// Legal name from the contract.
    pub name: String,
    /// The party's identity key, hex.
    pub party: String,
}

/// One item (line) as printed on the invoice.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DocItem {
    /// Item number, 1-based; disputes refer to it.
    pub item: u32,
    /// What it charges for.
    pub description: String,
    /// Billed quantity of a usage item (after increments) or of a fee; `None` for an
    /// item without one (rounding adjustment, volume discount, minimum-charge true-up).
    pub quantity: Option<u128>,
    /// Unit symbol of a usage item's quantity (`s`, `kB`, …), from the order's tariff.
    pub unit: Option<String>,
    /// Amount in micro-units (negative for a discount).
    pub amount: Micros,
}

/// Everything R73 asks an invoice to show, read off the bilateral.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct InvoiceDocument {
    /// Invoice number.
    pub number: String,
    /// The order it bills.
    pub order: String,
    /// The billing interval it bills.
    pub interval: IntervalId,
    /// First and last second (exclusive) of the billing interval, UTC, if the bilateral
    /// still knows its usage account.
    pub period: Option<(u64, u64)>,
    /// Currency of every amount.
    pub currency: Currency,
    /// Invoice date, UTC seconds.
    pub issue_date: u64,
    /// Due date under the contract's payment terms, UTC seconds (from the latest
    /// reconciled revision's date once there is one).
    pub due_date: Option<u64>,
    /// The seller (payee).
    pub seller: DocParty,
    /// The buyer (payer).
    pub buyer: DocParty,
    /// Reference of the contract (master service agreement).
    pub contract_reference: String,
    /// The payment terms in words, e.g. `2 % 10 days, net 30`.
    pub payment_terms: String,
    /// Items in invoice order.
    pub items: Vec<DocItem>,
    /// Sum of the items.
    pub net: Micros,
    /// Tax on the net.
    pub tax: Micros,
    /// Invoiced total: net plus tax.
    pub total: Micros,
    /// Amount due after reconciliation (the latest agreed revision's total, else `total`).
    pub amount_due: Micros,
    /// Sum of credit notes proposed or accepted against the invoice (settled on their own).
    pub credited: Micros,
    /// Amount received.
    pub paid: Micros,
    /// Early-payment discount taken.
    pub discount_taken: Micros,
    /// Amount still to be paid: amount due less paid less discount taken.
    pub outstanding: Micros,
    /// The invoice's status, e.g. `accepted`.
    pub status: String,
    /// MEF 114 §7.7 option: 1 when the seller issued it, 2 when the ledger generated it.
    pub option: u8,
    /// Hash of the rating proof attached to an Option 1 invoice, hex.
    pub rating_proof: Option<String>,
}

impl InvoiceDocument {
    /// The document of invoice `number`, or `None` if the bilateral has no such invoice.
    pub fn of(state: &BilateralState, number: &str) -> Option<InvoiceDocument> {
        let inv = state.invoice(number)?;
        let contract = state.contract();
        let party = |id: &PartyId| DocParty {
            name: contract
                .party_index(id)
                .map_or_else(String::new, |i| contract.parties[i].name.clone()),
            party: id.to_hex(),
        };
        let tariff = state.order(&inv.invoice.order).and_then(|o| contract.tariff(&o.order.tariff));
        let items = inv
            .invoice
            .items
            .iter()
            .map(|i| {
                let (quantity, unit) = match &i.charge {
                    Charge::Usage { product } => (
                        Some(i.quantity),
                        tariff
                            .and_then(|t| t.product(product))
                            .map(|p| p.unit.symbol().to_string()),
                    ),
                    Charge::Fee { .. } => (Some(i.quantity), None),
                    _ => (None, None),
                };
                DocItem {
                    item: i.item,
                    description: i.description.clone(),
                    quantity,
                    unit,
                    amount: i.amount,
                }
            })
            .collect();
        Some(InvoiceDocument {
            number: inv.invoice.number.clone(),
            order: inv.invoice.order.clone(),
            interval: inv.invoice.interval.clone(),
            period: state
                .account(&inv.invoice.order, &inv.invoice.interval)
                .map(|a| (a.interval.start, a.interval.end)),
            currency: inv.invoice.currency,
            issue_date: inv.issued_at,
            due_date: state.due_date(&SettlementRef::Invoice(number.to_string())),
            seller: party(&inv.seller),
            buyer: party(&inv.buyer),
            contract_reference: contract.reference.clone(),
            payment_terms: terms_text(&contract.payment_terms),
            items,
            net: inv.invoice.net,
            tax: inv.invoice.tax,
            total: inv.invoice.total,
            amount_due: inv.amount_due(),
            credited: inv.credited,
            paid: inv.paid,
            discount_taken: inv.discount_taken,
            outstanding: inv.outstanding(),
            status: inv.status().to_string(),
            option: if inv.generated { 2 } else { 1 },
            rating_proof: inv.rating_proof.map(|h| h.to_hex()),
        })
    }

    /// The invoice as plain text with aligned columns; every amount via [`format_minor`]
    /// with the currency code, dates as `YYYY-MM-DD`.
    pub fn to_text(&self) -> String {
        let cur = self.currency.code();
        let mut s = String::new();
        let mut line = |text: String| {
            s.push_str(&text);
            s.push('\n');
        };
        line(format!("INVOICE {}", plain(&self.number)));
        line(String::new());
        for (label, value) in self.header() {
            line(format!("{label:<19} {}", plain(&value)));
        }
        line(String::new());

        let desc_width = self
            .items
            .iter()
            .map(|i| plain(&i.description).chars().count())
            .chain([11])
            .max()
            .unwrap_or(11);
        let qty_width =
            self.items.iter().map(|i| quantity_text(i).len()).chain([8]).max().unwrap_or(8);
        let rows = self.total_rows();
        let amount_width = self
            .items
            .iter()
            .map(|i| i.amount)
            .chain(rows.iter().map(|(_, v)| *v))
            .map(|v| format_minor(v, self.currency).len())
            .chain([6])
            .max()
            .unwrap_or(6);
        line(format!(
            "{:>4}  {:<desc_width$}  {:>qty_width$}  {:>amount_width$}",
            "Item", "Description", "Quantity", "Amount"
        ));
        let rule =
            "-".repeat(4 + 2 + desc_width + 2 + qty_width + 2 + amount_width + 1 + cur.len());
        line(rule.clone());
        for i in &self.items {
            line(format!(
                "{:>4}  {:<desc_width$}  {:>qty_width$}  {:>amount_width$} {cur}",
                i.item,
                plain(&i.description),
                quantity_text(i),
                format_minor(i.amount, self.currency),
            ));
        }
        line(rule);
        let label_width = 4 + 2 + desc_width + 2 + qty_width;
        for (label, v) in rows {
            line(format!(
                "{label:>label_width$}  {:>amount_width$} {cur}",
                format_minor(v, self.currency)
            ));
        }
        line(String::new());
        line(ROUNDING_NOTE.to_string());
        s
    }

    /// The invoice as a self-contained HTML5 page: inline CSS, no scripts, no external
    /// resources; every text is HTML-escaped.
    pub fn to_html(&self) -> String {
        let cur = escape(self.currency.code());
        let amount = |v: Micros| format!("{} {cur}", escape(&format_minor(v, self.currency)));
        let mut h = String::with_capacity(4096);
        // Writing into a String cannot fail; the results are ignored on purpose.
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>Invoice {}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n",
            escape(&self.number)
        );
        let _ = writeln!(h, "<h1>Invoice {}</h1>", escape(&self.number));
        h.push_str("<section class=\"parties\">\n");
        for (role, p) in [("Seller", &self.seller), ("Buyer", &self.buyer)] {
            let _ = writeln!(
                h,
                "<div class=\"party\"><h2>{role}</h2><p class=\"name\">{}</p>\
                 <p class=\"key\">Key <code>{}</code></p></div>",
                escape(&p.name),
                escape(&p.party)
            );
        }
        h.push_str("</section>\n<table class=\"facts\">\n");
        for (label, value) in
            self.header().into_iter().filter(|(l, _)| !matches!(*l, "Seller:" | "Buyer:"))
        {
            let _ = writeln!(
                h,
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(label.trim_end_matches(':')),
                escape(&value)
            );
        }
        h.push_str(
            "</table>\n<table class=\"items\">\n<thead><tr><th class=\"num\">Item</th>\
                    <th>Description</th><th class=\"num\">Quantity</th>\
                    <th class=\"num\">Amount</th></tr></thead>\n<tbody>\n",
        );
        for i in &self.items {
            let _ = writeln!(
                h,
                "<tr><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td></tr>",
                i.item,
                escape(&i.description),
                escape(&quantity_text(i)),
                amount(i.amount)
            );
        }
        h.push_str("</tbody>\n<tfoot>\n");
        for (label, v) in self.total_rows() {
            let class = if label == "Total" || label == "Amount due after reconciliation" {
                " class=\"total\""
            } else {
                ""
            };
            let _ = writeln!(
                h,
                "<tr{class}><th colspan=\"3\" class=\"num\">{}</th><td class=\"num\">{}</td></tr>",
                escape(&label),
                amount(v)
            );
        }
        h.push_str("</tfoot>\n</table>\n");
        let _ = writeln!(h, "<p class=\"note\"><small>{}</small></p>", escape(ROUNDING_NOTE));
        h.push_str("</body>\n</html>\n");
        h
    }

    /// Labelled facts printed above the items, in order.
    fn header(&self) -> Vec<(&'static str, String)> {
        let party = |p: &DocParty| format!("{} (key {})", p.name, p.party);
        let interval = match self.period {
            Some((start, end)) if end > start => {
                format!("{} ({} to {})", self.interval, format_date(start), format_date(end - 1))
            }
            _ => self.interval.to_string(),
        };
        let mut rows = vec![
            ("Issue date:", format_date(self.issue_date)),
            ("Due date:", self.due_date.map_or_else(|| "not set".to_string(), format_date)),
            ("Seller:", party(&self.seller)),
            ("Buyer:", party(&self.buyer)),
            ("Contract:", self.contract_reference.clone()),
            ("Order:", self.order.clone()),
            ("Billing interval:", interval),
            ("Payment terms:", self.payment_terms.clone()),
            ("Currency:", self.currency.code().to_string()),
            ("Status:", self.status.clone()),
            (
                "Issued as:",
                if self.option == 2 {
                    "MEF 114 Option 2, generated by the ledger from the agreed rating".to_string()
                } else {
                    "MEF 114 Option 1, issued by the seller and validated against the agreed rating"
                        .to_string()
                },
            ),
        ];
        if let Some(p) = &self.rating_proof {
            rows.push(("Rating proof:", p.clone()));
        }
        rows
    }

    /// Net, tax and total, then the settlement lines that differ from the plain invoice.
    fn total_rows(&self) -> Vec<(String, Micros)> {
        let mut rows = vec![
            ("Net".to_string(), self.net),
            ("Tax".into(), self.tax),
            ("Total".into(), self.total),
        ];
        if self.amount_due != self.total {
            rows.push(("Amount due after reconciliation".into(), self.amount_due));
        }
        if self.credited != 0 {
            rows.push(("Credit notes against this invoice".into(), self.credited));
        }
        if self.paid != 0 {
            rows.push(("Paid".into(), self.paid));
        }
        if self.discount_taken != 0 {
            rows.push(("Early-payment discount taken".into(), self.discount_taken));
        }
        if self.outstanding != self.amount_due {
            rows.push(("Outstanding".into(), self.outstanding));
        }
        rows
    }
}

/// `2 % 10 days, net 30` or `net 30`.
fn terms_text(t: &crate::contract::PaymentTerms) -> String {
    match t.early_payment {
        Some(e) => {
            let (whole, frac) = (e.discount_bps / 100, e.discount_bps % 100);
            let pct = match frac {
                0 => whole.to_string(),
                f if f % 10 == 0 => format!("{whole}.{}", f / 10),
                f => format!("{whole}.{f:02}"),
            };
            format!("{pct} % {} days, net {}", e.within_days, t.net_days)
        }
        None => format!("net {}", t.net_days),
    }
}

/// An item's quantity as an integer, with its unit when known; empty if it has none.
fn quantity_text(i: &DocItem) -> String {
    match (i.quantity, &i.unit) {
        (Some(q), Some(u)) => format!("{q} {u}"),
        (Some(q), None) => q.to_string(),
        (None, _) => String::new(),
    }
}

/// Text for a plain-text rendering: control characters (line breaks, terminal escapes)
/// from names and descriptions become spaces so they cannot break the layout.
fn plain(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Escapes `& < > " '` for HTML text and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;\
color:#111;max-width:60rem;margin:2rem auto;padding:0 1rem}\n\
h1{font-size:1.6rem;margin-bottom:1rem}\n\
h2{font-size:1rem;margin:0 0 .3rem;text-transform:uppercase;color:#555}\n\
.parties{display:flex;gap:2rem;margin-bottom:1rem}\n\
.party{flex:1;border:1px solid #ddd;padding:.6rem .8rem}\n\
.party p{margin:.2rem 0}.name{font-weight:600}\n\
.key code{font-size:.75rem;word-break:break-all}\n\
table{border-collapse:collapse;width:100%;margin-bottom:1rem}\n\
.facts th{text-align:left;width:11rem;font-weight:normal;color:#555}\n\
.facts td,.facts th{padding:.15rem .4rem;vertical-align:top;word-break:break-word}\n\
.items th,.items td{padding:.3rem .5rem;border-bottom:1px solid #ddd}\n\
.items thead th{text-align:left;border-bottom:2px solid #111}\n\
.num,.items .num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}\n\
.items tfoot th{font-weight:normal}\n\
.total th,.total td{font-weight:700;border-top:2px solid #111}\n\
.note{color:#555}\n";

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::sample::{self, ORDER_AB};
    use crate::{BilateralId, Clock, EntryBody, Ledger, LedgerOptions};
    use omni_core::BillingInterval;
    use tempfile::TempDir;

    const NUMBER: &str = "INV-2026-11";

    fn nov() -> BillingInterval {
        BillingInterval::month(2026, 11).unwrap()
    }

    /// Seller A and buyer B, each its own ledger on a tempdir, after the steps of
    /// [`sample::rated_bilateral`] with `seller_name` on A's side of the contract; A
    /// generates the Option 2 invoice of November, B accepts it. Returns B's ledger.
    fn accepted_invoice(seller_name: &str) -> (Ledger, BilateralId, [TempDir; 2]) {
        let clock = Clock::manual(nov().start);
        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let options = LedgerOptions { clock: clock.clone(), ..LedgerOptions::default() };
        let mut a = Ledger::open(dirs[0].path(), sample::carrier_a(), options.clone()).unwrap();
        let mut b = Ledger::open(dirs[1].path(), sample::carrier_b(), options).unwrap();
        let mut contract = sample::contract(a.key(), b.key(), true, nov().start);
        contract.parties[0].name = seller_name.into();
        let genesis = a.propose_contract(contract).unwrap();
        let id = BilateralId(genesis.hash());
        b.receive(&genesis).unwrap();
        b.accept(&id, 0).unwrap();
        a.sync_from(&b, &id).unwrap();
        let tariff = omni_core::sample::interconnect_tariff();
        let order =
            a.append(&id, EntryBody::Order(sample::order(ORDER_AB, a.key(), &tariff, nov().start)));
        let order = order.unwrap();
        b.sync_from(&a, &id).unwrap();
        b.accept(&id, order.seq).unwrap();
        a.sync_from(&b, &id).unwrap();

        let lines: Vec<String> = omni_core::sample::usage(&tariff, "cdr-", nov().start, 500)
            .iter()
            .map(omni_core::UsageRecord::to_tmf635_json)
            .collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        a.ingest_tmf635_lines(&id, ORDER_AB, &nov().id, &refs).unwrap();
        clock.set(nov().end);
        let rating = a.propose_rating(&id, ORDER_AB, &nov().id).unwrap();
        b.sync_from(&a, &id).unwrap();
        b.accept(&id, rating.seq).unwrap();
        a.sync_from(&b, &id).unwrap();

        clock.advance(3600);
        let invoice = a.generate_invoice(&id, NUMBER, ORDER_AB, &nov().id).unwrap();
        b.sync_from(&a, &id).unwrap();
        b.accept(&id, invoice.seq).unwrap();
        (b, id, dirs)
    }

    #[test]
    fn document_reads_the_bilateral() {
        let (b, id, _dirs) = accepted_invoice("Carrier A");
        let state = b.state(&id).unwrap();
        assert!(InvoiceDocument::of(state, "INV-none").is_none());
        let doc = InvoiceDocument::of(state, NUMBER).unwrap();
        let inv = state.invoice(NUMBER).unwrap();

        assert_eq!((doc.number.as_str(), doc.order.as_str()), (NUMBER, ORDER_AB));
        assert_eq!(doc.interval, nov().id);
        assert_eq!(doc.period, Some((nov().start, nov().end)));
        assert_eq!(doc.issue_date, nov().end + 3600);
        assert_eq!(doc.due_date, Some(nov().end + 3600 + 30 * 86_400));
        assert_eq!(doc.seller.name, "Carrier A");
        assert_eq!(doc.seller.party, sample::carrier_a().party().to_hex());
        assert_eq!(doc.buyer.name, "Carrier B");
        assert_eq!(doc.buyer.party, sample::carrier_b().party().to_hex());
        assert_eq!(doc.contract_reference, "MSA-2026-001");
        assert_eq!(doc.payment_terms, "2 % 10 days, net 30");
        assert_eq!((doc.option, doc.rating_proof.as_deref()), (2, None));
        assert_eq!(doc.status, "accepted");
        assert_eq!(doc.items.len(), inv.invoice.items.len());
        assert_eq!(doc.items.iter().map(|i| i.amount).sum::<Micros>(), doc.net);
        assert!(doc.items.iter().any(|i| i.quantity.is_some() && i.unit.is_some()));
        assert_eq!(
            (doc.total, doc.amount_due, doc.outstanding),
            (inv.invoice.total, doc.total, doc.total)
        );
        assert_eq!((doc.credited, doc.paid, doc.discount_taken), (0, 0, 0));
    }

    #[test]
    fn text_and_html_show_what_r73_asks() {
        let (b, id, _dirs) = accepted_invoice("Carrier A");
        let doc = InvoiceDocument::of(b.state(&id).unwrap(), NUMBER).unwrap();
        let total = format!("{} EUR", format_minor(doc.total, Currency::EUR));
        let decimals = total.split(' ').next().unwrap().split('.').nth(1).unwrap();
        assert_eq!(decimals.len(), 2, "{total}");

        let text = doc.to_text();
        let html = doc.to_html();
        for rendering in [&text, &html] {
            for needle in [
                NUMBER,
                "Carrier A",
                "Carrier B",
                &doc.seller.party,
                &doc.buyer.party,
                "2026-12-01", // issue date: the end of November plus an hour
                "2026-12-31", // due date: net 30
                "MSA-2026-001",
                ORDER_AB,
                "2026-11 (2026-11-01 to 2026-11-30)",
                "2 % 10 days, net 30",
                &total,
                ROUNDING_NOTE.split('\'').next().unwrap(),
            ] {
                assert!(rendering.contains(needle), "{needle:?} missing from\n{rendering}");
            }
            assert!(!rendering.contains("Outstanding"), "nothing differs yet");
        }
        assert!(text.contains(ROUNDING_NOTE));
        assert!(text.lines().any(|l| l.trim_start().starts_with("Total") && l.ends_with(&total)));
        // every item line is as wide as the others: aligned columns
        let widths: Vec<usize> = text
            .lines()
            .filter(|l| l.ends_with(" EUR") && !l.contains(':'))
            .map(|l| l.chars().count())
            .collect();
        assert!(widths.len() > 3 && widths.iter().all(|w| *w == widths[0]), "{text}");

        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains(&format!("<title>Invoice {NUMBER}</title>")));
        assert!(html.contains("Amounts are rounded to the currency&#39;s minor unit"));
        assert!(html.contains("class=\"num\""));
        for external in ["<script", "src=", "href=", "@import", "url("] {
            assert!(!html.contains(external), "{external}");
        }
    }

    #[test]
    fn settlement_lines_appear_when_they_differ() {
        let (b, id, _dirs) = accepted_invoice("Carrier A");
        let mut doc = InvoiceDocument::of(b.state(&id).unwrap(), NUMBER).unwrap();
        doc.amount_due = doc.total - 1_000_000;
        doc.paid = 250_000;
        doc.outstanding = doc.amount_due - doc.paid;
        let (text, html) = (doc.to_text(), doc.to_html());
        for label in ["Amount due after reconciliation", "Paid", "Outstanding"] {
            assert!(text.contains(label) && html.contains(label), "{label}");
        }
        assert!(text.contains(" 0.25 EUR"));
        assert!(!text.contains("Credit notes"));
    }

    #[test]
    fn names_are_escaped_in_html() {
        let name = "Evil <script>alert(\"x\")</script> & 'Co'";
        let (b, id, _dirs) = accepted_invoice(name);
        let doc = InvoiceDocument::of(b.state(&id).unwrap(), NUMBER).unwrap();
        assert_eq!(doc.seller.name, name);
        let html = doc.to_html();
        assert!(!html.contains("<script"), "{html}");
        assert!(html
            .contains("Evil &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;Co&#39;"));
        assert!(doc.to_text().contains(name));
    }

    #[test]
    fn payment_terms_in_words() {
        use crate::contract::{EarlyPayment, PaymentTerms};
        let early = |discount_bps, within_days| PaymentTerms {
            net_days: 30,
            early_payment: Some(EarlyPayment { discount_bps, within_days }),
        };
        assert_eq!(terms_text(&PaymentTerms::net(45)), "net 45");
        assert_eq!(terms_text(&early(200, 10)), "2 % 10 days, net 30");
        assert_eq!(terms_text(&early(150, 7)), "1.5 % 7 days, net 30");
        assert_eq!(terms_text(&early(125, 7)), "1.25 % 7 days, net 30");
        assert_eq!(terms_text(&early(5, 7)), "0.05 % 7 days, net 30");
        assert_eq!(escape("a&<>\"'b"), "a&amp;&lt;&gt;&quot;&#39;b");
        assert_eq!(plain("a\nb\u{1b}[31m"), "a b [31m");
    }
}
