//! Backpack's error answers: HTTP status, `code` and `message`, as fixed-size values.
//!
//! Every bad request, wherever the pipeline finds it (net-in, verify, sequencer or matcher),
//! becomes an [`ApiError`]: a `Copy` value that rides the rings to net-out, which renders
//! `{"code":"<CODE>","message":"<text>"}`. Messages that name something (a field, a header, a
//! client id) carry it inline in a small fixed buffer, so no `String` travels past net-in.

use crate::types::RejectReason;

/// Backpack's `code` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// `INVALID_CLIENT_REQUEST`.
    InvalidClientRequest,
    /// `INVALID_SIGNATURE`.
    InvalidSignature,
    /// `UNAUTHORIZED`.
    Unauthorized,
    /// `FORBIDDEN`.
    Forbidden,
    /// `INVALID_SYMBOL`.
    InvalidSymbol,
    /// `INVALID_ASSET`.
    InvalidAsset,
    /// `INVALID_PRICE`.
    InvalidPrice,
    /// `INVALID_QUANTITY`.
    InvalidQuantity,
    /// `INSUFFICIENT_FUNDS`.
    InsufficientFunds,
    /// `INVALID_ORDER`.
    InvalidOrder,
    /// `ORDER_LIMIT`.
    OrderLimit,
    /// `RESOURCE_NOT_FOUND`.
    ResourceNotFound,
    /// `TOO_MANY_REQUESTS`.
    TooManyRequests,
    /// `SERVER_ERROR`.
    ServerError,
    /// `MAINTENANCE`.
    Maintenance,
}

impl ErrorCode {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidClientRequest => "INVALID_CLIENT_REQUEST",
            ErrorCode::InvalidSignature => "INVALID_SIGNATURE",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::InvalidSymbol => "INVALID_SYMBOL",
            ErrorCode::InvalidAsset => "INVALID_ASSET",
            ErrorCode::InvalidPrice => "INVALID_PRICE",
            ErrorCode::InvalidQuantity => "INVALID_QUANTITY",
            ErrorCode::InsufficientFunds => "INSUFFICIENT_FUNDS",
            ErrorCode::InvalidOrder => "INVALID_ORDER",
            ErrorCode::OrderLimit => "ORDER_LIMIT",
            ErrorCode::ResourceNotFound => "RESOURCE_NOT_FOUND",
            ErrorCode::TooManyRequests => "TOO_MANY_REQUESTS",
            ErrorCode::ServerError => "SERVER_ERROR",
            ErrorCode::Maintenance => "MAINTENANCE",
        }
    }
}

/// Which error, with its status, code and message template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// 404 `Not found` (unknown path).
    NotFound,
    /// 405 `Method not allowed`.
    MethodNotAllowed,
    /// 400 `Malformed request` (HTTP framing).
    MalformedRequest,
    /// 431 `Request header fields too large`.
    HeadersTooLarge,
    /// 413 `Payload too large`.
    BodyTooLarge,
    /// 411 `Length required`.
    LengthRequired,
    /// 408 `Request timeout`.
    RequestTimeout,
    /// 400 `Invalid JSON body`.
    InvalidJsonBody,
    /// 400 ``Missing header `X-…` `` (detail: the header).
    MissingHeader,
    /// 400 ``Invalid header `X-…` `` (detail: the header).
    InvalidHeader,
    /// 400 `Request timestamp is in the future`.
    TimestampInFuture,
    /// 401 `Request has expired`.
    RequestExpired,
    /// 401 `Invalid signature`.
    InvalidSignature,
    /// 409 `Duplicate request`.
    DuplicateRequest,
    /// 403 `Administrator key required`.
    AdminKeyRequired,
    /// 400 ``Unknown field `k` ``.
    UnknownField,
    /// 400 ``Missing field `k` ``.
    MissingField,
    /// 400 ``Invalid value for `k` ``.
    InvalidValue,
    /// 400 ``Field `k` is not supported``.
    FieldNotSupported,
    /// 400 ``Must specify either `clientId` or `orderId` ``.
    ClientIdOrOrderId,
    /// 400 (detail is the whole message) for other bad combinations.
    BadCombination,
    /// 400 `Invalid symbol`.
    InvalidSymbol,
    /// 400 `Invalid asset`.
    InvalidAsset,
    /// 400 `Invalid price`.
    InvalidPrice,
    /// 400 `Price decimal too long`.
    PriceDecimalTooLong,
    /// 400 `Price not a multiple of tick size`.
    PriceNotMultipleOfTick,
    /// 400 `Price out of bounds`.
    PriceOutOfBounds,
    /// 400 `Invalid quantity`.
    InvalidQuantity,
    /// 400 `Quantity decimal too long`.
    QuantityDecimalTooLong,
    /// 400 `Quantity not a multiple of step size`.
    QuantityNotMultipleOfStep,
    /// 400 `Quantity below minimum`.
    QuantityBelowMinimum,
    /// 400 `Quantity out of bounds`.
    QuantityOutOfBounds,
    /// 400 `Insufficient funds`.
    InsufficientFunds,
    /// 400 `Order with client ID already exists: N` (detail: N).
    DuplicateClientId,
    /// 400 `Invalid order`.
    InvalidOrder,
    /// 400 `Order limit reached`.
    OrderLimit,
    /// 400 `Order value below minimum`.
    OrderValueBelowMinimum,
    /// 400 `Order not found` (cancel).
    OrderNotFound,
    /// 404 `Order not found` (query).
    OrderNotFoundQuery,
    /// 403 `Account is frozen`.
    AccountFrozen,
    /// 404 `Account not found`.
    AccountNotFound,
    /// 400 `Account limit reached`.
    AccountLimit,
    /// 429 `Too many requests`.
    TooManyRequests,
    /// 500 `Internal server error`.
    ServerError,
    /// 503 `Shutting down`.
    Maintenance,
}

