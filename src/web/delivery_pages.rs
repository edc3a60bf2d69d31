//! Delivery pages: the staff's board and detail (timeline, temperature chart,
//! quarantine decision), the courier's phone page, the patient's receipt page.

use askama::Template;

use super::pages::Layout;
use crate::deliveries::{BoardRow, CourierStop, DeliveryDetail, ReceiptView, Trip};

/// The delivery board for a day.
#[derive(Template)]
#[template(path = "console/deliveries.html")]
pub struct BoardPage {
    pub layout: Layout,
    pub pharmacy_id: String,
    /// `YYYY-MM-DD`
    pub day: String,
    pub state: String,
    pub rows: Vec<BoardRow>,
    pub error: Option<String>,
}

/// One delivery for staff.
#[derive(Template)]
#[template(path = "console/delivery.html")]
pub struct DeliveryPage {
    pub layout: Layout,
    pub pharmacy_id: String,
    pub d: DeliveryDetail,
    pub trip: Trip,
    /// The server-rendered temperature chart (inline SVG; empty without a logger).
    pub chart_svg: String,
    /// Couriers and staff of the pharmacy: (user id, label).
    pub carriers: Vec<(String, String)>,
    pub error: Option<String>,
}

impl DeliveryPage {
    /// A stored (UTC) time in Japan time.
    pub fn jst(&self, utc: &chrono::NaiveDateTime) -> String {
        crate::context::jst(*utc).format("%m/%d %H:%M").to_string()
    }

    /// A timeline entry's state in the console's words.
    pub fn state_label(&self, s: &str) -> &'static str {
        match s {
            "quarantined" => "保留（温度）",
            "quarantine_decided" => "保留の判断",
            other => crate::domain::delivery::rules::State::parse(other)
                .map(|s| s.label())
                .unwrap_or("?"),
        }
    }

    /// A temperature with one decimal.
    pub fn celsius(&self, v: &Option<f64>) -> String {
        v.map(|x| format!("{x:.1}℃")).unwrap_or_else(|| "—".into())
    }
}

/// The courier's page: the list of stops, or one stop.
#[derive(Template)]
#[template(path = "courier.html")]
pub struct CourierPage {
    pub layout: Layout,
    pub stops: Vec<CourierStop>,
    /// One stop shown with its forms.
    pub stop: Option<CourierStop>,
    pub error: Option<String>,
    pub done: Option<String>,
}

/// The patient's receipt confirmation page.
#[derive(Template)]
#[template(path = "portal_receipt.html")]
pub struct ReceiptPage {
    pub layout: Layout,
    pub token: String,
    pub v: ReceiptView,
    pub done: bool,
}
