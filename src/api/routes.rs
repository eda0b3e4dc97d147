//! Paths and methods of the REST API, and the Backpack instruction each signed one is signed as.

/// An HTTP method the API serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// DELETE.
    Delete,
    /// Anything else (answered 405 on a served path).
    Other,
}

impl Method {
    /// From the request line's method token.
    pub fn parse(token: &[u8]) -> Method {
        match token {
            b"GET" => Method::Get,
            b"POST" => Method::Post,
            b"DELETE" => Method::Delete,
            _ => Method::Other,
        }
    }
}

/// A served path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/api/v1/status`.
    Status,
    /// `/api/v1/ping`.
    Ping,
    /// `/api/v1/time`.
    Time,
    /// `/api/v1/markets`.
    Markets,
    /// `/api/v1/market`.
    Market,
    /// `/api/v1/assets`.
    Assets,
    /// `/api/v1/ticker`.
    Ticker,
    /// `/api/v1/tickers`.
    Tickers,
    /// `/api/v1/depth`.
    Depth,
    /// `/api/v1/trades`.
    Trades,
    /// `/api/v1/trades/history`.
    TradesHistory,
    /// `/api/v1/klines`.
    Klines,
    /// `/api/v1/order`.
    Order,
    /// `/api/v1/orders`.
    Orders,
    /// `/api/v1/capital`.
    Capital,
    /// `/wapi/v1/history/fills`.
    FillHistory,
    /// `/wapi/v1/history/orders`.
    OrderHistory,
    /// `/wapi/v1/capital/withdrawals`.
    Withdrawals,
    /// `/wapi/v1/capital/deposits`.
    Deposits,
    /// `/api/v1/admin/deposit`.
    AdminDeposit,
    /// `/api/v1/admin/withdraw`.
    AdminWithdraw,
    /// `/api/v1/admin/freeze`.
    AdminFreeze,
    /// `/api/v1/admin/unfreeze`.
    AdminUnfreeze,
    /// `/api/v1/admin/state`.
    AdminState,
    /// `/api/v1/admin/snapshot`: a snapshot of everything durable, at once.
    AdminSnapshot,
    /// `/metrics` (Prometheus): unsigned from a loopback peer, else signed by the administrator
    /// as `metricsQuery` (see `crate::metrics`).
    Metrics,
}

impl Route {
    /// The route for a path (without the query), `None` for any other path (404).
    pub fn from_path(path: &[u8]) -> Option<Route> {
        let path = path.strip_suffix(b"/").filter(|p| !p.is_empty()).unwrap_or(path);
        Some(match path {
            b"/api/v1/status" => Route::Status,
            b"/api/v1/ping" => Route::Ping,
            b"/api/v1/time" => Route::Time,
            b"/api/v1/markets" => Route::Markets,
            b"/api/v1/market" => Route::Market,
            b"/api/v1/assets" => Route::Assets,
            b"/api/v1/ticker" => Route::Ticker,
            b"/api/v1/tickers" => Route::Tickers,
            b"/api/v1/depth" => Route::Depth,
            b"/api/v1/trades" => Route::Trades,
            b"/api/v1/trades/history" => Route::TradesHistory,
            b"/api/v1/klines" => Route::Klines,
            b"/api/v1/order" => Route::Order,
            b"/api/v1/orders" => Route::Orders,
            b"/api/v1/capital" => Route::Capital,
            b"/wapi/v1/history/fills" => Route::FillHistory,
            b"/wapi/v1/history/orders" => Route::OrderHistory,
            b"/wapi/v1/capital/withdrawals" => Route::Withdrawals,
            b"/wapi/v1/capital/deposits" => Route::Deposits,
            b"/api/v1/admin/deposit" => Route::AdminDeposit,
            b"/api/v1/admin/withdraw" => Route::AdminWithdraw,
            b"/api/v1/admin/freeze" => Route::AdminFreeze,
            b"/api/v1/admin/unfreeze" => Route::AdminUnfreeze,
            b"/api/v1/admin/state" => Route::AdminState,
            b"/api/v1/admin/snapshot" => Route::AdminSnapshot,
            b"/metrics" => Route::Metrics,
            _ => return None,
        })
    }