impl ErrorKind {
    /// Every kind in declaration order, so `ALL[kind as usize] == kind` (metrics count rejections
    /// in an array indexed by kind). A new kind goes here too; a test checks the order.
    pub const ALL: [ErrorKind; 45] = {
        use ErrorKind as K;
        [
            K::NotFound,
            K::MethodNotAllowed,
            K::MalformedRequest,
            K::HeadersTooLarge,
            K::BodyTooLarge,
            K::LengthRequired,
            K::RequestTimeout,
            K::InvalidJsonBody,
            K::MissingHeader,
            K::InvalidHeader,
            K::TimestampInFuture,
            K::RequestExpired,
            K::InvalidSignature,
            K::DuplicateRequest,
            K::AdminKeyRequired,
            K::UnknownField,
            K::MissingField,
            K::InvalidValue,
            K::FieldNotSupported,
            K::ClientIdOrOrderId,
            K::BadCombination,
            K::InvalidSymbol,
            K::InvalidAsset,
            K::InvalidPrice,
            K::PriceDecimalTooLong,
            K::PriceNotMultipleOfTick,
            K::PriceOutOfBounds,
            K::InvalidQuantity,
            K::QuantityDecimalTooLong,
            K::QuantityNotMultipleOfStep,
            K::QuantityBelowMinimum,
            K::QuantityOutOfBounds,
            K::InsufficientFunds,
            K::DuplicateClientId,
            K::InvalidOrder,
            K::OrderLimit,
            K::OrderValueBelowMinimum,
            K::OrderNotFound,
            K::OrderNotFoundQuery,
            K::AccountFrozen,
            K::AccountNotFound,
            K::AccountLimit,
            K::TooManyRequests,
            K::ServerError,
            K::Maintenance,
        ]
    };

