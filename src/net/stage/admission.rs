//! Who may be read: the per-address checks net-in makes on a framed request before it takes a
//! ring slot's worth of anyone's time.
//!
//! In order: a request with no route is answered at once; an address that sent too many bad
//! signatures lately (`bad_signatures`, counted by verify) is refused 429 unread, the
//! administrator's claims included, since such a claim costs a signature check like any other;
//! an address over its request rate is refused 429 unless it claims the administrator's key,
//! which verify then checks (see the stage's module doc).

use crate::api::error::ApiError;
use crate::bad_signatures::BadSignatureBoard;
use crate::clock;
use crate::metrics::Metrics;
use crate::net::http::Request;
use crate::net::route_of;
use crate::rate_limit::RateLimiter;
use crate::records::RequestKind;

/// What the checks read and write, borrowed from net-in for one request.
pub(super) struct Limits<'a> {
    pub ip_limiter: &'a mut RateLimiter,
    pub bad_signatures: &'a BadSignatureBoard,
    pub admin_api_key: &'a [u8; 44],
    pub metrics: &'a Metrics,
}

impl Limits<'_> {
    /// The request's kind (to verify, or answered here) and, when it goes on to verify over the
    /// per-IP limit, the `Retry-After` verify answers unless the administrator signed it.
    pub(super) fn admit(self, request: &Request<'_>, peer: u64) -> (RequestKind, u32) {
        if let Err(error) = route_of(request) {
            return (RequestKind::Answered(error), 0);
        }
        let now_ms = clock::wall_ms();
        if let Some(retry_after_s) = self.bad_signatures.refusal(u128::from(peer), now_ms) {
            self.metrics.net_in.bad_signature_refused.add(1);
            return (RequestKind::Answered(ApiError::too_many_requests(retry_after_s)), 0);
        }
        let Err(retry_after_s) = self.ip_limiter.take(u128::from(peer), now_ms) else {
            return (RequestKind::Http, 0);
        };
        self.metrics.net_in.ip_rate_limited.add(1);
        let claims_admin =
            request.api_key.is_some_and(|key| key.trim_ascii() == &self.admin_api_key[..]);
        if claims_admin {
            (RequestKind::Http, retry_after_s.max(1))
        } else {
            (RequestKind::Answered(ApiError::too_many_requests(retry_after_s)), 0)
        }
    }
}