    /// The Backpack instruction a request on this route with this method is signed as; `None`
    /// for public endpoints and for methods the route does not serve.
    pub fn instruction(self, method: Method) -> Option<&'static str> {
        use Method::{Delete, Get, Post};
        Some(match (self, method) {
            (Route::Order, Get) => "orderQuery",
            (Route::Order, Post) | (Route::Orders, Post) => "orderExecute",
            (Route::Order, Delete) => "orderCancel",
            (Route::Orders, Get) => "orderQueryAll",
            (Route::Orders, Delete) => "orderCancelAll",
            (Route::Capital, Get) => "balanceQuery",
            (Route::FillHistory, Get) => "fillHistoryQueryAll",
            (Route::OrderHistory, Get) => "orderHistoryQueryAll",
            (Route::Withdrawals, Get) => "withdrawalQueryAll",
            (Route::Withdrawals, Post) => "withdraw",
            (Route::Deposits, Get) => "depositQueryAll",
            (Route::AdminDeposit, Post) => "adminDeposit",
            (Route::AdminWithdraw, Post) => "adminWithdraw",
            (Route::AdminFreeze, Post) => "adminFreeze",
            (Route::AdminUnfreeze, Post) => "adminUnfreeze",
            (Route::AdminState, Get) => "adminStateQuery",
            (Route::AdminSnapshot, Post) => "adminSnapshot",
            (Route::Metrics, Get) => "metricsQuery",
            _ => return None,
        })
    }

    /// Whether the route serves `method`.
    pub fn allows(self, method: Method) -> bool {
        match self {
            Route::Order | Route::Orders => method != Method::Other,
            Route::Withdrawals => matches!(method, Method::Get | Method::Post),
            Route::AdminDeposit
            | Route::AdminWithdraw
            | Route::AdminFreeze
            | Route::AdminUnfreeze
            | Route::AdminSnapshot => method == Method::Post,
            _ => method == Method::Get,
        }
    }

    /// Whether requests on this route must be signed.
    pub fn is_signed(self, method: Method) -> bool {
        self.instruction(method).is_some()
    }

    /// Whether the route is an administrator endpoint.
    pub fn is_admin(self) -> bool {
        matches!(
            self,
            Route::AdminDeposit
                | Route::AdminWithdraw
                | Route::AdminFreeze
                | Route::AdminUnfreeze
                | Route::AdminState
                | Route::AdminSnapshot
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_instructions() {
        assert_eq!(Route::from_path(b"/api/v1/order"), Some(Route::Order));
        assert_eq!(Route::from_path(b"/api/v1/order/"), Some(Route::Order));
        assert_eq!(Route::from_path(b"/api/v1/account"), None);
        assert_eq!(Route::from_path(b"/"), None);
        assert_eq!(Route::Order.instruction(Method::Delete), Some("orderCancel"));
        assert_eq!(Route::Orders.instruction(Method::Post), Some("orderExecute"));
        assert_eq!(Route::Depth.instruction(Method::Get), None);
        assert!(!Route::Depth.allows(Method::Post));
        assert!(Route::Withdrawals.allows(Method::Post));
        assert!(!Route::AdminState.allows(Method::Post));
        assert_eq!(Route::from_path(b"/metrics"), Some(Route::Metrics));
        assert_eq!(Route::Metrics.instruction(Method::Get), Some("metricsQuery"));
        assert!(!Route::Metrics.allows(Method::Post));
        assert_eq!(Route::from_path(b"/api/v1/admin/snapshot"), Some(Route::AdminSnapshot));
        assert_eq!(Route::AdminSnapshot.instruction(Method::Post), Some("adminSnapshot"));
        assert!(Route::AdminSnapshot.is_admin() && !Route::AdminSnapshot.allows(Method::Get));
    }
}