    /// HTTP status, code and fixed message text (for kinds with a detail, the parts around it).
    pub fn parts(self) -> (u16, ErrorCode, &'static str, &'static str) {
        use ErrorCode as C;
        use ErrorKind as K;
        match self {
            K::NotFound => (404, C::ResourceNotFound, "Not found", ""),
            K::MethodNotAllowed => (405, C::InvalidClientRequest, "Method not allowed", ""),
            K::MalformedRequest => (400, C::InvalidClientRequest, "Malformed request", ""),
            K::HeadersTooLarge => {
                (431, C::InvalidClientRequest, "Request header fields too large", "")
            }
            K::BodyTooLarge => (413, C::InvalidClientRequest, "Payload too large", ""),
            K::LengthRequired => (411, C::InvalidClientRequest, "Length required", ""),
            K::RequestTimeout => (408, C::InvalidClientRequest, "Request timeout", ""),
            K::InvalidJsonBody => (400, C::InvalidClientRequest, "Invalid JSON body", ""),
            K::MissingHeader => (400, C::InvalidClientRequest, "Missing header `", "`"),
            K::InvalidHeader => (400, C::InvalidClientRequest, "Invalid header `", "`"),
            K::TimestampInFuture => {
                (400, C::InvalidClientRequest, "Request timestamp is in the future", "")
            }
            K::RequestExpired => (401, C::InvalidClientRequest, "Request has expired", ""),
            K::InvalidSignature => (401, C::InvalidSignature, "Invalid signature", ""),
            K::DuplicateRequest => (409, C::InvalidClientRequest, "Duplicate request", ""),
            K::AdminKeyRequired => (403, C::Unauthorized, "Administrator key required", ""),
            K::UnknownField => (400, C::InvalidClientRequest, "Unknown field `", "`"),
            K::MissingField => (400, C::InvalidClientRequest, "Missing field `", "`"),
            K::InvalidValue => (400, C::InvalidClientRequest, "Invalid value for `", "`"),
            K::FieldNotSupported => (400, C::InvalidClientRequest, "Field `", "` is not supported"),
            K::ClientIdOrOrderId => {
                (400, C::InvalidClientRequest, "Must specify either `clientId` or `orderId`", "")
            }
            K::BadCombination => (400, C::InvalidClientRequest, "", ""),
            K::InvalidSymbol => (400, C::InvalidSymbol, "Invalid symbol", ""),
            K::InvalidAsset => (400, C::InvalidAsset, "Invalid asset", ""),
            K::InvalidPrice => (400, C::InvalidPrice, "Invalid price", ""),
            K::PriceDecimalTooLong => (400, C::InvalidPrice, "Price decimal too long", ""),
            K::PriceNotMultipleOfTick => {
                (400, C::InvalidPrice, "Price not a multiple of tick size", "")
            }
            K::PriceOutOfBounds => (400, C::InvalidPrice, "Price out of bounds", ""),
            K::InvalidQuantity => (400, C::InvalidQuantity, "Invalid quantity", ""),
            K::QuantityDecimalTooLong => (400, C::InvalidQuantity, "Quantity decimal too long", ""),
            K::QuantityNotMultipleOfStep => {
                (400, C::InvalidQuantity, "Quantity not a multiple of step size", "")
            }
            K::QuantityBelowMinimum => (400, C::InvalidQuantity, "Quantity below minimum", ""),
            K::QuantityOutOfBounds => (400, C::InvalidQuantity, "Quantity out of bounds", ""),
            K::InsufficientFunds => (400, C::InsufficientFunds, "Insufficient funds", ""),
            K::DuplicateClientId => {
                (400, C::InvalidOrder, "Order with client ID already exists: ", "")
            }
            K::InvalidOrder => (400, C::InvalidOrder, "Invalid order", ""),
            K::OrderLimit => (400, C::OrderLimit, "Order limit reached", ""),
            K::OrderValueBelowMinimum => (400, C::InvalidOrder, "Order value below minimum", ""),
            K::OrderNotFound => (400, C::InvalidClientRequest, "Order not found", ""),
            K::OrderNotFoundQuery => (404, C::ResourceNotFound, "Order not found", ""),
            K::AccountFrozen => (403, C::Forbidden, "Account is frozen", ""),
            K::AccountNotFound => (404, C::ResourceNotFound, "Account not found", ""),
            K::AccountLimit => (400, C::OrderLimit, "Account limit reached", ""),
            K::TooManyRequests => (429, C::TooManyRequests, "Too many requests", ""),
            K::ServerError => (500, C::ServerError, "Internal server error", ""),
            K::Maintenance => (503, C::Maintenance, "Shutting down", ""),
        }
    }
}

/// Longest detail an error carries inline (field names, header names, numbers).
pub const DETAIL_MAX: usize = 64;

/// One error answer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ApiError {
    /// Which error.
    pub kind: ErrorKind,
    detail: [u8; DETAIL_MAX],
    detail_len: u8,
    /// Seconds for `Retry-After` (429 only; at least 1).
    pub retry_after_s: u32,
}

impl std::fmt::Debug for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiError({:?} {:?})", self.kind, String::from_utf8_lossy(self.detail()))
    }
}

impl ApiError {
    /// An error without a detail.
    pub const fn new(kind: ErrorKind) -> ApiError {
        ApiError { kind, detail: [0; DETAIL_MAX], detail_len: 0, retry_after_s: 0 }
    }

    /// An error naming `detail` (truncated to [`DETAIL_MAX`] bytes on a UTF-8 boundary).
    pub fn with_detail(kind: ErrorKind, detail: &[u8]) -> ApiError {
        let mut error = ApiError::new(kind);
        let mut length = detail.len().min(DETAIL_MAX);
        while length > 0 && length < detail.len() && (detail[length] & 0xC0) == 0x80 {
            length -= 1;
        }
        error.detail[..length].copy_from_slice(&detail[..length]);
        error.detail_len = length as u8;
        error
    }

    /// An error whose detail is a number.
    pub fn with_number(kind: ErrorKind, number: u64) -> ApiError {
        let mut digits = [0u8; crate::money::UNITS_TEXT_MAX];
        let length = crate::money::write_units(number, 0, &mut digits);
        ApiError::with_detail(kind, &digits[..length])
    }

    /// 429 with `Retry-After` seconds.
    pub fn too_many_requests(retry_after_s: u32) -> ApiError {
        ApiError {
            retry_after_s: retry_after_s.max(1),
            ..ApiError::new(ErrorKind::TooManyRequests)
        }
    }

    /// The detail bytes.
    pub fn detail(&self) -> &[u8] {
        &self.detail[..self.detail_len as usize]
    }

    /// HTTP status.
    pub fn status(&self) -> u16 {
        self.kind.parts().0
    }

    /// Backpack code.
    pub fn code(&self) -> ErrorCode {
        self.kind.parts().1
    }

    /// The message's three parts: before the detail, the detail, after it. The caller writes
    /// them JSON-escaped.
    pub fn message_parts(&self) -> (&'static str, &[u8], &'static str) {
        let (_, _, before, after) = self.kind.parts();
        (before, self.detail(), after)
    }

    /// Whether the connection must close after this answer (HTTP-level errors).
    pub fn closes_connection(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::MalformedRequest
                | ErrorKind::HeadersTooLarge
                | ErrorKind::BodyTooLarge
                | ErrorKind::LengthRequired
                | ErrorKind::RequestTimeout
        )
    }

    /// The message as a `String` (tests and logs, not the hot path).
    pub fn message(&self) -> String {
        let (before, detail, after) = self.message_parts();
        format!("{before}{}{after}", String::from_utf8_lossy(detail))
    }
}

impl From<RejectReason> for ErrorKind {
    fn from(reason: RejectReason) -> ErrorKind {
        match reason {
            RejectReason::InvalidOrder => ErrorKind::InvalidOrder,
            RejectReason::InvalidPrice => ErrorKind::InvalidPrice,
            RejectReason::PriceOutOfBounds => ErrorKind::PriceOutOfBounds,
            RejectReason::InvalidQuantity => ErrorKind::InvalidQuantity,
            RejectReason::QuantityBelowMinimum => ErrorKind::QuantityBelowMinimum,
            RejectReason::QuantityOutOfBounds => ErrorKind::QuantityOutOfBounds,
            RejectReason::InsufficientFunds => ErrorKind::InsufficientFunds,
            RejectReason::DuplicateClientId => ErrorKind::DuplicateClientId,
            RejectReason::OrderLimit => ErrorKind::OrderLimit,
            RejectReason::OrderNotFound => ErrorKind::OrderNotFound,
            RejectReason::OrderNotFoundQuery => ErrorKind::OrderNotFoundQuery,
            RejectReason::AccountFrozen => ErrorKind::AccountFrozen,
            RejectReason::AccountNotFound => ErrorKind::AccountNotFound,
            RejectReason::AccountLimit => ErrorKind::AccountLimit,
            RejectReason::InvalidSymbol => ErrorKind::InvalidSymbol,
            RejectReason::InvalidAsset => ErrorKind::InvalidAsset,
            RejectReason::OrderValueBelowMinimum => ErrorKind::OrderValueBelowMinimum,
        }
    }
}

impl ApiError {
    /// The answer for a matcher rejection (`client_id` fills the duplicate-client-id message).
    pub fn from_reject(reason: RejectReason, client_id: u32) -> ApiError {
        match reason {
            RejectReason::DuplicateClientId => {
                ApiError::with_number(ErrorKind::DuplicateClientId, u64::from(client_id))
            }
            other => ApiError::new(other.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_listed_at_its_index() {
        for (index, kind) in ErrorKind::ALL.into_iter().enumerate() {
            assert_eq!(kind as usize, index, "{kind:?}");
        }
        assert_eq!(ErrorKind::Maintenance as usize + 1, ErrorKind::ALL.len(), "the last kind");
    }

    #[test]
    fn messages() {
        let cases = [
            (ApiError::with_detail(ErrorKind::UnknownField, b"foo"), 400, "Unknown field `foo`"),
            (
                ApiError::with_detail(ErrorKind::MissingHeader, b"X-Signature"),
                400,
                "Missing header `X-Signature`",
            ),
            (
                ApiError::from_reject(RejectReason::DuplicateClientId, 42),
                400,
                "Order with client ID already exists: 42",
            ),
            (
                ApiError::with_detail(ErrorKind::FieldNotSupported, b"reduceOnly"),
                400,
                "Field `reduceOnly` is not supported",
            ),
            (ApiError::new(ErrorKind::RequestExpired), 401, "Request has expired"),
            (ApiError::new(ErrorKind::OrderNotFoundQuery), 404, "Order not found"),
            (ApiError::too_many_requests(0), 429, "Too many requests"),
        ];
        for (error, status, message) in cases {
            assert_eq!(error.status(), status);
            assert_eq!(error.message(), message);
        }
        assert_eq!(ApiError::too_many_requests(0).retry_after_s, 1);
        assert_eq!(ApiError::with_number(ErrorKind::DuplicateClientId, 0).detail(), b"0");
        let long = "é".repeat(40);
        assert!(
            std::str::from_utf8(
                ApiError::with_detail(ErrorKind::UnknownField, long.as_bytes()).detail()
            )
            .is_ok()
        );
    }
}
